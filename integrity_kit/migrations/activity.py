"""How big a table is and who is in its way right now: the numbers behind a migration's lock findings.

``table_activity`` reads the catalog (row and byte counts) and the server's session and lock views inside the
caller's read-only transaction; it never writes, never installs anything and never changes a setting. What the
engine does not show (SQLite's other connections; MariaDB's metadata locks without the ``metadata_lock_info``
plugin or the Performance Schema) is said in ``TableActivity.not_analysed`` instead of being guessed.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Literal

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from integrity_kit.errors import first_line
from integrity_kit.queries.fingerprint import fingerprint

QUERY_CHARS = 200
Scope = Literal["table", "server"]
SizeClass = Literal["small", "medium", "large"]
_DOLLAR = r"\$((?:[A-Za-z_][A-Za-z_0-9]*)?)\$.*?\$\1\$"
_QUOTED = r"'(?:[^'\\]|\\.|'')*'"
# Every complete value the fingerprint may not know (dollar quotes; MySQL's double-quoted strings), leftmost first,
# and the opening of a value never closed, as a server's cut of a long statement leaves it.
_VALUES = {"postgresql": re.compile(f"{_DOLLAR}|{_QUOTED}", re.DOTALL),
           "mysql": re.compile(f"{_QUOTED}|{_QUOTED.replace(chr(39), chr(34))}", re.DOTALL)}
_OPENED = {"postgresql": re.compile(r"'|\$(?:[A-Za-z_][A-Za-z_0-9]*)?\$"), "mysql": re.compile(r"['\"]")}

# PostgreSQL's lock modes from weakest to strongest, to show the strongest one a session holds on the table.
_PG_MODES = ("AccessShareLock", "RowShareLock", "RowExclusiveLock", "ShareUpdateExclusiveLock", "ShareLock",
             "ShareRowExclusiveLock", "ExclusiveLock", "AccessExclusiveLock")
# Without the row estimate a table this small (in 8 KiB pages) is counted exactly; a bigger one is left unknown.
_PG_COUNT_PAGES = 1024
_MARIADB_SERVER_WIDE = ("without the metadata_lock_info plugin or the Performance Schema's metadata lock "
                        "instrument, MariaDB shows which sessions hold locks on {table} only while another waits: "
                        "the open transactions listed (scope 'server') are those open on the server, not proven "
                        "to touch this table")


@dataclass(frozen=True)
class Blocker:
    """A session that holds (or waits for) a lock on the table now.

    ``age_seconds`` is the age of its transaction, else of its current statement. ``scope`` is ``"table"`` when the
    engine showed the lock on this very table and ``"server"`` when the session only has a transaction open on the
    server (MariaDB without a metadata lock view). ``pid`` is 0 for a prepared transaction, which has no session.
    InnoDB keeps a transaction's start in whole seconds, so on MariaDB the age can be up to a second high.
    """

    pid: int
    state: str | None
    age_seconds: float | None
    mode: str | None
    granted: bool | None
    user: str | None
    query: str | None  # its shape: literals and parameters replaced by ``?``, at most QUERY_CHARS characters
    scope: Scope = "table"

    def to_dict(self) -> dict[str, Any]:
        return {"pid": self.pid, "state": self.state,
                "age_seconds": None if self.age_seconds is None else round(self.age_seconds, 3),
                "mode": self.mode, "granted": self.granted, "user": self.user, "query": self.query,
                "scope": self.scope}


@dataclass(frozen=True)
class TableActivity:
    """A table's size from the catalog and the sessions in its way.

    ``rows`` and ``bytes`` are None when unknown (no such table, never analysed and too big to count, no ``dbstat``
    on SQLite); on MariaDB they are InnoDB's statistics, as fresh as its last ANALYZE TABLE or automatic
    recalculation, and on PostgreSQL the planner's estimate. ``not_analysed`` says why the blockers could not be
    read, or which part of them could not be proven; None means the list is complete."""

    table: str
    schema: str | None
    rows: int | None
    bytes: int | None
    blockers: tuple[Blocker, ...]
    not_analysed: str | None

    @property
    def busy(self) -> bool:
        """Whether any session is in the table's way (a server-wide transaction on MariaDB counts: it may be)."""
        return bool(self.blockers)

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.table, "schema": self.schema, "rows": self.rows, "bytes": self.bytes,
                "blockers": [blocker.to_dict() for blocker in self.blockers], "not_analysed": self.not_analysed}


