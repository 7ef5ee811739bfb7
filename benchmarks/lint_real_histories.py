"""The migration linter on real Alembic histories, run as a new user would run it (issue 18).

    python benchmarks/lint_real_histories.py [ROOT ...] [--with-corpus] [--dialect postgresql] [--no-sql]
        [--stub-missing-imports] [--timeout SECONDS] [--cli PATH] [--json FILE]
        [--sample N --seed S --sheet FILE]

Each sub-folder of each ROOT (default ``/work/realhist``; ``--with-corpus`` adds ``shared/corpus/alembic``) is one
history, linted at the shallowest folder in it that holds ``env.py`` beside ``versions/``; a ROOT that itself has
``versions/`` is one history. For each, ``integrity-kit lint-migrations DIR --dialect D --format json`` runs in
a subprocess whose working directory is an empty temporary folder and whose environment has no ``PYTHONPATH``, so
nothing of the linted project can be imported, as in a CI job that checks out only the migrations. One table row per
history: revisions (``.py`` files under ``versions/``), revisions the Python pass read, revisions whose SQL was
rendered, not-analysed entries, exit code, whether a traceback was printed, and findings by rule. The read and
rendered columns are the counts of the report's own summary (``read_by_python_pass``, ``sql_rendered``).

``--stub-missing-imports`` puts a ``sitecustomize`` on ``PYTHONPATH`` that answers every import nothing else can
with a permissive stub module, loads a revision module that still fails to execute as its identifiers only
(``revision``, ``down_revision``, ... read from the source; its SQL is then not rendered), and runs each rule's
check isolated (a crash is counted in the "rule crashes" column and that rule's findings on that revision are
lost). Not how a user runs the linter, but the picture of what it would report once unimportable modules no longer
stop the run, which is what a hand-checked sample of findings needs today.

``--sample N --seed S --sheet FILE`` writes N findings drawn at random (seeded) to a Markdown sheet for hand-checking:
history, file:line, rule, message, the source lines around the line, and a verdict column to fill in.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import shutil
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_ROOT = Path("/work/realhist")
CORPUS = ROOT.parent / "shared" / "corpus" / "alembic"
CRASH_MARK = "ik-realhist: rule crashed:"  # how the stubbed run's isolated rule checks report a crash
CONTEXT_LINES = 3  # lines shown on each side of a finding's line in the sheet (six around it plus the line)

# Loaded by every Python process that has the stub folder on PYTHONPATH; only imports that every real finder
# failed to resolve reach it, so installed packages (alembic, SQLAlchemy) stay real.
STUB_SITECUSTOMIZE = '''
import importlib.abc
import importlib.machinery
import sys
import types


class _Stub:
    """Anything: callable, attribute, item, iterable (empty), base class, context manager."""

    def __init__(self, *args, **kwargs):
        pass

    def __call__(self, *args, **kwargs):
        return _Stub()

    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Stub()

    def __getitem__(self, key):
        return _Stub()

    def __iter__(self):
        return iter(())

    def __len__(self):
        return 0

    def __bool__(self):
        return False

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def __mro_entries__(self, bases):
        return (object,)

    def __str__(self):
        return "stub"

    __repr__ = __str__


class _StubModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__") and name.endswith("__"):
            raise AttributeError(name)
        return _Stub()


class _StubFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path=None, target=None):
        return importlib.machinery.ModuleSpec(fullname, self, is_package=True)

    def create_module(self, spec):
        module = _StubModule(spec.name)
        module.__path__ = []
        module.__all__ = []
        return module

    def exec_module(self, module):
        pass


sys.meta_path.append(_StubFinder())


IDENTIFIERS = {"revision", "down_revision", "branch_labels", "depends_on"}


def _identifiers_only(path, error):
    """A revision module that still fails with stubs: its graph identifiers read from source, and an upgrade()
    and downgrade() that raise, so the SQL pass reports it as not rendered instead of rendering nothing."""
    import ast

    module = types.ModuleType("_ik_unexecutable")
    module.__file__ = str(path)
    tree = ast.parse(open(path, encoding="utf-8").read(), filename=str(path))
    module.__doc__ = ast.get_docstring(tree)
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, ast.AnnAssign) and node.value is not None:
            targets = [node.target]
        for target in targets:
            if isinstance(target, ast.Name) and target.id in IDENTIFIERS:
                try:
                    setattr(module, target.id, ast.literal_eval(node.value))
                except ValueError:
                    pass

    def unexecutable(*args, **kwargs):
        raise RuntimeError(f"revision module could not be executed: {type(error).__name__}: {error}")

    module.upgrade = module.downgrade = unexecutable
    return module


try:
    import alembic.util as _alembic_util
except ImportError:
    pass
else:
    _load_python_file = _alembic_util.load_python_file

    def _load_python_file_or_identifiers(dir_, filename):
        try:
            return _load_python_file(dir_, filename)
        except Exception as error:
            if filename == "env.py":
                raise
            import os
            return _identifiers_only(os.path.join(dir_, filename), error)

    _alembic_util.load_python_file = _load_python_file_or_identifiers


def _isolated(rule_class):
    check = rule_class.check

    def isolated_check(self, revision, context):
        try:
            return list(check(self, revision, context))
        except Exception as error:
            print(f"{CRASH_MARK} {rule_class.name} {revision.revision} {revision.path}: "
                  f"{type(error).__name__}: {error}", file=sys.stderr)
            return []

    rule_class.check = isolated_check


try:
    from integrity_kit.migrations.rules import RULES as _RULES
except ImportError:
    pass
else:
    for _rule in _RULES:
        _isolated(_rule)
'''.replace("CRASH_MARK", repr(CRASH_MARK))


@dataclass
class HistoryRun:
    history: str
    path: str
    revisions: int
    read: int = 0
    rendered: int = 0
    not_analysed: int = 0
    exit_code: int | None = None
    traceback: bool = False
    seconds: float = 0.0
    findings: int = 0
    by_rule: dict[str, int] = field(default_factory=dict)
    error: str = ""
    stdout_clean: bool = True
    rule_crashes: list[str] = field(default_factory=list)
    report: dict[str, Any] | None = field(default=None, repr=False)


def histories(roots: list[Path]) -> list[tuple[str, Path]]:
    """(name, script directory) for each folder directly under a root: the shallowest folder in it that holds
    ``env.py`` beside ``versions/`` (the corpus keeps each project's own layout, such as ``app/alembic``)."""
    found: list[tuple[str, Path]] = []
    for root in roots:
        if (root / "versions").is_dir():
            found.append((root.name, root))
            continue
        for child in sorted(path for path in root.iterdir() if path.is_dir()):
            candidates = sorted((env.parent for env in child.rglob("env.py") if (env.parent / "versions").is_dir()),
                                key=lambda path: len(path.parts))
            if candidates:
                found.append((child.name, candidates[0]))
    return found


def count_revisions(directory: Path) -> int:
    return sum(1 for path in (directory / "versions").rglob("*.py")
               if path.name != "__init__.py" and "__pycache__" not in path.parts)


def find_cli(given: str | None) -> str:
    if given:
        return given
    beside = Path(sys.executable).with_name("integrity-kit")  # the venv this script runs in
    if beside.exists():
        return str(beside)
    found = shutil.which("integrity-kit")
    if found is None:
        raise SystemExit("integrity-kit is not on PATH; install the project or pass --cli PATH")
    return found


def run_history(name: str, directory: Path, cli: str, dialect: str, no_sql: bool, stub_dir: Path | None,
                timeout: float) -> HistoryRun:
    run = HistoryRun(history=name, path=str(directory), revisions=count_revisions(directory))
    env = {key: value for key, value in os.environ.items() if key not in {"PYTHONPATH", "DATABASE_URL"}}
    if stub_dir is not None:
        env["PYTHONPATH"] = str(stub_dir)
    command = [cli, "lint-migrations", str(directory), "--dialect", dialect, "--format", "json"]
    if no_sql:
        command.append("--no-sql")
    with tempfile.TemporaryDirectory(prefix="ik-realhist-") as cwd:
        started = time.perf_counter()
        try:
            done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout,
                                  stdin=subprocess.DEVNULL)
        except subprocess.TimeoutExpired:
            run.seconds = time.perf_counter() - started
            run.error = f"timed out after {timeout:.0f} s"
            return run
        run.seconds = time.perf_counter() - started
    run.exit_code = done.returncode
    run.rule_crashes = [line.split(CRASH_MARK, 1)[1].strip() for line in done.stderr.splitlines()
                        if CRASH_MARK in line]
    run.traceback = "Traceback (most recent call last)" in done.stderr + done.stdout
    report, run.stdout_clean = parse_report(done.stdout)
    if report is None:
        last = [line for line in (done.stderr + done.stdout).strip().splitlines()
                if line.strip() and CRASH_MARK not in line]
        run.error = (last[-1] if last else "no JSON on standard output")[:300]
        return run
    run.report = report
    # The linter's own summary counts: not-analysed entries name files, not revision ids, so they cannot be matched.
    summary = report.get("summary", {})
    run.read = int(summary.get("read_by_python_pass") or 0)
    run.rendered = 0 if no_sql else int(summary.get("sql_rendered") or 0)
    run.not_analysed = len(report.get("not_analysed", []))
    findings = report.get("findings", [])
    run.findings = len(findings)
    run.by_rule = dict(Counter(f["rule"] for f in findings).most_common())
    return run


