"""Column types: how a type is printed, and the engine-neutral form two types are compared in.

A model says ``Numeric(12, 2)``; PostgreSQL reflects ``NUMERIC(12, 2)``, MariaDB ``DECIMAL(12,2)``. Comparing
models with a live database (``schema-drift``) needs one neutral description that keeps what can differ in a way
that matters (a float where exact money was meant, a shorter string, a lost time zone) and drops what is only
spelling (display widths, dialect class names, a time zone the engine cannot store anyway).
"""

from __future__ import annotations

from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

# Engines whose DATETIME has no time zone to store, so a model's DateTime(timezone=True) cannot drift there.
_NO_TIMEZONE_STORAGE = {"sqlite", "mysql", "mariadb"}


def render(type_: TypeEngine, dialect: Dialect, fallback: str | None = None) -> str:
    """The type as ``dialect`` spells it in DDL; ``fallback`` (or the class name) when it cannot be compiled."""
    if isinstance(type_, sqltypes.NullType):
        return fallback or "NULL"
    try:
        return type_.compile(dialect=dialect)
    except Exception:  # a type with no DDL form on this dialect (a models snapshot for the wrong engine)
        return fallback or type(type_).__name__.upper()


def neutral(type_: TypeEngine, dialect_name: str) -> tuple:
    """A hashable description of ``type_`` that is equal for equivalent spellings on ``dialect_name``."""
    if isinstance(type_, sqltypes.NullType):
        return ("unknown",)
    mysql = dialect_name in ("mysql", "mariadb")
    # MySQL has no boolean: BOOLEAN is TINYINT(1), and reflection says so.
    if isinstance(type_, sqltypes.Boolean) or (
        mysql and type(type_).__name__ == "TINYINT" and getattr(type_, "display_width", None) == 1
    ):
        return ("boolean",)
    if isinstance(type_, sqltypes.Integer):
        return ("integer", _integer_size(type_))
    if isinstance(type_, sqltypes.Float):
        # Float subclasses Numeric, so it is tested first: binary floating point is its own family.
        return ("float",)
    if isinstance(type_, sqltypes.Numeric):
        return ("numeric", type_.precision, type_.scale)
    if isinstance(type_, sqltypes.Enum):
        return ("enum", tuple(sorted(type_.enums)))
    if isinstance(type_, (sqltypes.Text, sqltypes.UnicodeText)) or (
        isinstance(type_, sqltypes.String) and type_.length is None
    ):
        return ("text",)
    if isinstance(type_, sqltypes.String):
        return ("string", type_.length)
    if isinstance(type_, sqltypes.DateTime):
        timezone = bool(type_.timezone) and dialect_name not in _NO_TIMEZONE_STORAGE
        return ("datetime", timezone)
    if isinstance(type_, sqltypes.Date):
        return ("date",)
    if isinstance(type_, sqltypes.Time):
        timezone = bool(type_.timezone) and dialect_name not in _NO_TIMEZONE_STORAGE
        return ("time", timezone)
    if isinstance(type_, sqltypes.Interval):
        return ("interval",)
    if isinstance(type_, sqltypes.JSON):
        return ("json",)
    if isinstance(type_, sqltypes.Uuid):
        return ("uuid",)
    if isinstance(type_, (sqltypes.LargeBinary, sqltypes._Binary)):
        return ("binary", getattr(type_, "length", None))
    if isinstance(type_, sqltypes.ARRAY):
        return ("array", neutral(type_.item_type, dialect_name))
    affinity = type_._type_affinity or type(type_)
    return ("other", affinity.__name__.lower())


def _integer_size(type_: TypeEngine) -> str:
    if isinstance(type_, sqltypes.BigInteger):
        return "big"
    if isinstance(type_, sqltypes.SmallInteger):
        name = type(type_).__name__.upper()
        return "tiny" if name == "TINYINT" else "small"
    name = type(type_).__name__.upper()
    # MySQL's MEDIUMINT/TINYINT are Integer subclasses without a generic counterpart.
    return {"TINYINT": "tiny", "MEDIUMINT": "medium"}.get(name, "normal")
