"""Loading a script directory as projects ship it: revisions that do not import, a file that does not parse, branches
read from source, and checks that crash. Each fixture's findings and not-analysed entries are asserted in full."""

from __future__ import annotations

import ast
import json
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from integrity_kit.migrations import lint, linter
from integrity_kit.migrations.model import Finding, LintContext, Revision
from integrity_kit.migrations.rules import RULES
from integrity_kit.migrations.source import read_history
from integrity_kit.rulebook import Severity

FIXTURES = Path(__file__).with_name("fixtures")
PG, LITE = "postgresql", "sqlite"
LOADING = sorted(path.name for path in FIXTURES.glob("loading_*") if path.name != "loading_call_shapes")

# fixture -> dialect -> the exact (code, revision, line) findings
FINDINGS: dict[str, dict[str, set[tuple[str, str, int]]]] = {
    "loading_imports": {
        PG: {("IK810", "i01_third_party", 18),  # read although `import nosuchlib` fails
             ("IK806", "i02_project_helper", 19),  # the project's helper call is opaque; the drop still counts
             ("IK801", "i03_project_model", 20),
             ("IK810", "i05_import_in_upgrade", 19),
             ("IK802", "i06_needs_settings", 22)},
        LITE: {("IK806", "i02_project_helper", 19), ("IK801", "i03_project_model", 20)},
    },
    "loading_syntax": {
        PG: {("IK810", "x01_index", 17), ("IK806", "x03_after_broken", 17)},  # x03 comes after the broken file
        LITE: {("IK806", "x03_after_broken", 17)},
    },
    "loading_branches": {
        PG: {("IK842", "b_f3", 10), ("IK842", "b_e3", 11), ("IK810", "b_f3", 17), ("IK810", "b_b1", 17),
             ("IK806", "b_e3", 18)},
        LITE: {("IK842", "b_f3", 10), ("IK842", "b_e3", 11), ("IK806", "b_e3", 18)},
    },
    "loading_render_raises": {PG: {("IK810", "r02_index", 17)}, LITE: set()},
    # these three env.py set no lock_timeout, unlike the other fixtures': each strong lock is also IK816's
    "loading_env_url": {PG: {("IK810", "e01_index", 17), ("IK802", "e02_set_not_null", 17),
                             ("IK816", "e01_index", 17), ("IK816", "e02_set_not_null", 17),
                             ("IK816", "e03_add_column", 17)}, LITE: set()},
    "loading_env_app": {PG: {("IK806", "a01_drop_column", 17), ("IK810", "a02_index", 17),
                             ("IK816", "a01_drop_column", 17), ("IK816", "a02_index", 17)},
                        LITE: {("IK806", "a01_drop_column", 17)}},
    "loading_noisy": {PG: {("IK810", "n01_index", 20), ("IK806", "n02_print_stderr", 22),
                           ("IK816", "n01_index", 20), ("IK816", "n02_print_stderr", 22),
                           ("IK816", "n03_quiet", 17)},
                      LITE: {("IK806", "n02_print_stderr", 22)}},
}
# fixture -> the exact not-analysed entries (the same on every dialect)
NOT_ANALYSED: dict[str, list[dict[str, str]]] = {
    "loading_imports": [
        {"object": "versions/01_i01_third_party.py (rendered SQL)", "reason": "cannot import it: No module named "
                                                                              "'nosuchlib'"},
        {"object": "versions/02_i02_project_helper.py (rendered SQL)",
         "reason": "cannot import it: No module named 'myproject'"},
        {"object": "versions/03_i03_project_model.py (rendered SQL)",
         "reason": "cannot import it: No module named 'myproject'"},
        {"object": "versions/05_i05_import_in_upgrade.py (rendered SQL)",
         "reason": "rendering its upgrade() raised ModuleNotFoundError at line 17: No module named 'nosuchlib'"},
        {"object": "versions/06_i06_needs_settings.py (rendered SQL)",
         "reason": "importing it raised RuntimeError: set MYPROJECT_SETTINGS first"},
    ],
    "loading_syntax": [
        {"object": "versions/02_x02_broken.py",
         "reason": "syntax error at line 17: '(' was never closed: neither read by the Python pass nor rendered; "
                   "the revisions after it are"},
    ],
    "loading_branches": [
        {"object": "versions/5555_b_e3.py (rendered SQL)", "reason": "cannot import it: No module named 'nosuchlib'"},
    ],
    "loading_render_raises": [
        {"object": "versions/01_r01_needs_rows.py (rendered SQL)",
         "reason": "rendering its upgrade() raised NoInspectionAvailable at line 17: No inspection system is "
                   "available for object of type <class 'sqlalchemy.engine.mock.MockConnection'>"},
    ],
    "loading_env_url": [],
    "loading_env_app": [],
    "loading_noisy": [],
}
# fixture -> (revisions, read by the Python pass, SQL rendered)
COUNTS = {"loading_imports": (8, 8, 3), "loading_syntax": (4, 3, 3), "loading_branches": (6, 6, 5),
          "loading_render_raises": (3, 3, 2), "loading_env_url": (4, 4, 4), "loading_env_app": (3, 3, 3),
          "loading_noisy": (4, 4, 4)}