def parse_report(stdout: str) -> tuple[dict[str, Any] | None, bool]:
    """The JSON report and whether standard output held nothing else: a project's prints or log lines mixed into
    it are the corruption issue 18 describes, so the report is recovered from the first line that opens it."""
    if not stdout.strip():
        return None, True
    try:
        return json.loads(stdout), True
    except ValueError:
        pass
    offset = 0
    for line in stdout.splitlines(keepends=True):
        if line.rstrip() == "{":
            try:
                report, _ = json.JSONDecoder().raw_decode(stdout[offset:])
            except ValueError:
                return None, False
            return (report if isinstance(report, dict) else None), False
        offset += len(line)
    return None, False


def table(runs: list[HistoryRun]) -> str:
    header = ["history", "revisions", "read (Python)", "SQL rendered", "not analysed", "exit", "traceback",
              "rule crashes", "stdout only JSON", "seconds", "findings", "by rule / why it stopped"]
    rows = []
    for run in runs:
        detail = ", ".join(f"{rule} {count}" for rule, count in run.by_rule.items()) or run.error or "-"
        rows.append([run.history, str(run.revisions), str(run.read), str(run.rendered), str(run.not_analysed),
                     "-" if run.exit_code is None else str(run.exit_code), "yes" if run.traceback else "no",
                     str(len(run.rule_crashes)), "yes" if run.stdout_clean else "no", f"{run.seconds:.1f}",
                     str(run.findings), detail])
    total_revisions = sum(r.revisions for r in runs)
    total_read = sum(r.read for r in runs)
    rules: Counter[str] = Counter()
    for run in runs:
        rules.update(run.by_rule)
    rows.append(["total", str(total_revisions), f"{total_read} ({100 * total_read / max(total_revisions, 1):.0f}%)",
                 str(sum(r.rendered for r in runs)), str(sum(r.not_analysed for r in runs)),
                 f"{sum(1 for r in runs if r.report is not None)}/{len(runs)} ran",
                 str(sum(1 for r in runs if r.traceback)), str(sum(len(r.rule_crashes) for r in runs)),
                 f"{sum(1 for r in runs if not r.stdout_clean)} not",
                 f"{sum(r.seconds for r in runs):.1f}",
                 str(sum(r.findings for r in runs)),
                 ", ".join(f"{rule} {count}" for rule, count in rules.most_common()) or "-"])
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _source_path(run: HistoryRun, finding: dict[str, Any]) -> Path:
    shown = Path(finding["path"])
    return shown if shown.is_absolute() else Path(run.path) / shown


