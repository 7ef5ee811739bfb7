"""Transactions in a capture: which statements ran together, on which connection, at which isolation level.

The capture records each boundary SQLAlchemy announces (``begin``, ``commit``, ``rollback``) as one tuple with the
number of statements sent before it, and each statement records which
:class:`~sqlalchemy.engine.Connection` sent it; :func:`build_transactions` pairs the two after the fact, so the
application pays for a boundary only once per transaction, never per statement. Savepoints are read from the
``SAVEPOINT``/``RELEASE``/``ROLLBACK TO`` statements themselves, the only place SQLAlchemy names them.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .log import Statement

# What one boundary record holds, in order (see QueryCapture's transaction listeners).
KIND, CONNECTION_KEY, POSITION, DETAIL = range(4)
OUTCOMES = ("commit", "rollback", "open")
LEVELS = ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE", "AUTOCOMMIT")

_SET_LEVEL = re.compile(r"^\s*SET\s+(SESSION\s+|LOCAL\s+)?TRANSACTION\s+ISOLATION\s+LEVEL\s+"
                        r"(READ\s+UNCOMMITTED|READ\s+COMMITTED|REPEATABLE\s+READ|SERIALIZABLE)", re.IGNORECASE)
_SAVEPOINT = re.compile(r"^\s*(SAVEPOINT|RELEASE\s+SAVEPOINT|RELEASE|ROLLBACK\s+TO\s+SAVEPOINT|ROLLBACK\s+TO)\s+"
                        r"(\S+)\s*;?\s*$", re.IGNORECASE)
_BEGIN_LEVEL = re.compile(r"^\s*(BEGIN|START\s+TRANSACTION)\b.*?ISOLATION\s+LEVEL\s+"
                          r"(READ\s+UNCOMMITTED|READ\s+COMMITTED|REPEATABLE\s+READ|SERIALIZABLE)", re.IGNORECASE)


@dataclass
class Savepoint:
    """A ``SAVEPOINT`` inside a transaction (``Session.begin_nested()``, ``Connection.begin_nested()``)."""

    name: str
    outcome: str = "open"  # "released" | "rolled back" | "open"
    statements: list[Statement] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "outcome": self.outcome, "statements": len(self.statements)}


@dataclass
class Transaction:
    """One database transaction as the capture saw it.

    ``isolation_level`` is the connection's ``isolation_level`` execution option, else the engine's
    ``create_engine(isolation_level=...)``, else the server default the dialect read at connect time; a
    ``SET TRANSACTION ISOLATION LEVEL`` sent inside the transaction overrides it. ``"AUTOCOMMIT"`` means every
    statement committed on its own. ``seen_begin`` is False for statements whose transaction began before the
    capture started (or that no SQLAlchemy ``begin`` announced).
    """

    id: int
    connection: int
    dialect: str
    isolation_level: str | None
    outcome: str = "open"
    statements: list[Statement] = field(default_factory=list)
    savepoints: list[Savepoint] = field(default_factory=list)
    seen_begin: bool = True

    @property
    def autocommit(self) -> bool:
        return self.isolation_level == "AUTOCOMMIT"

    def savepoint_of(self, statement: Statement) -> Savepoint | None:
        """The innermost savepoint ``statement`` was sent in, if any."""
        for savepoint in reversed(self.savepoints):
            if any(s is statement for s in savepoint.statements):
                return savepoint
        return None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "connection": self.connection,
            "dialect": self.dialect,
            "isolation_level": self.isolation_level,
            "outcome": self.outcome,
            "seen_begin": self.seen_begin,
            "statements": len(self.statements),
            "first_location": next((s.location for s in self.statements if s.location), None),
            "savepoints": [s.to_dict() for s in self.savepoints],
        }


def dialect_name(dialect: Any) -> str:
    """``"mariadb"`` for a MariaDB server whatever the URL said, else SQLAlchemy's dialect name."""
    return "mariadb" if getattr(dialect, "is_mariadb", False) else str(dialect.name)


def isolation_level_of(connection: Any) -> str | None:
    """The level the next transaction on ``connection`` runs at, without asking the server."""
    try:
        level = connection.get_execution_options().get("isolation_level")
        if level is None:
            dialect = connection.dialect
            level = getattr(dialect, "_on_connect_isolation_level", None) or dialect.default_isolation_level
    except Exception:  # an unusual connection object: the level is simply unknown
        return None
    return None if level is None else " ".join(str(level).upper().replace("_", " ").split())


