"""Build a Snapshot from a live database with SQLAlchemy's bulk reflection.

One ``Inspector.get_multi_*`` call per kind of object and per schema, plus the dialect extras of
:mod:`integrity_kit.schema.extras`. On PostgreSQL each call is one catalog query whatever the number of tables.
SQLAlchemy has no bulk form for MySQL or SQLite and reads them table by table behind the same call; MariaDB is
therefore read from ``information_schema`` in one query per kind (:mod:`integrity_kit.schema.mariadb`, with
SQLAlchemy's per-table reflection as the fallback and for MySQL), and SQLite keeps SQLAlchemy's PRAGMAs, which
are calls into the library inside this process rather than network round trips.

Trouble with one object never stops the snapshot and is never dropped quietly: a type SQLAlchemy does not know
(it warns and returns NullType) keeps its column with the type as the database named it, and every such object
is listed in ``Snapshot.not_analysed`` with the reason.
"""

from __future__ import annotations

import dataclasses
import re
import warnings
from collections.abc import Iterable
from typing import Any

from sqlalchemy import Engine, exc, inspect
from sqlalchemy import types as sqltypes
from sqlalchemy.engine import Connection, Inspector

from integrity_kit.connect import mask_url
from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.schema import coltypes
from integrity_kit.schema.extras import SchemaExtras, read_extras
from integrity_kit.schema.fixups import mysql_unescaped, sqlite_rowid_autoincrement, sqlite_uniques
from integrity_kit.schema.mariadb import read_mariadb
from integrity_kit.schema.postgresql import (
    locked_tables,
    read_partition_foreign_keys,
    read_postgresql_indexes,
    read_postgresql_partitions,
)
from integrity_kit.schema.snapshot import (
    CheckConstraint,
    Column,
    ForeignKey,
    Index,
    NotAnalysed,
    Partition,
    PrimaryKey,
    Snapshot,
    Table,
    UniqueConstraint,
    qualified,
)
from integrity_kit.schema.visibility import hidden_tables

# Inspector method suffixes, in the order they run; the first one decides which tables exist.
KINDS = (
    "columns",
    "pk_constraint",
    "foreign_keys",
    "indexes",
    "unique_constraints",
    "check_constraints",
    "table_comment",
)

_SKIPPED_INDEX = re.compile(r"unsupported reflection of expression-based index (?P<index>\S+)")
_UNKNOWN_TYPE = re.compile(r"Did not recognize type '(?P<type>.+?)' of column '(?P<column>.+?)'")


def build_snapshot(bind: Engine | Connection, schemas: Iterable[str | None] | None = None) -> Snapshot:
    """Reflect ``schemas`` (default: the connection's default schema) into a :class:`Snapshot`.

    Only reflection and catalog SELECTs run; nothing is written and no transaction is committed. Given a
    Connection, the caller's transaction (a read-only one, for the audit) is used as it is.
    """
    if isinstance(bind, Engine):
        with bind.connect() as connection:
            return _build(connection, schemas)
    if isinstance(bind, Connection):
        return _build(bind, schemas)
    raise TypeError(f"build_snapshot needs an Engine or a Connection, not {type(bind).__name__}")


def _build(connection: Connection, schemas: Iterable[str | None] | None) -> Snapshot:
    inspector = inspect(connection)
    dialect = connection.dialect
    default = inspector.default_schema_name
    wanted = _wanted_schemas(inspector, connection, schemas, default)
    problems: list[NotAnalysed] = []
    tables: list[Table] = []
    pragma: bool | None = None
    for schema in wanted:
        # Every supported dialect names its default schema, so the real name is never empty in practice.
        schema_name = schema or default or ""
        extras = read_extras(connection, schema_name)
        pragma = extras.foreign_keys_pragma if pragma is None else pragma
        tables.extend(_SchemaReader(inspector, connection, schema, schema_name, extras, problems).tables())
        hidden = hidden_tables(connection, schema_name)
        if hidden is not None:
            problems.append(hidden)
    return Snapshot(
        dialect=dialect.name,
        tables=tuple(tables),
        default_schema=default,
        schemas=tuple(wanted),
        server_version=_server_version(dialect.server_version_info),
        not_analysed=tuple(problems),
        source="live",
        foreign_keys_pragma=pragma,
    )


