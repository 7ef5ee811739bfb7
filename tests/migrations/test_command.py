"""``integrity-kit lint-migrations``: exit codes, options, and the three output formats."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from integrity_kit.cli import cli
from integrity_kit.migrations import RULES

FIXTURES = Path(__file__).with_name("fixtures")


def run(*args: str):
    return CliRunner().invoke(cli, ["lint-migrations", *map(str, args)])


def test_clean_directory_exits_0() -> None:
    result = run(FIXTURES / "safe")
    assert result.exit_code == 0, result.output
    assert "20 revision(s) linted for postgresql: 0 finding(s), 1 ignored with a reason" in result.output


def test_findings_exit_1_and_name_file_line_rule_and_fix() -> None:
    result = run(FIXTURES / "unsafe", "--since", "u05_drop_column")
    assert result.exit_code == 1
    lines = result.output.splitlines()
    assert any(line.endswith("06_u06_index_not_concurrently.py:17 IK810 index-without-concurrently index "
                             "ix_orders_created_at created on orders without CONCURRENTLY blocks writes to the table")
               for line in lines)
    assert "        op.create_index('ix_orders_created_at', 'orders', ['created_at'], postgresql_concurrently=True)" \
        in lines


@pytest.mark.parametrize("path", ["does/not/exist", "tests/migrations/test_command.py", "tests/migrations"])
def test_bad_path_is_one_line_and_exit_2(path: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations", path],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stdout == ""
    assert len(completed.stderr.strip().splitlines()) == 1, completed.stderr
    assert completed.stderr.startswith(f"integrity-kit: error: {path}: ")
    assert "Traceback" not in completed.stderr


def test_empty_versions_folder_is_exit_2(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "safe" / "env.py", tmp_path / "env.py")
    shutil.copy(FIXTURES / "safe" / "script.py.mako", tmp_path / "script.py.mako")
    (tmp_path / "versions").mkdir()
    result = run(tmp_path)
    assert result.exit_code == 2
    assert "no revisions found" in result.output


def test_unknown_since_revision_is_exit_2() -> None:
    result = run(FIXTURES / "unsafe", "--since", "nope")
    assert result.exit_code == 2
    assert "--since nope" in result.output


def test_unknown_dialect_is_a_usage_error() -> None:
    result = run(FIXTURES / "unsafe", "--dialect", "oracle")
    assert result.exit_code == 2
    assert "'oracle' is not one of" in result.output


@pytest.mark.parametrize(("dialect", "codes"), [
    ("postgresql", ["IK801", "IK802", "IK803", "IK805", "IK806", "IK810", "IK811", "IK812", "IK815", "IK820",
                    "IK821", "IK840", "IK841", "IK810", "IK802"]),
    # on MySQL IK850 judges the type change (u03, IK803 is PostgreSQL-only) and the foreign key (u09)
    ("mysql", ["IK801", "IK802", "IK850", "IK805", "IK806", "IK850", "IK820", "IK840", "IK841", "IK802"]),
    ("sqlite", ["IK801", "IK805", "IK806", "IK820", "IK830", "IK840", "IK841"]),
])
def test_dialect_selects_the_rules_that_apply(dialect: str, codes: list[str]) -> None:
    result = run(FIXTURES / "unsafe", "--dialect", dialect, "--format", "json")
    assert result.exit_code == 1
    report = json.loads(result.output)
    assert report["dialect"] == dialect
    assert [f["code"] for f in report["findings"]] == codes


def test_since_lints_only_newer_revisions() -> None:
    result = run(FIXTURES / "unsafe", "--since", "u13_missing_downgrade", "--format", "json")
    report = json.loads(result.output)
    assert report["revisions"] == ["u14_non_reversing", "u15_sql_only_index", "u16_execute_set_not_null"]
    assert {f["revision"] for f in report["findings"]} == set(report["revisions"])
    head = run(FIXTURES / "unsafe", "--since", "u16_execute_set_not_null", "--format", "json")
    assert head.exit_code == 0  # nothing newer than the head: nothing to report
    assert json.loads(head.output)["revisions"] == []


def test_select_runs_only_the_named_rules() -> None:
    result = run(FIXTURES / "unsafe", "--select", "IK810", "--select", "rename-column-or-table", "--format", "json")
    assert sorted({f["code"] for f in json.loads(result.output)["findings"]}) == ["IK805", "IK810"]
    assert run(FIXTURES / "unsafe", "--select", "no-such-rule").exit_code == 2


def test_prefixes_and_ignore() -> None:
    result = run(FIXTURES / "unsafe", "--select", "IK81", "--ignore", "IK811",
                 "--ignore", "constraint-validated-in-one-step", "--format", "json")
    assert [f["code"] for f in json.loads(result.output)["findings"]] == ["IK810", "IK812", "IK810"]
    unknown = run(FIXTURES / "unsafe", "--ignore", "IK9")
    assert unknown.exit_code == 2
    assert "no rule matches 'IK9'" in unknown.output


def test_json_shape() -> None:
    report = json.loads(run(FIXTURES / "unsafe", "--format", "json").output)
    assert set(report) == {"tool", "version", "path", "dialect", "revisions", "summary", "findings", "ignored",
                           "ignores_without_reason", "not_analysed", "notes"}
    assert report["summary"] == {"revisions": 17, "findings": 15, "ignored": 0,
                                 "by_severity": {"error": 4, "warning": 11}, "read_by_python_pass": 17,
                                 "sql_rendered": 17, "not_analysed": 0}
    finding = report["findings"][0]
    assert set(finding) == {"code", "rule", "severity", "revision", "path", "line", "table", "message", "fix",
                            "source", "fingerprint"}
    assert finding["code"] == "IK801" and finding["revision"] == "u01_add_not_null" and finding["line"] == 17
    assert finding["path"].endswith("versions/01_u01_add_not_null.py")
    assert len({f["fingerprint"] for f in report["findings"]}) == 15


def test_sarif_is_valid_2_1_0(tmp_path: Path) -> None:
    jsonschema = pytest.importorskip("jsonschema")
    out = tmp_path / "report.sarif"
    result = run(FIXTURES / "unsafe", "--format", "sarif", "--output", out)
    assert result.exit_code == 1
    sarif = json.loads(out.read_text())
    jsonschema.validate(sarif, SARIF_SUBSET)
    assert sarif["version"] == "2.1.0"
    run_ = sarif["runs"][0]
    rules = run_["tool"]["driver"]["rules"]
    assert [r["id"] for r in rules] == [rule.code for rule in RULES]
    assert len(run_["results"]) == 15
    for entry in run_["results"]:
        assert rules[entry["ruleIndex"]]["id"] == entry["ruleId"]
        location = entry["locations"][0]["physicalLocation"]
        assert Path(location["artifactLocation"]["uri"]).exists()
        assert location["region"]["startLine"] >= 1


def test_text_report_to_a_file(tmp_path: Path) -> None:
    out = tmp_path / "report.txt"
    result = run(FIXTURES / "two_heads", "--output", out)
    assert result.exit_code == 1
    assert result.output == ""
    text = out.read_text()
    assert text.count("IK842 multiple-heads") == 2
    assert "3 revision(s) linted for postgresql: 2 finding(s)" in text


# The parts of the SARIF 2.1.0 schema (docs.oasis-open.org/sarif/sarif/v2.1.0) that code-scanning uploads rely on:
# required properties, enums and types. The full schema is not fetched: tests run offline.
_LOCATION = {"type": "object", "required": ["physicalLocation"], "properties": {"physicalLocation": {
    "type": "object", "required": ["artifactLocation", "region"], "properties": {
        "artifactLocation": {"type": "object", "required": ["uri"], "properties": {"uri": {"type": "string"}}},
        "region": {"type": "object", "required": ["startLine"],
                   "properties": {"startLine": {"type": "integer", "minimum": 1}}}}}}}
SARIF_SUBSET = {
    "type": "object", "required": ["version", "runs"],
    "properties": {
        "$schema": {"type": "string", "format": "uri"},
        "version": {"const": "2.1.0"},
        "runs": {"type": "array", "minItems": 1, "items": {
            "type": "object", "required": ["tool", "results"],
            "properties": {
                "tool": {"type": "object", "required": ["driver"], "properties": {"driver": {
                    "type": "object", "required": ["name", "rules"],
                    "properties": {"name": {"type": "string"}, "version": {"type": "string"},
                                   "rules": {"type": "array", "items": {
                                       "type": "object", "required": ["id", "shortDescription"],
                                       "properties": {"id": {"type": "string"},
                                                      "shortDescription": {"type": "object", "required": ["text"]},
                                                      "defaultConfiguration": {"type": "object", "properties": {
                                                          "level": {"enum": ["none", "note", "warning",
                                                                             "error"]}}}}}}}}}},
                "results": {"type": "array", "items": {
                    "type": "object", "required": ["ruleId", "message", "locations"],
                    "properties": {"ruleId": {"type": "string"}, "ruleIndex": {"type": "integer", "minimum": 0},
                                   "level": {"enum": ["none", "note", "warning", "error"]},
                                   "message": {"type": "object", "required": ["text"],
                                               "properties": {"text": {"type": "string"}}},
                                   "locations": {"type": "array", "minItems": 1, "items": _LOCATION},
                                   "partialFingerprints": {"type": "object",
                                                           "additionalProperties": {"type": "string"}}}}}}}}},
}
