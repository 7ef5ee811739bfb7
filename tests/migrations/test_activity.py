"""Issue 23: a table's size and the sessions in its way, read inside the audit's read-only transaction.

The holders are real second sessions on the real servers; the MariaDB metadata-lock views, which are off on the
shared server (and must not be switched on there), are tested on a private server this module starts itself.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Connection, Engine

from integrity_kit.audit.session import Budget, read_only
from integrity_kit.migrations.activity import Blocker, TableActivity, shorten, size_class, table_activity
from tests.db import execute, plain_engine_fixture, statements_sent
from tests.servers import in_ci

__all__ = ["plain_engine_fixture"]

ROWS = 5000
HOLD = 1.1  # seconds the holder keeps its transaction open before the observer looks


def _own_pid(connection: Connection) -> int:
    sql = "SELECT pg_backend_pid()" if connection.dialect.name == "postgresql" else "SELECT CONNECTION_ID()"
    return int(connection.exec_driver_sql(sql).scalar_one())


def _make_table(engine: Engine, name: str = "t", rows: int = ROWS) -> None:
    execute(engine, f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, v INTEGER, note VARCHAR(40))")
    if rows:
        values = ", ".join(f"({i}, {i % 7}, 'row number {i}')" for i in range(1, rows + 1))
        execute(engine, f"INSERT INTO {name} (id, v, note) VALUES {values}")


def _observe(engine: Engine, *tables: tuple[str | None, str]) -> dict[tuple[str | None, str], TableActivity]:
    """table_activity as lint-migrations runs it: in the audit's read-only, time-boxed transaction."""
    with engine.connect() as connection, read_only(connection, Budget(10.0, 2.0)):
        return table_activity(connection, list(tables) or [(None, "t")])


@contextmanager
def _holder(engine: Engine, *statements: str) -> Iterator[int]:
    """A second session with an open transaction that ran ``statements``; rolled back when the block exits."""
    connection = engine.connect()
    try:
        pid = _own_pid(connection)
        for statement in statements:
            connection.exec_driver_sql(statement)
        yield pid
    finally:
        connection.rollback()
        connection.close()


def _by_pid(activity: TableActivity) -> dict[int, Blocker]:
    return {blocker.pid: blocker for blocker in activity.blockers}


# --- blockers on the shared servers

@pytest.mark.engines("postgresql", "mariadb")
def test_a_transaction_held_open_on_the_table_is_a_blocker_with_its_pid_and_age(engine, engine_name) -> None:
    _make_table(engine)
    touch = ("SELECT * FROM t WHERE note = 'hunter2'" if engine_name == "postgresql"
             else "SELECT * FROM t WHERE id = 3 AND note <> 'hunter2' FOR UPDATE")
    with _holder(engine, touch) as pid:
        time.sleep(HOLD)
        with engine.connect() as mine:
            own = _own_pid(mine)
        activity = _observe(engine)[(None, "t")]
        blockers = _by_pid(activity)
        assert pid in blockers, activity
        held = blockers[pid]
        assert held.age_seconds is not None and held.age_seconds >= HOLD - 0.1
        assert held.state == "idle in transaction"
        assert own not in blockers
        if engine_name == "postgresql":
            assert (held.mode, held.granted, held.scope) == ("AccessShareLock", True, "table")
            assert held.query is not None and "FROM t WHERE note = ?" in held.query
            assert activity.not_analysed is None
            assert list(blockers) == [pid]
        else:
            # No metadata lock view on this server: the holder is one of the server's open transactions.
            assert held.scope == "server" and held.granted is None
            assert activity.not_analysed is not None and "not proven to touch this table" in activity.not_analysed
        assert all("hunter2" not in (blocker.query or "") for blocker in activity.blockers)
        json.dumps(activity.to_dict())
    time.sleep(0.2)  # InnoDB refreshes its transaction views at most every 0.1 s
    after = _observe(engine)[(None, "t")]
    assert pid not in _by_pid(after)
    if engine_name == "postgresql":
        assert after.blockers == ()


