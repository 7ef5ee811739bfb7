"""The rehearsal's scratch database: created beside the target (or on another server), filled with a copy of the
target's schema and of the rows of the tables a migration touches, dropped however the rehearsal ends.

The target is only read: its schema through SQLAlchemy's reflection and its rows with SELECTs, inside a transaction
the database keeps read-only and that is rolled back.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import signal
import tempfile
import threading
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import JSON, Connection, Engine, MetaData, Table, func, select, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError
from sqlalchemy.schema import AddConstraint, CreateIndex, CreateTable
from sqlalchemy.sql.sqltypes import SchemaType

from integrity_kit.connect import make_engine, mask_url, scrub
from integrity_kit.errors import IntegrityKitError, first_line

PREFIX = "ik_rehearsal_"
DEFAULT_MAX_ROWS = 100_000
_BATCH = 5000
_NEXTVAL = re.compile(r"nextval\('(?P<name>[^']+)'(?:::regclass)?\)", re.IGNORECASE)


@dataclass
class TableCopy:
    """What the scratch copy holds of one table of the target."""

    name: str
    rows: int  # rows in the target
    copied: int  # rows copied into the scratch database
    why: str  # "touched", "referenced by a touched table", or "schema only"

    @property
    def sampled(self) -> bool:
        return self.copied < self.rows

    def to_dict(self) -> dict[str, Any]:
        return {"table": self.name, "rows": self.rows, "copied": self.copied, "sampled": self.sampled,
                "why": self.why}


@dataclass(frozen=True)
class ScratchDatabase:
    name: str
    url: URL
    dialect: str


@contextmanager
def scratch_database(target: URL, server: URL | None = None) -> Iterator[ScratchDatabase]:
    """A new empty database named ``ik_rehearsal_<hex>`` on ``server``'s server (default: the target's), dropped
    when the block exits, on error and on Ctrl-C too; SQLite gets a temporary file."""
    name = f"{PREFIX}{uuid.uuid4().hex[:12]}"
    base = server or target
    if base.get_backend_name() == "sqlite":
        directory = Path(tempfile.mkdtemp(prefix=name))
        try:
            yield ScratchDatabase(name, URL.create("sqlite", database=str(directory / f"{name}.db")), "sqlite")
        finally:
            with _no_interrupts():
                shutil.rmtree(directory, ignore_errors=True)
        return
    admin = _admin_engine(base)
    dialect = admin.dialect.name
    try:
        try:
            with admin.connect() as connection:
                connection.exec_driver_sql(f"CREATE DATABASE {name}")
        except DBAPIError as error:
            raise IntegrityKitError(f"cannot create the rehearsal database {name} on {mask_url(base)}: "
                                    f"{scrub(first_line(error.orig), base)}") from None
        try:
            yield ScratchDatabase(name, base.set(database=name), dialect)
        finally:
            with _no_interrupts():
                drop_database(admin, name)
    finally:
        admin.dispose()


def _admin_engine(url: URL) -> Engine:
    """An autocommit engine that is not connected to the target database itself, so nothing is ever sent there:
    PostgreSQL's maintenance database ``postgres`` (the URL's own database when that one cannot be reached),
    no database at all on MySQL/MariaDB."""
    if url.get_backend_name() == "postgresql":
        try:
            return make_engine(url.set(database="postgres"), isolation_level="AUTOCOMMIT")
        except IntegrityKitError:
            return make_engine(url, isolation_level="AUTOCOMMIT")
    # URL.set() keeps a value given as None, so the URL is built again without its database.
    server = URL.create(url.drivername, url.username, url.password, url.host, url.port, None, url.query)
    return make_engine(server, isolation_level="AUTOCOMMIT")


def drop_database(admin: Engine, name: str) -> None:
    """Drop the scratch database, ending the sessions still connected to it (a workload thread stuck in a wait)."""
    drop = f"DROP DATABASE IF EXISTS {name}"
    with admin.connect() as connection:
        if admin.dialect.name == "postgresql":
            if (admin.dialect.server_version_info or (0,)) >= (13,):
                drop += " WITH (FORCE)"
            else:
                connection.execute(text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                                        "WHERE datname = :name AND pid <> pg_backend_pid()"), {"name": name})
        connection.exec_driver_sql(drop)


@contextmanager
def _no_interrupts() -> Iterator[None]:
    """Ctrl-C is held off while the scratch database is dropped: a second Ctrl-C must not leave it behind."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


