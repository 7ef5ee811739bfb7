"""The change model: what a fix does, as frozen operations rendered to SQL per dialect and to Alembic code.

A finding's ``fix`` (SQL to run, and the ``op.*`` form of the same steps) and the ``--fix-migration`` revision are
both renderings of one tuple of operations, the way Alembic's ``operations/ops.py`` is rendered by
``autogenerate/render.py``. Rendering rules, so that nothing a database names becomes code:

- every name in generated Python is an argument written with ``repr()``; raw SQL inside ``op.execute`` is built
  with the dialect's identifier preparer first, and the whole statement is ``repr()``-ed;
- every identifier in SQL goes through the dialect's identifier preparer, every literal value through the
  dialect's literal rendering.

PostgreSQL gets the forms that do not block writes for long (constraints ``NOT VALID`` then ``VALIDATE``, indexes
``CONCURRENTLY``); SQLite, which cannot alter constraints, gets Alembic's batch mode (a table rebuild).
"""

from __future__ import annotations

import enum
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, ClassVar

from sqlalchemy import literal
from sqlalchemy.engine import Dialect
from sqlalchemy.sql.compiler import IdentifierPreparer

from integrity_kit.schema import Column, Index, Table
from integrity_kit.schema.coltypes import neutral
from integrity_kit.schema.from_models import dialect_for

MAX_NAME = 63  # PostgreSQL's identifier limit, the shortest of the three
MYSQL = ("mysql", "mariadb")


class Phase(enum.Enum):
    """Where a step runs in a fix migration."""

    CLEANUP = "cleanup"  # data changes: written out for a person to review, never run by the migration
    TRANSACTION = "transaction"  # inside the migration's transaction (on SQLite, in the table's batch rebuild)
    AUTOCOMMIT = "autocommit"  # PostgreSQL: outside the transaction, so builds and scans do not hold its locks


@lru_cache(maxsize=8)
def _dialect(name: str) -> Dialect:
    return dialect_for(name)


def preparer(dialect: str) -> IdentifierPreparer:
    return _dialect(dialect).identifier_preparer


def quote(dialect: str, name: str) -> str:
    """``name`` as an SQL identifier for ``dialect``: reserved words, mixed case and odd characters quoted."""
    return preparer(dialect).quote(name)


def sql_literal(dialect: str, value: object) -> str:
    """``value`` as an SQL literal for ``dialect``, by the dialect's own literal rendering (backslashes included)."""
    return str(literal(value).compile(dialect=_dialect(dialect), compile_kwargs={"literal_binds": True}))


def sql_literals(dialect: str, values: Iterable[object]) -> str:
    return ", ".join(sql_literal(dialect, value) for value in values)


_LINE_BREAKS = frozenset("\n\r\v\f\x1c\x1d\x1e\x85\u2028\u2029")


def comment_safe(text: str) -> str:
    """``text`` on one line, so a name with a line break cannot end an SQL ``--`` comment early."""
    if not _LINE_BREAKS.intersection(text):
        return text
    return "".join(repr(char)[1:-1] if char in _LINE_BREAKS else char for char in text)


def constraint_name(prefix: str, table: str, columns: Sequence[str], suffix: str = "") -> str:
    name = "_".join([prefix, table, *columns] + ([suffix] if suffix else []))
    return name[:MAX_NAME]


@dataclass(frozen=True)
class PartitionRef:
    """One partition of a partitioned table, as much as a fix needs to know about it."""

    name: str
    parent: str  # its immediate parent
    partitioned: bool = False  # a sub-partitioned level: indexes ON ONLY, no rows of its own
    # Plain indexes on the partition that no parent index has adopted: (key columns, index name). Attaching one
    # saves building it again.
    loose_indexes: tuple[tuple[tuple[str, ...], str], ...] = ()
    # Foreign keys the partition declares itself: ((columns, referred schema, table, columns), (name, validated)).
    # The parent's key adopts a validated one instead of adding its own.
    own_keys: tuple[tuple[tuple[tuple[str, ...], str | None, str, tuple[str, ...]], tuple[str, bool]], ...] = ()


@dataclass(frozen=True)
class Partitioning:
    """How a table is partitioned (PostgreSQL), which decides the form its index and foreign key fixes take."""

    partitions: tuple[PartitionRef, ...]
    declarative: bool = True  # False: inheritance children (INHERITS), which share nothing with the parent
    # The columns of the partition key; None when the key has expressions (or is not known).
    key_columns: tuple[str, ...] | None = None

    @classmethod
    def of(cls, table: Table) -> Partitioning | None:
        if not table.partitioned or not table.partition_tree:
            return None
        refs = tuple(PartitionRef(
            p.name, p.parent, p.partitioned,
            tuple((tuple(c for c in index.columns if c), index.name or "") for index in p.indexes if _loose(index)),
            tuple(((fk.columns, fk.referred_schema, fk.referred_table, fk.referred_columns),
                   (fk.name or "", fk.validated)) for fk in p.foreign_keys if fk.name))
            for p in table.partition_tree)
        declarative = all(p.declarative for p in table.partition_tree)
        return cls(refs, declarative, _key_columns(table.partition_key))


def _loose(index: Index) -> bool:
    # Only an index that matches a plain CREATE INDEX on its columns can be attached to one.
    return (index.valid and index.name is not None and index.parent_index is None and not index.unique
            and not index.has_expressions and not index.is_partial and not index.include and not index.sorting
            and not index.collations and not index.opclasses and (index.method or "btree") == "btree"
            and not index.options)


_KEY = re.compile(r"^\w+ \((?P<columns>[^()]*)\)$")


def _key_columns(key: str | None) -> tuple[str, ...] | None:
    """``RANGE (created_at, region)`` -> the column names; None for a key with expressions or quoted names."""
    match = _KEY.match(key or "")
    if match is None:
        return None
    columns = tuple(part.strip() for part in match["columns"].split(","))
    return columns if all(re.fullmatch(r"[a-z_][a-z0-9_$]*", column) for column in columns) else None


