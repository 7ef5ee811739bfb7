"""Bulk reflection for MariaDB from ``information_schema``: one query per kind for a whole schema.

SQLAlchemy's MySQL dialect has no bulk reflection: behind ``Inspector.get_multi_*`` it runs one
``SHOW CREATE TABLE`` per table, so 3,000 tables cost 3,000 round trips. The same facts are in
``information_schema`` and can be read for every table at once. This module returns them in exactly the shapes
SQLAlchemy's reflection returns (``ReflectedColumn``, ``ReflectedForeignKeyConstraint``, ...), with types resolved
through the dialect's own ``ischema_names``, so the Snapshot is assembled by the same code either way; the tests
check both paths give the same Snapshot.

Only MariaDB uses it: its ``information_schema`` prints defaults and check clauses the way ``SHOW CREATE TABLE``
does. MySQL 8 spells them differently and keeps SQLAlchemy's per-table reflection.

It also sees two things SQLAlchemy's parser drops: descending key parts (MariaDB 10.8+) and column-level CHECK
constraints (``qty INT CHECK (qty > 0)``), which MariaDB names after their column.
"""

from __future__ import annotations

import re
from collections import defaultdict
from typing import Any

from sqlalchemy import text
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Connection, Row
from sqlalchemy.sql.elements import TextClause

_TABLES = text("""
SELECT TABLE_NAME AS table_name, TABLE_COLLATION AS table_collation, TABLE_COMMENT AS table_comment
FROM information_schema.TABLES
WHERE TABLE_SCHEMA = :schema AND TABLE_TYPE IN ('BASE TABLE', 'SYSTEM VERSIONED')
""")

_COLUMNS = text("""
SELECT TABLE_NAME AS table_name, COLUMN_NAME AS column_name, COLUMN_TYPE AS column_type,
       COLUMN_DEFAULT AS column_default, IS_NULLABLE AS is_nullable, EXTRA AS extra,
       COLLATION_NAME AS collation_name, CHARACTER_SET_NAME AS charset_name, COLUMN_COMMENT AS column_comment,
       IS_GENERATED AS is_generated, GENERATION_EXPRESSION AS generation_expression
FROM information_schema.COLUMNS
WHERE TABLE_SCHEMA = :schema
ORDER BY TABLE_NAME, ORDINAL_POSITION
""")

_STATISTICS = text("""
SELECT TABLE_NAME AS table_name, INDEX_NAME AS index_name, NON_UNIQUE AS non_unique,
       COLUMN_NAME AS column_name, SUB_PART AS sub_part, INDEX_TYPE AS index_type, COLLATION AS collation
FROM information_schema.STATISTICS
WHERE TABLE_SCHEMA = :schema
ORDER BY TABLE_NAME, INDEX_NAME, SEQ_IN_INDEX
""")

_FOREIGN_KEYS = text("""
SELECT k.TABLE_NAME AS table_name, k.CONSTRAINT_NAME AS constraint_name, k.COLUMN_NAME AS column_name,
       k.REFERENCED_TABLE_SCHEMA AS referred_schema, k.REFERENCED_TABLE_NAME AS referred_table,
       k.REFERENCED_COLUMN_NAME AS referred_column, r.UPDATE_RULE AS update_rule, r.DELETE_RULE AS delete_rule
FROM information_schema.KEY_COLUMN_USAGE k
JOIN information_schema.REFERENTIAL_CONSTRAINTS r
  ON r.CONSTRAINT_SCHEMA = k.CONSTRAINT_SCHEMA AND r.CONSTRAINT_NAME = k.CONSTRAINT_NAME
 AND r.TABLE_NAME = k.TABLE_NAME
WHERE k.TABLE_SCHEMA = :schema AND k.REFERENCED_TABLE_NAME IS NOT NULL
ORDER BY k.TABLE_NAME, k.CONSTRAINT_NAME, k.ORDINAL_POSITION
""")