@contextmanager
def read_only(engine: Engine) -> Iterator[Connection]:
    """A connection in a transaction the target database itself keeps read-only (one snapshot on PostgreSQL and
    InnoDB), always rolled back."""
    with engine.connect() as connection:
        name = engine.dialect.name
        try:
            if name == "postgresql":
                connection.exec_driver_sql("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ READ ONLY")
            elif name in ("mysql", "mariadb"):
                connection.commit()  # START TRANSACTION must open the transaction itself
                connection.exec_driver_sql("START TRANSACTION WITH CONSISTENT SNAPSHOT, READ ONLY")
            elif name == "sqlite":
                connection.exec_driver_sql("PRAGMA query_only = ON")
            yield connection
        finally:
            # After Ctrl-C the connection is invalidated: nothing to roll back, and the interrupt must go on.
            with contextlib.suppress(SQLAlchemyError):
                connection.rollback()
                if name == "sqlite":
                    connection.exec_driver_sql("PRAGMA query_only = OFF")
                    connection.rollback()


def reflect(connection: Connection) -> MetaData:
    metadata = MetaData()
    metadata.reflect(bind=connection)
    return metadata


def parents_of(metadata: MetaData, names: Sequence[str]) -> list[str]:
    """The tables the tables ``names`` reference by foreign key, not among ``names`` themselves."""
    found: list[str] = []
    for name in names:
        for constraint in metadata.tables[name].foreign_key_constraints:
            parent = constraint.referred_table.name
            if parent not in names and parent not in found and parent in metadata.tables:
                found.append(parent)
    return found


def copy_schema_and_rows(source: Connection, metadata: MetaData, scratch: Engine, rows_of: dict[str, str],
                         max_rows: int, on_progress: Callable[[str], None]) -> tuple[list[TableCopy], list[str]]:
    """Create every reflected table in ``scratch`` and copy the rows of the tables named in ``rows_of`` (name -> why
    they are copied): whole tables up to ``max_rows`` rows, the first ``max_rows`` by primary key above that.

    Returns what each table holds and notes on what the copy changed (a foreign key the sample breaks is added
    NOT VALID on PostgreSQL, unchecked on MySQL/MariaDB)."""
    dialect = scratch.dialect.name
    notes: list[str] = []
    tables = metadata.sorted_tables
    _loosen(metadata, dialect, notes)
    copies: list[TableCopy] = []
    with scratch.connect() as target:
        if dialect in ("mysql", "mariadb"):
            target.exec_driver_sql("SET FOREIGN_KEY_CHECKS = 0")  # parents of a sample may be missing
        if dialect == "sqlite":
            metadata.create_all(target)  # SQLite cannot add a constraint later; it checks none while loading
        else:
            _create_types(target, metadata, notes)
            for table in tables:
                target.execute(CreateTable(table, include_foreign_key_constraints=[]))
        target.commit()
        for table in tables:
            why = rows_of.get(table.name)
            if why is None:
                copies.append(TableCopy(table.name, _count(source, table), 0, "schema only"))
                continue
            total = _count(source, table)
            on_progress(f"copying rows of {table.name} ({min(total, max_rows):,} of {total:,})")
            copied = _copy_rows(source, target, table, max_rows)
            copies.append(TableCopy(table.name, total, copied, why))
        if dialect != "sqlite":
            for table in tables:
                for index in sorted(table.indexes, key=lambda index: str(index.name or "")):
                    target.execute(CreateIndex(index))
                    target.commit()
            for table in tables:
                for constraint in sorted(table.foreign_key_constraints, key=lambda fk: str(fk.name or "")):
                    _add_foreign_key(target, constraint, notes)
            if dialect == "postgresql":
                _advance_sequences(target, tables)
            target.commit()
    return copies, notes


def _loosen(metadata: MetaData, dialect: str, notes: list[str]) -> None:
    """Reflected column details that cannot be created or loaded as they are: PostgreSQL sequences behind SERIAL
    defaults are created first (reflection does not return them), GENERATED ALWAYS identities take the copied keys."""
    if dialect != "postgresql":
        return
    always: list[str] = []
    for table in metadata.tables.values():
        for column in table.columns:
            identity = column.identity
            if identity is not None and identity.always:
                identity.always = False
                always.append(f"{table.name}.{column.name}")
    if always:
        notes.append(f"GENERATED ALWAYS identity columns are GENERATED BY DEFAULT in the scratch copy, so the "
                     f"copied keys could be inserted: {', '.join(always)}")


