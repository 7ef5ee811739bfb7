"""pytest plugin (``pytest11`` entry point ``integrity_kit``): query capture, query budgets and N+1 checks.

- ``query_capture`` fixture: every statement the test sends, with ``.n_plus_one``, ``.duplicates`` and
  ``.assert_max_queries(n)``; ``assert_max_queries(n)`` is also a context manager in ``integrity_kit.queries``.
- ``--detect-n-plus-one=fail|warn|off`` (or the ``detect_n_plus_one`` ini option): check every test's body.
- ``@pytest.mark.allow_n_plus_one("Product.category", ...)``: a known finding that this test may keep (no
  arguments allows every finding); arguments match a relationship, a fingerprint or a location prefix.
- ``--n-plus-one-baseline FILE`` ignores findings recorded there; ``--write-n-plus-one-baseline FILE`` records
  every finding of the run so a team can adopt the check without fixing everything first.

An internal error in the plugin is reported in the terminal summary and never fails a user's test.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

_MODES = ("fail", "warn", "off")
_STATE = pytest.StashKey["_PluginState"]()


class _PluginState:
    def __init__(self, mode: str, threshold: int, baseline: set[tuple[str, str, str]], write_to: str | None) -> None:
        self.mode = mode
        self.threshold = threshold
        self.baseline = baseline
        self.write_to = write_to
        self.reported: list[tuple[str, Any]] = []  # (nodeid, finding) shown in the summary
        self.recorded: list[dict[str, Any]] = []  # for --write-n-plus-one-baseline
        self.internal_errors: list[str] = []

    @property
    def active(self) -> bool:
        return self.mode != "off" or self.write_to is not None


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("integrity-kit", "integrity-kit query checks")
    group.addoption("--detect-n-plus-one", choices=_MODES, default=None,
                    help="Check every test body for N+1 queries: fail the test, warn in the summary, or off.")
    group.addoption("--n-plus-one-threshold", type=int, default=None,
                    help="Similar queries from one line that count as N+1 (default 2).")
    group.addoption("--n-plus-one-baseline", default=None, metavar="FILE",
                    help="Ignore the N+1 findings recorded in this baseline file.")
    group.addoption("--write-n-plus-one-baseline", default=None, metavar="FILE",
                    help="Write every N+1 finding of this run to FILE (tests do not fail on them).")
    parser.addini("detect_n_plus_one", "fail|warn|off: check every test body for N+1 queries", default="off")
    parser.addini("n_plus_one_threshold", "similar queries from one line that count as N+1", default="2")
    parser.addini("n_plus_one_baseline", "baseline file of known N+1 findings", default="")


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers",
        "allow_n_plus_one(*patterns): allow N+1 findings in this test (all, or those whose relationship, "
        "fingerprint or location matches a pattern)",
    )
    mode = config.getoption("--detect-n-plus-one") or str(config.getini("detect_n_plus_one") or "off").strip()
    if mode not in _MODES:
        raise pytest.UsageError(f"detect_n_plus_one must be one of {', '.join(_MODES)}, not {mode!r}")
    threshold = config.getoption("--n-plus-one-threshold") or int(config.getini("n_plus_one_threshold") or 2)
    baseline_path = config.getoption("--n-plus-one-baseline") or str(config.getini("n_plus_one_baseline") or "")
    baseline: set[tuple[str, str, str]] = set()
    if baseline_path:
        baseline = _read_baseline(Path(baseline_path))
    config.stash[_STATE] = _PluginState(mode, threshold, baseline, config.getoption("--write-n-plus-one-baseline"))


def _finding_key(nodeid: str, finding) -> tuple[str, str, str]:
    # Line numbers move with every edit; the file, the test and what is loaded do not.
    path = (finding.location or "").rsplit(":", 1)[0]
    return nodeid, finding.relationship or finding.fingerprint, path


def _read_baseline(path: Path) -> set[tuple[str, str, str]]:
    try:
        data = json.loads(path.read_text())
        return {(e["test"], e["what"], e["file"]) for e in data.get("n_plus_one", [])}
    except FileNotFoundError:
        raise pytest.UsageError(f"N+1 baseline file not found: {path}") from None
    except (ValueError, KeyError, TypeError, AttributeError) as error:
        raise pytest.UsageError(f"N+1 baseline file {path} is not valid: {error}") from None


def _allowed(item: pytest.Item, finding) -> bool:
    for marker in item.iter_markers("allow_n_plus_one"):
        if not marker.args:
            return True
        for pattern in marker.args:
            if pattern in (finding.relationship, finding.fingerprint) or (
                finding.location and finding.location.startswith(pattern)
            ):
                return True
    return False


def _describe(finding) -> str:
    what = finding.relationship or finding.kind
    return (f"N+1: {finding.count} similar queries ({what}) from {finding.location}\n"
            f"    fix: {finding.fix}\n    sample: {' '.join(finding.sample_sql.split())}")


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Iterator[None]:
    state: _PluginState | None = item.config.stash.get(_STATE, None)
    if state is None or not state.active:
        return (yield)
    cap = None
    try:
        from integrity_kit.queries import capture

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
        state.internal_errors.append(f"{item.nodeid}: N+1 detection failed: {error!r}")
        return result
    if failures:
        pytest.fail("\n".join(_describe(f) for f in failures), pytrace=False)
    return result


def _check(item: pytest.Item, state: _PluginState, log) -> list:
    failures = []
    for finding in log.n_plus_one:
        key = _finding_key(item.nodeid, finding)
        if state.write_to is not None:
            state.recorded.append({"test": key[0], "what": key[1], "file": key[2], "location": finding.location,
                                   "count": finding.count, "fix": finding.fix})
            continue
        if _allowed(item, finding) or key in state.baseline:
            continue
        if state.mode == "fail":
            failures.append(finding)
        elif state.mode == "warn":
            state.reported.append((item.nodeid, finding))
    return failures


def pytest_sessionfinish(session: pytest.Session) -> None:
    state: _PluginState | None = session.config.stash.get(_STATE, None)
    if state is None or state.write_to is None:
        return
    try:
        Path(state.write_to).write_text(json.dumps({"n_plus_one": state.recorded}, indent=2) + "\n")
    except OSError as error:
        state.internal_errors.append(f"could not write baseline {state.write_to}: {error}")


def pytest_terminal_summary(terminalreporter, exitstatus, config: pytest.Config) -> None:
    state: _PluginState | None = config.stash.get(_STATE, None)
    if state is None:
        return
    if state.reported:
        terminalreporter.section("N+1 queries (integrity-kit)", yellow=True)
        for nodeid, finding in state.reported:
            terminalreporter.write_line(f"{nodeid}: {_describe(finding)}")
    if state.write_to is not None:
        terminalreporter.write_line(
            f"integrity-kit: wrote {len(state.recorded)} N+1 finding(s) to {os.fspath(state.write_to)}")
    if state.internal_errors:
        terminalreporter.section("integrity-kit plugin errors (tests were not failed for these)", yellow=True)
        for line in state.internal_errors:
            terminalreporter.write_line(line)


class QueryCaptureFixture:
    """What the ``query_capture`` fixture gives a test: the statements so far and assertions over them."""

    def __init__(self, log) -> None:
        self.log = log

    @property
    def statements(self):
        return self.log.statements

    @property
    def n_plus_one(self):
        return self.log.n_plus_one

    @property
    def duplicates(self):
        return self.log.duplicates

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

    @contextmanager
    def max_queries(self, limit: int):
        """Fail when the block sends more than ``limit`` statements."""
        from integrity_kit.queries.assertions import check_max_queries

        start = len(self.log.statements)
        yield
        check_max_queries(self.log.statements[start:], limit)


@pytest.fixture
def query_capture(request: pytest.FixtureRequest) -> Iterator[QueryCaptureFixture]:
    """Capture every statement sent to any engine while the test runs."""
    from integrity_kit.queries import capture

    state: _PluginState | None = request.config.stash.get(_STATE, None)
    threshold = state.threshold if state is not None else 2
    with capture(threshold=threshold) as log:
        yield QueryCaptureFixture(log)


@pytest.fixture
def assert_max_queries():
    """``with assert_max_queries(3): ...`` fails when the block sends more than three statements."""
    from integrity_kit.queries.assertions import assert_max_queries as assert_max

    return assert_max