_CHECKS = text("""
SELECT TABLE_NAME AS table_name, CONSTRAINT_NAME AS constraint_name, CHECK_CLAUSE AS check_clause,
       LEVEL AS level
FROM information_schema.CHECK_CONSTRAINTS
WHERE CONSTRAINT_SCHEMA = :schema
ORDER BY TABLE_NAME, CONSTRAINT_NAME
""")

_COLUMN_TYPE = re.compile(r"^(?P<name>[a-z0-9_]+)(?:\((?P<args>.*)\))?(?P<flags>.*)$", re.IGNORECASE | re.DOTALL)
_QUOTED = re.compile(r"'(?:''|[^'])*'")
_INTEGERS = re.compile(r"\d+")

Bulk = dict[str, dict[str, Any]]


def read_mariadb(connection: Connection, schema: str | None, schema_name: str) -> tuple[Bulk, dict[str, set[str]]]:
    """Every kind for every table of ``schema_name``, keyed ``kind -> table -> reflected value``.

    ``schema`` is what SQLAlchemy would have been given (None for the default schema): referred schemas are
    spelled the way its reflection spells them. The second result maps a column name to the type names that
    could not be resolved, like SQLAlchemy's "Did not recognize type" warnings.
    """
    dialect = connection.dialect
    params = {"schema": schema_name}
    tables = {row.table_name: row for row in connection.execute(_TABLES, params)}
    unknown: dict[str, set[str]] = defaultdict(set)
    found: Bulk = {kind: {name: [] for name in tables} for kind in ("columns", "foreign_keys", "indexes",
                                                                    "unique_constraints", "check_constraints")}
    found["pk_constraint"] = {name: {"constrained_columns": [], "name": None} for name in tables}
    found["table_comment"] = {name: {"text": row.table_comment or None} for name, row in tables.items()}

    for row in connection.execute(_COLUMNS, params):
        if row.table_name in tables:
            column = _column(dialect, row, tables[row.table_name].table_collation, unknown)
            found["columns"][row.table_name].append(column)

    _keys(connection, params, tables, found)
    _foreign_keys(connection, params, tables, found, schema, schema_name)

    for row in connection.execute(_CHECKS, params):
        if row.table_name not in tables:
            continue
        # MariaDB adds json_valid(`col`) to every JSON column: that is the type, not a user's rule.
        if row.level == "Column" and row.check_clause == f"json_valid(`{row.constraint_name}`)":
            continue
        found["check_constraints"][row.table_name].append(
            {"name": row.constraint_name, "sqltext": row.check_clause}
        )
    return found, dict(unknown)


def _column(dialect, row, table_collation: str | None, unknown: dict[str, set[str]]) -> dict[str, Any]:
    match = _COLUMN_TYPE.match(row.column_type.strip())
    type_name = match["name"].lower() if match else row.column_type
    args = match["args"] if match else None
    flags = (match["flags"] if match else "").lower()
    type_class = dialect.ischema_names.get(type_name)
    if type_class is None:
        unknown[row.column_name].add(type_name)
        type_: sqltypes.TypeEngine = sqltypes.NullType()
    else:
        type_ = _instantiate(type_class, args, flags, row, table_collation)
    default = row.column_default
    if default == "NULL":  # MariaDB spells "no default on a nullable column" as the text NULL
        default = None
    column: dict[str, Any] = {
        "name": row.column_name,
        "type": type_,
        "nullable": row.is_nullable == "YES",
        "default": default,
        "comment": row.column_comment or None,
    }
    extra = (row.extra or "").lower()
    on_update = re.search(r"on update (.+)$", row.extra or "", re.IGNORECASE)
    if on_update and default is not None:
        # SHOW CREATE TABLE prints ON UPDATE right after the default, and SQLAlchemy keeps it there.
        column["default"] = f"{default} ON UPDATE {on_update.group(1)}"
    if "auto_increment" in extra:
        column["autoincrement"] = True
    elif isinstance(type_, sqltypes.Integer):
        column["autoincrement"] = False
    if row.is_generated == "ALWAYS" and row.generation_expression:
        column["computed"] = {"sqltext": f"({row.generation_expression})",
                              "persisted": "stored" in extra or "persistent" in extra}
        column["default"] = None
    return column