def _create_types(connection: Connection, metadata: MetaData, notes: list[str]) -> None:
    created: set[str] = set()
    for table in metadata.sorted_tables:
        for column in table.columns:
            if connection.dialect.name == "postgresql":
                default = column.server_default
                match = _NEXTVAL.search(str(getattr(default, "arg", ""))) if default is not None else None
                if match and match.group("name") not in created:
                    connection.exec_driver_sql(f"CREATE SEQUENCE IF NOT EXISTS {match.group('name')}")
                    created.add(match.group("name"))
                if isinstance(column.type, SchemaType):
                    column.type.create(connection, checkfirst=True)


def _count(connection: Connection, table: Table) -> int:
    return int(connection.execute(select(func.count()).select_from(table)).scalar_one())


def _copy_rows(source: Connection, target: Connection, table: Table, max_rows: int) -> int:
    query = select(*table.columns).order_by(*(table.primary_key.columns or table.columns)).limit(max_rows)
    if target.dialect.driver == "psycopg":
        try:
            return _copy_in(source, target, table, query)
        except Exception:  # a value psycopg's COPY cannot adapt: the INSERTs below can
            # The COPY ran on the driver's cursor, outside SQLAlchemy's transaction: roll back the driver's.
            target.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
    copied = 0
    result = source.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    for batch in result.mappings().partitions(_BATCH):
        target.execute(table.insert(), [dict(row) for row in batch])
        copied += len(batch)
    target.commit()
    return copied


def _copy_in(source: Connection, target: Connection, table: Table, query: Any) -> int:
    """The rows through PostgreSQL's COPY FROM STDIN, many times faster than INSERTs; the target is still read with
    a SELECT."""
    preparer = target.dialect.identifier_preparer
    columns = ", ".join(preparer.quote(column.name) for column in table.columns)
    copied = 0
    cursor = target.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    result = source.execution_options(stream_results=True, yield_per=_BATCH).execute(query)
    from psycopg.types.json import Json

    # psycopg dumps a dict or a list of a JSON column only when told it is JSON.
    json = [isinstance(column.type, JSON) for column in table.columns]
    with cursor.copy(f"COPY {preparer.format_table(table)} ({columns}) FROM STDIN") as copy:
        for batch in result.partitions(_BATCH):
            for row in batch:
                copy.write_row(tuple(Json(value) if is_json and value is not None else value
                                     for value, is_json in zip(row, json, strict=True)))
            copied += len(batch)
    target.commit()
    return copied


def _add_foreign_key(connection: Connection, constraint: Any, notes: list[str]) -> None:
    try:
        connection.execute(AddConstraint(constraint))
        connection.commit()
    except SQLAlchemyError as error:
        connection.rollback()
        if connection.dialect.name != "postgresql":
            raise
        # The sample left rows whose parents were not copied: the constraint exists, unchecked for the old rows.
        ddl = str(AddConstraint(constraint).compile(dialect=connection.dialect)) + " NOT VALID"
        connection.exec_driver_sql(ddl)
        connection.commit()
        notes.append(f"foreign key {constraint.name or constraint.table.name} added NOT VALID in the scratch copy: "
                     f"the copied rows break it ({first_line(error)})")


def _advance_sequences(connection: Connection, tables: Sequence[Table]) -> None:
    """Each copied table's sequence continues after its copied keys, as the target's does after its own."""
    for table in tables:
        for column in table.primary_key.columns:
            sequence = connection.execute(text("SELECT pg_get_serial_sequence(:table, :column)"),
                                          {"table": table.name, "column": column.name}).scalar()
            if sequence is None:
                match = _NEXTVAL.search(str(getattr(column.server_default, "arg", "")))
                if match is None:
                    continue
                connection.exec_driver_sql(f'ALTER SEQUENCE {match.group("name")} OWNED BY '
                                           f'"{table.name}"."{column.name}"')
                sequence = match.group("name")
            top = connection.execute(select(func.max(table.c[column.name]))).scalar()
            if isinstance(top, int):
                connection.execute(text("SELECT setval(:sequence, :value)"), {"sequence": sequence, "value": top})
