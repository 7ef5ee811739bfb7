"""TEMPORARY stand-in for the lead's transaction capture (contract A) until it lands on main."""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event

from integrity_kit.queries import capture as real_capture


@dataclass
class Txn:
    id: int
    connection: int
    dialect: str
    isolation_level: str | None
    outcome: str = "open"
    statements: list[Any] = field(default_factory=list)
    savepoints: list[Any] = field(default_factory=list)
    seen_begin: bool = True


@contextmanager
def capture(engine: Any):
    sync = getattr(engine, "sync_engine", engine)
    records: list[Any] = []
    txns: list[Txn] = []
    open_: dict[int, Txn] = {}
    conns: dict[int, int] = {}
    dialect = "mariadb" if getattr(sync.dialect, "is_mariadb", False) else sync.dialect.name

    def conn_id(conn: Any) -> int:
        key = id(conn.connection.dbapi_connection)
        return conns.setdefault(key, len(conns) + 1)

    def begin(conn: Any) -> None:
        level = conn.get_execution_options().get("isolation_level") or sync.get_execution_options().get(
            "isolation_level")
        if level is None and dialect != "sqlite":
            level = conn.default_isolation_level
        t = Txn(len(txns) + 1, conn_id(conn), dialect, level)
        txns.append(t)
        open_[conn_id(conn)] = t

    def end(outcome: str):
        def handler(conn: Any) -> None:
            t = open_.pop(conn_id(conn), None)
            if t is not None:
                t.outcome = outcome
        return handler

    def before(conn, cursor, statement, parameters, context, executemany) -> None:
        t = open_.get(conn_id(conn))
        records.append(t)

    listeners = [("begin", begin), ("commit", end("commit")), ("rollback", end("rollback")),
                 ("before_cursor_execute", before)]
    for name, fn in listeners:
        event.listen(sync, name, fn)
    with real_capture(engine) as log:
        try:
            yield log
        finally:
            for name, fn in listeners:
                event.remove(sync, name, fn)
    for statement, t in zip(log.statements, records, strict=False):
        if t is not None:
            t.statements.append(statement)
    log.transactions = txns  # type: ignore[attr-defined]
