"""The Snapshot: an immutable picture of a database schema (or of SQLAlchemy models) that rules read.

Everything here is a frozen, slotted dataclass holding tuples, so a Snapshot can be shared between rules without
anyone mutating it. Names follow one convention: ``schema`` is ``None`` for the connection's default schema and
the schema's name otherwise, for tables and for the tables foreign keys refer to alike. That keeps the JSON
contract ("a non-default schema goes in ``schema``") and lets a models snapshot (no schema) line up with a live one.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from types import MappingProxyType

from sqlalchemy.types import TypeEngine


def qualified(schema: str | None, name: str) -> str:
    """``name`` or ``schema.name``: how objects are named in messages and ``not_analysed`` entries."""
    return f"{schema}.{name}" if schema else name


@dataclass(frozen=True, slots=True)
class Column:
    name: str
    # The SQLAlchemy type (NullType when the type could not be reflected) and the type as the database spells it.
    # The type object compares by identity, so it is left out of equality; ``type_sql`` carries the comparison.
    type: TypeEngine = field(compare=False, repr=False)
    type_sql: str
    nullable: bool
    server_default: str | None = None
    # A Python-side default (models only): the scalar's repr, or the callable's name.
    client_default: str | None = None
    autoincrement: bool = False
    collation: str | None = None
    comment: str | None = None
    computed: str | None = None
    identity: bool = False


@dataclass(frozen=True, slots=True)
class PrimaryKey:
    columns: tuple[str, ...]
    name: str | None = None


@dataclass(frozen=True, slots=True)
class ForeignKey:
    columns: tuple[str, ...]
    referred_schema: str | None
    referred_table: str
    referred_columns: tuple[str, ...]
    name: str | None = None
    # Upper-case SQL as declared; "NO ACTION" when the database reports nothing (its default).
    on_delete: str = "NO ACTION"
    on_update: str = "NO ACTION"
    deferrable: bool | None = None
    initially: str | None = None
    match: str | None = None
    # False for a PostgreSQL ``NOT VALID`` constraint: existing rows were never checked.
    validated: bool = True
    # False when the database does not act on the declaration (SQLite with foreign_keys off, MyISAM).
    enforced: bool = True

    @property
    def referred(self) -> str:
        return qualified(self.referred_schema, self.referred_table)


@dataclass(frozen=True, slots=True)
class UniqueConstraint:
    columns: tuple[str, ...]
    name: str | None = None
    # PostgreSQL 15's NULLS NOT DISTINCT: NULLs collide like values.
    nulls_not_distinct: bool = False


@dataclass(frozen=True, slots=True)
class Index:
    name: str | None
    # One entry per key part: the column name, or None where the part is an expression (see ``expressions``).
    columns: tuple[str | None, ...]
    unique: bool = False
    # The SQL of each key part that is an expression, None for plain columns; same length as ``columns``.
    expressions: tuple[str | None, ...] = ()
    # The WHERE clause of a partial index, as the database prints it.
    predicate: str | None = None
    # False for a PostgreSQL index left invalid by a failed CREATE INDEX CONCURRENTLY: it is not used to read.
    valid: bool = True
    method: str | None = None
    include: tuple[str, ...] = ()
    # Per key part: "asc"/"desc" and nulls placement when not the default, plus opclass or collation if known.
    sorting: tuple[tuple[str, tuple[str, ...]], ...] = ()
    # The unique constraint this index implements (PostgreSQL/MySQL report both): rules should not count it twice.
    duplicates_constraint: str | None = None
    # Anything else the dialect reported (operator classes, prefix lengths, storage parameters), as text.
    options: tuple[tuple[str, str], ...] = ()
    # Per key part where the engine reports it (PostgreSQL, SQLite): the collation the part compares by, and its
    # operator class when not the type's default; empty when unknown.
    collations: tuple[str | None, ...] = ()
    opclasses: tuple[str | None, ...] = ()
    # A PostgreSQL partition's index that is attached to an index of its parent: that index's name.
    parent_index: str | None = None

    @property
    def has_expressions(self) -> bool:
        return any(part is not None for part in self.expressions)

    @property
    def is_partial(self) -> bool:
        return self.predicate is not None


@dataclass(frozen=True, slots=True)
class CheckConstraint:
    name: str | None
    sqltext: str
    # False for a PostgreSQL ``NOT VALID`` check: existing rows were never checked.
    validated: bool = True


@dataclass(frozen=True, slots=True)
class NotAnalysed:
    """An object the snapshot could not describe: reported, never silently dropped."""

    object: str
    reason: str


KeyLike = PrimaryKey | UniqueConstraint | Index


@dataclass(frozen=True, slots=True)
class Partition:
    """A partition of a partitioned table (PostgreSQL), described under its topmost parent."""

    name: str
    # Its immediate parent: the table itself, or a partition that is partitioned in turn.
    parent: str
    # The partition bound as PostgreSQL prints it (``FOR VALUES FROM (...) TO (...)``); None for an inheritance child.
    bound: str | None = None
    # Declarative (PARTITION OF / ATTACH PARTITION); False for an inheritance child (INHERITS).
    declarative: bool = True
    # Partitioned in turn (a sub-partitioned level): it stores no rows of its own.
    partitioned: bool = False
    indexes: tuple[Index, ...] = ()
    # The foreign keys the partition declares itself; the copies of its parent's keys are left out.
    foreign_keys: tuple[ForeignKey, ...] = ()


@dataclass(frozen=True, slots=True)
class Table:
    name: str
    schema: str | None = None
    columns: tuple[Column, ...] = ()
    primary_key: PrimaryKey | None = None
    foreign_keys: tuple[ForeignKey, ...] = ()
    unique_constraints: tuple[UniqueConstraint, ...] = ()
    indexes: tuple[Index, ...] = ()
    check_constraints: tuple[CheckConstraint, ...] = ()
    # Estimated rows (PostgreSQL reltuples, MySQL TABLE_ROWS, SQLite sqlite_stat1); None when unknown or not cheap.
    row_estimate: int | None = None
    # MySQL/MariaDB storage engine (InnoDB, MyISAM, ...); None elsewhere.
    engine: str | None = None
    comment: str | None = None
    # PostgreSQL partitioning (declarative, or inheritance children that add no columns): the parent lists its
    # partitions, which are not tables of their own here; its row estimate covers them all.
    partitioned: bool = False
    partitions: tuple[str, ...] = ()
    # Each partition's level, bound and indexes, in name order (empty when not read, or not PostgreSQL).
    partition_tree: tuple[Partition, ...] = ()
    # A declaratively partitioned table's key as PostgreSQL prints it (``RANGE (created_at)``); None otherwise.
    partition_key: str | None = None
    _columns_by_name: MappingProxyType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_columns_by_name", MappingProxyType({c.name: c for c in self.columns}))

    @property
    def qualified_name(self) -> str:
        return qualified(self.schema, self.name)

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    def column(self, name: str) -> Column:
        """The column called ``name``; KeyError when there is none."""
        return self._columns_by_name[name]

    def has_column(self, name: str) -> bool:
        return name in self._columns_by_name

    def covering(self, columns: Iterable[str]) -> tuple[KeyLike, ...]:
        """Primary key, unique constraints and indexes whose *leading* key parts are exactly ``columns``.

        Order within the leading parts does not matter (an index on (b, a) serves a lookup on a = ? AND b = ?), and
        extra trailing parts are allowed. Validity and predicates are left for the caller to judge: the objects
        carry ``valid`` and ``predicate``.
        """
        wanted = frozenset(columns)
        width = len(wanted)
        if not width:
            return ()
        keys: list[KeyLike] = []
        if self.primary_key is not None:
            keys.append(self.primary_key)
        keys.extend(self.unique_constraints)
        keys.extend(self.indexes)
        return tuple(key for key in keys if _leading(key.columns, width) == wanted)

    def indexes_leading_with(self, columns: Iterable[str]) -> tuple[Index, ...]:
        """Only the indexes among :meth:`covering` (no PK, no unique constraint)."""
        return tuple(key for key in self.covering(columns) if isinstance(key, Index))


def _leading(parts: tuple[str | None, ...], width: int) -> frozenset[str | None] | None:
    if len(parts) < width:
        return None
    return frozenset(parts[:width])


@dataclass(frozen=True, slots=True)
class Snapshot:
    dialect: str
    tables: tuple[Table, ...] = ()
    # The schema that ``schema=None`` stands for (``public``, the MySQL database name, ``main``); None for models.
    default_schema: str | None = None
    # The schemas that were read, as given (None for the default).
    schemas: tuple[str | None, ...] = (None,)
    server_version: str | None = None
    not_analysed: tuple[NotAnalysed, ...] = ()
    # "live" (reflected from a database) or "models" (built from a MetaData).
    source: str = "live"
    # SQLite: whether ``PRAGMA foreign_keys`` was on for the connection that was read; None on other engines.
    foreign_keys_pragma: bool | None = None
    _tables_by_key: MappingProxyType = field(init=False, repr=False, compare=False)
    _fks_to: MappingProxyType = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        by_key = {(table.schema, table.name): table for table in self.tables}
        incoming: dict[tuple[str | None, str], list[tuple[Table, ForeignKey]]] = {}
        for table in self.tables:
            for fk in table.foreign_keys:
                incoming.setdefault((fk.referred_schema, fk.referred_table), []).append((table, fk))
        object.__setattr__(self, "_tables_by_key", MappingProxyType(by_key))
        object.__setattr__(
            self, "_fks_to", MappingProxyType({key: tuple(value) for key, value in incoming.items()})
        )

    def table(self, name: str, schema: str | None = None) -> Table:
        """The table ``name`` in ``schema`` (None: the default schema); KeyError when there is none."""
        return self._tables_by_key[(self._normal(schema), name)]

    def has_table(self, name: str, schema: str | None = None) -> bool:
        return (self._normal(schema), name) in self._tables_by_key

    def foreign_keys_from(self, table: Table) -> tuple[ForeignKey, ...]:
        return table.foreign_keys

    def foreign_keys_to(self, table: Table) -> tuple[tuple[Table, ForeignKey], ...]:
        """Every (referencing table, foreign key) pair that points at ``table``, self-references included."""
        return self._fks_to.get((table.schema, table.name), ())

    def referred_table(self, fk: ForeignKey) -> Table | None:
        """The table a foreign key points at, if it is part of this snapshot."""
        return self._tables_by_key.get((fk.referred_schema, fk.referred_table))

    def _normal(self, schema: str | None) -> str | None:
        return None if schema is not None and schema == self.default_schema else schema
