"""pytest plugin (``pytest11`` entry point ``integrity_kit``): query capture, query budgets, N+1 and duplicate checks.

- ``query_capture`` fixture: every statement the test sends, with ``.n_plus_one``, ``.duplicates`` and
  ``.assert_max_queries(n)``; ``assert_max_queries(n)`` is also a context manager in ``integrity_kit.queries``.
- ``--detect-n-plus-one=fail|warn|off`` (or the ``detect_n_plus_one`` ini option): check every test's body.
- ``--detect-duplicates=fail|warn|off`` (ini ``detect_duplicates``): the same check for identical statements with
  identical parameters; unasked, N+1 detection counts them in one summary line.
- ``@pytest.mark.allow_n_plus_one("Product.category", ...)`` and ``@pytest.mark.allow_duplicate_queries(...)``:
  known findings that this test may keep (no arguments allows every one); arguments match a relationship, a
  fingerprint or a location prefix.
- ``--n-plus-one-baseline FILE`` ignores findings recorded there; ``--write-n-plus-one-baseline FILE`` records
  every finding of the run so a team can adopt the check without fixing everything first. Paths in a baseline are
  relative to the baseline's own folder, so it matches from any rootdir or working directory.
- ``--detect-race-risks=fail|warn|off`` (ini ``detect_race_risks``): check every test's transactions for
  read-modify-write, check-then-insert and check-then-act patterns that break under concurrency;
  ``@pytest.mark.allow_race_risk(...)`` accepts known ones (arguments match a pattern, a table, ``table.column``
  or a location prefix), and they go into the same baseline file. Only a risk that breaks on the engine and
  isolation level the test ran at fails a test; one the engine turns into an error or an abort (SQLite, PostgreSQL
  SERIALIZABLE) is listed in the summary.
- Under pytest-xdist each worker sends its findings to the controller, which reports and writes them.

On an SQLAlchemy that query capture cannot use, the plugin says once that it is inactive and why, and the suite
runs on. An internal error in the plugin is reported in the terminal summary and never fails a user's test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from integrity_kit.sqlalchemy_support import capture_problem

_MODES = ("fail", "warn", "off")
_STATE = pytest.StashKey["_PluginState"]()
_WORKER_KEY = "integrity_kit"  # our entry in pytest-xdist's workeroutput
BASELINE_FORMAT = 2


@dataclass
class _Baseline:
    """A baseline file read back: its entries as (test id, what, file), ids relative to ``folder``."""

    path: Path
    folder: Path
    n_plus_one: set[tuple[str, str, str]]
    duplicates: set[tuple[str, str, str]]
    race_risks: set[tuple[str, str, str]] = field(default_factory=set)

    @property
    def tests(self) -> set[str]:
        return {entry[0] for entry in self.n_plus_one | self.duplicates | self.race_risks}


@dataclass
class _PluginState:
    mode: str
    duplicates_mode: str
    threshold: int
    baseline: _Baseline | None
    write_to: Path | None
    race_mode: str = "off"
    inactive: str | None = None  # why the plugin cannot run here
    is_worker: bool = False
    reported: list[tuple[str, str]] = field(default_factory=list)  # (nodeid, description) shown in the summary
    recorded: dict[str, list[dict[str, Any]]] = field(
        default_factory=lambda: {"n_plus_one": [], "duplicates": [], "race_risks": []})  # for the baseline
    internal_errors: list[str] = field(default_factory=list)
    unlisted_duplicates: int = 0  # duplicates counted but not listed (no --detect-duplicates given)
    # Baseline test ids that name a collected test; None until something was collected here or by a worker.
    baseline_seen: set[str] | None = None

    @property
    def active(self) -> bool:
        return self.inactive is None and (
            self.mode != "off" or self.duplicates_mode != "off" or self.race_mode != "off"
            or self.write_to is not None)


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("integrity-kit", "integrity-kit query checks")
    group.addoption("--detect-n-plus-one", choices=_MODES, default=None,
                    help="Check every test body for N+1 queries: fail the test, warn in the summary, or off.")
    group.addoption("--detect-duplicates", choices=_MODES, default=None,
                    help="Check every test body for identical queries sent more than once (default: counted in "
                         "one summary line when N+1 detection is on, else off).")
    group.addoption("--detect-race-risks", choices=_MODES, default=None,
                    help="Check every test's transactions for race risks (a read, then a write that trusts it): "
                         "fail the test, warn in the summary, or off.")
    group.addoption("--n-plus-one-threshold", type=int, default=None,
                    help="Similar queries from one line that count as N+1 (default 2).")
    group.addoption("--n-plus-one-baseline", default=None, metavar="FILE",
                    help="Ignore the N+1, duplicate and race-risk findings recorded in this baseline file.")
    group.addoption("--write-n-plus-one-baseline", default=None, metavar="FILE",
                    help="Write every N+1, duplicate and race-risk finding of this run to FILE (tests do not fail "
                         "on them).")
    parser.addini("detect_n_plus_one", "fail|warn|off: check every test body for N+1 queries", default="off")
    parser.addini("detect_duplicates", "fail|warn|off: check every test body for duplicate queries", default="")
    parser.addini("detect_race_risks", "fail|warn|off: check every test's transactions for race risks",
                  default="off")
    parser.addini("n_plus_one_threshold", "similar queries from one line that count as N+1", default="2")
    parser.addini("n_plus_one_baseline", "baseline file of known N+1 and duplicate findings", default="")


def _mode(config: pytest.Config, option: str, ini: str, default: str) -> str:
    mode = config.getoption(option) or str(config.getini(ini) or "").strip() or default
    if mode not in _MODES and mode != default:
        raise pytest.UsageError(f"{ini} must be one of {', '.join(_MODES)}, not {mode!r}")
    return mode


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_n_plus_one(*patterns): allow N+1 findings in this test (all, or those whose relationship, "
        "fingerprint or location matches a pattern)",
    )
    config.addinivalue_line(
        "markers",
        "allow_duplicate_queries(*patterns): allow duplicate-query findings in this test (all, or those whose "
        "fingerprint or location matches a pattern)",
    )
    config.addinivalue_line(
        "markers",
        "allow_race_risk(*patterns): allow race-risk findings in this test (all, or those whose pattern, table, "
        "table.column or read/write location matches a pattern)",
    )
    mode = _mode(config, "--detect-n-plus-one", "detect_n_plus_one", "off")
    # Unasked, duplicates are only counted beside N+1 detection: on a real suite (ihatemoney, 151 tests) a test
    # making several requests repeats its per-request lookups, and listing 628 of them buried its N+1 findings.
    duplicates_mode = _mode(config, "--detect-duplicates", "detect_duplicates", "")
    if not duplicates_mode:
        duplicates_mode = "count" if mode != "off" else "off"
    threshold = config.getoption("--n-plus-one-threshold") or _threshold(str(config.getini("n_plus_one_threshold")))
    baseline_path = config.getoption("--n-plus-one-baseline") or str(config.getini("n_plus_one_baseline") or "")
    baseline = _read_baseline(_absolute(config, baseline_path), baseline_path) if baseline_path else None
    write_to = config.getoption("--write-n-plus-one-baseline")
    config.stash[_STATE] = _PluginState(
        mode, duplicates_mode, threshold, baseline, _absolute(config, write_to) if write_to else None,
        race_mode=_mode(config, "--detect-race-risks", "detect_race_risks", "off"),
        inactive=capture_problem(), is_worker=hasattr(config, "workerinput"))


def _threshold(value: str) -> int:
    try:
        return int(value.strip() or 2)
    except ValueError:
        raise pytest.UsageError(f"n_plus_one_threshold must be a whole number, not {value!r}") from None


def _absolute(config: pytest.Config, name: str) -> Path:
    # Relative to where pytest was started, as the user typed it; fixed now, so a test's chdir cannot move it.
    return Path(config.invocation_params.dir, name).absolute()


def _relative(path: str | os.PathLike[str], folder: Path) -> str:
    """``path`` relative to ``folder`` with forward slashes: the same on every machine and working directory."""
    try:
        relative = os.path.relpath(os.path.realpath(path), os.path.realpath(folder))
    except ValueError:  # another drive on Windows
        relative = os.path.abspath(path)
    return relative.replace(os.sep, "/")


def _relative_location(statement: Any, folder: Path) -> str | None:
    if statement is None or not statement.filename:
        return None
    return f"{_relative(statement.filename, folder)}:{statement.lineno}"


def _test_id(item: pytest.Item, folder: Path) -> str:
    """The test's file relative to ``folder`` and the rest of its node id: stable whatever the rootdir is."""
    rest = item.nodeid.split("::", 1)[1] if "::" in item.nodeid else ""
    file = _relative(item.path, folder)
    return f"{file}::{rest}" if rest else file