def _level_set_by(sql: str) -> tuple[str, bool] | None:
    """(level, for the rest of the session) when ``sql`` sets the isolation level."""
    head = sql[:80]
    if "ISOLATION" not in head.upper():
        return None
    match = _SET_LEVEL.match(sql) or _BEGIN_LEVEL.match(sql)
    if match is None:
        return None
    return " ".join(match.group(2).upper().split()), bool(match.group(1) and "SESSION" in match.group(1).upper())


def build_transactions(statements: list[Statement], boundaries: list[tuple[Any, ...]], connection_key: Any,
                       dialect: str | None = None) -> list[Transaction]:
    """Place every statement in its transaction. ``connection_key(statement)`` is the key the capture recorded for
    the Connection that sent it; boundary records are ``(kind, key, statements sent before it, detail)``;
    ``dialect`` names the engine of statements no ``begin`` announced, when the capture watched only one."""
    transactions: list[Transaction] = []
    open_: dict[Any, Transaction] = {}
    numbers: dict[Any, int] = {}  # DBAPI connection -> its number in this capture
    connection_of_key: dict[Any, int] = {}
    session_level: dict[int, str] = {}  # connection number -> level a SET SESSION TRANSACTION chose
    stacks: dict[int, list[Savepoint]] = {}  # transaction id -> open savepoints, innermost last

    def start(key: Any, *, dbapi: Any, dialect: str, level: str | None, seen: bool) -> Transaction:
        number = numbers.setdefault(dbapi, len(numbers) + 1)
        connection_of_key[key] = number
        transaction = Transaction(len(transactions) + 1, number, dialect, session_level.get(number, level),
                                  seen_begin=seen)
        transactions.append(transaction)
        open_[key] = transaction
        stacks[transaction.id] = []
        return transaction

    def place(statement: Statement) -> None:
        key = connection_key(statement)
        transaction = open_.get(key)
        if transaction is None:
            # Sent outside any announced transaction: the capture began inside one, or the driver autocommits.
            transaction = start(key, dbapi=("key", key), dialect=dialect or "unknown", level=None, seen=False)
        transaction.statements.append(statement)
        statement._transaction = transaction
        sql = statement.sql
        stack = stacks[transaction.id]
        marker = _SAVEPOINT.match(sql)
        if marker is not None:  # SQLAlchemy names a savepoint only in its SQL, not in its events
            verb, name = marker.group(1).upper(), marker.group(2).strip('"`')
            if verb == "SAVEPOINT":
                savepoint = Savepoint(name)
                transaction.savepoints.append(savepoint)
                stack.append(savepoint)
            else:  # RELEASE / ROLLBACK TO end it and every savepoint opened inside it
                outcome = "released" if verb.startswith("RELEASE") else "rolled back"
                for index in range(len(stack) - 1, -1, -1):
                    if stack[index].name == name:
                        for ended in stack[index:]:
                            ended.outcome = outcome
                        del stack[index:]
                        break
            return
        for savepoint in stack:
            savepoint.statements.append(statement)
        levels = _level_set_by(sql)
        if levels is not None:
            transaction.isolation_level = levels[0]
            if levels[1]:
                session_level[transaction.connection] = levels[0]

    def close(key: Any, outcome: str) -> None:
        transaction = open_.pop(key, None)
        if transaction is not None:
            # With AUTOCOMMIT the driver committed each statement; the closing rollback SQLAlchemy calls does nothing.
            transaction.outcome = "commit" if transaction.autocommit and outcome == "rollback" else outcome
            for savepoint in stacks.pop(transaction.id, []):
                if savepoint.outcome == "open":
                    savepoint.outcome = "released" if outcome == "commit" else "rolled back"

    position = 0
    for boundary in boundaries:
        kind, key, before, detail = boundary[KIND], boundary[CONNECTION_KEY], boundary[POSITION], boundary[DETAIL]
        while position < min(before, len(statements)):
            place(statements[position])
            position += 1
        if kind == "begin":
            close(key, "open")  # a begin on a key still open means its end was never announced
            dbapi, dialect, level = detail
            start(key, dbapi=dbapi, dialect=dialect, level=level, seen=True)
        elif kind in ("commit", "rollback"):
            close(key, kind)
    while position < len(statements):
        place(statements[position])
        position += 1
    return transactions