@dataclass(frozen=True)
class TableName:
    name: str
    schema: str | None = None
    # Set for a partitioned PostgreSQL table: its fixes take the partition-aware forms (left out of equality, so a
    # table is the same key with or without it).
    partitioning: Partitioning | None = field(default=None, compare=False)

    @classmethod
    def of(cls, table: Table) -> TableName:
        return cls(table.name, table.schema, Partitioning.of(table))

    def sibling(self, name: str) -> TableName:
        """Another table of the same schema (a partition), without partitioning of its own."""
        return TableName(name, self.schema)

    def object_sql(self, dialect: str, name: str) -> str:
        """An object of this table's schema (an index, on PostgreSQL), schema-qualified when not the default."""
        return f"{quote(dialect, self.schema)}.{quote(dialect, name)}" if self.schema else quote(dialect, name)

    def sql(self, dialect: str) -> str:
        name = quote(dialect, self.name)
        return f"{quote(dialect, self.schema)}.{name}" if self.schema else name


@dataclass(frozen=True)
class SaType:
    """A SQLAlchemy type as code (``sa.Numeric(12, 2)``); only built here, from a fixed vocabulary."""

    code: str

    def __repr__(self) -> str:
        return self.code


_SIMPLE_TYPES = {"date": "Date", "boolean": "Boolean", "uuid": "Uuid", "json": "JSON"}


# MySQL's MODIFY restates the whole column, so its types keep every attribute that changes what is stored.
_MYSQL_TYPES = frozenset({
    "BIGINT", "BINARY", "BIT", "BLOB", "CHAR", "DATE", "DATETIME", "DECIMAL", "DOUBLE", "FLOAT", "INTEGER",
    "LONGBLOB", "LONGTEXT", "MEDIUMBLOB", "MEDIUMINT", "MEDIUMTEXT", "NCHAR", "NUMERIC", "NVARCHAR", "REAL",
    "SMALLINT", "TEXT", "TIME", "TIMESTAMP", "TINYBLOB", "TINYINT", "TINYTEXT", "VARBINARY", "VARCHAR", "YEAR",
})
_MYSQL_ATTRIBUTES = ("length", "precision", "scale", "fsp", "unsigned", "zerofill", "charset", "collation",
                     "national", "binary")


def mysql_type(type_: Any) -> SaType | None:
    """The exact ``mysql.`` type (length, UNSIGNED, charset, collation, ...) of a reflected MySQL/MariaDB column,
    or None for a type outside the known vocabulary; every attribute value is repr()-ed."""
    name = type(type_).__name__
    if not type(type_).__module__.startswith("sqlalchemy.dialects.mysql") or name not in _MYSQL_TYPES:
        return None
    arguments = []
    for attribute in _MYSQL_ATTRIBUTES:
        value = getattr(type_, attribute, None)
        if isinstance(value, bool) and value:
            arguments.append(f"{attribute}=True")
        elif isinstance(value, (int, str)) and not isinstance(value, bool):
            arguments.append(f"{attribute}={value!r}")
    return SaType(f"mysql.{name}({', '.join(arguments)})")


def sa_type(column: Column, dialect: str) -> SaType:
    """The column's type as code: on MySQL/MariaDB the exact dialect type, elsewhere ``sa.`` code from its
    dialect-neutral description (numbers only, never a name)."""
    if dialect in ("mysql", "mariadb"):
        exact = mysql_type(column.type)
        if exact is not None:
            return exact
    kind, *details = neutral(column.type, dialect)
    if kind == "integer":
        return SaType({"big": "sa.BigInteger()", "small": "sa.SmallInteger()", "tiny": "sa.SmallInteger()"}.get(
            str(details[0]), "sa.Integer()"))
    if kind == "numeric":
        precision, scale = details[0], details[1]
        if isinstance(precision, int) and isinstance(scale, int):
            return SaType(f"sa.Numeric({precision}, {scale})")
        return SaType("sa.Numeric()")
    if kind == "float":
        return SaType("sa.Float()")
    if kind == "string":
        return SaType(f"sa.String({int(details[0])})" if isinstance(details[0], int) else "sa.String()")
    if kind == "text":
        return SaType("sa.Text()")
    if kind == "datetime":
        return SaType(f"sa.DateTime(timezone={bool(details[0])})")
    if kind in _SIMPLE_TYPES:
        return SaType(f"sa.{_SIMPLE_TYPES[kind]}()")
    return SaType("sa.types.NullType()")


MONEY = SaType("sa.Numeric(12, 2)")


@dataclass(frozen=True)
class Call:
    """One Alembic call, ``op.<function>(...)`` (or ``batch.<function>`` inside a batch): every argument repr()-ed."""

    function: str
    args: tuple[Any, ...] = ()
    kwargs: tuple[tuple[str, Any], ...] = ()

    def render(self, receiver: str = "op") -> str:
        parts = [_code(value) for value in self.args]
        parts += [f"{key}={_code(value)}" for key, value in self.kwargs]
        return f"{receiver}.{self.function}({', '.join(parts)})"


def _code(value: Any) -> str:
    if isinstance(value, tuple):
        return "[" + ", ".join(_code(item) for item in value) + "]"
    if value is None or isinstance(value, (str, int, float, bool, SaType)):
        return repr(value)
    raise TypeError(f"no code for {type(value).__name__}")


def _kwargs(*pairs: tuple[str, Any], **named: Any) -> tuple[tuple[str, Any], ...]:
    """Keyword arguments in order, leaving out ``schema=None`` and friends."""
    return tuple((key, value) for key, value in (*pairs, *named.items()) if value is not None)


@dataclass(frozen=True)
class Step:
    """One Alembic step of an operation: the call, where it runs, and the call that undoes it in downgrade()."""

    phase: Phase
    call: Call | None = None
    undo: Call | None = None
    batch: TableName | None = None  # SQLite: the call goes inside this table's batch_alter_table
    comment: str | None = None  # a line for the reader, written before the call


class Operation:
    """A change to a table; subclasses render it to SQL (``sql``) and to Alembic steps (``steps``)."""

    table: TableName

    def sql(self, dialect: str) -> list[str]:
        raise NotImplementedError

    def steps(self, dialect: str) -> list[Step]:
        raise NotImplementedError

    @property
    def index(self) -> tuple[str, ...] | None:
        """The columns of the index this operation builds, if any (a fix migration builds each index once)."""
        return None

    @property
    def is_unique_index(self) -> bool:
        return False

    @property
    def is_cleanup(self) -> bool:
        return False


def _columns(dialect: str, columns: Iterable[str]) -> str:
    return ", ".join(quote(dialect, column) for column in columns)


def _execute(statement: str) -> Call:
    """Raw SQL for ``op.execute``: built with the preparer, passed as one repr()-ed string."""
    return Call("execute", (statement.rstrip(";"),))


