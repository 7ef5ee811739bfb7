"""Which constraint did the database just enforce? One answer for SQLite, PostgreSQL and MariaDB/MySQL.

Each engine reports a violation differently (PostgreSQL: SQLSTATE plus ``diag.constraint_name``; MariaDB: a vendor
error number, CHECK failures even arrive as ``OperationalError``; SQLite: only message text). The API turns these
into structured errors, and the tests use them to prove the database itself refused a row.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from sqlalchemy.exc import DBAPIError

Kind = Literal["check", "unique", "foreign_key", "not_null"]

_PG_SQLSTATE: dict[str, Kind] = {"23514": "check", "23505": "unique", "23503": "foreign_key", "23502": "not_null"}
_MYSQL_ERRNO: dict[int, Kind] = {
    3819: "check",  # MySQL 8
    4025: "check",  # MariaDB
    1062: "unique",
    1451: "foreign_key",  # parent row still referenced
    1452: "foreign_key",  # child row points nowhere
    1048: "not_null",
    1364: "not_null",  # no value and no default (strict mode)
}
_SQLITE_PREFIX: dict[str, Kind] = {
    "CHECK constraint failed": "check",
    "UNIQUE constraint failed": "unique",
    "FOREIGN KEY constraint failed": "foreign_key",
    "NOT NULL constraint failed": "not_null",
}


@dataclass(frozen=True)
class Violation:
    kind: Kind
    # The constraint's name when the engine says it, else what it does say (SQLite: "table.column, ...").
    constraint: str | None


def violation(error: BaseException) -> Violation | None:
    """The constraint violation behind ``error``, or ``None`` when it is some other database error."""
    original = error.orig if isinstance(error, DBAPIError) else error
    if original is None:
        return None
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in _PG_SQLSTATE:
        diag = getattr(original, "diag", None)
        name = getattr(diag, "constraint_name", None) or getattr(diag, "column_name", None)
        return Violation(_PG_SQLSTATE[sqlstate], name)
    args: tuple[object, ...] = getattr(original, "args", ())
    if len(args) >= 2 and isinstance(args[0], int) and args[0] in _MYSQL_ERRNO:
        return Violation(_MYSQL_ERRNO[args[0]], _mysql_name(str(args[1])))
    message = str(original)
    for prefix, kind in _SQLITE_PREFIX.items():
        if message.startswith(prefix):
            detail = message[len(prefix):].lstrip(": ").strip()
            return Violation(kind, detail or None)
    return None


def _mysql_name(message: str) -> str | None:
    for pattern in (r"CONSTRAINT `([^`]+)`", r"for key '(?:[^'.]+\.)?([^']+)'", r"Column '([^']+)'",
                    r"Field '([^']+)'"):
        found = re.search(pattern, message)
        if found:
            return found.group(1)
    return None