def found(result: linter.LintResult) -> set[tuple[str, str, int]]:
    return {(f.code, f.revision, f.line) for f in result.findings}


def test_every_loading_fixture_is_asserted() -> None:
    assert set(LOADING) == set(FINDINGS) == set(NOT_ANALYSED) == set(COUNTS)
    assert sum(len(list(path.glob("versions/*.py"))) for path in FIXTURES.glob("loading_*")) >= 30


@pytest.mark.parametrize("dialect", [PG, LITE])
@pytest.mark.parametrize("fixture", LOADING)
def test_fixture_gives_exactly_its_findings_and_not_analysed_entries(fixture: str, dialect: str) -> None:
    result = lint(FIXTURES / fixture, dialect=dialect)
    assert found(result) == FINDINGS[fixture][dialect]
    assert result.not_analysed == NOT_ANALYSED[fixture]
    assert (len(result.revisions), result.read_by_python, result.sql_rendered) == COUNTS[fixture]


@pytest.mark.parametrize("fixture", LOADING)
def test_no_traceback_and_exit_0_or_1_from_the_command(fixture: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations", str(FIXTURES / fixture)],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == (1 if FINDINGS[fixture][PG] else 0), completed.stderr
    assert "Traceback" not in completed.stdout + completed.stderr
    revisions, read, rendered = COUNTS[fixture]
    assert f"{revisions} revisions, {read} read by the Python pass, {rendered} SQL rendered" in completed.stdout
    for entry in NOT_ANALYSED[fixture]:
        assert f"not analysed: {entry['object']}: {entry['reason']}" in completed.stdout


def test_unimportable_revisions_keep_the_no_sql_run_complete() -> None:
    result = lint(FIXTURES / "loading_imports", render_sql=False)
    assert found(result) == FINDINGS["loading_imports"][PG]  # the Python pass needs no import
    assert result.not_analysed == [] and result.sql_rendered is None
    assert result.summary_line() == "8 revisions, 8 read by the Python pass, SQL not rendered (--no-sql)"


def test_branches_are_ordered_base_first_from_source() -> None:
    history = read_history(FIXTURES / "loading_branches")
    # the files are named 1111_b_f3 .. 6666_b_c1: the order comes from the graph, ties in file order
    assert [file.revision for file in history.files] == ["b_a0", "b_b1", "b_c1", "b_d2", "b_f3", "b_e3"]
    assert history.heads == ("b_f3", "b_e3")
    by_id = {file.revision: file for file in history.files}
    assert by_id["b_d2"].down_revision == ("b_b1", "b_c1")
    assert by_id["b_b1"].branch_labels == ("left",) and by_id["b_f3"].depends_on == ("b_b1",)


@pytest.mark.parametrize(("since", "linted"), [
    ("b_b1", ["b_d2", "b_f3", "b_e3"]),
    ("left", ["b_d2", "b_f3", "b_e3"]),  # a branch label names its revision
    ("b_c", ["b_d2", "b_f3", "b_e3"]),  # a unique prefix, as alembic accepts
    ("b_d2", ["b_f3", "b_e3"]),
    ("base", ["b_a0", "b_b1", "b_c1", "b_d2", "b_f3", "b_e3"]),
])
def test_since_works_on_a_history_read_from_source(since: str, linted: list[str]) -> None:
    result = lint(FIXTURES / "loading_branches", since=since)
    assert result.revisions == linted
    assert {revision for _, revision, _ in found(result)} <= set(linted)


def test_since_an_unknown_revision_is_a_clear_error() -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations",
                                str(FIXTURES / "loading_branches"), "--since", "nope"],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 2
    assert completed.stderr.strip() == "integrity-kit: error: --since nope: no such revision in the history"