def _read_baseline(path: Path, name: str) -> _Baseline:
    """The baseline at ``path``; ``name`` is how the user gave it, for the error messages."""
    try:
        data = json.loads(path.read_text())

        def entries(kind: str) -> set[tuple[str, str, str]]:
            return {(str(e["test"]), str(e["what"]), str(e["file"])) for e in data.get(kind, [])}

        return _Baseline(path, path.parent, entries("n_plus_one"), entries("duplicates"), entries("race_risks"))
    except FileNotFoundError:
        raise pytest.UsageError(f"N+1 baseline file not found: {name}") from None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as error:
        raise pytest.UsageError(f"N+1 baseline file {name} is not valid: {error}") from None


def _site(finding: Any, folder: Path) -> tuple[str, str]:
    """(file, "file:line") of a finding's first statement (a race risk's write), the file relative to ``folder``."""
    write = getattr(finding, "write", None)
    statements = (write,) if write is not None else getattr(finding, "statements", ())
    first = statements[0] if statements else None
    if first is not None and first.filename:
        file = _relative(first.filename, folder)
        return file, f"{file}:{first.lineno}"
    location = finding.location or ""
    return location.rsplit(":", 1)[0], location


def _what(kind: str, finding: Any) -> str:
    # Line numbers move with every edit; the file, the test and what is loaded do not.
    if kind == "n_plus_one":
        return finding.relationship or finding.fingerprint
    if kind == "race_risks":
        return f"{finding.pattern} {finding.table}({', '.join(finding.columns)})"
    from integrity_kit.queries.fingerprint import fingerprint

    return fingerprint(finding.sql)