def _wanted_schemas(
    inspector: Inspector, connection: Connection, schemas: Iterable[str | None] | None, default: str | None
) -> list[str | None]:
    # The default schema is always asked for as None: SQLAlchemy then reports it as None in keys and referred
    # schemas, which is the Snapshot's convention too.
    wanted: list[str | None] = []
    for schema in schemas or (None,):
        normal = None if schema in (None, "", default) else schema
        if normal not in wanted:
            wanted.append(normal)
    explicit = [schema for schema in wanted if schema is not None]
    if explicit:
        existing = set(inspector.get_schema_names())
        missing = [schema for schema in explicit if schema not in existing]
        if missing:
            raise IntegrityKitError(
                f"no schema named {', '.join(map(repr, missing))} in {mask_url(connection.engine.url)} "
                f"(schemas: {', '.join(sorted(existing))})"
            )
    return wanted


def _server_version(info: tuple | None) -> str | None:
    if not info:
        return None
    return ".".join(str(part) for part in info if isinstance(part, int)) or None


class _SchemaReader:
    """Reads one schema: one bulk call per kind, then assembles the tables."""

    def __init__(
        self,
        inspector: Inspector,
        connection: Connection,
        schema: str | None,
        schema_name: str,
        extras: SchemaExtras,
        problems: list[NotAnalysed],
    ) -> None:
        self.inspector = inspector
        self.connection = connection
        self.dialect = inspector.dialect
        self.schema = schema  # None for the default schema, as SQLAlchemy is asked
        self.schema_name = schema_name  # the schema's real name, for catalog queries and messages
        self.default = inspector.default_schema_name
        self.extras = extras
        self.problems = problems
        # Column name -> the type names SQLAlchemy warned about for columns of that name.
        self.unknown_types: dict[str, set[str]] = {}
        # SQLAlchemy's MySQL reflection parses SHOW CREATE TABLE and leaves its doubled backticks in names.
        self.names_escaped = self.dialect.name in ("mysql", "mariadb")

    def tables(self) -> list[Table]:
        data = self._read()
        if data is None:
            return []
        built = []
        for name in sorted(data["columns"]):
            if name in self.extras.skip:
                continue
            built.append(self._table(name, {kind: found.get(name) for kind, found in data.items()}))
        if self.dialect.name == "postgresql" and any(table.partitioned for table in built):
            built = self._with_partitions(built)
        return built

    def _with_partitions(self, tables: list[Table]) -> list[Table]:
        """Each partitioned table with its partitions' levels, bounds and indexes, read in two catalog queries."""
        rows, keys = read_postgresql_partitions(self.connection, self.schema_name)
        # Partitions are in ``skip`` (they are not tables here); what else is skipped stays unread.
        partitions = {name for children in self.extras.partitions.values() for name in children}
        names = {row.name for row in rows} - (self.extras.skip - partitions)
        indexes = read_postgresql_indexes(self.connection, self.schema_name, only=names, details=True) \
            if names else {}
        keys_of = read_partition_foreign_keys(self.connection, self.schema_name, names) if names else {}
        by_name = {row.name: row for row in rows}
        result = []
        for table in tables:
            if not table.partitioned:
                result.append(table)
                continue
            tree = tuple(Partition(name=name, parent=by_name[name].parent, bound=by_name[name].bound,
                                   declarative=by_name[name].declarative, partitioned=by_name[name].partitioned,
                                   indexes=tuple(self._index(name, raw) for raw in indexes.get(name, ())),
                                   foreign_keys=tuple(self._partition_key(row) for row in keys_of.get(name, ())))
                         for name in table.partitions if name in by_name)
            result.append(dataclasses.replace(table, partition_tree=tree, partition_key=keys.get(table.name)))
        return result

    def _read(self) -> dict[str, dict[str, Any]] | None:
        """Every kind's bulk result (None: no table to read), without the tables another session keeps locked."""
        if self.dialect.name == "postgresql":
            self._leave_out_locked()
        names = self._filter_names()
        if names == []:
            return None
        data = self._mariadb_bulk()
        if data is None:
            data = {kind: self._bulk(kind, names) for kind in KINDS if self._wanted(kind)}
        return data

    def _leave_out_locked(self) -> None:
        # Printing a locked table's defaults and constraints waits for the lock, and the lock timeout's error would
        # abort the whole transaction: such tables are left out up front.
        locked = locked_tables(self.connection, self.schema_name) - self.extras.skip
        for name in sorted(locked):
            self._problem(qualified(self.schema, name),
                          "locked by another session: it holds or awaits an ACCESS EXCLUSIVE lock on the table")
        self.extras.skip |= locked

    def _mariadb_bulk(self) -> dict[str, dict[str, Any]] | None:
        """MariaDB's information_schema read in one query per kind; None to use SQLAlchemy's reflection."""
        if not getattr(self.dialect, "is_mariadb", False):
            return None
        try:
            found, unknown = read_mariadb(self.connection, self.schema, self.schema_name)
        except exc.DBAPIError:
            # A server that hides part of information_schema from this user: SHOW CREATE TABLE still works, and
            # a failed SELECT does not end a MariaDB transaction.
            return None
        for column, names in unknown.items():
            self.unknown_types.setdefault(column, set()).update(names)
        self.names_escaped = False
        return found

    def _wanted(self, kind: str) -> bool:
        return kind != "table_comment" or bool(self.dialect.supports_comments)

    def _filter_names(self) -> list[str] | None:
        # Only ask for a subset when something must be left out (partitions, extension tables); otherwise the
        # query needs no name list at all.
        if not self.extras.skip:
            return None
        known = set(self.extras.row_estimates) | self.extras.partitioned
        return sorted(known - self.extras.skip)

    def _bulk(self, kind: str, names: list[str] | None) -> dict[str, Any]:
        if kind == "indexes" and self.dialect.name == "postgresql":
            try:
                indexes = read_postgresql_indexes(self.connection, self.schema_name, skip=self.extras.skip,
                                                  details=True)
            except exc.DBAPIError as error:
                raise IntegrityKitError(f"reflecting indexes in schema {self.schema_name!r} failed: "
                                        f"{first_line(error)}") from error
            return {name: indexes.get(name, []) for name in names} if names is not None else dict(indexes)
        method = getattr(self.inspector, f"get_multi_{kind}")
        unreflectable: dict[tuple[str | None, str], Exception] = {}
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", exc.SAWarning)
            try:
                found = method(schema=self.schema, filter_names=names, unreflectable=unreflectable,
                               **self._kind_options(kind))
            except NotImplementedError:
                found = {}
            except Exception as error:  # noqa: BLE001 - one odd table must not sink the whole snapshot
                found = self._one_by_one(kind, names, error)
        self._note_warnings(caught)
        for (_schema, name), reason in unreflectable.items():
            self._problem(qualified(self.schema, name), f"cannot be reflected: {first_line(reason)}")
        return {name: value for (_schema, name), value in found.items()}

    def _kind_options(self, kind: str) -> dict[str, Any]:
        # SQLite's unique constraints are parsed from the CREATE TABLE text, and the parser gives up on some
        # quoted names; the automatic indexes that back them are the cross-check (see fixups.sqlite_uniques).
        if kind == "indexes" and self.dialect.name == "sqlite":
            return {"include_auto_indexes": True}
        return {}

    def _one_by_one(self, kind: str, names: list[str] | None, error: Exception) -> dict:
        """After a failed bulk call, read each table alone so only the broken ones are lost (and reported)."""
        if self.dialect.name == "postgresql":
            # A failed statement aborts the PostgreSQL transaction, so there is no reading on after it.
            raise IntegrityKitError(
                f"reflecting {kind.replace('_', ' ')} in schema {self.schema_name!r} failed: "
                f"{first_line(error)}"
            ) from error
        single = getattr(self.inspector, f"get_{kind}")
        found: dict = {}
        for name in names or self.inspector.get_table_names(schema=self.schema):
            try:
                found[(self.schema, name)] = single(name, schema=self.schema, **self._kind_options(kind))
            except NotImplementedError:
                return {}
            except Exception as table_error:  # noqa: BLE001
                self._problem(
                    qualified(self.schema, name),
                    f"{kind.replace('_', ' ')} cannot be reflected: {first_line(table_error)}",
                )
        return found

    def _note_warnings(self, caught: list[warnings.WarningMessage]) -> None:
        for warning in caught:
            if not issubclass(warning.category, exc.SAWarning):
                warnings.warn_explicit(warning.message, warning.category, warning.filename, warning.lineno)
                continue
            message = str(warning.message)
            match = _UNKNOWN_TYPE.search(message)
            skipped = _SKIPPED_INDEX.search(message)
            if skipped:
                self._problem(f"index {qualified(self.schema, skipped['index'])}",
                              "an expression index SQLAlchemy cannot reflect on this engine")
            elif match:
                # Attributed to its column when the tables are assembled (the warning does not name the table).
                self.unknown_types.setdefault(match["column"], set()).add(match["type"])
            else:
                self._problem(f"schema {self.schema or self.default}", f"reflection warning: {message}")

    def _problem(self, obj: str, reason: str) -> None:
        self.problems.append(NotAnalysed(object=obj, reason=reason))

    # Assembly ------------------------------------------------------------------------------------------------

    def _table(self, name: str, found: dict[str, Any]) -> Table:
        extras = self.extras
        if self.names_escaped:
            found = {kind: mysql_unescaped(value) for kind, value in found.items()}
        columns = tuple(self._column(name, raw) for raw in found["columns"] or ())
        pk = found.get("pk_constraint") or {}
        pk_columns = tuple(pk.get("constrained_columns") or ())
        if self.dialect.name == "sqlite":
            columns = sqlite_rowid_autoincrement(columns, pk_columns)
        comment = (found.get("table_comment") or {}).get("text")
        uniques = tuple(_unique(raw) for raw in found.get("unique_constraints") or ())
        raw_indexes = found.get("indexes") or ()
        if self.dialect.name == "sqlite":
            uniques, raw_indexes = sqlite_uniques(uniques, raw_indexes, pk_columns)
        return Table(
            name=name,
            schema=self.schema,
            columns=columns,
            primary_key=PrimaryKey(pk_columns, pk.get("name")) if pk_columns else None,
            foreign_keys=tuple(self._foreign_key(name, raw) for raw in found.get("foreign_keys") or ()),
            unique_constraints=uniques,
            indexes=tuple(self._index(name, raw) for raw in raw_indexes),
            check_constraints=tuple(
                CheckConstraint(raw.get("name"), str(raw["sqltext"]),
                                validated=extras.validated.get((name, raw.get("name")), True))
                for raw in found.get("check_constraints") or ()
            ),
            row_estimate=extras.row_estimates.get(name),
            engine=extras.engines.get(name),
            comment=comment,
            partitioned=name in extras.partitioned,
            partitions=tuple(sorted(extras.partitions.get(name, ()))),
        )

    def _column(self, table: str, raw: dict) -> Column:
        type_ = raw["type"]
        unknown = isinstance(type_, sqltypes.NullType)
        candidates = self.unknown_types.get(raw["name"], set()) if unknown else set()
        # Two tables with an unknown-typed column of the same name but different types: do not guess which.
        spelled = next(iter(candidates)) if len(candidates) == 1 else None
        if unknown:
            what = f"type {spelled!r} is not one SQLAlchemy knows" if spelled else "type could not be reflected"
            self._problem(
                f"{qualified(self.schema, table)}.{raw['name']}",
                f"{what}; the column is kept with an unknown type and type-based rules skip it",
            )
        computed = raw.get("computed") or {}
        return Column(
            name=raw["name"],
            type=type_,
            type_sql=coltypes.render(type_, self.dialect, fallback=spelled),
            nullable=bool(raw.get("nullable", True)),
            server_default=None if raw.get("default") is None else str(raw["default"]),
            autoincrement=raw.get("autoincrement") is True,
            collation=getattr(type_, "collation", None),
            comment=raw.get("comment"),
            computed=str(computed["sqltext"]) if computed.get("sqltext") is not None else None,
            identity=bool(raw.get("identity")),
        )

    def _foreign_key(self, table: str, raw: dict) -> ForeignKey:
        options = raw.get("options") or {}
        referred_schema = raw.get("referred_schema")
        if referred_schema == self.default:
            referred_schema = None
        return ForeignKey(
            columns=tuple(raw["constrained_columns"]),
            referred_schema=referred_schema,
            referred_table=raw["referred_table"],
            referred_columns=tuple(raw["referred_columns"]),
            name=raw.get("name"),
            on_delete=_action(options.get("ondelete")),
            on_update=_action(options.get("onupdate")),
            deferrable=options.get("deferrable"),
            initially=options.get("initially"),
            match=options.get("match"),
            validated=self.extras.validated.get((table, raw.get("name")), True),
            enforced=self.extras.fk_enforced(table),
        )

    def _index(self, table: str, raw: dict) -> Index:
        names = tuple(raw.get("column_names") or ())
        raw_expressions = raw.get("expressions")
        # SQLAlchemy lists every key part in ``expressions`` when any is an expression; keep only the expressions.
        expressions = tuple(
            None if column is not None else str(expression)
            for column, expression in zip(names, raw_expressions, strict=False)
        ) if raw_expressions else ()
        options = dict(raw.get("dialect_options") or ())
        where = options.pop("postgresql_where", None)
        sqlite_where = options.pop("sqlite_where", None)
        predicate = where if where is not None else sqlite_where
        method = options.pop("postgresql_using", None)
        if method is None and self.dialect.name == "postgresql":
            method = "btree"  # every PostgreSQL index has an access method; SQLAlchemy leaves out the default
        valid = not options.pop("postgresql_invalid", False)
        postgresql_include = options.pop("postgresql_include", None)
        include = tuple(raw.get("include_columns") or postgresql_include or ())
        sorting = raw.get("column_sorting")
        # "default" is the database's collation, the one a plain index on a plain text column has.
        collations = tuple(None if name in (None, "default") else name for name in raw.get("ik_collations") or ())
        opclasses = tuple(raw.get("ik_opclasses") or ())
        if self.dialect.name == "sqlite" and raw.get("name"):
            collations = self._sqlite_collations(raw["name"])
        return Index(
            name=raw.get("name"),
            columns=names,
            unique=bool(raw.get("unique")),
            expressions=expressions if any(part is not None for part in expressions) else (),
            predicate=None if predicate is None else str(predicate) or None,
            valid=valid,
            method=None if method is None else str(method),
            include=include,
            sorting=tuple((str(key), tuple(value)) for key, value in sorting.items()) if sorting else (),
            duplicates_constraint=raw.get("duplicates_constraint"),
            options=tuple(sorted((key, str(value)) for key, value in options.items() if value not in (None, {}, [])))
            if options else (),
            collations=collations if any(collations) else (),
            opclasses=opclasses if any(opclasses) else (),
            parent_index=raw.get("ik_parent_index"),
        )

    def _partition_key(self, row: Any) -> ForeignKey:
        referred_schema = None if row.referred_schema == self.default else row.referred_schema
        return ForeignKey(columns=tuple(row.columns), referred_schema=referred_schema,
                          referred_table=row.referred_table, referred_columns=tuple(row.referred_columns),
                          name=row.name, validated=bool(row.validated))

    def _sqlite_collations(self, index: str) -> tuple[str | None, ...]:
        """The collation of each key part (``PRAGMA index_xinfo``), upper-case; BINARY, the default, as None."""
        quoted = self.dialect.identifier_preparer.quote_schema(self.schema_name)
        try:
            rows = self.connection.exec_driver_sql(
                f"PRAGMA {quoted}.index_xinfo({self.dialect.identifier_preparer.quote(index)})").all()
        except exc.DBAPIError:
            return ()
        # Columns: seqno, cid, name, desc, coll, key; key parts only (the rest is the rowid).
        collations = tuple(None if (row[4] or "BINARY").upper() == "BINARY" else str(row[4]).upper()
                           for row in rows if row[5])
        return collations


def _unique(raw: dict) -> UniqueConstraint:
    options = raw.get("dialect_options") or {}
    return UniqueConstraint(
        columns=tuple(raw["column_names"]),
        name=raw.get("name"),
        nulls_not_distinct=bool(options.get("postgresql_nulls_not_distinct")),
    )


def _action(value: str | None) -> str:
    return value.upper() if value else "NO ACTION"

