"""integrity-kit's migration linter beside squawk (the PyPI ``squawk-cli`` wheel) on the same fixture revisions.

    python benchmarks/squawk_comparison.py [--fixtures DIR ...] [--squawk PATH] [--json FILE]

squawk reads PostgreSQL SQL, so each revision of each fixture directory is rendered on its own for PostgreSQL
(``alembic upgrade prev:rev --sql``, Alembic's ``alembic_version`` bookkeeping left out) and fed to squawk; the
linter runs on the same directory. One row per revision: squawk's rule ids, ours, and whether every squawk finding
that is about migration safety has an integrity-kit counterpart on that revision (``SQUAWK_TO_OURS``). squawk rules
about session settings and column-type style (``SQUAWK_OUT_OF_SCOPE``) are shown but not expected from us.

Then the whole history as its docs suggest, ``alembic upgrade head --sql`` in one file, to show what it says when
every table is created earlier in the same file.
"""

from __future__ import annotations

import argparse
import json
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict, dataclass, field
from pathlib import Path

from alembic.script import ScriptDirectory

from integrity_kit.migrations import lint
from integrity_kit.migrations.sql import offline_sql

FIXTURES = Path(__file__).resolve().parent.parent / "tests" / "migrations" / "fixtures"
DIRECTORIES = ("unsafe", "safe", "merged", "two_heads")

# squawk rule -> the integrity-kit rules that report the same hazard (any one of them on the same revision counts)
SQUAWK_TO_OURS = {
    "adding-required-field": {"add-not-null-column-without-default"},
    "adding-not-nullable-field": {"set-not-null-in-one-step"},
    "changing-column-type": {"column-type-change-rewrites-table"},
    "renaming-column": {"rename-column-or-table"},
    "renaming-table": {"rename-column-or-table"},
    "ban-drop-column": {"drop-column-or-table"},
    "ban-drop-table": {"drop-column-or-table"},
    "require-concurrent-index-creation": {"index-without-concurrently"},
    "require-concurrent-index-deletion": {"index-without-concurrently"},
    "ban-concurrent-index-creation-in-transaction": {"concurrently-in-transaction"},
    "disallowed-unique-constraint": {"unique-constraint-without-index"},
    "adding-foreign-key-constraint": {"constraint-validated-in-one-step"},
    "constraint-missing-not-valid": {"constraint-validated-in-one-step", "unique-constraint-without-index"},
    "adding-field-with-default": {"add-not-null-column-without-default"},
    "adding-serial-primary-key-field": {"column-type-change-rewrites-table"},
}
# squawk rules that are not migration-safety findings of the kind the issue asks for: session settings every
# statement "needs", and type preferences that hold for CREATE TABLE as much as for a migration.
SQUAWK_OUT_OF_SCOPE = {
    "require-lock-timeout": "session setting (SET lock_timeout), not a property of the revision's operations",
    "require-statement-timeout": "session setting (SET statement_timeout)",
    "prefer-robust-stmts": "IF [NOT] EXISTS style, so a half-applied migration can be re-run",
    "prefer-text-field": "type preference (VARCHAR(n) vs TEXT)",
    "prefer-bigint-over-int": "type preference",
    "prefer-bigint-over-smallint": "type preference",
    "prefer-identity": "type preference (serial vs identity)",
    "prefer-timestamp-tz": "type preference (the audit's timestamp-without-time-zone covers live schemas)",
    "transaction-nesting": "BEGIN/COMMIT inside a file that is already in a transaction",
}

# (revision, squawk rule) where squawk's finding is wrong for that statement, and why. Shown in the table.
SQUAWK_DISPUTED = {
    ("s02b_validate_set_not_null", "ban-drop-constraint"):
        "drops the helper CHECK after SET NOT NULL has taken over: the documented safe NOT NULL sequence",
    ("s03_widen_varchar", "changing-column-type"):
        "varchar(255) -> varchar(320) is binary-coercible: PostgreSQL rewrites nothing and rebuilds no index",
}


