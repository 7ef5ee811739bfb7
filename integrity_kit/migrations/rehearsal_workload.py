"""The sessions that stand in for the application during a rehearsal: each a thread on its own connection to the
scratch database, timing every operation it runs.

By default one reader (``SELECT`` by primary key, keys drawn at random from the first ``_KEYS`` of the copy) and one
writer (``UPDATE ... SET col = col`` by primary key) per touched table; with ``queries`` JSON files, the
application's own captured statements that touch those tables, replayed with their captured parameters (each write
is rolled back, so the copy stays as copied).
"""

from __future__ import annotations

import contextlib
import json
import random
import re
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine, MetaData, select, text

from integrity_kit.errors import IntegrityKitError, first_line

_KEYS = 2000  # existing keys a default session picks from
_PACE = 0.005  # seconds between two operations of one session: a steady load, not a benchmark of the server
_TABLE_NAME = re.compile(
    r"\b(?:TABLE|ON|INTO|UPDATE|FROM|JOIN|REFERENCES)\s+(?:IF\s+(?:NOT\s+)?EXISTS\s+)?(?:ONLY\s+)?"
    r"(?P<name>[`\"\[]?[\w$]+[`\"\]]?(?:\.[`\"\[]?[\w$]+[`\"\]]?)?)", re.IGNORECASE)


def tables_named(sql: str, known: Sequence[str]) -> list[str]:
    """The tables of ``known`` that ``sql`` names where a statement names a table, in order of appearance."""
    lowered = {name.lower(): name for name in known}
    found: list[str] = []
    for match in _TABLE_NAME.finditer(sql):
        bare = match.group("name").split(".")[-1].strip('`"[]').lower()
        name = lowered.get(bare)
        if name is not None and name not in found:
            found.append(name)
    return found


@dataclass(frozen=True)
class Operation:
    kind: str  # "reader" or "writer"
    start: float  # time.perf_counter()
    end: float
    ok: bool

    @property
    def latency(self) -> float:
        return self.end - self.start


@dataclass
class Session:
    """One replaying session: what it runs, and how each run went."""

    kind: str
    label: str  # e.g. "SELECT products by id"
    run: Callable[[Connection], None]
    operations: list[Operation] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)  # first line of an error -> how often


def default_sessions(connection: Connection, metadata: MetaData, tables: Sequence[str],
                     notes: list[str]) -> list[Session]:
    """A reader and a writer per table of ``tables`` that has a primary key and rows in the scratch copy."""
    sessions: list[Session] = []
    for name in tables:
        table = metadata.tables[name]
        key = list(table.primary_key.columns)
        if not key:
            notes.append(f"{name} has no primary key: no session reads or writes it by key")
            continue
        keys = [tuple(row) for row in connection.execute(select(*key).order_by(*key).limit(_KEYS))]
        if not keys:
            notes.append(f"{name} has no rows in the scratch copy: no session reads or writes it")
            continue
        others = [column for column in table.columns if column not in key and column.computed is None]
        column = (others or key)[0]
        where = " AND ".join(f"{_quote(connection, c.name)} = :k{i}" for i, c in enumerate(key))
        quoted = _quote(connection, name)
        listed = ", ".join(_quote(connection, c.name) for c in table.columns)
        read = f"SELECT {listed} FROM {quoted} WHERE {where}"
        write = f"UPDATE {quoted} SET {_quote(connection, column.name)} = {_quote(connection, column.name)} " \
                f"WHERE {where}"
        sessions.append(Session("reader", f"SELECT {name} by primary key", _by_key(read, keys)))
        sessions.append(Session("writer", f"UPDATE {name} SET {column.name} = {column.name} by primary key",
                                _by_key(write, keys)))
    return sessions


def _quote(connection: Connection, name: str) -> str:
    return connection.dialect.identifier_preparer.quote(name)


def _by_key(sql: str, keys: list[tuple[Any, ...]]) -> Callable[[Connection], None]:
    statement = text(sql)

    def run(connection: Connection) -> None:
        result = connection.execute(statement, {f"k{i}": value for i, value in enumerate(random.choice(keys))})
        if result.returns_rows:
            result.fetchall()

    return run