def _instantiate(type_class, args: str | None, flags: str, row, table_collation: str | None):
    from sqlalchemy.dialects.mysql import DATETIME, SET, TIME, TIMESTAMP

    if not args:
        positional: list[Any] = []
    elif args.startswith("'"):
        positional = [value[1:-1].replace("''", "'") for value in _QUOTED.findall(args)]
    else:
        positional = [int(value) for value in _INTEGERS.findall(args)]
    keywords: dict[str, Any] = {}
    if issubclass(type_class, (DATETIME, TIME, TIMESTAMP)) and positional:
        keywords["fsp"] = positional.pop(0)
    for flag in ("unsigned", "zerofill"):
        if flag in flags.split():
            keywords[flag] = True
    # SHOW CREATE TABLE names a collation only where it differs from the table's; SQLAlchemy reflects that.
    if row.collation_name and row.collation_name != table_collation:
        keywords["collation"] = row.collation_name
        if row.charset_name:
            keywords["charset"] = row.charset_name
    if issubclass(type_class, SET) and "" in positional:
        keywords["retrieve_as_bitwise"] = True
    return type_class(*positional, **keywords)


def _rows_by_object(connection: Connection, query: TextClause, params: dict, tables: dict,
                    name_column: str) -> dict[tuple[str, str], list[Row]]:
    """The query's rows on the tables being read, one list per (table, object named in ``name_column``), in the
    catalog's order: a key or index spans one row per column."""
    groups: dict[tuple[str, str], list[Row]] = {}
    for row in connection.execute(query, params):
        if row.table_name in tables:
            groups.setdefault((row.table_name, getattr(row, name_column)), []).append(row)
    return groups


def _keys(connection: Connection, params: dict, tables: dict, found: Bulk) -> None:
    for (table, name), rows in _rows_by_object(connection, _STATISTICS, params, tables, "index_name").items():
        columns = [row.column_name for row in rows]
        if name == "PRIMARY":
            found["pk_constraint"][table] = {"constrained_columns": columns, "name": None}
            continue
        index_type, unique = rows[0].index_type, int(rows[0].non_unique) == 0
        lengths = {row.column_name: int(row.sub_part) for row in rows if row.sub_part is not None}
        sorting = {row.column_name: ("desc",) for row in rows if row.collation == "D"}
        options: dict[str, Any] = {}
        if index_type in ("FULLTEXT", "SPATIAL"):
            options["mysql_prefix"] = index_type
        elif index_type == "HASH":
            options["mysql_using"] = "HASH"
        if lengths:
            options["mysql_length"] = lengths
        reflected: dict[str, Any] = {"name": name, "column_names": columns, "unique": unique}
        if options:
            reflected["dialect_options"] = options
        if sorting:
            reflected["column_sorting"] = sorting
        found["indexes"][table].append(reflected)
        if unique:
            found["unique_constraints"][table].append(
                {"name": name, "column_names": columns, "duplicates_index": name}
            )


def _foreign_keys(connection: Connection, params: dict, tables: dict, found: Bulk, schema: str | None,
                  schema_name: str) -> None:
    for (table, name), rows in _rows_by_object(connection, _FOREIGN_KEYS, params, tables,
                                               "constraint_name").items():
        first = rows[0]
        options = {}
        # SHOW CREATE TABLE leaves out RESTRICT (InnoDB's default, the same as NO ACTION); so does this.
        if first.delete_rule and first.delete_rule != "RESTRICT":
            options["ondelete"] = first.delete_rule
        if first.update_rule and first.update_rule != "RESTRICT":
            options["onupdate"] = first.update_rule
        found["foreign_keys"][table].append({
            "name": name,
            "constrained_columns": [row.column_name for row in rows],
            "referred_schema": schema if first.referred_schema == schema_name else first.referred_schema,
            "referred_table": first.referred_table,
            "referred_columns": [row.referred_column for row in rows],
            "options": options,
        })
