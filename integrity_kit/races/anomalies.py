"""Hermitage-style anomaly tests: P4 (lost update), G-single (read skew) and G2-item (write skew), each as one
exact interleaving of two transactions on a two-row table, at every isolation level the engine offers.

The schedules are the ones Martin Kleppmann's Hermitage runs by hand (github.com/ept/hermitage), driven here by
the interleaving engine, so the verdict is measured on the server and says *how* the anomaly was prevented: a
step blocked, an error (SQLSTATE or vendor code) aborted a transaction, or a read simply saw the right value.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection, Engine, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError

from integrity_kit.errors import error_code
from integrity_kit.races.engines import dialect_name, isolation_levels, real_sqlite_transactions, server_version
from integrity_kit.races.interleaving import Interleaving, Program, SessionContext, Trace, connection_ids
from integrity_kit.races.scratch import scratch

ANOMALIES = ("P4", "G-single", "G2-item")
NAMES = {"P4": "lost update", "G-single": "read skew", "G2-item": "write skew"}

Op = Callable[[Any, dict], str | None]


def _read(row: int, key: str) -> Op:
    def op(connection: Connection, seen: dict[str, Any]) -> str:
        seen[key] = connection.execute(text("SELECT value FROM hermitage WHERE id = :id"), {"id": row}).scalar_one()
        return f"{key} = {seen[key]}"

    return op


def _read_both(connection: Connection, seen: dict[str, Any]) -> str:
    result = connection.execute(text("SELECT id, value FROM hermitage WHERE id IN (1, 2) ORDER BY id"))
    rows: dict[int, Any] = {row[0]: row[1] for row in result}
    seen["x"], seen["y"] = rows[1], rows[2]
    return f"x = {rows[1]}, y = {rows[2]}"


def _write(row: int, value: Callable[[dict], int], shown: str) -> Op:
    def op(connection: Connection, seen: dict[str, Any]) -> str:
        connection.execute(text("UPDATE hermitage SET value = :v WHERE id = :id"), {"v": value(seen), "id": row})
        return shown.format(value(seen))

    return op


def _commit(connection: Connection, seen: dict[str, Any]) -> None:
    connection.commit()
    seen["committed"] = True
    return None


@dataclass(frozen=True)
class Test:
    anomaly: str
    sessions: dict[str, list[tuple[str, Op]]]
    order: tuple[str, ...]
    judge: Callable[[dict[str, dict], int, int], tuple[bool, str]]  # (seen per session, x, y) -> (anomaly?, how)


def _p4_judge(seen: dict[str, dict], x: int, _y: int) -> tuple[bool, str]:
    if all(s.get("committed") for s in seen.values()) and x == 11:
        return True, "both committed; one update lost (x = 11, not 12)"
    return False, f"x = {x}"


def _g_single_judge(seen: dict[str, dict], _x: int, _y: int) -> tuple[bool, str]:
    t1 = seen["T1"]
    if t1.get("committed") and t1["x"] + t1["y"] != 30:
        return True, f"T1 saw x = {t1['x']} and y = {t1['y']} (sum {t1['x'] + t1['y']}, never committed together)"
    return False, f"T1 saw x = {t1.get('x')}, y = {t1.get('y')}"


def _g2_judge(seen: dict[str, dict], x: int, y: int) -> tuple[bool, str]:
    if all(s.get("committed") for s in seen.values()):
        return True, f"both committed, each writing from a read the other invalidated (x = {x}, y = {y})"
    return False, f"x = {x}, y = {y}"


TESTS = {
    "P4": Test("P4", {
        "T1": [("read x", _read(1, "x")), ("write x = x + 1", _write(1, lambda s: s["x"] + 1, "x := {}")),
               ("commit", _commit)],
        "T2": [("read x", _read(1, "x")), ("write x = x + 1", _write(1, lambda s: s["x"] + 1, "x := {}")),
               ("commit", _commit)],
    }, ("T1", "T2", "T1", "T2", "T1", "T2"), _p4_judge),
    "G-single": Test("G-single", {
        "T1": [("read x", _read(1, "x")), ("read y", _read(2, "y")), ("commit", _commit)],
        "T2": [("read x", _read(1, "x")), ("read y", _read(2, "y")),
               ("write x = 12", _write(1, lambda s: 12, "x := {}")),
               ("write y = 18", _write(2, lambda s: 18, "y := {}")), ("commit", _commit)],
    }, ("T1", "T2", "T2", "T2", "T2", "T2", "T1", "T1"), _g_single_judge),
    "G2-item": Test("G2-item", {
        "T1": [("read x, y", _read_both), ("write x = 11", _write(1, lambda s: 11, "x := {}")), ("commit", _commit)],
        "T2": [("read x, y", _read_both), ("write y = 21", _write(2, lambda s: 21, "y := {}")), ("commit", _commit)],
    }, ("T1", "T2", "T1", "T2", "T1", "T2"), _g2_judge),
}


@dataclass(frozen=True)
class AnomalyResult:
    anomaly: str
    isolation_level: str
    outcome: str  # "anomaly" or "prevented"
    how: str
    trace: tuple[str, ...]

    def to_dict(self) -> dict[str, Any]:
        return {"anomaly": self.anomaly, "isolation_level": self.isolation_level, "outcome": self.outcome,
                "how": self.how, "trace": list(self.trace)}


@dataclass(frozen=True)
class Matrix:
    dialect: str
    server_version: str
    results: tuple[AnomalyResult, ...]
    settings: dict[str, str]
    notes: tuple[str, ...] = ()

    def outcome(self, anomaly: str, level: str) -> str:
        return next(r.outcome for r in self.results if r.anomaly == anomaly and r.isolation_level == level)

    def to_dict(self) -> dict[str, Any]:
        return {"dialect": self.dialect, "server_version": self.server_version, "settings": self.settings,
                "results": [r.to_dict() for r in self.results], "notes": list(self.notes)}


def _program(engine: Engine, level: str | None, ops: list[tuple[str, Op]], seen: dict[str, Any]) -> Program:
    def program(ctx: SessionContext) -> None:
        with engine.connect() as connection:
            if level is not None:
                connection.execution_options(isolation_level=level)
            for label, op in ops:
                ctx.step(label)
                try:
                    note = op(connection, seen)
                except DBAPIError as error:
                    ctx.fail(error_code(error))
                    seen["error"] = error_code(error)
                    connection.rollback()
                    return
                if note:
                    ctx.note(note)

    return program


def _how(trace: Trace, judged: str) -> str:
    parts = []
    for step in trace.steps:
        if step.blocked:
            resumed = f" until step {step.resumed_after}" if step.resumed_after else ""
            parts.append(f"{step.session} blocked at '{step.label}'{resumed}")
        if step.error:
            parts.append(f"error {step.error} on {step.session}")
    if not parts:
        parts.append("no step blocked and no error: the reads saw a consistent snapshot")
    return "; ".join(parts) + f" ({judged})"


def run_test(engine: Engine, test: Test, level: str | None, label: str, *, timeout: float = 10.0) -> AnomalyResult:
    with engine.begin() as connection:
        connection.execute(text("DELETE FROM hermitage"))
        connection.execute(text("INSERT INTO hermitage (id, value) VALUES (1, 10), (2, 20)"))
    seen: dict[str, dict] = {name: {} for name in test.sessions}
    programs = {name: _program(engine, level, ops, seen[name]) for name, ops in test.sessions.items()}
    trace = Interleaving(engine, timeout=timeout).run(programs, test.order)
    with engine.connect() as connection:
        x, y = (connection.execute(text("SELECT value FROM hermitage ORDER BY id")).scalars().all())
    anomaly, judged = test.judge(seen, x, y)
    how = judged if anomaly else _how(trace, judged)
    return AnomalyResult(test.anomaly, label, "anomaly" if anomaly else "prevented", how, tuple(trace.lines()))


def _settings(engine: Engine, dialect: str) -> dict[str, str]:
    queries = {"mariadb": {"innodb_snapshot_isolation": "SELECT @@innodb_snapshot_isolation",
                           "default_isolation": "SELECT @@tx_isolation"},
               "mysql": {"default_isolation": "SELECT @@transaction_isolation"},
               "postgresql": {"default_isolation": "SHOW default_transaction_isolation"},
               "sqlite": {"journal_mode": "PRAGMA journal_mode"}}
    found = {}
    with engine.connect() as connection:
        for name, query in queries.get(dialect, {}).items():
            try:
                found[name] = str(connection.exec_driver_sql(query).scalar())
            except DBAPIError:
                connection.rollback()  # e.g. a MariaDB before 10.6.18 has no innodb_snapshot_isolation
    return found


SQLITE_NOTES = (
    "SQLite has one isolation level between connections: SERIALIZABLE, by locking the whole database file. "
    "Transactions here are real (BEGIN before the first statement, busy timeout 1 s); Python's sqlite3 in its "
    "legacy default would begin only at the first write, so reads would run outside the transaction.",
    "A second writer is not queued behind a row lock: it gets SQLITE_BUSY (5) when waiting could deadlock, or "
    "waits for the busy timeout; so SQLite prevents these anomalies by refusing or serializing transactions.",
)


def _notes(dialect: str, settings: dict[str, str]) -> tuple[str, ...]:
    if dialect == "sqlite":
        return SQLITE_NOTES
    if dialect == "postgresql":
        return ("PostgreSQL runs READ UNCOMMITTED as READ COMMITTED: it never shows uncommitted data.",)
    if dialect == "mariadb":
        snapshot = settings.get("innodb_snapshot_isolation")
        state = {"0": "OFF", "1": "ON"}.get(snapshot or "", "not available on this server")
        return (f"innodb_snapshot_isolation is {state}: when OFF (the default before MariaDB 11.8) REPEATABLE READ "
                "lets the lost update through as MySQL/InnoDB does; when ON, the second writer gets error 1020 "
                "('record has changed since last read') instead.",)
    return ()


def anomaly_matrix(url: str | URL | None, *, prefix: str | None = None, anomalies: tuple[str, ...] = ANOMALIES,
                   timeout: float = 10.0) -> Matrix:
    """Run every anomaly test at every isolation level the engine offers, in a scratch space."""
    with scratch(url, prefix=prefix, purpose="run the anomaly schedules") as space:
        engine = space.engine(pool_size=4, max_overflow=2)
        if space.dialect == "sqlite":
            real_sqlite_transactions(engine, busy_timeout_ms=1000)
        try:
            connection_ids(engine)
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE hermitage (id INTEGER PRIMARY KEY, value INTEGER NOT NULL)"))
            dialect = dialect_name(engine)
            results = []
            for anomaly in anomalies:
                for level in isolation_levels(space.dialect):
                    chosen = None if space.dialect == "sqlite" else level
                    results.append(run_test(engine, TESTS[anomaly], chosen, level, timeout=timeout))
            settings = _settings(engine, dialect)
            return Matrix(dialect, server_version(engine), tuple(results), settings, _notes(dialect, settings))
        finally:
            engine.dispose()