@dataclass
class Row:
    directory: str
    revision: str
    squawk: list[str]
    ours: list[str]
    ours_other_dialects: list[str] = field(default_factory=list)
    ours_ignored: list[str] = field(default_factory=list)  # silenced by an inline ignore with a reason
    missed: list[str] = field(default_factory=list)  # squawk safety findings without an integrity-kit counterpart
    disputed: list[str] = field(default_factory=list)  # squawk findings SQUAWK_DISPUTED explains
    unmapped: list[str] = field(default_factory=list)  # squawk rules this script does not know yet

    @property
    def python_only(self) -> list[str]:
        """Our findings on a revision where squawk reports nothing that maps to them."""
        covered = {ours for rule in self.squawk for ours in SQUAWK_TO_OURS.get(rule, ())}
        return sorted(set(self.ours + self.ours_other_dialects) - covered)


def squawk_binary(explicit: str | None = None) -> str | None:
    """squawk on PATH, or beside this Python (a virtualenv's bin/ that is not on PATH)."""
    beside = Path(sys.executable).parent / "squawk"
    return explicit or shutil.which("squawk") or (str(beside) if beside.exists() else None)


def run_squawk(squawk: str, sql: str) -> list[dict]:
    """squawk's findings (JSON reporter) on one SQL text."""
    with tempfile.TemporaryDirectory() as scratch:
        path = Path(scratch) / "migration.sql"
        path.write_text(sql)
        completed = subprocess.run([squawk, "--reporter", "json", str(path)], capture_output=True, text=True,
                                   timeout=60)
    if completed.returncode not in (0, 1) or not completed.stdout.strip():
        raise RuntimeError(f"squawk failed ({completed.returncode}): {completed.stderr.strip()[:300]}")
    return json.loads(completed.stdout)


def without_bookkeeping(sql: str) -> str:
    """Drop Alembic's alembic_version statements: they are the same in every revision and not the user's."""
    statements = re.split(r"(?<=;)\s*\n", sql)
    return "\n".join(s for s in statements if "alembic_version" not in s.lower()).strip() + "\n"


def revision_sql(directory: Path, revision) -> str | None:
    down = revision.down_revision
    if isinstance(down, (tuple, list)):
        return None  # a merge cannot be rendered on its own
    target = revision.revision if down is None else f"{down}:{revision.revision}"
    return without_bookkeeping(offline_sql(directory, target, "postgresql"))


def compare(directory: Path, squawk: str) -> list[Row]:
    script = ScriptDirectory(str(directory))
    ours_pg: dict[str, list[str]] = {}
    ignored: dict[str, list[str]] = {}
    result = lint(directory, dialect="postgresql")
    for finding in result.findings:
        ours_pg.setdefault(finding.revision, []).append(finding.rule)
    for finding in result.ignored:
        ignored.setdefault(finding.revision, []).append(finding.rule)
    ours_other: dict[str, set[str]] = {}
    for dialect in ("sqlite", "mysql"):
        for finding in lint(directory, dialect=dialect).findings:
            if finding.rule not in ours_pg.get(finding.revision, []):
                ours_other.setdefault(finding.revision, set()).add(f"{finding.rule} ({dialect})")
    rows = []
    for revision in reversed(list(script.walk_revisions("base", "heads"))):
        sql = revision_sql(directory, revision)
        squawk_rules = sorted({f["rule_name"] for f in run_squawk(squawk, sql)}) if sql else []
        ours = sorted(set(ours_pg.get(revision.revision, [])))
        row = Row(directory=directory.name, revision=revision.revision, squawk=squawk_rules, ours=ours,
                  ours_other_dialects=sorted(ours_other.get(revision.revision, set())),
                  ours_ignored=sorted(set(ignored.get(revision.revision, []))))
        for rule in squawk_rules:
            if rule in SQUAWK_OUT_OF_SCOPE:
                continue
            if (revision.revision, rule) in SQUAWK_DISPUTED:
                row.disputed.append(rule)
            elif rule not in SQUAWK_TO_OURS:
                row.unmapped.append(rule)
            elif not SQUAWK_TO_OURS[rule] & set(ours + row.ours_ignored):
                row.missed.append(rule)
        rows.append(row)
    return rows


# The offline half of the env.py that `alembic init` writes (the "generic" template): every pending revision in
# one transaction, which is what most projects render with `alembic upgrade head --sql`.
GENERIC_ENV = """from alembic import context

context.configure(url=context.config.get_main_option("sqlalchemy.url"), target_metadata=None, literal_binds=True,
                  dialect_opts={"paramstyle": "named"})
with context.begin_transaction():
    context.run_migrations()
"""