def sample_sheet(runs: list[HistoryRun], n: int, seed: int) -> str:
    """N findings drawn at random with ``seed``, each with the lines around it and a verdict to fill in."""
    pool = [(run, finding) for run in runs if run.report for finding in run.report.get("findings", [])]
    chosen = random.Random(seed).sample(pool, min(n, len(pool)))
    out = [f"# Hand-check sheet: {len(chosen)} of {len(pool)} findings (seed {seed})", "",
           "Mark each `right` or `wrong` with a one-line reason.", "",
           "| # | history | file:line | rule | verdict | why |", "|---|---|---|---|---|---|"]
    for index, (run, finding) in enumerate(chosen, 1):
        short = Path(finding["path"]).name
        out.append(f"| {index} | {run.history} | {short}:{finding['line']} | {finding['rule']} | | |")
    out.append("")
    for index, (run, finding) in enumerate(chosen, 1):
        path = _source_path(run, finding)
        try:
            lines = path.read_text(encoding="utf-8").splitlines()
        except OSError:
            lines = []
        line = int(finding["line"])
        first, last = max(1, line - CONTEXT_LINES), min(len(lines), line + CONTEXT_LINES)
        excerpt = "\n".join(f"{'>' if number == line else ' '}{number:5d}  {lines[number - 1]}"
                            for number in range(first, last + 1))
        out += [f"## {index}. {run.history} `{path.name}:{line}` {finding['code']} {finding['rule']} "
                f"({finding.get('source', 'python')})", "", f"> {finding['message']}", "",
                "```python", excerpt or "(source not readable)", "```", "", "verdict: ", ""]
    return "\n".join(out)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("roots", nargs="*", type=Path, help=f"folders of histories (default {DEFAULT_ROOT})")
    parser.add_argument("--with-corpus", action="store_true", help=f"also lint the histories in {CORPUS}")
    parser.add_argument("--dialect", default="postgresql", choices=("postgresql", "mysql", "sqlite"))
    parser.add_argument("--no-sql", action="store_true", help="pass --no-sql to the linter")
    parser.add_argument("--stub-missing-imports", action="store_true",
                        help="answer every unresolvable import with a stub module (the 'what it would report' run)")
    parser.add_argument("--timeout", type=float, default=1800.0, help="seconds allowed per history")
    parser.add_argument("--cli", help="the integrity-kit executable (default: the one beside this Python)")
    parser.add_argument("--json", type=Path, help="write every run, with its full report, to this file")
    parser.add_argument("--sample", type=int, default=0, help="draw this many findings for hand-checking")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--sheet", type=Path, default=Path("handcheck_sheet.md"), help="where the sample goes")
    args = parser.parse_args(argv)

    roots = list(args.roots) or [DEFAULT_ROOT]
    if args.with_corpus:
        roots.append(CORPUS)
    missing = [str(root) for root in roots if not root.is_dir()]
    if missing:
        print(f"not a folder: {', '.join(missing)}", file=sys.stderr)
        return 2
    found = histories(roots)
    if not found:
        print(f"no Alembic histories (folders with versions/) under {', '.join(map(str, roots))}", file=sys.stderr)
        return 2
    cli = find_cli(args.cli)
    runs: list[HistoryRun] = []
    with tempfile.TemporaryDirectory(prefix="ik-stubs-") as stubs:
        stub_dir = None
        if args.stub_missing_imports:
            stub_dir = Path(stubs)
            (stub_dir / "sitecustomize.py").write_text(STUB_SITECUSTOMIZE, encoding="utf-8")
        for name, directory in found:
            print(f"linting {directory} ...", file=sys.stderr, flush=True)
            runs.append(run_history(name, directory, cli, args.dialect, args.no_sql, stub_dir, args.timeout))
    mode = ", ".join(filter(None, [f"--dialect {args.dialect}", "--no-sql" if args.no_sql else "",
                                   "imports stubbed" if args.stub_missing_imports else "nothing of theirs importable"]))
    print(f"integrity-kit lint-migrations on {len(runs)} histories ({mode}; {cli})\n")
    print(table(runs))
    if args.json:
        args.json.write_text(json.dumps([asdict(run) for run in runs], indent=1), encoding="utf-8")
    if args.sample:
        args.sheet.write_text(sample_sheet(runs, args.sample, args.seed), encoding="utf-8")
        print(f"\nsample of {args.sample} findings written to {args.sheet}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
