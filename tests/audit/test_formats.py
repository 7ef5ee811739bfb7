"""SARIF and Markdown reports, and baselines: adopt on a legacy database, fail only on what is new."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from examples.ecommerce import database
from integrity_kit.audit.registry import RULES
from integrity_kit.cli import cli

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.fixture
def legacy_url(app_engine, engine_url) -> str:
    database.create_schema(app_engine, legacy=True)
    return engine_url.render_as_string(hide_password=False)


def test_sarif(legacy_url: str) -> None:
    result = _run("audit", legacy_url, "--format", "sarif")
    assert result.exit_code == 1
    sarif = json.loads(result.output)
    assert sarif["version"] == "2.1.0" and sarif["$schema"].endswith("sarif-2.1.0.json")
    run = sarif["runs"][0]
    rules = run["tool"]["driver"]["rules"]
    assert [rule["id"] for rule in rules] == [rule.code for rule in RULES]
    assert all(rule["help"]["markdown"] and rule["defaultConfiguration"]["level"] in ("error", "warning", "note")
               for rule in rules)
    findings = json.loads(_run("audit", legacy_url, "--format", "json").output)["findings"]
    assert len(run["results"]) == len(findings)
    for result_entry, finding in zip(run["results"], findings, strict=True):
        assert result_entry["ruleId"] == finding["code"]
        assert rules[result_entry["ruleIndex"]]["id"] == finding["code"]
        assert result_entry["partialFingerprints"] == {"integrityKit/v1": finding["fingerprint"]}
        location = result_entry["locations"][0]
        assert location["physicalLocation"]["artifactLocation"]["uri"].startswith(finding["table"])
        assert location["logicalLocations"][0]["fullyQualifiedName"].startswith(finding["table"])
    orders = next(r for r in run["results"] if r["ruleId"] == "IK101"
                  and r["locations"][0]["physicalLocation"]["artifactLocation"]["uri"] == "orders/user_id")
    assert orders["level"] == "error" and "Fix:" in orders["message"]["text"]


def test_markdown_fits_a_pull_request_comment(legacy_url: str) -> None:
    result = _run("audit", legacy_url, "--format", "markdown")
    assert result.exit_code == 1
    text = result.output
    assert text.startswith("### integrity-kit audit:") and "| `IK101` missing-foreign-key | `orders(user_id)` |" in text
    rows = [line for line in text.splitlines() if line.startswith("| ") and "`IK" in line]
    assert 0 < len(rows) <= 25
    if len(json.loads(_run("audit", legacy_url, "--format", "json").output)["findings"]) > 25:
        assert "…and" in text


def test_baseline_round_trip(legacy_url: str, app_engine, tmp_path) -> None:
    baseline = tmp_path / "baseline.json"
    first = _run("audit", legacy_url, "--write-baseline", str(baseline), "--format", "json")
    assert first.exit_code == 1
    accepted = json.loads(baseline.read_text())["findings"]
    assert len(accepted) == json.loads(first.stdout)["summary"]["findings"] > 0
    quiet = _run("audit", legacy_url, "--baseline", str(baseline), "--format", "json", "--fail-on", "info")
    assert quiet.exit_code == 0, quiet.output
    assert json.loads(quiet.output)["summary"]["baseline_hidden"] == len(accepted)
    with app_engine.begin() as connection:  # a new defect: money as float in a new table
        connection.exec_driver_sql("CREATE TABLE refunds (id INTEGER PRIMARY KEY, amount FLOAT NOT NULL, "
                                   "CONSTRAINT ck_refunds_amount CHECK (amount >= 0))")
    new = _run("audit", legacy_url, "--baseline", str(baseline), "--format", "json")
    assert new.exit_code == 1
    assert [(f["rule"], f["table"]) for f in json.loads(new.output)["findings"]] == [("float-for-money", "refunds")]


@pytest.mark.parametrize(("content", "message"), [
    (None, "no baseline file"), ("{}", "is not an integrity-kit baseline"),
    ("not json", "is not an integrity-kit baseline"),
])
def test_bad_baseline_is_one_line_exit_2(legacy_url: str, tmp_path, content, message) -> None:
    path = tmp_path / "baseline.json"
    if content is not None:
        path.write_text(content)
    result = _run("audit", legacy_url, "--baseline", str(path))
    assert result.exit_code == 2 and message in result.output