@pytest.mark.engines("postgresql")
def test_a_session_waiting_for_a_lock_on_the_table_is_shown_waiting_with_the_mode_it_asks_for(engine) -> None:
    _make_table(engine, rows=10)
    execute(engine, "ANALYZE t")
    with _holder(engine, "SELECT count(*) FROM t") as holder:
        waiter = engine.connect()
        waiter_pid = _own_pid(waiter)
        waiter.exec_driver_sql("SET lock_timeout = '10s'")
        thread = threading.Thread(target=waiter.exec_driver_sql, args=("LOCK TABLE t IN ACCESS EXCLUSIVE MODE",))
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        activity = _observe(engine)[(None, "t")]
        took = time.monotonic() - started
        blockers = _by_pid(activity)
    thread.join(10)
    waiter.rollback()
    waiter.close()
    assert blockers[holder].granted is True
    assert (blockers[waiter_pid].mode, blockers[waiter_pid].granted) == ("AccessExclusiveLock", False)
    assert blockers[waiter_pid].state == "active"
    # Our own reads do not queue behind the waiting ACCESS EXCLUSIVE: the sizes come from the catalog instead.
    assert took < 1.0 and activity.rows == 10 and activity.bytes


@pytest.mark.engines("mariadb")
def test_innodb_lock_waits_name_the_table_holder_and_waiter_precisely(engine) -> None:
    _make_table(engine, rows=10)
    _make_table(engine, "u", rows=10)
    with _holder(engine, "UPDATE u SET v = 1 WHERE id = 1") as elsewhere, \
            _holder(engine, "UPDATE t SET v = 1 WHERE id = 1") as holder:
        waiter = engine.connect()
        waiter_pid = _own_pid(waiter)
        waiter.exec_driver_sql("SET SESSION innodb_lock_wait_timeout = 10")
        thread = threading.Thread(target=waiter.exec_driver_sql, args=("UPDATE t SET v = 2 WHERE id = 1",))
        thread.start()
        time.sleep(0.5)
        found = _observe(engine, (None, "t"), (None, "u"))
    thread.join(15)
    waiter.rollback()
    waiter.close()
    on_t = _by_pid(found[(None, "t")])
    assert (on_t[holder].scope, on_t[holder].granted, on_t[holder].mode) == ("table", True, "X")
    assert (on_t[waiter_pid].scope, on_t[waiter_pid].granted, on_t[waiter_pid].state) == ("table", False, "lock wait")
    assert on_t[waiter_pid].query == "UPDATE t SET v = ? WHERE id = ?"
    # The transaction on u holds nothing InnoDB shows on t: listed, but only as open on the server.
    assert on_t[elsewhere].scope == "server"
    on_u = _by_pid(found[(None, "u")])
    assert on_u[elsewhere].scope == "server" and on_u[holder].scope == "server"


@pytest.fixture
def limited_engine(engine, engine_url, engine_name) -> Iterator[Engine]:
    """An engine for a user who may read the table but holds no monitoring privilege (PROCESS,
    pg_read_all_stats); the user is dropped afterwards, as tests/audit/test_permissions.py does."""
    user, password = f"ik_watch_{uuid.uuid4().hex[:10]}", "watch-pw"
    root = create_engine(engine_url, isolation_level="AUTOCOMMIT")
    with root.connect() as connection:
        if engine_name == "postgresql":
            connection.exec_driver_sql(f"CREATE ROLE {user} LOGIN PASSWORD '{password}'")
            connection.exec_driver_sql(f"GRANT USAGE ON SCHEMA public TO {user}")
            connection.exec_driver_sql(f"GRANT SELECT ON t TO {user}")
        else:
            connection.exec_driver_sql(f"CREATE USER '{user}'@'%%' IDENTIFIED BY '{password}'")
            connection.exec_driver_sql(f"GRANT SELECT ON `{engine_url.database}`.* TO '{user}'@'%%'")
    limited = create_engine(engine_url.set(username=user, password=password))
    try:
        yield limited
    finally:
        limited.dispose()
        with root.connect() as connection:
            if engine_name == "postgresql":
                connection.exec_driver_sql(f"DROP OWNED BY {user}")
                connection.exec_driver_sql(f"DROP ROLE IF EXISTS {user}")
            else:
                connection.exec_driver_sql(f"DROP USER IF EXISTS '{user}'@'%%'")
        root.dispose()


@pytest.fixture
def table_t(engine) -> None:
    _make_table(engine, rows=10)


@pytest.mark.engines("postgresql", "mariadb")
def test_without_a_monitoring_privilege_it_says_what_it_could_not_see(table_t, engine, limited_engine,
                                                                      engine_name) -> None:
    with _holder(engine, "SELECT * FROM t WHERE id = 1 FOR UPDATE") as pid:
        time.sleep(0.2)
        activity = _observe(limited_engine)[(None, "t")]
    assert activity.rows == 10 and activity.not_analysed is not None
    if engine_name == "postgresql":
        # pg_locks is public: the holder is still named, only its details are hidden.
        held = _by_pid(activity)[pid]
        assert (held.state, held.age_seconds, held.query) == (None, None, None)
        assert held.mode == "RowShareLock" and held.granted is True
        assert "pg_read_all_stats" in activity.not_analysed
    else:
        assert activity.blockers == ()
        assert activity.not_analysed == ("other sessions and their transactions are visible only with the PROCESS "
                                         "privilege")