def size_class(activity: TableActivity, *, small_rows: int = 10_000, small_bytes: int = 16 * 1024 ** 2,
               large_rows: int = 1_000_000, large_bytes: int = 128 * 1024 ** 2) -> SizeClass | None:
    """``"small"``, ``"medium"`` or ``"large"`` from what is known of the table's size, or None when nothing is.

    Large when either known measure reaches its large threshold, small when every known measure is below its small
    threshold, medium otherwise.

    - ``small_rows``: rewriting or indexing ten thousand rows takes milliseconds, so a lock held for it is not worth
      a warning (the squawk#349 complaint).
    - ``small_bytes``: an eighth of the default buffer pool of both servers (128 MiB shared_buffers and
      innodb_buffer_pool_size), so the work runs from memory in a fraction of a second.
    - ``large_rows``: at a million rows a rewrite or an index build runs for seconds, longer than the timeouts of
      the requests that queue behind its lock.
    - ``large_bytes``: the default buffer pool itself; past it the work reads from disk and runs for seconds.
    """
    known = [(value, small, large) for value, small, large in
             ((activity.rows, small_rows, large_rows), (activity.bytes, small_bytes, large_bytes))
             if value is not None]
    if not known:
        return None
    if any(value >= large for value, _small, large in known):
        return "large"
    if all(value < small for value, small, _large in known):
        return "small"
    return "medium"


def table_activity(connection: Connection, tables: Sequence[tuple[str | None, str]]
                   ) -> dict[tuple[str | None, str], TableActivity]:
    """Size and blockers of each ``(schema, table)`` (schema None: the connection's default), keyed as given.

    Only reads, in the caller's transaction; a table that does not exist gets no sizes and no blockers. Our own
    session is never a blocker."""
    name = connection.dialect.name
    reader = {"postgresql": _postgresql, "mysql": _mariadb, "mariadb": _mariadb, "sqlite": _sqlite}.get(name)
    result: dict[tuple[str | None, str], TableActivity] = {}
    for schema, table in dict.fromkeys(tables):
        if reader is None:
            result[(schema, table)] = TableActivity(table, schema, None, None, (),
                                                    f"table sizes and locks are not read on {name}")
        else:
            result[(schema, table)] = reader(connection, schema, table)
    return result


def shorten(query: str | None, dialect: str = "postgresql") -> str | None:
    """The statement's shape without its values, on one line, cut to QUERY_CHARS characters.

    Values are taken out before the fingerprint sees them, so the dialect's own quoting counts (dollar quotes on
    PostgreSQL, double-quoted strings on MySQL); a value left open is dropped with all that follows it."""
    if query is None or not query.strip():
        return None
    family = "mysql" if dialect in ("mysql", "mariadb") else "postgresql"
    query = _VALUES[family].sub("?", query)
    opened = _OPENED[family].search(query)
    shape = fingerprint(query[: opened.start()] if opened else query)
    if opened:
        shape = (shape + " ?…").lstrip()
    return shape if len(shape) <= QUERY_CHARS else shape[: QUERY_CHARS - 1] + "…"


def _rows(connection: Connection, sql: str, parameters: dict[str, Any] | None = None
          ) -> tuple[list[Any] | None, str | None]:
    """The rows of one read, or None and the driver's reason; on PostgreSQL inside a savepoint, so a failed read
    (a timeout, a missing privilege) leaves the caller's transaction usable."""
    nested = connection.begin_nested() if connection.dialect.name == "postgresql" else None
    try:
        rows = list(connection.execute(text(sql), parameters or {}).all())
    except DBAPIError as error:
        if nested is not None:
            nested.rollback()
        return None, first_line(error)
    if nested is not None:
        nested.commit()
    return rows, None


# PostgreSQL

def _postgresql(connection: Connection, schema: str | None, table: str) -> TableActivity:
    name = _pg_ident(table) if schema is None else f"{_pg_ident(schema)}.{_pg_ident(table)}"
    found, error = _rows(connection, "SELECT c.oid, c.relkind FROM pg_class c WHERE c.oid = to_regclass(:name) "
                                     "AND c.relkind IN ('r', 'p', 'm', 'f')", {"name": name})
    if not found:
        return TableActivity(table, schema, None, None, (), error and f"cannot read the catalog: {error}")
    oid, relkind = found[0]
    relations = [oid]
    if relkind == "p":
        leaves, _error = _rows(connection, "SELECT relid::oid FROM pg_partition_tree(:oid) WHERE relid <> :oid",
                               {"oid": oid})
        relations += [row[0] for row in leaves or []]
    blockers, not_analysed = _pg_blockers(connection, relations)
    # Measuring the files takes ACCESS SHARE, which queues behind an ACCESS EXCLUSIVE held or waited for: then the
    # catalog's figures from the last VACUUM or ANALYZE are read instead, without a lock.
    contended = any(blocker.mode == "AccessExclusiveLock" for blocker in blockers)
    # A foreign table's rows live on another server: no local pages say how many there are.
    rows, size = (None, None) if relkind == "f" else _pg_size(connection, relations, lock_free=contended)
    return TableActivity(table, schema, rows, size, blockers, not_analysed)