def _allowed(item: pytest.Item, marker_name: str, finding: Any, what: str) -> bool:
    for marker in item.iter_markers(marker_name):
        if not marker.args:
            return True
        for pattern in marker.args:
            if pattern in (getattr(finding, "relationship", None), what, *_race_names(finding)) or any(
                location.startswith(pattern) for location in _locations(finding)
            ):
                return True
    return False


def _race_names(finding: Any) -> tuple[str, ...]:
    """What an ``allow_race_risk`` argument may name: the pattern, the table, ``table.column``."""
    table = getattr(finding, "table", None)
    if table is None or not hasattr(finding, "pattern"):
        return ()
    return (finding.pattern, table, *(f"{table}.{column}" for column in finding.columns))


def _locations(finding: Any) -> tuple[str, ...]:
    if hasattr(finding, "read_location"):
        return tuple(location for location in (finding.read_location, finding.write_location) if location)
    locations = getattr(finding, "locations", None)
    if locations is not None:
        return tuple(locations)
    return (finding.location,) if finding.location else ()


def _block(label: str, text: str) -> str:
    """``label: text`` with the continuation lines of multi-line code indented under the first."""
    indent = " " * (len(label) + 6)
    return f"    {label}: " + ("\n" + indent).join(str(text).splitlines() or [""])


def _describe(finding: Any) -> str:
    what = finding.relationship or finding.kind
    return (f"N+1: {finding.count} similar queries ({what}) from {finding.location}\n"
            f"{_block('fix', finding.fix)}\n{_block('sample', ' '.join(finding.sample_sql.split()))}")