@pytest.mark.engines("mariadb")
def test_without_a_metadata_lock_view_an_alter_waiting_for_its_lock_is_listed_unproven(engine) -> None:
    _make_table(engine, rows=10)
    with _holder(engine, "SELECT * FROM t") as reader:
        alter = engine.connect()
        alter_pid = _own_pid(alter)
        alter.exec_driver_sql("SET SESSION lock_wait_timeout = 10")
        thread = threading.Thread(target=alter.exec_driver_sql, args=("ALTER TABLE t ADD COLUMN extra INTEGER",))
        thread.start()
        time.sleep(0.5)
        activity = _observe(engine)[(None, "t")]
    thread.join(15)
    alter.close()
    blockers = _by_pid(activity)
    assert blockers[reader].scope == "server"
    waiting = blockers[alter_pid]
    assert (waiting.state, waiting.granted, waiting.scope) == ("Waiting for table metadata lock", False, "server")
    assert activity.not_analysed is not None


# --- sizes

def test_rows_and_bytes_of_a_table_with_known_rows(engine, engine_name) -> None:
    _make_table(engine)
    _make_table(engine, "empty", rows=0)
    if engine_name == "postgresql":
        before = _observe(engine)[(None, "t")]
        assert before.rows == ROWS  # never analysed and small: counted
        execute(engine, "ANALYZE t")
    elif engine_name == "mariadb":
        execute(engine, "ANALYZE TABLE t")
    found = _observe(engine, (None, "t"), (None, "empty"))
    activity = found[(None, "t")]
    assert activity.rows is not None and abs(activity.rows - ROWS) <= ROWS * 0.1  # InnoDB's rows are an estimate
    assert activity.bytes is not None and activity.bytes > ROWS * 10
    assert found[(None, "empty")].rows == 0
    if engine_name == "sqlite":
        assert activity.rows == ROWS
        assert activity.blockers == () and activity.not_analysed is not None
        assert "SQLite does not show other connections" in activity.not_analysed
    assert size_class(activity) == "small"


def test_a_table_that_does_not_exist_has_no_sizes_no_blockers_and_leaves_the_transaction_usable(engine) -> None:
    _make_table(engine, rows=3)
    with engine.connect() as connection, read_only(connection, Budget(10.0, 2.0)):
        found = table_activity(connection, [(None, "nope"), ("no_such_schema", "t"), (None, "t")])
        assert connection.exec_driver_sql("SELECT count(*) FROM t").scalar_one() == 3
    for key in ((None, "nope"), ("no_such_schema", "t")):
        assert (found[key].rows, found[key].bytes, found[key].blockers) == (None, None, ())
        assert found[key].table == key[1] and found[key].schema == key[0]
        assert found[key].not_analysed is None  # nothing to analyse: not a failure to read
    assert found[(None, "t")].rows == 3


def test_an_explicit_schema_and_a_name_that_needs_quoting(engine, engine_url, engine_name) -> None:
    quote = "`" if engine_name == "mariadb" else '"'
    execute(engine, f"CREATE TABLE {quote}Order Lines{quote} (id INTEGER PRIMARY KEY)",
            f"INSERT INTO {quote}Order Lines{quote} VALUES (1), (2)")
    schema = {"postgresql": "public", "mariadb": engine_url.database, "sqlite": "main"}[engine_name]
    found = _observe(engine, (schema, "Order Lines"), (None, "Order Lines"), (schema, "order lines"))
    assert found[(schema, "Order Lines")].rows == 2 and found[(None, "Order Lines")].rows == 2
    assert found[(schema, "Order Lines")].schema == schema and found[(None, "Order Lines")].schema is None
    # Only SQLite folds the case of a quoted name (MariaDB does not with lower_case_table_names=0, the Linux default)
    assert found[(schema, "order lines")].rows == (2 if engine_name == "sqlite" else None)