def _pg_ident(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def _pg_size(connection: Connection, relations: list[int], *, lock_free: bool) -> tuple[int | None, int | None]:
    measured = """pg_relation_size(c.oid) / current_setting('block_size')::int, pg_total_relation_size(c.oid)"""
    catalog = """NULL, current_setting('block_size')::bigint * (c.relpages + COALESCE(toast.relpages, 0)
                     + COALESCE((SELECT sum(i.relpages) FROM pg_index x JOIN pg_class i ON i.oid = x.indexrelid
                                 WHERE x.indrelid = c.oid), 0))"""
    stats, _error = _rows(connection, f"""
        SELECT c.oid, c.relkind, c.reltuples, c.relpages, {catalog if lock_free else measured},
               quote_ident(n.nspname) || '.' || quote_ident(c.relname)
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        LEFT JOIN pg_class toast ON toast.oid = c.reltoastrelid WHERE c.oid = ANY(:oids)""", {"oids": relations})
    if stats is None:
        return None, None
    total_rows: int | None = 0
    total_bytes = 0
    for _oid, relkind, reltuples, relpages, pages, size, qualified in stats:
        total_bytes += int(size or 0)
        if relkind == "p":
            continue  # a partitioned table stores nothing itself: its partitions carry the rows
        if pages is None:  # lock-free: the catalog's figure as the last VACUUM or ANALYZE left it
            estimate = None if reltuples < 0 else round(reltuples)
        else:
            estimate = _pg_estimate(float(reltuples), int(relpages), int(pages))
        if estimate is None and pages is not None and pages <= _PG_COUNT_PAGES:
            counted, _error = _rows(connection, f"SELECT count(*) FROM {qualified}")
            estimate = int(counted[0][0]) if counted else None
        total_rows = None if estimate is None or total_rows is None else total_rows + estimate
    return total_rows, total_bytes


def _pg_estimate(reltuples: float, relpages: int, pages: int) -> int | None:
    """The planner's own estimate: the density seen by the last ANALYZE or VACUUM times the pages the table has
    now (so growth since then is counted); None when the table was never analysed and has pages."""
    if pages == 0:
        return 0
    if reltuples < 0:
        return None
    if relpages == 0:
        return None if reltuples == 0 else round(reltuples)
    return round(reltuples / relpages * pages)


def _pg_blockers(connection: Connection, relations: list[int]) -> tuple[tuple[Blocker, ...], str | None]:
    version = connection.dialect.server_version_info or (0,)
    leader = "a.leader_pid" if version >= (13,) else "NULL::int"  # parallel workers stand for their leader
    found, error = _rows(connection, f"""
        SELECT COALESCE({leader}, l.pid), l.mode, l.granted, a.state,
               EXTRACT(EPOCH FROM clock_timestamp() - COALESCE(a.xact_start, a.query_start)), a.usename, a.query
        FROM pg_locks l LEFT JOIN pg_stat_activity a ON a.pid = l.pid
        WHERE l.locktype = 'relation' AND l.relation = ANY(:oids)
          AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database())
          AND (l.pid IS NULL OR COALESCE({leader}, l.pid) <> pg_backend_pid())""", {"oids": relations})
    if found is None:
        return (), f"cannot read pg_locks and pg_stat_activity: {error}"
    hidden = False
    by_pid: dict[int, Blocker] = {}
    for pid, mode, granted, state, age, user, query in found:
        if query == "<insufficient privilege>":
            hidden, query = True, None
        blocker = Blocker(int(pid) if pid is not None else 0, state if pid is not None else "prepared transaction",
                          None if age is None else float(age), mode, bool(granted), user, shorten(query))
        kept = by_pid.get(blocker.pid)
        by_pid[blocker.pid] = blocker if kept is None else _pg_stronger(kept, blocker)
    note = ("the state, age and query of other users' sessions are hidden without the pg_read_all_stats role"
            if hidden else None)
    return _ordered(by_pid.values()), note


def _pg_stronger(first: Blocker, second: Blocker) -> Blocker:
    """The one lock to show for a session: a lock it waits for, else the strongest it holds."""
    def rank(blocker: Blocker) -> tuple[bool, int]:
        mode = _PG_MODES.index(blocker.mode) if blocker.mode in _PG_MODES else -1
        return (not blocker.granted, mode)
    return max(first, second, key=rank)


def _ordered(blockers: Any) -> tuple[Blocker, ...]:
    """Oldest first: the longest-open transaction is the one a migration would queue behind longest."""
    return tuple(sorted(blockers, key=lambda b: (-(b.age_seconds or 0.0), b.pid)))


# MariaDB / MySQL

def _mariadb(connection: Connection, schema: str | None, table: str) -> TableActivity:
    found, error = _rows(connection, """
        SELECT TABLE_SCHEMA, TABLE_ROWS, DATA_LENGTH + INDEX_LENGTH FROM information_schema.TABLES
        WHERE TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :table
          AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')""", {"schema": schema, "table": table})
    if not found:
        return TableActivity(table, schema, None, None, (), error and f"cannot read information_schema: {error}")
    database, rows, size = found[0]
    blockers, not_analysed = _mariadb_blockers(connection, str(database), table)
    return TableActivity(table, schema, None if rows is None else int(rows), None if size is None else int(size),
                         blockers, not_analysed)


def _mariadb_blockers(connection: Connection, database: str, table: str) -> tuple[tuple[Blocker, ...], str | None]:
    # MySQL's PROCESSLIST has no TIME_MS; both count the time of the current command.
    elapsed = "p.TIME_MS" if getattr(connection.dialect, "is_mariadb", False) else "p.TIME * 1000"
    sessions, error = _rows(connection, f"""
        SELECT p.ID, p.USER, p.COMMAND, p.STATE, p.INFO, {elapsed}, t.trx_state,
               TIMESTAMPDIFF(MICROSECOND, t.trx_started, NOW(6)) / 1e6
        FROM information_schema.PROCESSLIST p LEFT JOIN information_schema.INNODB_TRX t ON t.trx_mysql_thread_id = p.ID
        WHERE p.ID <> CONNECTION_ID() AND p.COMMAND NOT IN ('Daemon', 'Binlog Dump')""")
    # Without PROCESS, PROCESSLIST silently shows only the user's own sessions; INNODB_TRX refuses, which tells.
    trx, trx_error = _rows(connection, "SELECT trx_mysql_thread_id FROM information_schema.INNODB_TRX")
    if sessions is None or trx is None:
        reason = error or trx_error or ""
        if "PROCESS privilege" in reason:
            return (), "other sessions and their transactions are visible only with the PROCESS privilege"
        return (), f"cannot read the server's sessions and transactions: {reason}"
    info = {int(row[0]): row for row in sessions}
    locks, source = _mariadb_table_locks(connection, database, table)
    blockers = {pid: _mariadb_blocker(info[pid], mode, granted, "table") for pid, (mode, granted) in locks.items()
                if pid in info}
    # A session waiting for a metadata lock does not say for which table (the Performance Schema alone shows it).
    waiting = [pid for pid, row in info.items()
               if pid not in blockers and str(row[3] or "").startswith("Waiting for table metadata lock")]
    if source == "performance_schema":
        return _ordered(blockers.values()), None
    for pid in waiting:
        blockers[pid] = _mariadb_blocker(info[pid], None, False, "server")
    if source == "metadata_lock_info":
        note = None if not waiting else (
            "METADATA_LOCK_INFO shows granted locks only: the sessions waiting for a metadata lock (scope "
            "'server') may be waiting for another table")
        return _ordered(blockers.values()), note
    # Only InnoDB's lock waits name the table: every other open transaction may hold a metadata lock on it.
    for (pid,) in trx:
        if pid is not None and int(pid) in info and int(pid) not in blockers:
            blockers[int(pid)] = _mariadb_blocker(info[int(pid)], None, None, "server")
    note = _MARIADB_SERVER_WIDE.format(table=f"`{database}`.`{table}`")
    return _ordered(blockers.values()), note if source is None else f"{note} ({source})"


def _mariadb_table_locks(connection: Connection, database: str, table: str
                         ) -> tuple[dict[int, tuple[str | None, bool | None]], str | None]:
    """Thread id -> (mode, granted) of the locks on the table, and which metadata lock view they come from; from
    InnoDB's lock waits alone the source is None, or why even those could not be read."""
    plugin, _error = _rows(connection, "SELECT 1 FROM information_schema.PLUGINS "
                                       "WHERE PLUGIN_NAME = 'METADATA_LOCK_INFO' AND PLUGIN_STATUS = 'ACTIVE'")
    parameters = {"schema": database, "table": table}
    if plugin:
        found, _error = _rows(connection, """
            SELECT THREAD_ID, LOCK_MODE FROM information_schema.METADATA_LOCK_INFO
            WHERE LOCK_TYPE = 'Table metadata lock' AND TABLE_SCHEMA = :schema AND TABLE_NAME = :table
              AND THREAD_ID <> CONNECTION_ID()""", parameters)
        if found is not None:
            return {int(pid): (str(mode), True) for pid, mode in found}, "metadata_lock_info"
    instrumented, _error = _rows(connection, """
        SELECT 1 FROM performance_schema.setup_instruments WHERE NAME = 'wait/lock/metadata/sql/mdl'
          AND ENABLED = 'YES' AND @@performance_schema""")
    if instrumented:
        found, _error = _rows(connection, """
            SELECT t.PROCESSLIST_ID, m.LOCK_TYPE, m.LOCK_STATUS FROM performance_schema.metadata_locks m
            JOIN performance_schema.threads t ON t.THREAD_ID = m.OWNER_THREAD_ID
            WHERE m.OBJECT_TYPE = 'TABLE' AND m.OBJECT_SCHEMA = :schema AND m.OBJECT_NAME = :table
              AND t.PROCESSLIST_ID <> CONNECTION_ID()""", parameters)
        if found is not None:
            locks: dict[int, tuple[str | None, bool | None]] = {}
            for pid, mode, status in found:
                if pid is not None and (int(pid) not in locks or status != "GRANTED"):
                    locks[int(pid)] = (str(mode), status == "GRANTED")
            return locks, "performance_schema"
    waits, error = _rows(connection, """
        SELECT t.trx_mysql_thread_id, l.lock_mode, w.requesting_trx_id IS NULL
        FROM information_schema.INNODB_LOCKS l JOIN information_schema.INNODB_TRX t ON t.trx_id = l.lock_trx_id
        LEFT JOIN information_schema.INNODB_LOCK_WAITS w ON w.requested_lock_id = l.lock_id
        WHERE l.lock_table = :quoted""", {"quoted": f"`{database}`.`{table}`"})
    if waits is None:
        return {}, f"InnoDB's lock waits could not be read either: {error}"
    found_locks: dict[int, tuple[str | None, bool | None]] = {}
    for pid, mode, granted in waits:
        if int(pid) not in found_locks or not granted:
            found_locks[int(pid)] = (str(mode), bool(granted))
    return found_locks, None


def _mariadb_blocker(row: Any, mode: str | None, granted: bool | None, scope: Scope) -> Blocker:
    pid, user, command, state, query, time_ms, trx_state, trx_age = row
    if trx_state == "LOCK WAIT":
        shown = "lock wait"
    elif command == "Sleep":
        shown = "idle in transaction" if trx_state is not None else "idle"
    else:
        shown = state or command
    if trx_age is not None:
        age: float | None = float(trx_age)
    else:
        age = None if time_ms is None else float(time_ms) / 1000
    return Blocker(int(pid), shown, age, mode, granted, user, shorten(query, "mariadb"), scope)


# SQLite

_SQLITE_NO_LOCKS = ("SQLite does not show other connections or the locks they hold: whether a transaction is open "
                    "on the database file cannot be read without taking a lock")


def _sqlite(connection: Connection, schema: str | None, table: str) -> TableActivity:
    database = schema or "main"
    quoted = '"' + database.replace('"', '""') + '"'
    attached, error = _rows(connection, "SELECT 1 FROM pragma_database_list WHERE name = :name COLLATE NOCASE",
                            {"name": database})
    if not attached:  # a schema that is not attached holds no tables
        return TableActivity(table, schema, None, None, (), error and f"cannot read the attached databases: {error}")
    found, error = _rows(connection, f"SELECT name FROM {quoted}.sqlite_master WHERE type = 'table' "
                                     "AND name = :table COLLATE NOCASE",
                         {"table": table})
    if not found:
        return TableActivity(table, schema, None, None, (), error and f"cannot read sqlite_master: {error}")
    counted, _error = _rows(connection, f'SELECT count(*) FROM {quoted}."{table.replace(chr(34), chr(34) * 2)}"')
    # dbstat is a compile-time option; without it the file's pages cannot be attributed to the table.
    size, _error = _rows(connection, f"""
        SELECT sum(pgsize) FROM dbstat WHERE schema = :schema
          AND name IN (SELECT name FROM {quoted}.sqlite_master WHERE tbl_name = :table COLLATE NOCASE)""",
                         {"schema": database, "table": table})
    return TableActivity(table, schema, int(counted[0][0]) if counted else None,
                         int(size[0][0]) if size and size[0][0] is not None else None, (), _SQLITE_NO_LOCKS)
