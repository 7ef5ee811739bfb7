"""Names and types as evidence: how a column name may point at a table, and whether two types can join."""

from __future__ import annotations

import re
from functools import lru_cache

from sqlalchemy import types as sqltypes

from integrity_kit.schema import Column

_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


# The rules ask about the same few thousand names over and over (27,000 calls for 1,000 tables): the pure
# functions below are cached per process, and hand out immutable values (a fresh list for ``words``).
_CACHED = 1 << 16


def words(name: str) -> list[str]:
    """``manager_staff_id`` -> [manager, staff, id]; ``ArtistId`` -> [artist, id]."""
    return list(_words(name))


@lru_cache(maxsize=_CACHED)
def _words(name: str) -> tuple[str, ...]:
    return tuple(part.lower() for part in _CAMEL.sub("_", name).split("_") if part)


def singular(word: str) -> str:
    """Enough English for table names: categories -> category, addresses -> address, users -> user."""
    if word.endswith("ies") and len(word) > 4:
        return word[:-3] + "y"
    if word.endswith(("sses", "shes", "ches", "xes", "zes")):
        return word[:-2]
    if word.endswith("s") and not word.endswith("ss") and len(word) > 2:
        return word[:-1]
    return word


@lru_cache(maxsize=_CACHED)
def table_key(name: str) -> str:
    """The form a table name is matched in: lower case, no separators, singular (``OrderItems`` -> orderitem)."""
    parts = _words(name)
    if not parts:
        return name.lower()
    return "".join(parts[:-1]) + singular(parts[-1])


def family(column: Column) -> str:
    """A join-compatibility class: two columns can reference each other only within one family."""
    type_ = column.type
    if isinstance(type_, sqltypes.Boolean):
        return "boolean"
    if isinstance(type_, sqltypes.Integer):
        return "integer"
    if isinstance(type_, sqltypes.Float):
        return "float"
    if isinstance(type_, sqltypes.Numeric):
        # NUMERIC(10, 0) keys exist (Oracle-born schemas); a scale means it is a quantity, not an id.
        return "integer" if not type_.scale else "numeric"
    if isinstance(type_, sqltypes.String):
        return "string"
    if isinstance(type_, sqltypes.Uuid) or "UUID" in column.type_sql.upper():
        return "uuid"
    if isinstance(type_, sqltypes.NullType):
        return _family_from_sql(column.type_sql)
    return type(type_).__name__.lower()


def _family_from_sql(type_sql: str) -> str:
    # SQLite lets a column be declared with any type name; its affinity rules decide what it stores.
    upper = type_sql.upper()
    if "INT" in upper:
        return "integer"
    if any(word in upper for word in ("CHAR", "CLOB", "TEXT")):
        return "string"
    return "unknown"


def exact_type(column: Column) -> str:
    """The type as declared, for the 'same type' signal and the type-mismatch rule."""
    return re.sub(r"\s+", " ", column.type_sql.upper().replace("INTEGER", "INT")).strip()