def test_since_skips_the_not_analysed_sql_of_older_revisions() -> None:
    result = lint(FIXTURES / "loading_imports", since="i06_needs_settings")
    assert result.revisions == ["i07_concurrent_index"]
    assert result.not_analysed == [] and found(result) == set()


def test_a_missing_down_revision_is_reported_and_the_rest_is_read(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text((FIXTURES / "safe" / "env.py").read_text())
    source = (FIXTURES / "loading_syntax" / "versions" / "03_x03_after_broken.py").read_text()
    (tmp_path / "versions" / "03_x03_after_broken.py").write_text(source)
    result = lint(tmp_path)
    assert result.revisions == ["x03_after_broken"]
    assert found(result) == {("IK806", "x03_after_broken", 17)}
    assert result.not_analysed == [{"object": "versions/03_x03_after_broken.py",
                                    "reason": "its down_revision x02_broken is not in the versions folders: read "
                                              "as if it were a base"}]


class Exploding:
    """A throwaway rule (not a Rule subclass, so the registry's own checks never see it) that fails on a call."""

    code = "IK999"
    name = "exploding"
    severity = Severity.WARNING
    dialects = (PG, "mysql", LITE)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for op in revision.upgrade:
            if op.name == "create_index":
                raise TypeError("unhashable type: 'list'\nsecond line")
        return iter(())


def test_a_rule_that_raises_is_not_analysed_for_that_revision_only(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(linter, "RULES", (*RULES, Exploding))
    result = lint(FIXTURES / "loading_syntax")
    assert found(result) == FINDINGS["loading_syntax"][PG]  # the other rules still ran on the same revision
    crashed = [item for item in result.not_analysed if "exploding" in item["reason"]]
    assert crashed == [{"object": "versions/01_x01_index.py:17 (x01_index)",
                        "reason": "rule exploding failed: TypeError: unhashable type: 'list'"}]


def test_a_rule_that_raises_exits_by_findings_not_by_crash(monkeypatch: pytest.MonkeyPatch) -> None:
    from click.testing import CliRunner

    from integrity_kit.cli import cli

    monkeypatch.setattr(linter, "RULES", (*RULES, Exploding))
    result = CliRunner().invoke(cli, ["lint-migrations", str(FIXTURES / "loading_render_raises"), "--select",
                                      "exploding", "--format", "json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.output)
    assert report["findings"] == []
    assert [item["reason"] for item in report["not_analysed"]][-1] == \
        "rule exploding failed: TypeError: unhashable type: 'list'"


def test_the_collector_failing_on_one_revision_spares_the_others(monkeypatch: pytest.MonkeyPatch) -> None:
    from integrity_kit.migrations import collect

    run = collect.Collector.run

    def failing(self: collect.Collector, node):
        if self.function == "upgrade" and any(getattr(n, "attr", None) == "drop_column" for n in ast.walk(node)):
            raise ValueError("a call shape nobody expected")
        return run(self, node)

    monkeypatch.setattr(collect.Collector, "run", failing)
    result = lint(FIXTURES / "loading_syntax")
    assert found(result) == {("IK810", "x01_index", 17)}
    assert result.read_by_python == 2
    assert {"object": "versions/03_x03_after_broken.py:16",  # the upgrade() being read
            "reason": "the Python pass failed on it: ValueError: a call shape nobody expected"} in result.not_analysed


def test_collecting_foreign_keys_failing_is_not_analysed(monkeypatch: pytest.MonkeyPatch) -> None:
    def failing(revision: Revision, context: LintContext) -> None:
        if revision.revision == "x00_base":
            raise KeyError("users")

    monkeypatch.setattr(linter, "_collect_foreign_keys", failing)
    result = lint(FIXTURES / "loading_syntax")
    assert found(result) == FINDINGS["loading_syntax"][PG]
    assert [item["reason"] for item in result.not_analysed if "foreign keys" in item["reason"]] == [
        "collecting its foreign keys failed: KeyError: 'users'"]


def test_sarif_carries_what_was_not_analysed() -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations",
                                str(FIXTURES / "loading_branches"), "--format", "sarif"],
                               capture_output=True, text=True, timeout=120)
    run = json.loads(completed.stdout)["runs"][0]
    [invocation] = run["invocations"]
    assert [n["message"]["text"] for n in invocation["toolExecutionNotifications"]] == [
        "not analysed: versions/5555_b_e3.py (rendered SQL): cannot import it: No module named 'nosuchlib'"]
    assert run["properties"]["summary"] == "6 revisions, 6 read by the Python pass, 5 SQL rendered"


def test_version_locations_named_by_alembic_ini_are_read(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "more").mkdir()
    (tmp_path / "env.py").write_text((FIXTURES / "safe" / "env.py").read_text())
    source = FIXTURES / "loading_syntax" / "versions"
    (tmp_path / "versions" / "00_x00_base.py").write_text((source / "00_x00_base.py").read_text())
    (tmp_path / "more" / "01_x01_index.py").write_text((source / "01_x01_index.py").read_text())
    (tmp_path / "alembic.ini").write_text("[alembic]\nscript_location = %(here)s\n"
                                          "version_locations = %(here)s/versions %(here)s/more\n")
    result = lint(tmp_path)
    assert result.revisions == ["x00_base", "x01_index"]
    assert found(result) == {("IK810", "x01_index", 17)} and result.sql_rendered == 2
    assert result.not_analysed == []


def test_a_cycle_is_reported_and_nothing_is_lost(tmp_path: Path) -> None:
    (tmp_path / "versions").mkdir()
    (tmp_path / "env.py").write_text((FIXTURES / "safe" / "env.py").read_text())
    for name, down in (("a", "b"), ("b", "a")):
        (tmp_path / "versions" / f"{name}.py").write_text(
            f'revision = "{name}"\ndown_revision = "{down}"\n\n\ndef upgrade():\n    pass\n\n\ndef downgrade():\n'
            "    pass\n")
    result = lint(tmp_path)
    assert result.revisions == ["a", "b"] and result.read_by_python == 2 and result.sql_rendered == 0
    assert result.not_analysed == [
        {"object": "versions/a.py", "reason": "its down_revision chain is a cycle: the order after it is the files' "
                                              "order"},
        {"object": "rendered SQL of every revision",
         "reason": "the history cannot be loaded by Alembic: Cycle is detected in revisions (a, b)"}]


@pytest.mark.parametrize("dialect", [PG, LITE])
def test_a_call_shape_a_rule_does_not_expect_costs_that_rule_only(dialect: str) -> None:
    """``batch_alter_table(TABLE)`` with ``batch_op.create_index(name, [cols])``: rules that crashed on it with a
    traceback. Whatever each rule makes of it, the run ends, the revision is read and rendered, and every rule
    that cannot check it says so at the call's line."""
    result = lint(FIXTURES / "loading_call_shapes", dialect=dialect)
    assert (result.read_by_python, result.sql_rendered) == (2, 2)
    assert all(item["object"] == "versions/01_c01_batch_by_variable.py:21 (c01_batch_by_variable)"
               and item["reason"].startswith("rule ") for item in result.not_analysed)
    assert {(f.revision, f.line) for f in result.findings} <= {("c01_batch_by_variable", 21)}
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations",
                                str(FIXTURES / "loading_call_shapes"), "--dialect", dialect],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode in (0, 1) and "Traceback" not in completed.stdout + completed.stderr


def test_a_checkout_root_names_the_script_directory_inside_it(tmp_path) -> None:
    import shutil

    from click.testing import CliRunner

    from integrity_kit.cli import cli

    inner = tmp_path / "project" / "app" / "alembic"
    shutil.copytree(Path(__file__).with_name("fixtures") / "safe", inner)
    result = CliRunner().invoke(cli, ["lint-migrations", str(tmp_path / "project")], terminal_width=300)
    assert result.exit_code == 2
    assert result.output.strip().endswith(f"not an Alembic script directory (no versions/ folder); found {inner}: "
                                          "pass that path"), result.output