def _describe_duplicate(duplicate: Any) -> str:
    where = ", ".join(duplicate.locations) or "<unknown>"
    return (f"duplicate query: sent {duplicate.count} times with the same parameters from {where}\n"
            f"{_block('sql', ' '.join(duplicate.sql.split()))}\n{_block('parameters', repr(duplicate.parameters))}")


def describe_race_risk(risk: Any) -> str:
    """A race risk as the plugin prints it: what, where it was read and written, where it breaks, the fix."""
    from integrity_kit.queries.race_risks import verdict_text

    columns = ", ".join(risk.columns)
    where = f"{risk.transaction.dialect} {risk.isolation_level or 'at an unknown isolation level'}"
    lines = [f"race risk ({risk.pattern}) on {risk.table} ({columns}): {verdict_text(risk)}",
             f"    read:  {risk.read_location or '<unknown>'}",
             f"    write: {risk.write_location or '<unknown>'}",
             f"    ran at: {where}; breaks on: {', '.join(risk.breaks_on) or 'none of the engines we know'}"]
    if risk.note:
        lines.append(_block("note", risk.note))
    lines.append(_block("fix", risk.fix))
    return "\n".join(lines)


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    state: _PluginState | None = item.config.stash.get(_STATE, None)
    if state is None or not state.active:
        return (yield)
    cap = None
    try:
        from integrity_kit.queries.capture import capture

        cap = capture(threshold=state.threshold)
        cap.start()
    except Exception as error:  # never let our own failure become the user's
        state.internal_errors.append(f"{item.nodeid}: could not start capture: {error!r}")
        cap = None
    try:
        result = yield
    finally:
        if cap is not None:
            try:
                cap.stop()
            except Exception as error:
                state.internal_errors.append(f"{item.nodeid}: could not stop capture: {error!r}")
    if cap is None:
        return result
    try:
        failures = _check(item, state, cap.log)
    except Exception as error:
        state.internal_errors.append(f"{item.nodeid}: query checks failed: {error!r}")
        return result
    if failures:
        pytest.fail("\n".join(failures), pytrace=False)
    return result


def _check(item: pytest.Item, state: _PluginState, log: Any) -> list[str]:
    """The descriptions that fail this test; warnings go to ``state.reported`` and records to ``state.recorded``."""
    failures: list[str] = []
    kinds = (("n_plus_one", state.mode, "allow_n_plus_one", lambda: log.n_plus_one, _describe),
             ("duplicates", state.duplicates_mode, "allow_duplicate_queries", lambda: log.duplicates,
              _describe_duplicate),
             ("race_risks", state.race_mode, "allow_race_risk", lambda: log.race_risks, describe_race_risk))
    for kind, mode, marker_name, found, describe in kinds:
        if state.write_to is None and mode == "off":
            continue
        if kind == "race_risks" and state.race_mode == "off":
            continue  # race detection reads the schema, so only when asked for, even for a baseline
        for finding in found():
            what = _what(kind, finding)
            if state.write_to is not None:
                folder = state.write_to.parent
                file, location = _site(finding, folder)
                entry: dict[str, Any] = {"test": _test_id(item, folder), "what": what, "file": file,
                                         "location": location}
                if kind != "race_risks":
                    entry["count"] = finding.count
                if kind != "duplicates":
                    entry["fix"] = finding.fix
                if kind == "race_risks":
                    entry["read"] = _relative_location(finding.read, folder)
                state.recorded[kind].append(entry)
                continue
            if mode == "off" or _allowed(item, marker_name, finding, what):
                continue
            if state.baseline is not None:
                folder = state.baseline.folder
                key = (_test_id(item, folder), what, _site(finding, folder)[0])
                if key in getattr(state.baseline, kind):
                    continue
            if kind == "race_risks" and finding.verdict != "risk":
                state.reported.append((item.nodeid, describe(finding)))  # the engine errors or aborts instead
            elif mode == "fail":
                failures.append(describe(finding))
            elif mode == "warn":
                state.reported.append((item.nodeid, describe(finding)))
            else:  # "count": duplicates beside N+1 detection when nobody chose a mode for them
                state.unlisted_duplicates += 1
    return failures


