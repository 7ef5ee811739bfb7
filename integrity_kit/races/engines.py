"""Per-engine facts the races need: isolation levels on offer, real SQLite transactions, server versions."""

from __future__ import annotations

from sqlalchemy import Engine, event

from integrity_kit.errors import IntegrityKitError

LEVELS = {
    "postgresql": ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"),
    "mysql": ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"),
    "mariadb": ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"),
    # pysqlite's READ UNCOMMITTED only matters with a shared cache; between connections SQLite is serializable.
    "sqlite": ("SERIALIZABLE",),
}


def isolation_levels(dialect: str) -> tuple[str, ...]:
    return LEVELS.get(dialect, ("SERIALIZABLE",))


def check_isolation_level(dialect: str, level: str | None) -> str | None:
    if level is None:
        return None
    normalized = " ".join(level.replace("_", " ").replace("-", " ").upper().split())
    offered = isolation_levels(dialect)
    if normalized not in offered:
        raise IntegrityKitError(f"--isolation {level!r} is not a level {dialect} offers (choose from: "
                                f"{', '.join(offered)})")
    return normalized


def server_version(engine: Engine) -> str:
    info = engine.dialect.server_version_info or ()
    return ".".join(str(part) for part in info)


def real_sqlite_transactions(engine: Engine, *, busy_timeout_ms: int = 5000) -> None:
    """Make pysqlite run real transactions: BEGIN before the first statement, not before the first write.

    The driver's legacy mode starts a transaction only at the first INSERT/UPDATE/DELETE, so a read-check-write
    reads outside any transaction. This is SQLAlchemy's documented recipe (driver transaction handling off, BEGIN
    emitted by us), emitting BEGIN lazily at the first statement so a checkout that opens with its own
    ``BEGIN IMMEDIATE`` (the write lock SQLite offers instead of row locks) still can.
    """

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, _record) -> None:
        dbapi_connection.isolation_level = None
        dbapi_connection.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        dbapi_connection.execute("PRAGMA foreign_keys = ON")

    @event.listens_for(engine, "before_cursor_execute")
    def _begin(connection, cursor, statement, _parameters, _context, _executemany) -> None:
        dbapi_connection = cursor.connection
        if (connection.in_transaction() and not dbapi_connection.in_transaction
                and not statement.lstrip()[:6].upper().startswith(("BEGIN", "PRAGMA"))):
            dbapi_connection.execute("BEGIN")


def dialect_name(engine: Engine) -> str:
    """``mariadb`` for a MariaDB server even when reached through a ``mysql://`` URL: their locking differs."""
    return "mariadb" if getattr(engine.dialect, "is_mariadb", False) else engine.dialect.name