def _validate_sql(dialect: str, table: TableName, name: str) -> str:
    return f"ALTER TABLE {table.sql(dialect)} VALIDATE CONSTRAINT {quote(dialect, name)}"


def _validate(dialect: str, table: TableName, name: str) -> Step:
    return Step(Phase.AUTOCOMMIT, _execute(_validate_sql(dialect, table, name)))


def _add_constraint_sql(dialect: str, table: TableName, name: str, definition: str) -> list[str]:
    """``ADD CONSTRAINT``; on PostgreSQL ``NOT VALID`` then ``VALIDATE``, so existing rows are checked without
    blocking writes."""
    add = f"ALTER TABLE {table.sql(dialect)} ADD CONSTRAINT {quote(dialect, name)} {definition}"
    if dialect == "postgresql":
        return [f"{add} NOT VALID;", f"{_validate_sql(dialect, table, name)};"]
    return [f"{add};"]


def _add_constraint_steps(dialect: str, table: TableName, name: str, create: Call, type_: str) -> list[Step]:
    """The Alembic side of :func:`_add_constraint_sql`: ``create`` (NOT VALID on PostgreSQL) then ``VALIDATE``."""
    undo = Call("drop_constraint", (name, table.name), _kwargs(type_=type_, schema=table.schema))
    steps = [Step(Phase.TRANSACTION, create, undo)]
    if dialect == "postgresql":
        steps.append(_validate(dialect, table, name))
    return steps


@dataclass(frozen=True)
class _IndexOnColumns(Operation):
    """An operation that builds an index on ``columns``, named ``<name_prefix>_<table>_<columns>``."""

    table: TableName
    columns: tuple[str, ...]
    name_prefix: ClassVar[str]

    @property
    def name(self) -> str:
        return constraint_name(self.name_prefix, self.table.name, self.columns)

    @property
    def index(self) -> tuple[str, ...]:
        return self.columns


def _fk_definition(dialect: str, columns: tuple[str, ...], target: TableName, target_columns: tuple[str, ...]) -> str:
    return (f"FOREIGN KEY ({_columns(dialect, columns)}) REFERENCES {target.sql(dialect)} "
            f"({_columns(dialect, target_columns)})")


def _sql_of(operations: Iterable[Operation], dialect: str) -> list[str]:
    return [line for operation in operations for line in operation.sql(dialect)]


def _steps_of(operations: Iterable[Operation], dialect: str) -> list[Step]:
    return [step for operation in operations for step in operation.steps(dialect)]


def _partitioned(table: TableName, dialect: str) -> Partitioning | None:
    """The table's partitioning when its fixes must take the partition-aware forms (PostgreSQL only)."""
    return table.partitioning if dialect == "postgresql" else None


@dataclass(frozen=True)
class CreateIndex(_IndexOnColumns):
    name_prefix = "ix"

    def _sequence(self, dialect: str) -> tuple[Operation, ...] | None:
        if _partitioned(self.table, dialect) is None:
            return None
        # Imported here: the sequences are built from this module's operations.

        return index_sequence(self.table, self.name, self.columns)

    def sql(self, dialect: str) -> list[str]:
        sequence = self._sequence(dialect)
        if sequence is not None:
            return _sql_of(sequence, dialect)
        how = "CREATE INDEX CONCURRENTLY" if dialect == "postgresql" else "CREATE INDEX"
        return [f"{how} {quote(dialect, self.name)} ON {self.table.sql(dialect)} ({_columns(dialect, self.columns)});"]

    def steps(self, dialect: str) -> list[Step]:
        sequence = self._sequence(dialect)
        if sequence is not None:
            return _steps_of(sequence, dialect)
        drop = Call("drop_index", (self.name,), _kwargs(table_name=self.table.name, schema=self.table.schema))
        if dialect == "postgresql":
            return [Step(Phase.AUTOCOMMIT, Call("create_index", (self.name, self.table.name, self.columns), _kwargs(
                schema=self.table.schema, postgresql_concurrently=True)), drop)]
        return [Step(Phase.TRANSACTION, Call("create_index", (self.name, self.table.name, self.columns),
                                             _kwargs(schema=self.table.schema)), drop)]


@dataclass(frozen=True)
class AddForeignKey(Operation):
    table: TableName
    columns: tuple[str, ...]
    target: TableName
    target_columns: tuple[str, ...]

    @property
    def name(self) -> str:
        return constraint_name("fk", self.table.name, self.columns, self.target.name)

    def _sequence(self, dialect: str) -> tuple[Operation, ...] | None:
        if _partitioned(self.table, dialect) is None:
            return None

        return foreign_key_sequence(self.table, self.columns, self.target, self.target_columns, self.name)

    def definition(self, dialect: str) -> str:
        return _fk_definition(dialect, self.columns, self.target, self.target_columns)

    def sql(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            return [f"-- SQLite cannot add a foreign key to an existing table: rebuild {self.table.name} with it "
                    "(Alembic batch mode, with PRAGMA foreign_keys=OFF around the rebuild)"]
        sequence = self._sequence(dialect)
        if sequence is not None:
            return _sql_of(sequence, dialect)
        return _add_constraint_sql(dialect, self.table, self.name, self.definition(dialect))

    def steps(self, dialect: str) -> list[Step]:
        if dialect == "sqlite":
            return [Step(Phase.TRANSACTION, Call("create_foreign_key", (
                self.name, self.target.name, self.columns, self.target_columns),
                _kwargs(referent_schema=self.target.schema)),
                Call("drop_constraint", (self.name,), _kwargs(type_="foreignkey")), batch=self.table)]
        sequence = self._sequence(dialect)
        if sequence is not None:
            return _steps_of(sequence, dialect)
        create = Call("create_foreign_key", (self.name, self.table.name, self.target.name, self.columns,
                                             self.target_columns),
                      _kwargs(source_schema=self.table.schema, referent_schema=self.target.schema,
                              postgresql_not_valid=True if dialect == "postgresql" else None))
        return _add_constraint_steps(dialect, self.table, self.name, create, "foreignkey")


@dataclass(frozen=True)
class CreateIndexOnOnly(Operation):
    """``CREATE INDEX ... ON ONLY`` a partitioned table: instant, and invalid until an index of every partition is
    attached to it (PostgreSQL cannot build an index on a partitioned table concurrently)."""

    table: TableName
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    undo: bool = True  # False for a sub-partitioned level: dropping the top index drops it too

    def sql(self, dialect: str) -> list[str]:
        unique = "UNIQUE " if self.unique else ""
        return [f"CREATE {unique}INDEX {quote(dialect, self.name)} ON ONLY {self.table.sql(dialect)} "
                f"({_columns(dialect, self.columns)});"]

    def steps(self, dialect: str) -> list[Step]:
        undo = Call("drop_index", (self.name,), _kwargs(table_name=self.table.name, schema=self.table.schema)) \
            if self.undo else None
        return [Step(Phase.TRANSACTION, _execute(self.sql(dialect)[0]), undo)]


@dataclass(frozen=True)
class CreateIndexConcurrently(Operation):
    """One partition's index, built without blocking writes, outside any transaction."""

    table: TableName
    name: str
    columns: tuple[str, ...]
    unique: bool = False
    undo: bool = False  # an index attached to its parent's is dropped with it

    def sql(self, dialect: str) -> list[str]:
        unique = "UNIQUE " if self.unique else ""
        return [f"CREATE {unique}INDEX CONCURRENTLY {quote(dialect, self.name)} ON {self.table.sql(dialect)} "
                f"({_columns(dialect, self.columns)});"]

    def steps(self, dialect: str) -> list[Step]:
        schema = self.table.schema
        undo = Call("drop_index", (self.name,), _kwargs(table_name=self.table.name, schema=schema)) \
            if self.undo else None
        return [Step(Phase.AUTOCOMMIT, Call("create_index", (self.name, self.table.name, self.columns), _kwargs(
            unique=True if self.unique else None, schema=schema, postgresql_concurrently=True)), undo)]


@dataclass(frozen=True)
class AttachIndex(Operation):
    """``ALTER INDEX parent ATTACH PARTITION child``: the parent index is valid once every partition's is attached."""

    table: TableName  # the partitioned table the parent index belongs to (for its schema)
    parent_index: str
    partition_index: str

    def sql(self, dialect: str) -> list[str]:
        return [f"ALTER INDEX {self.table.object_sql(dialect, self.parent_index)} ATTACH PARTITION "
                f"{self.table.object_sql(dialect, self.partition_index)};"]

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.AUTOCOMMIT, _execute(self.sql(dialect)[0]))]


