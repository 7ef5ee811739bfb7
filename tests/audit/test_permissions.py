"""A user who may not read some tables: each of them is listed once as not analysed, the text says so in one line,
the summary is marked partial, and the exit code does not call a partial run clean."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL

from integrity_kit.audit import audit
from integrity_kit.cli import cli

pytestmark = pytest.mark.engines("postgresql", "mariadb")

# readable and clean: a declared, indexed key; unreadable: two tables whose columns look like money and references
SCHEMA = ["CREATE TABLE customers (id INTEGER PRIMARY KEY, name VARCHAR(40) NOT NULL)",
          "CREATE TABLE secrets (id INTEGER PRIMARY KEY, customer_id INTEGER, amount REAL, note VARCHAR(20))",
          "CREATE TABLE payroll (id INTEGER PRIMARY KEY, customer_id INTEGER, salary REAL)",
          "INSERT INTO customers VALUES (1, 'a'), (2, 'b')",
          "INSERT INTO secrets VALUES (1, 9, 1.5, 'x')"]


@pytest.fixture
def limited_url(engine_url: URL, engine_name: str) -> Iterator[str]:
    root = create_engine(engine_url, isolation_level="AUTOCOMMIT")
    user, password = f"ik_reader_{uuid.uuid4().hex[:10]}", "reader-pw"
    try:
        with root.connect() as connection:
            for statement in SCHEMA:
                connection.exec_driver_sql(statement)
            if engine_name == "postgresql":
                connection.exec_driver_sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
                connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {user}")
                connection.exec_driver_sql(f"GRANT SELECT ON customers TO {user}")
                connection.exec_driver_sql(f"GRANT INSERT ON secrets, payroll TO {user}")
            else:
                database = engine_url.database
                connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
                connection.execute(text(f"GRANT SELECT ON `{database}`.`customers` TO '{user}'@'%'"))
                for table in ("secrets", "payroll"):  # visible (a privilege), not readable (no SELECT)
                    connection.execute(text(f"GRANT INSERT ON `{database}`.`{table}` TO '{user}'@'%'"))
        yield engine_url.set(username=user, password=password).render_as_string(hide_password=False)
    finally:
        with root.connect() as connection:
            if engine_name == "postgresql":
                connection.exec_driver_sql(f"DROP OWNED BY {user}")
                connection.exec_driver_sql(f"DROP ROLE IF EXISTS {user}")
            else:
                connection.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        root.dispose()


def test_unreadable_tables_are_listed_once_each_and_never_probed(limited_url: str) -> None:
    report = audit(limited_url)
    assert report.tables == 3 and report.partial
    rows = sorted(item.object for item in report.not_analysed if item.object.startswith("rows of "))
    assert rows == ["rows of payroll", "rows of secrets"]
    reasons = {item.reason for item in report.not_analysed if item.object != report.schemas[0]}
    assert reasons == {"not readable: the audit's user holds no SELECT privilege on it"}, reasons  # MariaDB also
    # says the user sees only some tables (tests/schema/test_hidden_tables.py): a schema-level entry
    assert all("permission denied" not in item.reason and "command denied" not in item.reason
               for item in report.not_analysed)
    # the schema is still read: findings on unreadable tables come from their structure, never from their rows
    secrets = [f for f in report.findings if f.table == "secrets"]
    assert secrets and all("orphan" not in f.message and "rows" not in f.evidence for f in secrets)


def test_the_text_says_it_in_one_line_and_a_partial_run_is_not_clean(limited_url: str) -> None:
    runner = CliRunner()
    text_run = runner.invoke(cli, ["audit", limited_url, "--select", "IK100,IK105", "--fail-on", "error"],
                             terminal_width=200)
    lines = [line for line in text_run.output.splitlines() if "SELECT privilege" in line]
    assert len(lines) == 1 and lines[0].startswith("not analysed 2 objects (rows of payroll, rows of secrets)")
    assert "partial:" in text_run.output.splitlines()[-1]
    assert text_run.exit_code == 1  # nothing found in what was read, but what was not read may hold an error
    allowed = runner.invoke(cli, ["audit", limited_url, "--select", "IK100,IK105", "--allow-partial"])
    assert allowed.exit_code == 0, allowed.output
    payload = json.loads(runner.invoke(cli, ["audit", limited_url, "--format", "json"]).output)
    assert payload["summary"]["partial"] is True
    assert {"rows of payroll", "rows of secrets"} <= {item["object"] for item in payload["not_analysed"]}
