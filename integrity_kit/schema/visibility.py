"""Tables a MySQL/MariaDB user cannot see: ``information_schema`` and ``SHOW TABLES`` list only the tables the user
holds a privilege on, so a user granted some tables of a database sees the rest vanish without a trace.

When the user holds no global or database-wide privilege on a schema, its view of that schema may be partial; the
InnoDB dictionary (readable with the PROCESS privilege) then says how many tables are hidden.
"""

from __future__ import annotations

from sqlalchemy import text
from sqlalchemy.engine import Connection
from sqlalchemy.exc import DBAPIError

from integrity_kit.schema.snapshot import NotAnalysed

# Privileges on tables make them visible; PROCESS, FILE and the like held globally do not.
_TABLE_PRIVILEGES = ("'SELECT', 'INSERT', 'UPDATE', 'DELETE', 'CREATE', 'DROP', 'REFERENCES', 'INDEX', 'ALTER', "
                     "'CREATE VIEW', 'SHOW VIEW', 'TRIGGER', 'DELETE HISTORY'")
_GLOBAL = text("SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES "
               f"WHERE PRIVILEGE_TYPE IN ({_TABLE_PRIVILEGES})")
# A database-level grant may name a pattern (GRANT ... ON `shop\_%`.*), which LIKE matches as the server does.
_SCHEMA_WIDE = text("SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES "
                    f"WHERE :schema LIKE TABLE_SCHEMA AND PRIVILEGE_TYPE IN ({_TABLE_PRIVILEGES})")
_VISIBLE = text("SELECT COUNT(*) FROM information_schema.TABLES WHERE TABLE_SCHEMA = :schema")
_INNODB = text("SELECT COUNT(*) FROM information_schema.INNODB_SYS_TABLES WHERE NAME LIKE :prefix")


def hidden_tables(connection: Connection, schema: str) -> NotAnalysed | None:
    """A not-analysed entry for ``schema`` when the connected user may not see all of its tables, else None."""
    if connection.dialect.name not in ("mysql", "mariadb"):
        return None
    if connection.scalar(_GLOBAL) or connection.scalar(_SCHEMA_WIDE, {"schema": schema}):
        return None
    visible = int(connection.scalar(_VISIBLE, {"schema": schema}) or 0)
    total = _innodb_tables(connection, schema)
    if total is not None:
        if total <= visible:
            return None
        return NotAnalysed(object=schema, reason=f"{total - visible} table(s) not visible to this user (it holds "
                                                 "privileges on some tables only): not analysed")
    return NotAnalysed(object=schema, reason="this user holds privileges on some tables only: tables it has no "
                                             "privilege on are not visible and were not analysed")


def _innodb_tables(connection: Connection, schema: str) -> int | None:
    # The dictionary needs the PROCESS privilege; without it the number of hidden tables cannot be known.
    prefix = schema.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "/%"
    try:
        with connection.begin_nested():
            return int(connection.scalar(_INNODB, {"prefix": prefix}) or 0)
    except DBAPIError:
        return None


_SYSTEM_SCHEMAS = frozenset({"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"})


def schemas_with_tables(connection: Connection, *, besides: tuple[str, ...] = ()) -> dict[str, int]:
    """Schemas (databases, on MySQL/MariaDB) other than ``besides`` that hold tables the user can see, with their
    table counts: what to suggest when the schemas asked for hold none."""
    from sqlalchemy import inspect

    inspector = inspect(connection)
    found: dict[str, int] = {}
    for schema in inspector.get_schema_names():
        if schema in besides or schema in _SYSTEM_SCHEMAS or schema.startswith("pg_"):
            continue
        try:
            count = len(inspector.get_table_names(schema=schema))
        except DBAPIError:  # a schema the user may list but not read
            continue
        if count:
            found[schema] = count
    return found


_GLOBAL_SELECT = text("SELECT COUNT(*) FROM information_schema.USER_PRIVILEGES WHERE PRIVILEGE_TYPE = 'SELECT'")
_SCHEMA_SELECT = text("SELECT COUNT(*) FROM information_schema.SCHEMA_PRIVILEGES "
                      "WHERE :schema LIKE TABLE_SCHEMA AND PRIVILEGE_TYPE = 'SELECT'")
_NOT_SELECTABLE_PG = text(
    "SELECT n.nspname, c.relname FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace "
    "WHERE c.relkind IN ('r', 'p', 'm', 'f') AND n.nspname = ANY(:schemas) "
    "AND NOT has_table_privilege(c.oid, 'SELECT')")


def unreadable_tables(connection: Connection, tables: list[tuple[str | None, str]],
                      default_schema: str | None) -> set[tuple[str | None, str]]:
    """The tables among ``tables`` (schema, name; None for the default schema) that the user may not SELECT from:
    asked of the catalogue on PostgreSQL, tried with an empty read on MySQL/MariaDB (SHOW GRANTS misses roles)."""
    if not tables:
        return set()
    dialect = connection.dialect.name
    if dialect == "postgresql":
        schemas = sorted({schema or default_schema or "public" for schema, _name in tables})
        denied = {(schema, name) for schema, name in connection.execute(_NOT_SELECTABLE_PG, {"schemas": schemas})}
        return {(schema, name) for schema, name in tables if (schema or default_schema or "public", name) in denied}
    if dialect not in ("mysql", "mariadb"):
        return set()
    if connection.execute(_GLOBAL_SELECT).scalar():
        return set()
    quote = connection.dialect.identifier_preparer.quote
    found = set()
    schema_wide: dict[str | None, bool] = {}  # asked once per schema, not once per table
    for schema, name in tables:
        key = schema or default_schema
        if key not in schema_wide:
            schema_wide[key] = bool(connection.execute(_SCHEMA_SELECT, {"schema": key}).scalar())
        if schema_wide[key]:
            continue
        qualified = f"{quote(schema)}.{quote(name)}" if schema else quote(name)
        try:
            connection.exec_driver_sql(f"SELECT 1 FROM {qualified} LIMIT 0").all()
        except DBAPIError as error:
            # Only a refusal counts; a lock or a timeout is the probes' to report.
            if getattr(error.orig, "args", (None,))[0] == 1142:  # ER_TABLEACCESS_DENIED_ERROR
                found.add((schema, name))
    return found