# (file name, its statements) for each queries JSON file
Captured = Sequence[tuple[str, list[dict[str, Any]]]]


def replayed_sessions(captured: Captured, tables: Sequence[str], notes: list[str]) -> list[Session]:
    """One reader cycling through the captured SELECTs and one writer through the captured writes that touch
    ``tables``, each with its captured parameters."""
    reads: list[tuple[str, Any]] = []
    writes: list[tuple[str, Any]] = []
    seen = 0
    for _file, statements in captured:
        for statement in statements:
            seen += 1
            sql = statement.get("sql")
            if not isinstance(sql, str) or not tables_named(sql, tables):
                continue
            head = sql.lstrip(" \n\t(").upper()
            (reads if head.startswith(("SELECT", "WITH")) else writes).append((sql, statement.get("parameters")))
    notes.append(f"{len(reads) + len(writes)} of {seen} captured statements touch the migrated tables "
                 f"({len(reads)} reads, {len(writes)} writes) and are replayed")
    sessions = []
    if reads:
        sessions.append(Session("reader", f"{len(reads)} captured reads", _cycle(reads, rollback=False)))
    if writes:
        sessions.append(Session("writer", f"{len(writes)} captured writes (rolled back)",
                                _cycle(writes, rollback=True)))
    return sessions


def load_statements(path: Path) -> list[dict[str, Any]]:
    """The statements of one ``integrity-kit queries --format json`` file."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise IntegrityKitError(f"--queries {path}: cannot read it: {error.strerror}") from None
    except ValueError as error:
        raise IntegrityKitError(f"--queries {path}: not JSON: {error}") from None
    statements = data.get("statements") if isinstance(data, dict) else None
    if not isinstance(statements, list):
        raise IntegrityKitError(f"--queries {path}: no \"statements\" list (write it with "
                                "`integrity-kit queries --format json`)")
    return [statement for statement in statements if isinstance(statement, dict)]


def _cycle(statements: list[tuple[str, Any]], *, rollback: bool) -> Callable[[Connection], None]:
    position = [0]

    def run(connection: Connection) -> None:
        sql, parameters = statements[position[0] % len(statements)]
        position[0] += 1
        if rollback:
            connection.exec_driver_sql("BEGIN")
        try:
            # Captured where SQLAlchemy hands the statement to the driver, which it always does with parameters.
            connection.exec_driver_sql(sql, tuple(parameters) if isinstance(parameters, list) else parameters or None)
        finally:
            if rollback:
                connection.exec_driver_sql("ROLLBACK")

    return run


class Workload:
    """The sessions, each in its own thread, running until :meth:`stop`."""

    def __init__(self, engine: Engine, sessions: Sequence[Session]):
        self.engine = engine
        self.sessions = list(sessions)
        self._stop = threading.Event()
        self._threads = [threading.Thread(target=self._loop, args=(session,), daemon=True,
                                          name=f"ik-rehearsal-{session.kind}-{n}")
                         for n, session in enumerate(self.sessions)]

    def start(self) -> None:
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _loop(self, session: Session) -> None:
        try:
            connection = self.engine.connect()
        except Exception as error:  # a session that cannot connect is reported, the others go on
            session.errors[first_line(error)[:200]] = 1
            return
        try:
            while not self._stop.is_set():
                start = time.perf_counter()
                ok = True
                try:
                    session.run(connection)
                except Exception as error:  # the migration may drop or change what the session uses
                    ok = False
                    message = first_line(error)[:200]
                    session.errors[message] = session.errors.get(message, 0) + 1
                    with contextlib.suppress(Exception):  # a broken connection: the next operation reports it
                        connection.rollback()
                session.operations.append(Operation(session.kind, start, time.perf_counter(), ok))
                self._stop.wait(_PACE if ok else 0.05)
        finally:
            with contextlib.suppress(Exception):  # a connection the scratch database's drop already ended
                connection.close()