@dataclass(frozen=True)
class AddPartitionForeignKey(Operation):
    """One partition's foreign key, ``NOT VALID`` then ``VALIDATE``: the parent's key, added afterwards, adopts it
    without checking the rows again."""

    table: TableName
    name: str
    columns: tuple[str, ...]
    target: TableName
    target_columns: tuple[str, ...]

    def sql(self, dialect: str) -> list[str]:
        return _add_constraint_sql(dialect, self.table, self.name,
                                   _fk_definition(dialect, self.columns, self.target, self.target_columns))

    def steps(self, dialect: str) -> list[Step]:
        create = Call("create_foreign_key", (self.name, self.table.name, self.target.name, self.columns,
                                             self.target_columns),
                      _kwargs(source_schema=self.table.schema, referent_schema=self.target.schema,
                              postgresql_not_valid=True))
        # The parent's key, once dropped, takes the adopted ones with it.
        undo = _execute(f"ALTER TABLE {self.table.sql(dialect)} DROP CONSTRAINT IF EXISTS "
                        f"{quote(dialect, self.name)}")
        return [Step(Phase.TRANSACTION, create, undo), _validate(dialect, self.table, self.name)]


@dataclass(frozen=True)
class AddParentForeignKey(Operation):
    """A partitioned table's foreign key, added once every partition has its validated copy: PostgreSQL refuses
    ``NOT VALID`` here, and adopting the partitions' keys spares the scan."""

    table: TableName
    name: str
    columns: tuple[str, ...]
    target: TableName
    target_columns: tuple[str, ...]

    def sql(self, dialect: str) -> list[str]:
        return [f"ALTER TABLE {self.table.sql(dialect)} ADD CONSTRAINT {quote(dialect, self.name)} "
                f"{_fk_definition(dialect, self.columns, self.target, self.target_columns)};"]

    def steps(self, dialect: str) -> list[Step]:
        create = Call("create_foreign_key", (self.name, self.table.name, self.target.name, self.columns,
                                             self.target_columns),
                      _kwargs(source_schema=self.table.schema, referent_schema=self.target.schema))
        undo = Call("drop_constraint", (self.name, self.table.name),
                    _kwargs(type_="foreignkey", schema=self.table.schema))
        # After the partitions' VALIDATE steps, which run outside the transaction too.
        return [Step(Phase.AUTOCOMMIT, create, undo)]


@dataclass(frozen=True)
class NotPossible(Operation):
    """A change the engine refuses on this table: said in a comment, so nothing that would fail is run."""

    table: TableName
    reason: str

    def sql(self, dialect: str) -> list[str]:
        return [f"-- not possible as an automatic fix: {self.reason}"]

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.TRANSACTION, comment=f"not possible as an automatic fix: {self.reason}")]


@dataclass(frozen=True)
class AddUnique(_IndexOnColumns):
    name_prefix = "uq"

    @property
    def is_unique_index(self) -> bool:
        return True

    def _sequence(self, dialect: str) -> tuple[Operation, ...] | None:
        if _partitioned(self.table, dialect) is None:
            return None

        return unique_sequence(self.table, self.name, self.columns)

    def sql(self, dialect: str) -> list[str]:
        sequence = self._sequence(dialect)
        if sequence is not None:
            return _sql_of(sequence, dialect)
        t, name, cols = self.table.sql(dialect), quote(dialect, self.name), _columns(dialect, self.columns)
        if dialect == "postgresql":
            return [f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {t} ({cols});",
                    f"ALTER TABLE {t} ADD CONSTRAINT {name} UNIQUE USING INDEX {name};"]
        if dialect == "sqlite":
            return [f"CREATE UNIQUE INDEX {name} ON {t} ({cols});"]
        return [f"ALTER TABLE {t} ADD CONSTRAINT {name} UNIQUE ({cols});"]

    def steps(self, dialect: str) -> list[Step]:
        sequence = self._sequence(dialect)
        if sequence is not None:
            return _steps_of(sequence, dialect)
        schema = self.table.schema
        drop_constraint = Call("drop_constraint", (self.name, self.table.name), _kwargs(type_="unique", schema=schema))
        if dialect == "postgresql":
            return [Step(Phase.AUTOCOMMIT, Call("create_index", (self.name, self.table.name, self.columns), _kwargs(
                        unique=True, schema=schema, postgresql_concurrently=True))),
                    Step(Phase.AUTOCOMMIT, _execute(self.sql(dialect)[1]), drop_constraint)]
        if dialect in MYSQL:
            return [Step(Phase.TRANSACTION, Call("create_unique_constraint", (self.name, self.table.name, self.columns),
                                                 _kwargs(schema=schema)), drop_constraint)]
        return [Step(Phase.TRANSACTION, Call("create_index", (self.name, self.table.name, self.columns),
                                             _kwargs(unique=True, schema=schema)),
                     Call("drop_index", (self.name,), _kwargs(table_name=self.table.name, schema=schema)))]


