"""The one error type that the command line turns into a single line on stderr and exit code 2."""

from __future__ import annotations


class IntegrityKitError(Exception):
    """A problem the user can fix: bad input, unreachable database, missing driver.

    ``str(error)`` is the whole message shown to the user, so it must never contain a password.
    """

    exit_code = 2


def first_line(error: BaseException | None) -> str:
    """The useful line of an error for a one-line message: the driver's own error when SQLAlchemy wraps one, its
    first line (drivers put the cause first, then SQL and background links), or the type's name when it is empty."""
    origin = getattr(error, "orig", None) or error
    lines = str(origin).strip().splitlines() if origin is not None else []
    return lines[0] if lines else type(origin).__name__


def error_code(error: BaseException) -> str:
    """The SQLSTATE (PostgreSQL), error number (MySQL/MariaDB) or result code (SQLite) behind ``error``, or the
    error type's name when the driver gives none."""
    original = getattr(error, "orig", None) or error  # SQLAlchemy wraps the driver's error; read the driver's
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        return str(args[0])
    for attribute in ("sqlstate", "sqlite_errorcode"):
        value = getattr(original, attribute, None)
        if value is not None:
            return str(value)
    return type(original).__name__