def pytest_collection_finish(session: pytest.Session) -> None:
    # Not run by pytest-xdist's controller, which collects nothing: each worker sends what it collected.
    state: _PluginState | None = session.config.stash.get(_STATE, None)
    if state is None or state.baseline is None:
        return
    try:
        named = state.baseline.tests
        folder = state.baseline.folder
        state.baseline_seen = {test_id for item in session.items if (test_id := _test_id(item, folder)) in named}
    except Exception as error:
        state.internal_errors.append(f"could not match the baseline against the collected tests: {error!r}")


def pytest_sessionfinish(session: pytest.Session) -> None:
    config = session.config
    state: _PluginState | None = config.stash.get(_STATE, None)
    if state is None:
        return
    if state.is_worker:  # pytest-xdist sends workeroutput to the controller, which reports and writes
        config.workeroutput[_WORKER_KEY] = {  # type: ignore[attr-defined]  # set by pytest-xdist on workers
            "reported": [list(pair) for pair in state.reported],
            "recorded": state.recorded,
            "internal_errors": state.internal_errors,
            "unlisted_duplicates": state.unlisted_duplicates,
            "baseline_seen": None if state.baseline_seen is None else sorted(state.baseline_seen),
        }
        return
    if state.write_to is None or state.inactive is not None:
        return  # an inactive plugin saw nothing: writing would empty a good baseline
    data: dict[str, Any] = {"format": BASELINE_FORMAT,
                            "paths": "relative to the folder of this file"}
    for kind, entries in state.recorded.items():
        # Sorted, so a run split over xdist workers writes the same file as a serial run.
        data[kind] = sorted(entries, key=lambda e: (e["test"], e["what"], e["file"], e["location"]))
    try:
        state.write_to.write_text(json.dumps(data, indent=2) + "\n")
    except OSError as error:
        state.internal_errors.append(f"could not write baseline {state.write_to}: {error}")


@pytest.hookimpl(optionalhook=True)
def pytest_testnodedown(node: Any, error: Any) -> None:
    """pytest-xdist, in the controller: merge what a worker found into this process's report."""
    state: _PluginState | None = node.config.stash.get(_STATE, None)
    if state is None:
        return
    output = getattr(node, "workeroutput", {}).get(_WORKER_KEY)
    name = getattr(node, "gateway", None) and node.gateway.id
    if output is None:
        state.internal_errors.append(f"worker {name} went down without sending its findings ({error})")
        return
    state.reported += [(nodeid, text) for nodeid, text in output["reported"]]
    for kind, entries in output["recorded"].items():
        state.recorded.setdefault(kind, []).extend(entries)
    state.internal_errors += [f"[{name}] {line}" for line in output["internal_errors"]]
    state.unlisted_duplicates += output["unlisted_duplicates"]
    if output["baseline_seen"] is not None:
        state.baseline_seen = (state.baseline_seen or set()) | set(output["baseline_seen"])


def pytest_terminal_summary(terminalreporter: Any, exitstatus: int, config: pytest.Config) -> None:
    state: _PluginState | None = config.stash.get(_STATE, None)
    if state is None or state.is_worker:
        return
    if state.inactive is not None:
        terminalreporter.write_line(f"integrity-kit: the pytest plugin is inactive: {state.inactive}", yellow=True)
        return
    if state.reported:
        title = "N+1 and duplicate queries" if state.race_mode == "off" else "N+1, duplicate queries and race risks"
        terminalreporter.section(f"{title} (integrity-kit)", yellow=True)
        for nodeid, text in sorted(state.reported, key=lambda pair: pair[0]):
            terminalreporter.write_line(f"{nodeid}: {text}")
    if state.unlisted_duplicates:
        count = state.unlisted_duplicates
        terminalreporter.write_line(
            f"integrity-kit: {count} duplicate quer{'y' if count == 1 else 'ies'} (the same SQL and parameters sent "
            "again) not listed: --detect-duplicates=warn lists them, =fail fails on them, =off stops counting")
    if state.write_to is not None:
        counts = {kind: len(entries) for kind, entries in state.recorded.items()}
        kinds = [f"{counts.get('n_plus_one', 0)} N+1", f"{counts.get('duplicates', 0)} duplicate"]
        if state.race_mode != "off":
            kinds.append(f"{counts.get('race_risks', 0)} race-risk")
        terminalreporter.write_line(
            f"integrity-kit: wrote {', '.join(kinds[:-1])} and {kinds[-1]} finding(s) to {os.fspath(state.write_to)}")
    baseline = state.baseline
    if baseline is not None and baseline.tests and state.baseline_seen is not None and not state.baseline_seen:
        example = sorted(baseline.tests)[0]
        terminalreporter.write_line(
            f"integrity-kit: warning: none of the {len(baseline.tests)} test(s) named in the baseline "
            f"{os.fspath(baseline.path)} was collected (e.g. {example}; ids are relative to the baseline's folder "
            f"{os.fspath(baseline.folder)}), so it ignores nothing", yellow=True)
    if state.internal_errors:
        terminalreporter.section("integrity-kit plugin errors (tests were not failed for these)", yellow=True)
        for line in state.internal_errors:
            terminalreporter.write_line(line)