@dataclass(frozen=True)
class AddCheck(Operation):
    table: TableName
    name_hint: str
    condition: str  # SQL, its identifiers quoted and its literals rendered for the dialect by whoever built it

    @property
    def name(self) -> str:
        return constraint_name("ck", self.table.name, [self.name_hint])

    def sql(self, dialect: str) -> list[str]:
        if dialect == "sqlite":
            return [f"-- SQLite cannot add a CHECK to an existing table: rebuild {self.table.name} with "
                    f"CHECK ({self.condition}) (Alembic batch mode)"]
        return _add_constraint_sql(dialect, self.table, self.name, f"CHECK ({self.condition})")

    def steps(self, dialect: str) -> list[Step]:
        if dialect == "sqlite":
            return [Step(Phase.TRANSACTION, Call("create_check_constraint", (self.name, self.condition)),
                         Call("drop_constraint", (self.name,), _kwargs(type_="check")), batch=self.table)]
        create = Call("create_check_constraint", (self.name, self.table.name, self.condition), _kwargs(
            schema=self.table.schema, postgresql_not_valid=True if dialect == "postgresql" else None))
        return _add_constraint_steps(dialect, self.table, self.name, create, "check")


@dataclass(frozen=True)
class KeptAttributes:
    """What MySQL's MODIFY drops unless it is restated: the column's server default and comment."""

    server_default: str | None = None  # SQL text as the database reports it
    comment: str | None = None

    @classmethod
    def of(cls, column: Column, dialect: str) -> KeptAttributes:
        if dialect not in ("mysql", "mariadb"):
            return cls()
        return cls(column.server_default, column.comment)

    def sql(self, dialect: str) -> str:
        text = f" DEFAULT {self.server_default}" if self.server_default is not None else ""
        if self.comment is not None:
            text += f" COMMENT {sql_literal(dialect, self.comment)}"
        return text

    def alembic(self) -> tuple[tuple[str, Any], ...]:
        default = SaType(f"sa.text({self.server_default!r})") if self.server_default is not None else None
        return _kwargs(existing_server_default=default, existing_comment=self.comment)


@dataclass(frozen=True)
class SetNotNull(Operation):
    table: TableName
    column: str
    type_sql: str  # the column's type as the database reports it (MySQL's MODIFY restates it)
    existing_type: SaType
    kept: KeptAttributes = field(default_factory=lambda: KeptAttributes())

    def _helper(self) -> str:
        return constraint_name("ck", self.table.name, [self.column, "not_null"])

    def sql(self, dialect: str) -> list[str]:
        t, c = self.table.sql(dialect), quote(dialect, self.column)
        if dialect == "postgresql":
            helper = quote(dialect, self._helper())
            return [f"ALTER TABLE {t} ADD CONSTRAINT {helper} CHECK ({c} IS NOT NULL) NOT VALID;",
                    f"ALTER TABLE {t} VALIDATE CONSTRAINT {helper};",
                    f"ALTER TABLE {t} ALTER COLUMN {c} SET NOT NULL;",
                    f"ALTER TABLE {t} DROP CONSTRAINT {helper};"]
        if dialect == "sqlite":
            return [f"-- SQLite cannot change a column's nullability: rebuild {self.table.name} (Alembic batch mode)"]
        return [f"ALTER TABLE {t} MODIFY {c} {self.type_sql} NOT NULL{self.kept.sql(dialect)};"]

    def _alter(self, nullable: bool, schema: bool = True) -> Call:
        args = (self.table.name, self.column) if schema else (self.column,)
        return Call("alter_column", args, _kwargs(("existing_type", self.existing_type), ("nullable", nullable),
                                                  *self.kept.alembic(),
                                                  schema=self.table.schema if schema else None))

    def steps(self, dialect: str) -> list[Step]:
        if dialect == "sqlite":
            return [Step(Phase.TRANSACTION, self._alter(False, schema=False), self._alter(True, schema=False),
                         batch=self.table)]
        if dialect != "postgresql":
            return [Step(Phase.TRANSACTION, self._alter(False), self._alter(True))]
        # A validated IS NOT NULL check lets SET NOT NULL skip its own full scan under an exclusive lock.
        helper, schema = self._helper(), self.table.schema
        condition = f"{quote(dialect, self.column)} IS NOT NULL"
        return [Step(Phase.TRANSACTION, Call("create_check_constraint", (helper, self.table.name, condition),
                                             _kwargs(schema=schema, postgresql_not_valid=True))),
                _validate(dialect, self.table, helper),
                Step(Phase.AUTOCOMMIT, self._alter(False), self._alter(True)),
                Step(Phase.AUTOCOMMIT, Call("drop_constraint", (helper, self.table.name),
                                            _kwargs(type_="check", schema=schema)))]


@dataclass(frozen=True)
class ChangeType(Operation):
    table: TableName
    column: str
    new_sql: str  # the new type in the dialect's SQL (a fixed vocabulary: NUMERIC(12, 2), BIGINT, ...)
    new_type: SaType
    existing_type: SaType
    nullable: bool
    kept: KeptAttributes = field(default_factory=lambda: KeptAttributes())

    def sql(self, dialect: str) -> list[str]:
        t, c = self.table.sql(dialect), quote(dialect, self.column)
        if dialect == "postgresql":
            return ["-- rewrites the table under an exclusive lock; on a big table add a new column, backfill, switch",
                    f"ALTER TABLE {t} ALTER COLUMN {c} TYPE {self.new_sql};"]
        if dialect == "sqlite":
            return [f"-- SQLite cannot change a column's type: rebuild {self.table.name} (Alembic batch mode)"]
        return [f"ALTER TABLE {t} MODIFY {c} {self.new_sql}{'' if self.nullable else ' NOT NULL'}"
                f"{self.kept.sql(dialect)};"]

    def steps(self, dialect: str) -> list[Step]:
        existing = _kwargs(("existing_type", self.existing_type), ("existing_nullable", self.nullable),
                           *self.kept.alembic())
        if dialect == "sqlite":
            return [Step(Phase.TRANSACTION, Call("alter_column", (self.column,), (*existing, ("type_", self.new_type))),
                         Call("alter_column", (self.column,), _kwargs(type_=self.existing_type)), batch=self.table)]
        schema = _kwargs(schema=self.table.schema)
        return [Step(Phase.TRANSACTION, Call("alter_column", (self.table.name, self.column),
                                             (*existing, ("type_", self.new_type), *schema)),
                     Call("alter_column", (self.table.name, self.column), (("type_", self.existing_type), *schema)),
                     comment="rewrites the table under an exclusive lock: on a big table add a "
                             f"{'NUMERIC' if self.new_type == MONEY else 'new'} column, backfill it in batches, "
                             "switch, drop the old one")]


