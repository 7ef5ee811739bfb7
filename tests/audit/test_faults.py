"""The audit under trouble from other sessions: a table locked by another session, a connection killed mid-probe."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, event, text
from sqlalchemy.exc import OperationalError

from integrity_kit.audit import audit
from integrity_kit.cli import cli
from integrity_kit.errors import IntegrityKitError
from tests.db import execute
from tests.servers import scratch_database

SERVERS = ("postgresql", "mariadb")

# Three tables with something for the rules to find in each; ``a`` has a default and a CHECK, whose definitions
# PostgreSQL prints only once it can lock the table.
SCHEMA = (
    "CREATE TABLE a (id int primary key, b_id int, qty int default 1 check (qty > 0))",
    "CREATE TABLE b (id int primary key, c_id int, price float)",
    "CREATE TABLE c (id int primary key, a_id int, amount float check (amount >= 0))",
    "INSERT INTO a VALUES (1, 9, 1), (2, 1, 2)",
    "INSERT INTO b VALUES (1, 9, 1.5)",
    "INSERT INTO c VALUES (1, 9, 2.5)",
)


@pytest.fixture(params=SERVERS)
def server_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[Engine]:
    with scratch_database(request.param, tmp_path) as url:
        engine = create_engine(url)
        try:
            execute(engine, *SCHEMA)
            yield engine
        finally:
            engine.dispose()


def _lock(engine: Engine, table: str):
    holder = engine.connect()
    if engine.dialect.name == "postgresql":
        holder.exec_driver_sql(f"LOCK TABLE {table} IN ACCESS EXCLUSIVE MODE")
    else:
        holder.exec_driver_sql(f"LOCK TABLES {table} WRITE")
    return holder


@pytest.mark.parametrize("locked", ["a", "b"])
def test_a_locked_table_is_not_analysed_and_the_others_are(server_engine: Engine, locked: str) -> None:
    holder = _lock(server_engine, locked)
    try:
        report = audit(server_engine, statement_timeout=10, lock_timeout=0.2)
    finally:
        if server_engine.dialect.name != "postgresql":
            holder.exec_driver_sql("UNLOCK TABLES")
        holder.rollback()
        holder.close()
    others = {"a", "b", "c"} - {locked}
    assert others <= {finding.table for finding in report.findings}
    reasons = [item.reason for item in report.not_analysed]
    assert reasons, "the locked table must be reported"
    assert all(reason.startswith("locked by another session: ") for reason in reasons)
    if server_engine.dialect.name == "postgresql":
        # Its definitions cannot be printed while it is locked: the table is left out, the other two are read.
        assert report.tables == 2
        assert [(item.object, item.reason.split(":")[0]) for item in report.not_analysed] == \
            [(locked, "locked by another session")]
    assert report.exit_code() in (0, 1)


def test_the_command_reports_a_locked_table_without_a_traceback(server_engine: Engine) -> None:
    holder = _lock(server_engine, "a")
    try:
        url = server_engine.url.render_as_string(hide_password=False)
        result = CliRunner().invoke(cli, ["audit", url, "--format", "json", "--lock-timeout", "0.2"])
    finally:
        if server_engine.dialect.name != "postgresql":
            holder.exec_driver_sql("UNLOCK TABLES")
        holder.rollback()
        holder.close()
    assert result.exit_code in (0, 1), result.output
    report = json.loads(result.stdout)
    assert {"b", "c"} <= {finding["table"] for finding in report["findings"]}
    assert report["not_analysed"]
    assert all(item["reason"].startswith("locked by another session: ") for item in report["not_analysed"])


def _backend_id(dbapi_connection, dialect: str) -> int:
    if dialect == "postgresql":
        return int(dbapi_connection.info.backend_pid)
    return int(dbapi_connection.thread_id())


def _kill(engine: Engine, backend: int) -> None:
    """Kill ``backend`` from a second connection and wait until the server has ended it."""
    with create_engine(engine.url, isolation_level="AUTOCOMMIT").connect() as admin:
        if engine.dialect.name == "postgresql":
            admin.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            gone = text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid")
        else:
            admin.exec_driver_sql(f"KILL {backend}")
            gone = text("SELECT count(*) FROM information_schema.PROCESSLIST WHERE ID = :pid")
        for _ in range(100):
            if not admin.execute(gone, {"pid": backend}).scalar():
                break
            time.sleep(0.05)


def _kill_before_first_probe_of(engine: Engine, table: str, *, refuse_reconnect: bool = False) -> list[str]:
    """Arrange for the audit's connection to be killed just before its first data probe that reads ``table``."""
    killed: list[str] = []

    def before(conn, _cursor, statement, _parameters, _context, _executemany):
        if not killed and "count(" in statement.lower() and f"FROM {table} AS" in statement:
            killed.append(statement)
            _kill(engine, _backend_id(conn.connection.dbapi_connection, engine.dialect.name))

    def connect(_dialect, _record, _cargs, _cparams):
        if killed and refuse_reconnect:
            raise OperationalError("connect", {}, Exception("the server refuses new connections"))

    event.listen(engine, "before_cursor_execute", before)
    event.listen(engine, "do_connect", connect)
    return killed


def test_a_killed_connection_loses_one_probe_and_the_audit_goes_on(server_engine: Engine) -> None:
    complete = audit(server_engine, statement_timeout=10)
    killed = _kill_before_first_probe_of(server_engine, "b")
    report = audit(server_engine, statement_timeout=10)
    assert killed
    lost = [item for item in report.not_analysed if item.reason.startswith("connection lost: ")]
    assert len(lost) == 1 and len(report.not_analysed) == 1
    # Every finding is still there; only the lost probe's evidence is missing.
    assert [(f.code, f.table, f.columns) for f in report.findings] == \
        [(f.code, f.table, f.columns) for f in complete.findings]
    with_evidence = sum("rows_checked" in f.evidence for f in report.findings)
    assert with_evidence in (sum("rows_checked" in f.evidence for f in complete.findings) - 1,
                             sum("rows_checked" in f.evidence for f in complete.findings))  # a data rule's probe
    assert report.exit_code() in (0, 1)


def test_a_failed_reconnection_ends_the_audit_with_one_line(server_engine: Engine) -> None:
    _kill_before_first_probe_of(server_engine, "b", refuse_reconnect=True)
    with pytest.raises(IntegrityKitError) as raised:
        audit(server_engine, statement_timeout=10)
    message = str(raised.value)
    assert "connection was lost" in message and "reconnecting failed" in message
    assert "\n" not in message


def test_the_command_prints_no_traceback_when_its_connection_is_killed(server_engine: Engine, monkeypatch) -> None:
    from integrity_kit.connect import make_engine as real_make_engine

    def make_engine(url, **kwargs):
        # The command builds its own engine: hook that one.
        engine = real_make_engine(url, **kwargs)
        _kill_before_first_probe_of(engine, "b", refuse_reconnect=True)
        return engine

    monkeypatch.setattr("integrity_kit.audit.runner.make_engine", make_engine)
    url = server_engine.url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["audit", url, "--format", "json"])
    assert result.exit_code == 2
    assert "Traceback" not in result.output
    assert result.output.strip().count("\n") == 0
    assert "reconnecting failed" in result.output
