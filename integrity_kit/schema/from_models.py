"""Build a Snapshot from SQLAlchemy models (a ``MetaData``), so models can be audited with no database at all.

``--models myapp.models:Base`` names the declarative base (or a ``MetaData``) the way Alembic's ``env.py`` or
``flask --app`` name an object: an importable module, a colon, an attribute path.
"""

from __future__ import annotations

from sqlalchemy import MetaData
from sqlalchemy import Table as SATable
from sqlalchemy.dialects import registry
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import elements
from sqlalchemy.sql.schema import (
    CheckConstraint as SACheckConstraint,
)
from sqlalchemy.sql.schema import (
    ForeignKeyConstraint,
)
from sqlalchemy.sql.schema import (
    UniqueConstraint as SAUniqueConstraint,
)

from integrity_kit.errors import IntegrityKitError
from integrity_kit.importing import load_object
from integrity_kit.schema import coltypes
from integrity_kit.schema.snapshot import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    PrimaryKey,
    Snapshot,
    Table,
    UniqueConstraint,
)

# SQLAlchemy spells MariaDB through the MySQL dialect; DDL and types are the same for our purposes.
_DIALECT_ALIASES = {"mariadb": "mysql", "postgres": "postgresql"}


def load_metadata(spec: str) -> MetaData:
    """Import ``module:attribute`` and return its ``MetaData`` (a declarative base's, or a MetaData itself).

    Every failure is an :class:`IntegrityKitError` with one line that says what to change.
    """
    target = load_object(spec, "--models", "myapp.models:Base")
    if isinstance(target, MetaData):
        return target
    metadata = getattr(target, "metadata", None)
    if isinstance(metadata, MetaData):
        return metadata
    raise IntegrityKitError(
        f"--models {spec} is a {type(target).__name__}, not a declarative base or a MetaData"
    )


def dialect_for(name: str) -> Dialect:
    """A dialect instance for rendering DDL and types; no driver needs to be installed."""
    key = _DIALECT_ALIASES.get(name, name)
    try:
        return registry.load(key)()
    except Exception:
        raise IntegrityKitError(f"unknown dialect {name!r} (expected sqlite, postgresql, mysql or mariadb)") from None


def snapshot_from_metadata(metadata: MetaData, dialect_name: str) -> Snapshot:
    """The Snapshot the models describe, with types rendered as ``dialect_name`` would create them."""
    dialect = dialect_for(dialect_name)
    tables = tuple(
        sorted((_table(table, dialect) for table in metadata.tables.values()), key=lambda t: (t.schema or "", t.name))
    )
    schemas = tuple(sorted({table.schema for table in tables}, key=lambda s: s or ""))
    return Snapshot(dialect=dialect_name, tables=tables, default_schema=None, schemas=schemas or (None,),
                    source="models")


def _table(table: SATable, dialect: Dialect) -> Table:
    autoincrement = table.autoincrement_column
    pk = table.primary_key
    pk_columns = tuple(column.name for column in pk.columns)
    constraints = sorted(table.constraints, key=lambda c: str(c.name or ""))
    return Table(
        name=table.name,
        schema=table.schema,
        columns=tuple(_column(column, dialect, column is autoincrement) for column in table.columns),
        primary_key=PrimaryKey(pk_columns, _name(pk.name)) if pk_columns else None,
        foreign_keys=tuple(_foreign_key(c) for c in constraints if isinstance(c, ForeignKeyConstraint)),
        unique_constraints=tuple(
            UniqueConstraint(tuple(column.name for column in c.columns), _name(c.name),
                             nulls_not_distinct=bool(c.dialect_options["postgresql"].get("nulls_not_distinct")))
            for c in constraints
            if isinstance(c, SAUniqueConstraint)
        ),
        indexes=tuple(_index(index, dialect) for index in sorted(table.indexes, key=lambda i: str(i.name or ""))),
        check_constraints=tuple(
            CheckConstraint(_name(c.name), _sql(c.sqltext, dialect))
            for c in constraints
            if isinstance(c, SACheckConstraint)
        ),
        comment=table.comment,
    )


def _column(column, dialect: Dialect, autoincrement: bool) -> Column:
    computed = column.computed
    return Column(
        name=column.name,
        type=column.type,
        type_sql=coltypes.render(column.type, dialect),
        nullable=bool(column.nullable) and not column.primary_key,
        server_default=_server_default(column.server_default, dialect),
        client_default=_client_default(column.default),
        autoincrement=autoincrement or column.autoincrement is True,
        collation=getattr(column.type, "collation", None),
        comment=column.comment,
        computed=_sql(computed.sqltext, dialect) if computed is not None else None,
        identity=column.identity is not None,
    )


def _foreign_key(constraint: ForeignKeyConstraint) -> ForeignKey:
    elements_ = constraint.elements
    target = elements_[0].column.table if elements_ else None
    return ForeignKey(
        columns=tuple(element.parent.name for element in elements_),
        referred_schema=target.schema if target is not None else None,
        referred_table=target.name if target is not None else constraint.referred_table.name,
        referred_columns=tuple(element.column.name for element in elements_),
        name=_name(constraint.name),
        on_delete=(constraint.ondelete or "NO ACTION").upper(),
        on_update=(constraint.onupdate or "NO ACTION").upper(),
        deferrable=constraint.deferrable,
        initially=constraint.initially,
        match=constraint.match,
    )


def _index(index, dialect: Dialect) -> Index:
    names: list[str | None] = []
    expressions: list[str | None] = []
    for expression in index.expressions:
        column_name = getattr(expression, "name", None) if hasattr(expression, "table") else None
        if isinstance(expression, str):
            column_name = expression
        names.append(column_name)
        expressions.append(None if column_name is not None else _sql(expression, dialect))
    options = index.dialect_options
    predicate = options["postgresql"].get("where") if dialect.name == "postgresql" else None
    if predicate is None and dialect.name == "sqlite":
        predicate = options["sqlite"].get("where")
    return Index(
        name=_name(index.name),
        columns=tuple(names),
        unique=bool(index.unique),
        expressions=tuple(expressions) if any(part is not None for part in expressions) else (),
        predicate=_sql(predicate, dialect) if predicate is not None else None,
        method=options["postgresql"].get("using") if dialect.name == "postgresql" else None,
        include=tuple(str(getattr(c, "name", c)) for c in options["postgresql"].get("include") or ())
        if dialect.name == "postgresql"
        else (),
    )


def _server_default(default, dialect: Dialect) -> str | None:
    arg = getattr(default, "arg", None)
    if arg is None:
        return None
    if isinstance(arg, str):
        return "'" + arg.replace("'", "''") + "'"
    return _sql(arg, dialect)


def _client_default(default) -> str | None:
    if default is None:
        return None
    arg = getattr(default, "arg", None)
    if callable(arg):
        return getattr(arg, "__qualname__", None) or getattr(arg, "__name__", None) or "callable"
    if isinstance(arg, elements.ClauseElement):
        return str(arg)
    return repr(arg)


def _sql(clause, dialect: Dialect) -> str:
    if isinstance(clause, str):
        return clause
    try:
        return str(clause.compile(dialect=dialect, compile_kwargs={"literal_binds": True}))
    except Exception:  # an expression that needs a live bind or has no literal form
        return str(clause)


def _name(name) -> str | None:
    # Names are `conv` objects once a naming convention applied; the text is what the database will hold.
    if name is None or type(name).__name__ == "_NoneName":
        return None
    return str(name)