@dataclass(frozen=True)
class DropIndex(Operation):
    table: TableName
    name: str
    columns: tuple[str, ...] | None  # None when the index has expressions (downgrade cannot rebuild it)
    unique: bool = False

    def _partitioned(self, dialect: str) -> bool:
        partitioning = _partitioned(self.table, dialect)
        return partitioning is not None and partitioning.declarative

    def sql(self, dialect: str) -> list[str]:
        name = quote(dialect, self.name)
        if self._partitioned(dialect):
            return ["-- PostgreSQL cannot drop a partitioned index concurrently: this locks the table and its "
                    "partitions briefly", f"DROP INDEX {self.table.object_sql(dialect, self.name)};"]
        if dialect == "postgresql":  # an index lives in its table's schema
            qualified = f"{quote(dialect, self.table.schema)}.{name}" if self.table.schema else name
            return [f"DROP INDEX CONCURRENTLY {qualified};"]
        if dialect in MYSQL:
            return [f"DROP INDEX {name} ON {self.table.sql(dialect)};"]
        qualified = f"{quote(dialect, self.table.schema)}.{name}" if self.table.schema else name
        return [f"DROP INDEX {qualified};"]

    def steps(self, dialect: str) -> list[Step]:
        undo = None
        if self.columns is not None:
            undo = Call("create_index", (self.name, self.table.name, self.columns),
                        _kwargs(unique=self.unique, schema=self.table.schema))
        kwargs = _kwargs(table_name=self.table.name, schema=self.table.schema)
        if self._partitioned(dialect):
            return [Step(Phase.TRANSACTION, Call("drop_index", (self.name,), kwargs), undo,
                         comment="a partitioned index cannot be dropped concurrently")]
        if dialect == "postgresql":
            concurrently = (*kwargs, ("postgresql_concurrently", True))
            return [Step(Phase.AUTOCOMMIT, Call("drop_index", (self.name,), concurrently), undo)]
        return [Step(Phase.TRANSACTION, Call("drop_index", (self.name,), kwargs), undo)]


@dataclass(frozen=True)
class AddPrimaryKey(Operation):
    table: TableName
    column: str

    @classmethod
    def surrogate(cls, table: Table) -> AddPrimaryKey:
        """An ``id`` key (``<table>_id`` when the table has an ``id`` column already)."""
        return cls(TableName.of(table), "id" if not table.has_column("id") else f"{table.name}_id")

    def _impossible(self, dialect: str) -> NotPossible | None:
        if _partitioned(self.table, dialect) is None:
            return None
        return NotPossible(self.table, f"{self.table.name} is partitioned: an identity column cannot be added to it "
                                       "(PostgreSQL refuses one on a table with partitions before version 17) and "
                                       "its primary key must include the partition key; declare one by hand")

    def sql(self, dialect: str) -> list[str]:
        impossible = self._impossible(dialect)
        if impossible is not None:
            return impossible.sql(dialect)
        t, c = self.table.sql(dialect), quote(dialect, self.column)
        if dialect == "postgresql":
            return [f"ALTER TABLE {t} ADD COLUMN {c} BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY;"]
        if dialect in MYSQL:
            return [f"ALTER TABLE {t} ADD COLUMN {c} BIGINT NOT NULL AUTO_INCREMENT PRIMARY KEY FIRST;"]
        return [f"-- SQLite cannot add a primary key to an existing table: rebuild {self.table.name} with "
                f"{self.column} INTEGER PRIMARY KEY (Alembic batch mode)"]

    def steps(self, dialect: str) -> list[Step]:
        if dialect == "sqlite":
            column = f"sa.Column({self.column!r}, sa.Integer(), primary_key=True)"
            return [Step(Phase.TRANSACTION, Call("add_column", (SaType(column),)),
                         Call("drop_column", (self.column,)), batch=self.table)]
        impossible = self._impossible(dialect)
        if impossible is not None:
            return impossible.steps(dialect)
        # Alembic's add_column cannot declare a primary key: the statement goes through as written.
        return [Step(Phase.TRANSACTION, _execute(self.sql(dialect)[0]),
                     Call("drop_column", (self.table.name, self.column), _kwargs(schema=self.table.schema)))]


@dataclass(frozen=True)
class DropDefault(Operation):
    table: TableName
    column: str

    def sql(self, dialect: str) -> list[str]:
        return [f"ALTER TABLE {self.table.sql(dialect)} ALTER COLUMN {quote(dialect, self.column)} DROP DEFAULT;"]

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.TRANSACTION, Call("alter_column", (self.table.name, self.column),
                                             (("server_default", None), *_kwargs(schema=self.table.schema))))]


@dataclass(frozen=True)
class ConvertToInnoDB(Operation):
    table: TableName

    def sql(self, dialect: str) -> list[str]:
        return [f"ALTER TABLE {self.table.sql(dialect)} ENGINE = InnoDB;"]

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.TRANSACTION, _execute(self.sql(dialect)[0]))]


@dataclass(frozen=True)
class ValidateConstraint(Operation):
    table: TableName
    name: str

    def sql(self, dialect: str) -> list[str]:
        return [f"{_validate_sql(dialect, self.table, self.name)};"]

    def steps(self, dialect: str) -> list[Step]:
        return [_validate(dialect, self.table, self.name)]


@dataclass(frozen=True)
class ForeignKeysPragma(Operation):
    """SQLite enforces foreign keys per connection: the fix is application code, not a migration."""

    table: TableName

    def sql(self, dialect: str) -> list[str]:
        return ["PRAGMA foreign_keys = ON;  -- on every connection"]

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.CLEANUP, comment='@event.listens_for(engine, "connect")\ndef _fk_on(dbapi, _):\n'
                                            '    dbapi.execute("PRAGMA foreign_keys = ON")')]


