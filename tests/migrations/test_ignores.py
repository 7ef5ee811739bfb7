"""Inline ignores: ``# integrity-kit: ignore[rule] reason`` silences a finding; without a reason it silences
nothing and is itself reported."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from integrity_kit.cli import cli
from integrity_kit.migrations import lint

FIXTURES = Path(__file__).with_name("fixtures")
U06 = "06_u06_index_not_concurrently.py"
CALL = '    op.create_index("ix_orders_created_at", "orders", ["created_at"])'


@pytest.fixture
def unsafe_copy(tmp_path: Path) -> Path:
    target = tmp_path / "unsafe"
    shutil.copytree(FIXTURES / "unsafe", target, ignore=shutil.ignore_patterns("__pycache__"))
    return target


def edit(directory: Path, replacement: str) -> None:
    path = directory / "versions" / U06
    text = path.read_text()
    assert CALL in text
    path.write_text(text.replace(CALL, replacement))


def u06(result) -> list[tuple[str, int]]:
    return [(f.code, f.line) for f in result.findings if f.revision == "u06_index_not_concurrently"]


@pytest.mark.parametrize("comment_form", [
    "    # integrity-kit: ignore[index-without-concurrently] orders has 40 rows in production\n" + CALL,
    CALL + "  # integrity-kit: ignore[IK810] orders has 40 rows in production",
    "    # integrity-kit: ignore[IK811, index-without-concurrently] orders has 40 rows in production\n" + CALL,
])
def test_ignore_with_a_reason_silences_the_finding(unsafe_copy: Path, comment_form: str) -> None:
    assert u06(lint(unsafe_copy)) == [("IK810", 17)]
    edit(unsafe_copy, comment_form)
    result = lint(unsafe_copy)
    assert u06(result) == []
    assert [(f.code, f.revision) for f in result.ignored] == [("IK810", "u06_index_not_concurrently")]
    assert len(result.findings) == 14  # every other finding is still there


def test_ignore_on_another_line_of_a_multi_line_call(unsafe_copy: Path) -> None:
    edit(unsafe_copy, '    op.create_index(\n        "ix_orders_created_at",  # integrity-kit: ignore[IK810] tiny '
                      'table\n        "orders", ["created_at"],\n    )')
    assert u06(lint(unsafe_copy)) == []


def test_ignore_for_another_rule_does_not_silence(unsafe_copy: Path) -> None:
    edit(unsafe_copy, CALL + "  # integrity-kit: ignore[drop-column-or-table] not this rule")
    assert u06(lint(unsafe_copy)) == [("IK810", 17)]


def test_ignore_without_a_reason_ignores_nothing_and_is_reported(unsafe_copy: Path) -> None:
    edit(unsafe_copy, CALL + "  # integrity-kit: ignore[index-without-concurrently]")
    result = lint(unsafe_copy)
    assert u06(result) == [("IK810", 17)]
    assert [(f.code, f.line) for f in result.unexplained_ignores] == [("IK810", 17)]
    assert result.ignored == []

    cli_result = CliRunner().invoke(cli, ["lint-migrations", str(unsafe_copy), "--since", "u05_drop_column"])
    assert cli_result.exit_code == 1
    assert f"{U06}:17 ignore comment for index-without-concurrently has no reason, so it ignores nothing" \
        in cli_result.output

    report = json.loads(CliRunner().invoke(cli, ["lint-migrations", str(unsafe_copy), "--format", "json"]).output)
    assert [(f["code"], f["line"]) for f in report["ignores_without_reason"]] == [("IK810", 17)]
    assert ("IK810", "u06_index_not_concurrently") in {(f["code"], f["revision"]) for f in report["findings"]}


def test_reasons_travel_to_json_and_sarif() -> None:
    runner = CliRunner()
    reason = "the models stopped mapping legacy_notes in the previous release"
    report = json.loads(runner.invoke(cli, ["lint-migrations", str(FIXTURES / "safe"), "--format", "json"]).output)
    assert [(f["rule"], f["reason"]) for f in report["ignored"]] == [("drop-column-or-table", reason)]

    sarif_run = runner.invoke(cli, ["lint-migrations", str(FIXTURES / "safe"), "--format", "sarif"])
    assert sarif_run.exit_code == 0  # suppressed results do not fail the run
    results = json.loads(sarif_run.output)["runs"][0]["results"]
    assert [(r["ruleId"], r["suppressions"]) for r in results] == [
        ("IK806", [{"kind": "inSource", "justification": reason}])]