class QueryCaptureFixture:
    """What the ``query_capture`` fixture gives a test: the statements so far and assertions over them."""

    def __init__(self, log: Any) -> None:
        self.log = log

    @property
    def statements(self) -> Any:
        return self.log.statements

    @property
    def n_plus_one(self) -> Any:
        return self.log.n_plus_one

    @property
    def duplicates(self) -> Any:
        return self.log.duplicates

    @property
    def transactions(self) -> Any:
        return self.log.transactions

    @property
    def race_risks(self) -> Any:
        return self.log.race_risks

    def __len__(self) -> int:
        return len(self.log.statements)

    def clear(self) -> None:
        """Forget the statements so far (e.g. after the test's own setup)."""
        self.log.clear()

    def assert_max_queries(self, limit: int) -> None:
        """Fail unless the test has sent at most ``limit`` statements so far; the message lists each one."""
        from integrity_kit.queries.assertions import check_max_queries

        __tracebackhide__ = True
        check_max_queries(self.log.statements, limit)

    def assert_no_n_plus_one(self) -> None:
        __tracebackhide__ = True
        findings = self.log.n_plus_one
        if findings:
            raise AssertionError("\n".join(_describe(f) for f in findings))

    def assert_no_duplicates(self) -> None:
        __tracebackhide__ = True
        duplicates = self.log.duplicates
        if duplicates:
            raise AssertionError("\n".join(_describe_duplicate(d) for d in duplicates))

    def assert_no_race_risks(self) -> None:
        """Fail when a transaction of the test reads a row and then writes what it read without a lock or guard."""
        __tracebackhide__ = True
        risks = [risk for risk in self.log.race_risks if risk.verdict == "risk"]
        if risks:
            raise AssertionError("\n".join(describe_race_risk(r) for r in risks))

    @contextmanager
    def max_queries(self, limit: int) -> Iterator[None]:
        """Fail when the block sends more than ``limit`` statements."""
        from integrity_kit.queries.assertions import check_max_queries

        start = len(self.log.statements)
        yield
        check_max_queries(self.log.statements[start:], limit)


def _require_capture(request: pytest.FixtureRequest) -> None:
    problem = capture_problem()
    if problem is not None:
        pytest.fail(f"{request.fixturename} cannot run: {problem}", pytrace=False)


@pytest.fixture
def query_capture(request: pytest.FixtureRequest) -> Iterator[QueryCaptureFixture]:
    """Capture every statement sent to any engine while the test runs."""
    _require_capture(request)
    from integrity_kit.queries.capture import capture

    state: _PluginState | None = request.config.stash.get(_STATE, None)
    threshold = state.threshold if state is not None else 2
    with capture(threshold=threshold) as log:
        yield QueryCaptureFixture(log)


@pytest.fixture
def assert_max_queries(request: pytest.FixtureRequest) -> Any:
    """``with assert_max_queries(3): ...`` fails when the block sends more than three statements."""
    _require_capture(request)
    from integrity_kit.queries.assertions import assert_max_queries as assert_max

    return assert_max