@dataclass(frozen=True)
class _DataChange(Operation):
    """A statement that changes rows: a decision for a person, never run as a side effect of a migration."""

    @property
    def is_cleanup(self) -> bool:
        return True

    def statement(self, dialect: str) -> str:
        raise NotImplementedError

    def note(self) -> str:
        return "review first"

    def sql(self, dialect: str) -> list[str]:
        return [f"-- {self.note()}", self.statement(dialect)]

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.CLEANUP, _execute(self.statement(dialect)), comment="review first")]


@dataclass(frozen=True)
class DeleteOrphans(_DataChange):
    table: TableName
    columns: tuple[str, ...]
    parent: TableName
    parent_columns: tuple[str, ...]

    def note(self) -> str:
        return "review first: these rows are deleted, not repaired"

    def statement(self, dialect: str) -> str:
        t, p = self.table.sql(dialect), self.parent.sql(dialect)
        match = " AND ".join(f"{p}.{quote(dialect, b)} = {t}.{quote(dialect, a)}"
                             for a, b in zip(self.columns, self.parent_columns, strict=True))
        present = " AND ".join(f"{t}.{quote(dialect, a)} IS NOT NULL" for a in self.columns)
        return f"DELETE FROM {t} WHERE {present} AND NOT EXISTS (SELECT 1 FROM {p} WHERE {match});"


@dataclass(frozen=True)
class DeleteDuplicates(_DataChange):
    table: TableName
    columns: tuple[str, ...]
    keep_by: str

    def note(self) -> str:
        return "review first: keeps the oldest row of each group; merge quantities by hand if they matter"

    def statement(self, dialect: str) -> str:
        t, k = self.table.sql(dialect), quote(dialect, self.keep_by)
        same = " AND ".join(f"newer.{quote(dialect, c)} = older.{quote(dialect, c)}" for c in self.columns)
        if dialect in MYSQL:
            return f"DELETE newer FROM {t} AS newer JOIN {t} AS older ON {same} AND newer.{k} > older.{k};"
        if dialect == "postgresql":
            return (f"DELETE FROM {t} AS newer WHERE EXISTS (SELECT 1 FROM {t} AS older WHERE {same} "
                    f"AND newer.{k} > older.{k});")
        same = " AND ".join(f"{t}.{quote(dialect, c)} = older.{quote(dialect, c)}" for c in self.columns)
        return f"DELETE FROM {t} WHERE EXISTS (SELECT 1 FROM {t} AS older WHERE {same} AND {t}.{k} > older.{k});"


@dataclass(frozen=True)
class RecomputeTotals(_DataChange):
    """``parent.total = SUM(child.quantity * child.price)`` where they differ by more than the tolerance."""

    table: TableName
    key: str
    total: str
    child: TableName
    reference: str
    quantity: str
    price: str
    tolerance: float
    relative: float

    def note(self) -> str:
        return "review first: this trusts the lines over the stored totals (see the evidence for both sums)"

    def statement(self, dialect: str) -> str:
        def q(name: str) -> str:
            return quote(dialect, name)

        lines = (f"(SELECT COALESCE(SUM(i.{q(self.quantity)} * i.{q(self.price)}), 0) FROM "
                 f"{self.child.sql(dialect)} AS i WHERE i.{q(self.reference)} = p.{q(self.key)})")
        allowed = f"{self.tolerance!r}" + (f" + ABS(p.{q(self.total)}) * {self.relative!r}" if self.relative else "")
        return (f"UPDATE {self.table.sql(dialect)} AS p SET {q(self.total)} = {lines} "
                f"WHERE ABS(p.{q(self.total)} - {lines}) > {allowed};")

    def steps(self, dialect: str) -> list[Step]:
        return [Step(Phase.CLEANUP, _execute(self.statement(dialect)),
                     comment="review first, in a data migration of its own")]


@dataclass(frozen=True)
class ReviewRows(Operation):
    """A data clean-up no statement can decide (backfill NULLs, correct rows breaking a check): a note, and with
    ``condition`` the query that lists the rows."""

    table: TableName
    what: str
    condition: str | None = None  # SQL the rows to correct break

    @property
    def is_cleanup(self) -> bool:
        return True

    def sql(self, dialect: str) -> list[str]:
        if self.condition is not None:
            return [f"-- {self.what}, e.g.", f"SELECT * FROM {self.table.sql(dialect)} WHERE NOT ({self.condition});"]
        return [f"-- first {self.what} in {self.table.sql(dialect)}"]

    def steps(self, dialect: str) -> list[Step]:
        if self.condition is not None:
            return [Step(Phase.CLEANUP, comment=f"{self.what} in {self.table.name!r}: the rows breaking "
                                                f"{self.condition!r} (a revision of its own)")]
        return [Step(Phase.CLEANUP, comment=f"first {self.what} in {self.table.name!r} (its own revision)")]


@dataclass(frozen=True)
class Changes:
    """The operations of one fix, for one dialect: rendered to the finding's ``Fix`` and planned into migrations."""

    dialect: str
    operations: tuple[Operation, ...] = field(default=())

    def then(self, *operations: Operation) -> Changes:
        return Changes(self.dialect, (*self.operations, *operations))

    def first(self, *operations: Operation) -> Changes:
        return Changes(self.dialect, (*operations, *self.operations))

    def sql(self) -> str:
        lines = (line for operation in self.operations for line in operation.sql(self.dialect))
        return "\n".join(comment_safe(line) if line.startswith("--") else line for line in lines)

    def alembic(self) -> str:
        return render_steps([step for operation in self.operations for step in operation.steps(self.dialect)])


def render_steps(steps: Sequence[Step]) -> str:
    """Steps as a block of Alembic code, in order: batch steps in their table's batch, autocommit steps in an
    autocommit block, data clean-ups with their note."""
    lines: list[str] = []
    block: tuple[str, object] | None = None
    for step in steps:
        if step.batch is not None:
            wanted: tuple[str, object] | None = ("batch", step.batch)
        elif step.phase is Phase.AUTOCOMMIT:
            wanted = ("autocommit", None)
        else:
            wanted = None
        if wanted != block:
            if wanted is not None and step.batch is not None:
                lines.append(f"with {batch_call(step.batch)} as batch:")
            elif wanted is not None:
                lines.append("with op.get_context().autocommit_block():")
            block = wanted
        indent = "    " if block is not None else ""
        receiver = "batch" if step.batch is not None else "op"
        if step.call is None:
            lines += comment_lines(step.comment or "", indent)
        elif step.phase is Phase.CLEANUP:
            lines.append(f"{indent}{step.call.render(receiver)}  # {step.comment or 'review first'}")
        else:
            if step.comment:
                lines += comment_lines(step.comment, indent)
            lines.append(f"{indent}{step.call.render(receiver)}")
    return "\n".join(lines)