def whole_history(directory: Path, squawk: str, *, generic_env: bool) -> list[str]:
    """squawk on ``alembic upgrade heads --sql`` as one file, as its documentation suggests for Alembic: with the
    directory's own env.py, or with the generic template's (one transaction around every revision)."""
    if not generic_env:
        sql = offline_sql(directory, "heads", "postgresql")
    else:
        with tempfile.TemporaryDirectory() as scratch:
            copy = Path(scratch) / directory.name
            shutil.copytree(directory, copy, ignore=shutil.ignore_patterns("__pycache__"))
            (copy / "env.py").write_text(GENERIC_ENV)
            sql = offline_sql(copy, "heads", "postgresql")
    return sorted({f["rule_name"] for f in run_squawk(squawk, sql)})


def print_table(rows: list[Row]) -> None:
    def short(rules: list[str]) -> str:
        marked = [f"({r})" if r in SQUAWK_OUT_OF_SCOPE else r for r in rules]
        return ", ".join(marked) or "-"

    def ours(row: Row) -> str:
        return ", ".join(row.ours + [f"{r} (ignored with a reason)" for r in row.ours_ignored]
                         + row.ours_other_dialects) or "-"

    header = ("revision", "squawk", "integrity-kit", "squawk finding not matched")
    table = [header] + [(f"{r.directory}/{r.revision}", short(r.squawk), ours(r),
                         ", ".join(r.missed + r.unmapped + [f"{d} (disputed)" for d in r.disputed]) or "-")
                        for r in rows]
    widths = [max(len(line[i]) for line in table) for i in range(len(header))]
    for number, line in enumerate(table):
        print(" | ".join(cell.ljust(width) for cell, width in zip(line, widths, strict=True)).rstrip())
        if number == 0:
            print("-+-".join("-" * width for width in widths))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fixtures", nargs="*", default=[str(FIXTURES / name) for name in DIRECTORIES],
                        help="Alembic script directories to compare on (default: the linter's test fixtures)")
    parser.add_argument("--squawk", default=None, help="the squawk executable (default: squawk on PATH)")
    parser.add_argument("--json", default=str(Path(__file__).with_suffix(".json")), help="where to write JSON")
    args = parser.parse_args()
    squawk = squawk_binary(args.squawk)
    if not squawk:
        raise SystemExit("squawk not found: pip install squawk-cli")
    version = subprocess.run([squawk, "--version"], capture_output=True, text=True).stdout.strip()
    rows = [row for directory in args.fixtures for row in compare(Path(directory), squawk)]
    print(f"{version}; squawk rules in parentheses are out of scope (session settings, type style)\n")
    print_table(rows)
    wholes = {}
    for generic in (True, False):
        label = "generic env.py: one transaction" if generic else "the fixture env.py: transaction per revision"
        print(f"\nsquawk on `alembic upgrade heads --sql` as one file ({label}); safety rules only:")
        for directory in map(Path, args.fixtures):
            rules = whole_history(directory, squawk, generic_env=generic)
            wholes[f"{directory.name} ({'generic' if generic else 'own'} env.py)"] = rules
            safety = [r for r in rules if r not in SQUAWK_OUT_OF_SCOPE]
            print(f"  {directory.name}: {', '.join(safety) or 'silent'}")
    missed = [(r.revision, rule) for r in rows for rule in r.missed + r.unmapped]
    print(f"\nsquawk safety findings without an integrity-kit counterpart: {len(missed)}")
    for (revision, rule), why in SQUAWK_DISPUTED.items():
        print(f"disputed: {revision} {rule}: {why}")
    python_only = sorted({rule for r in rows for rule in r.python_only})
    print(f"integrity-kit rules that fired where squawk saw nothing equivalent: {', '.join(python_only) or '-'}")
    Path(args.json).write_text(json.dumps({"squawk": version, "rows": [asdict(r) | {"python_only": r.python_only}
                                                                      for r in rows],
                                           "whole_history": wholes}, indent=2) + "\n")


if __name__ == "__main__":
    main()
