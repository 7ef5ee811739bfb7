"""`integrity-kit audit` as a user runs it: exit codes, the JSON contract, one-line errors, masked passwords."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from examples.ecommerce import database
from integrity_kit.cli import cli


def _run(*args: str, env: dict | None = None):
    return CliRunner().invoke(cli, list(args), env=env, terminal_width=80)


@pytest.fixture
def legacy_url(app_engine, engine_url) -> str:
    database.create_schema(app_engine, legacy=True)
    return engine_url.render_as_string(hide_password=False)


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_json_report_follows_the_contract(legacy_url: str, engine_name: str) -> None:
    result = _run("audit", legacy_url, "--format", "json")
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert set(report) == {"tool", "version", "database", "summary", "findings", "not_analysed"}
    assert report["tool"] == "integrity-kit" and report["database"]["dialect"] == engine_name.replace("mariadb",
                                                                                                       "mysql")
    assert set(report["summary"]) == {"tables", "findings", "by_severity", "partial"}
    assert report["summary"]["tables"] == 7 and report["summary"]["partial"] is False
    assert report["summary"]["findings"] == len(report["findings"])
    finding = next(f for f in report["findings"] if f["rule"] == "missing-foreign-key" and f["table"] == "orders")
    assert finding["code"] == "IK101" and finding["columns"] == ["user_id"]
    assert finding["target"] == {"table": "users", "columns": ["id"]}
    assert set(finding["fix"]) == {"sql", "alembic"} and len(finding["fingerprint"]) == 16
    again = json.loads(_run("audit", legacy_url, "--format", "json").output)
    assert [f["fingerprint"] for f in again["findings"]] == [f["fingerprint"] for f in report["findings"]]


@pytest.mark.engines("sqlite")
def test_text_report_exit_codes_and_selection(legacy_url: str, tmp_path) -> None:
    text = _run("audit", legacy_url)
    assert text.exit_code == 1
    assert "orders" in text.output and "missing-foreign-key" in text.output
    assert "7 table(s)" in text.output  # not a terminal: nothing is wrapped (tests/audit/test_piped_text.py)
    assert _run("audit", legacy_url, "--fail-on", "never").exit_code == 0
    only = _run("audit", legacy_url, "--select", "IK2", "--format", "json", "--fail-on", "warning")
    assert only.exit_code == 1
    assert {f["code"][:3] for f in json.loads(only.output)["findings"]} == {"IK2"}
    ignored = json.loads(_run("audit", legacy_url, "--ignore", "IK1,IK3,IK4", "--format", "json").output)
    assert {f["code"][:3] for f in ignored["findings"]} == {"IK2"}
    out = tmp_path / "report.json"
    assert _run("audit", legacy_url, "--format", "json", "--output", str(out)).exit_code == 1
    assert json.loads(out.read_text())["summary"]["findings"] > 0
    assert _run("audit", env={"DATABASE_URL": legacy_url}).exit_code == 1


@pytest.mark.engines("sqlite")
def test_the_database_file_is_not_touched(legacy_url: str) -> None:
    path = Path(legacy_url.removeprefix("sqlite:///"))
    before = hashlib.sha256(path.read_bytes()).hexdigest()
    assert _run("audit", legacy_url).exit_code == 1
    assert hashlib.sha256(path.read_bytes()).hexdigest() == before


@pytest.mark.engines("sqlite", "postgresql")
def test_models_drift_is_reported(app_engine, engine_url) -> None:
    database.create_schema(app_engine, legacy=True)
    url = engine_url.render_as_string(hide_password=False)
    legacy = json.loads(_run("audit", url, "--models", "examples.ecommerce.legacy:LegacyBase", "--select",
                             "schema-drift", "--format", "json").output)
    assert legacy["findings"] == []  # the database is what the legacy models create
    drift = json.loads(_run("audit", url, "--models", "examples.ecommerce.models:Base", "--select",
                            "schema-drift", "--format", "json").output)
    kinds = {f["evidence"]["kind"] for f in drift["findings"]}
    assert {"missing-table", "missing-foreign-key", "column-type"} <= kinds


@pytest.mark.parametrize(("args", "message"), [
    (["audit"], "no database"),
    (["audit", "not a url"], "not a database URL"),
    (["audit", "postgresql://app:hunter2@127.0.0.1:1/shop"], "cannot connect to postgresql+psycopg://app:***@"),
    (["audit", "sqlite://", "--select", "IK9"], "no rule matches 'IK9'"),
    (["audit", "sqlite://", "--models", "nowhere"], "--models expects module:object"),
    (["audit", "sqlite://", "--models", "no_such_module:Base"], "cannot import 'no_such_module'"),
    (["audit", "sqlite://", "--schema", "elsewhere"], "no schema named 'elsewhere'"),
    (["audit", "sqlite://"], "no tables to audit in sqlite://"),
])
def test_bad_input_is_one_line_and_exit_2(args: list[str], message: str) -> None:
    result = _run(*args)
    assert result.exit_code == 2, result.output
    assert message in result.output and "hunter2" not in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_no_traceback_from_the_real_command() -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "audit", "mysql://root:s3cret@127.0.0.1:1/x"],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert "Traceback" not in completed.stderr and "s3cret" not in completed.stderr
    assert "mysql+pymysql://root:***@127.0.0.1:1/x" in completed.stderr


@pytest.mark.engines("postgresql")
def test_several_schemas_and_partitions(engine_url) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(engine_url)
    with engine.begin() as connection:
        for statement in (
            "CREATE SCHEMA billing",
            "CREATE TABLE users (id INTEGER PRIMARY KEY)",
            "CREATE TABLE billing.invoices (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL, total FLOAT NOT NULL)",
            "CREATE TABLE events (id INTEGER NOT NULL, at DATE NOT NULL, amount FLOAT) PARTITION BY RANGE (at)",
            "CREATE TABLE events_2026 PARTITION OF events FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        ):
            connection.exec_driver_sql(statement)
    engine.dispose()
    url = engine_url.render_as_string(hide_password=False)
    both = json.loads(_run("audit", url, "--schema", "public", "--schema", "billing", "--format", "json").output)
    assert both["database"]["schemas"] == ["public", "billing"]
    invoices = {(f["rule"], tuple(f["columns"])) for f in both["findings"] if f.get("schema") == "billing"}
    assert ("missing-foreign-key", ("user_id",)) in invoices and ("float-for-money", ("total",)) in invoices
    fk = next(f for f in both["findings"] if f["rule"] == "missing-foreign-key" and f.get("schema") == "billing")
    assert fk["target"] == {"table": "users", "columns": ["id"]} and "billing" in fk["fix"]["sql"]
    # The partitioned parent carries the finding once; its partition is not a table of its own here.
    assert [f["table"] for f in both["findings"] if f["rule"] == "float-for-money" and "amount" in f["columns"]] \
        == ["events"]
    default_only = json.loads(_run("audit", url, "--format", "json").output)
    assert all("schema" not in f for f in default_only["findings"])


@pytest.mark.engines("postgresql")
def test_a_probe_that_times_out_is_reported_and_the_audit_goes_on(engine_url) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(engine_url)
    with engine.begin() as connection:
        for statement in (
            "CREATE FUNCTION ik_slow(value INTEGER) RETURNS BOOLEAN LANGUAGE sql AS "
            "'SELECT pg_sleep(0.2) IS NOT NULL AND value >= 0'",
            "CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, price FLOAT NOT NULL)",
            "INSERT INTO products SELECT g, g, 1.5 FROM generate_series(1, 10) AS g",
            "ALTER TABLE products ADD CONSTRAINT ck_products_stock CHECK (ik_slow(stock)) NOT VALID",
        ):
            connection.exec_driver_sql(statement)
    engine.dispose()
    url = engine_url.render_as_string(hide_password=False)
    result = _run("audit", url, "--statement-timeout", "0.5", "--format", "json",
                  "--select", "check-violations,float-for-money")
    assert result.exit_code == 1, result.output
    report = json.loads(result.stdout)
    assert [f["rule"] for f in report["findings"]] == ["float-for-money"]  # found, with its evidence
    assert report["findings"][0]["evidence"]["rows_checked"] == 10
    timed_out = [item for item in report["not_analysed"] if "check-violations" in item["object"]]
    assert timed_out and "statement timeout" in timed_out[0]["reason"]


@pytest.mark.engines("postgresql")
def test_no_tables_in_the_default_schema_names_the_schemas_that_have_some(engine_url) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(engine_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE SCHEMA shop; CREATE TABLE shop.orders (id int PRIMARY KEY);"
                                   "CREATE TABLE shop.lines (id int PRIMARY KEY); CREATE SCHEMA crm;"
                                   "CREATE TABLE crm.contacts (id int PRIMARY KEY); CREATE SCHEMA empty_one")
    engine.dispose()
    result = _run("audit", engine_url.render_as_string(hide_password=False))
    assert result.exit_code == 2
    assert result.output.strip().endswith("(schemas: public); tables are in: crm (1 table), shop (2 tables); "
                                          "pass --schema shop (repeat --schema for several)"), result.output