@pytest.mark.engines("postgresql")
def test_a_partitioned_table_counts_its_partitions(engine) -> None:
    execute(engine, "CREATE TABLE p (id INTEGER, v INTEGER) PARTITION BY RANGE (id)",
            "CREATE TABLE p1 PARTITION OF p FOR VALUES FROM (0) TO (1000)",
            "CREATE TABLE p2 PARTITION OF p FOR VALUES FROM (1000) TO (3000)",
            "INSERT INTO p SELECT g, g FROM generate_series(0, 2999) g", "ANALYZE p")
    with _holder(engine, "SELECT * FROM p2 LIMIT 1") as pid:
        activity = _observe(engine, (None, "p"))[(None, "p")]
    assert activity.rows == 3000 and activity.bytes
    assert pid in _by_pid(activity)  # a lock on a partition is in the way of a migration of the parent


def test_nothing_is_written_to_the_database(engine) -> None:
    _make_table(engine, rows=20)
    with statements_sent(engine) as sent:
        _observe(engine, (None, "t"), (None, "nope"))
    reads = [s for s in sent if not s.lstrip().upper().startswith(("SELECT", "SAVEPOINT", "RELEASE SAVEPOINT",
                                                                    "ROLLBACK TO SAVEPOINT"))]
    setup = [s for s in reads if s.startswith(("SET ", "START TRANSACTION READ ONLY", "PRAGMA query_only"))]
    assert reads == setup, reads


# --- MariaDB with a metadata lock view, on a private server

def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@pytest.fixture(scope="module", params=["metadata_lock_info", "performance_schema"])
def private_mariadb(request, tmp_path_factory) -> Iterator[Engine]:
    """A throwaway mariadbd of our own with one metadata lock view on; the shared server is never reconfigured."""
    server, install = shutil.which("mariadbd", path="/usr/sbin:/usr/bin:" + os.environ.get("PATH", "")), \
        shutil.which("mariadb-install-db")
    if not server or not install:
        message = "mariadbd and mariadb-install-db are needed to start a private MariaDB server"
        if in_ci():
            pytest.fail(message + " (CI=true)")
        pytest.skip(message)
    directory: Path = tmp_path_factory.mktemp(request.param)
    subprocess.run([install, "--no-defaults", f"--datadir={directory / 'data'}", "--skip-test-db",
                    "--auth-root-authentication-method=normal"], check=True, capture_output=True, timeout=120)
    view = (["--plugin-load-add=metadata_lock_info"] if request.param == "metadata_lock_info"
            else ["--performance-schema=ON", "--performance-schema-instrument=wait/lock/metadata/sql/mdl=ON"])
    port = _free_port()
    process = subprocess.Popen([server, "--no-defaults", "--user=root", f"--datadir={directory / 'data'}",
                                f"--socket={directory / 'sock'}", f"--port={port}", "--bind-address=127.0.0.1",
                                "--skip-log-bin", f"--pid-file={directory / 'pid'}", *view],
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    engine = create_engine(f"mysql+pymysql://root@127.0.0.1:{port}/ik")
    try:
        admin = create_engine(f"mysql+pymysql://root@127.0.0.1:{port}/mysql", isolation_level="AUTOCOMMIT")
        deadline = time.monotonic() + 60
        while True:
            try:
                with admin.connect() as connection:
                    connection.exec_driver_sql("CREATE DATABASE ik")
                break
            except Exception:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.2)
        admin.dispose()
        yield engine
    finally:
        engine.dispose()
        process.terminate()
        process.wait(60)


def test_with_a_metadata_lock_view_only_the_sessions_on_the_table_are_blockers(private_mariadb) -> None:
    engine = private_mariadb
    execute(engine, "DROP TABLE IF EXISTS t", "DROP TABLE IF EXISTS u")
    _make_table(engine, rows=10)
    _make_table(engine, "u", rows=10)
    with _holder(engine, "SELECT * FROM t") as reader, _holder(engine, "UPDATE u SET v = 1 WHERE id = 1") as other:
        time.sleep(HOLD)
        activity = _observe(engine)[(None, "t")]
    blockers = _by_pid(activity)
    assert list(blockers) == [reader], activity
    assert other not in blockers
    assert activity.not_analysed is None
    held = blockers[reader]
    assert (held.scope, held.granted, held.state) == ("table", True, "idle in transaction")
    assert held.mode in ("MDL_SHARED_READ", "SHARED_READ")
    assert held.age_seconds is not None and held.age_seconds >= HOLD - 0.1
    assert _observe(engine)[(None, "t")].blockers == ()