def comment_lines(text: str, indent: str = "") -> list[str]:
    """A Python comment for every line of ``text`` (generated comments never hold user text with line breaks)."""
    return [f"{indent}# {line}".rstrip() for line in text.splitlines()]


def batch_call(table: TableName, **extra: Any) -> str:
    return Call("batch_alter_table", (table.name,), _kwargs(schema=table.schema, **extra)).render()


# -- Partitioned tables ---------------------------------------------------------------------------------------
# The forms a fix takes on a partitioned PostgreSQL table, as sequences of the change model's operations.
#
# PostgreSQL refuses the usual safe forms on a partitioned table: ``CREATE INDEX CONCURRENTLY`` ("cannot create
# index on partitioned table concurrently") and ``ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID`` ("cannot add NOT
# VALID foreign key on partitioned table"; foreign keys from partitioned tables exist since PostgreSQL 11, to them
# since 12). The sequences here reach the same end without a long lock:
#
# - an index: ``CREATE INDEX ... ON ONLY`` the parent (instant, invalid), then for each partition ``CREATE INDEX
#   CONCURRENTLY`` (or an index it already has) and ``ALTER INDEX ... ATTACH PARTITION``; the parent index turns
#   valid when the last partition's is attached. A sub-partitioned level gets its own ``ON ONLY`` index in between.
# - a foreign key: on each leaf partition ``NOT VALID`` then ``VALIDATE`` (short locks, the scan under a weak one),
#   or only ``VALIDATE`` for a partition that has the key already, then on the parent without ``NOT VALID``: it
#   adopts the partitions' validated keys instead of checking the rows again. A partition whose key is still
#   ``NOT VALID`` is not adopted (PostgreSQL adds a second key and scans), so the parent's step comes after every
#   ``VALIDATE``.
# - a unique key: the same index sequence with unique indexes, when the key's columns include the partition key's
#   (PostgreSQL refuses any other unique index on a partitioned table); ``ADD CONSTRAINT ... USING INDEX`` is not
#   supported on partitioned tables, so the unique index is the key.
#
# Inheritance children (``INHERITS``, the partitioning before PostgreSQL 10) share no index or key with their parent,
# so each table gets its own.


def index_sequence(table: TableName, name: str, columns: tuple[str, ...],
                   unique: bool = False) -> tuple[Operation, ...]:
    """An index ``name`` on ``columns`` of the partitioned ``table``, built partition by partition."""
    partitioning = table.partitioning
    assert partitioning is not None
    prefix = "uq" if unique else "ix"
    if not partitioning.declarative:
        return (CreateIndexConcurrently(TableName(table.name, table.schema), name, columns, unique, undo=True),
                *(CreateIndexConcurrently(table.sibling(ref.name), constraint_name(prefix, ref.name, columns),
                                          columns, unique, undo=True) for ref in partitioning.partitions))
    children: dict[str, list[PartitionRef]] = defaultdict(list)
    for ref in partitioning.partitions:
        children[ref.parent].append(ref)
    operations: list[Operation] = [CreateIndexOnOnly(TableName(table.name, table.schema), name, columns, unique)]

    def level(parent: str, parent_index: str) -> None:
        for ref in children.get(parent, ()):
            partition = table.sibling(ref.name)
            existing = None if unique else dict(ref.loose_indexes).get(columns)
            if ref.partitioned:
                index = constraint_name(prefix, ref.name, columns)
                operations.append(CreateIndexOnOnly(partition, index, columns, unique, undo=False))
                level(ref.name, index)
            elif existing is not None:
                index = existing  # the partition has this index already: attaching it spares a build
            else:
                index = constraint_name(prefix, ref.name, columns)
                operations.append(CreateIndexConcurrently(partition, index, columns, unique))
            operations.append(AttachIndex(table, parent_index, index))

    level(table.name, name)
    return tuple(operations)


def foreign_key_sequence(table: TableName, columns: tuple[str, ...], target: TableName,
                         target_columns: tuple[str, ...], name: str) -> tuple[Operation, ...]:
    """A foreign key ``name`` from the partitioned ``table``: each leaf partition's first, then the parent's."""
    partitioning = table.partitioning
    assert partitioning is not None
    if not partitioning.declarative:
        return (AddForeignKey(TableName(table.name, table.schema), columns, target, target_columns),
                *(AddForeignKey(table.sibling(ref.name), columns, target, target_columns)
                  for ref in partitioning.partitions))
    operations: list[Operation] = []
    wanted = (columns, target.schema, target.name, target_columns)
    for ref in partitioning.partitions:
        if ref.partitioned:
            continue  # a partitioned level refuses NOT VALID too; the parent's key reaches it
        own = dict(ref.own_keys).get(wanted)
        if own is None:
            operations.append(AddPartitionForeignKey(table.sibling(ref.name), name, columns, target, target_columns))
        elif not own[1]:
            # The partition has the key NOT VALID: validated, the parent adopts it (unvalidated, it would not).
            operations.append(ValidateConstraint(table.sibling(ref.name), own[0]))
    return (*operations,
            AddParentForeignKey(TableName(table.name, table.schema), name, columns, target,
                                target_columns))


def unique_sequence(table: TableName, name: str, columns: tuple[str, ...]) -> tuple[Operation, ...]:
    """A unique index ``name`` on ``columns`` of the partitioned ``table``, or why there can be none."""
    partitioning = table.partitioning
    assert partitioning is not None
    here = TableName(table.name, table.schema)
    if not partitioning.declarative:
        return (NotPossible(here, f"{table.name} has inheritance children: an index on it or on each child enforces "
                                  "uniqueness within one table only, never across them"),)
    key = partitioning.key_columns
    if key is None or not set(key) <= set(columns):
        what = f"({', '.join(key)})" if key else "an expression"
        return (NotPossible(here, f"{table.name} is partitioned by {what}: a unique key on it must include every "
                                  "partition key column, so these columns alone can only be unique per partition"),)
    return index_sequence(table, name, columns, unique=True)