def test_with_a_metadata_lock_view_an_alter_waiting_behind_a_reader_is_shown_waiting(private_mariadb,
                                                                                        request) -> None:
    engine = private_mariadb
    execute(engine, "DROP TABLE IF EXISTS t")
    _make_table(engine, rows=10)
    with _holder(engine, "SELECT * FROM t") as reader:
        alter = engine.connect()
        alter_pid = _own_pid(alter)
        alter.exec_driver_sql("SET SESSION lock_wait_timeout = 10")
        thread = threading.Thread(target=alter.exec_driver_sql, args=("ALTER TABLE t ADD COLUMN extra INTEGER",))
        thread.start()
        time.sleep(0.5)
        started = time.monotonic()
        activity = _observe(engine)[(None, "t")]
        took = time.monotonic() - started
    thread.join(15)
    alter.close()
    blockers = _by_pid(activity)
    assert set(blockers) == {reader, alter_pid}, activity
    waiting = blockers[alter_pid]
    assert waiting.state == "Waiting for table metadata lock" and waiting.scope == "table"
    assert waiting.query == "ALTER TABLE t ADD COLUMN extra INTEGER"
    if "performance_schema" in request.node.callspec.id:
        assert (waiting.mode, waiting.granted) == ("EXCLUSIVE", False)  # the upgrade it waits for
    else:
        # METADATA_LOCK_INFO lists granted locks: the ALTER's first, upgradable one.
        assert (waiting.mode, waiting.granted) == ("MDL_SHARED_UPGRADABLE", True)
    assert took < 1.0 and activity.rows is not None  # reading the catalog does not queue behind the ALTER


# --- pure functions

def _sized(rows: int | None, size: int | None) -> TableActivity:
    return TableActivity("t", None, rows, size, (), None)


def test_size_class_follows_the_known_measures() -> None:
    assert size_class(_sized(None, None)) is None
    assert size_class(_sized(10, 16_384)) == "small"
    assert size_class(_sized(9_999, None)) == "small"
    assert size_class(_sized(10_000, 16_384)) == "medium"
    assert size_class(_sized(50, 100 * 1024 ** 2)) == "medium"  # few rows, but wide ones
    assert size_class(_sized(2_000_000, None)) == "large"
    assert size_class(_sized(100, 128 * 1024 ** 2)) == "large"
    assert size_class(_sized(999_999, 128 * 1024 ** 2 - 1)) == "medium"
    assert size_class(_sized(500, 1024), small_rows=100) == "medium"


def test_busy_means_any_blocker() -> None:
    blocker = Blocker(7, "idle in transaction", 2.5, None, None, "app", None, "server")
    assert not _sized(1, 1).busy
    assert TableActivity("t", None, 1, 1, (blocker,), "why").busy
    assert blocker.to_dict() == {"pid": 7, "state": "idle in transaction", "age_seconds": 2.5, "mode": None,
                                 "granted": None, "user": "app", "query": None, "scope": "server"}


def test_shorten_keeps_the_shape_without_values_and_cuts_long_statements() -> None:
    assert shorten("UPDATE users\n  SET password = 'hunter2'  WHERE id = 42") == \
        "UPDATE users SET password = ? WHERE id = ?"
    long = shorten("SELECT " + ", ".join(f"column_{i}" for i in range(200)) + " FROM t")
    assert long is not None and len(long) == 200 and long.endswith("…")
    assert shorten(None) is None and shorten("  ") is None


@pytest.mark.parametrize(("dialect", "query", "shape"), [
    ("postgresql", "SELECT $$hunter2$$, $tag$it's $$ hunter2$tag$, $1 FROM t", "SELECT ?, ?, ? FROM t"),
    ("postgresql", "UPDATE t SET note = 'hunter2 and the rest of a statement the server cut",
     "UPDATE t SET note = ?…"),
    ("postgresql", "SELECT $$hunter2, cut", "SELECT ?…"),
    ("postgresql", """SELECT "Mixed".id FROM "Mixed" WHERE b = 'hunter2''s'""",
     'SELECT "Mixed".id FROM "Mixed" WHERE b = ?'),
    ("mariadb", 'UPDATE users SET password = "hunter2" WHERE id = 1', "UPDATE users SET password = ? WHERE id = ?"),
    ("mariadb", """SELECT 'it\\'s "hunter2"', "a'hunter2" FROM t""", "SELECT ?, ? FROM t"),
    ("mariadb", 'UPDATE users SET password = "hunter2 cut', "UPDATE users SET password = ?…"),
])
def test_shorten_never_shows_a_value_in_the_dialects_own_quoting(dialect: str, query: str, shape: str) -> None:
    assert shorten(query, dialect) == shape
