"""Where a race runs: a scratch namespace of its own, never the user's tables.

PostgreSQL gets a scratch *schema* in the URL's database (workers reach it through ``search_path``), MySQL/MariaDB a
scratch *database* on the same server (a database is MySQL's schema), SQLite a temporary file. Its name is the
prefix (``ik_race_`` unless told otherwise) plus a random token, and it is dropped when the run ends, however it
ends. Workloads therefore use their ordinary, unqualified table names and cannot collide with anything of the user's.

Before creating anything the URL's database is inspected: one that already holds tables other than ours is
refused unless the caller names the prefix it may use (``--prefix``), so a load test is never pointed at a production
database by accident.
"""

from __future__ import annotations

import re
import shutil
import tempfile
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, inspect, text
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from integrity_kit.connect import make_engine, mask_url, parse_url
from integrity_kit.errors import IntegrityKitError, first_line

DEFAULT_PREFIX = "ik_race_"
_PREFIX = re.compile(r"^[a-z][a-z0-9_]{0,30}$")
_SYSTEM_SCHEMAS = {"information_schema", "pg_catalog", "pg_toast", "mysql", "performance_schema", "sys"}


@dataclass(frozen=True)
class Scratch:
    """A live scratch namespace: ``url`` plus ``connect_args`` reach it; ``name`` is what was created."""

    dialect: str
    name: str
    url: URL
    connect_args: dict[str, Any]

    def engine(self, *, pool_size: int, max_overflow: int, isolation_level: str | None = None) -> Engine:
        """An engine on the scratch namespace; ``isolation_level`` None keeps the server's default."""
        levels = {"isolation_level": isolation_level} if isolation_level else {}
        return make_engine(self.url, check=False, connect_args=dict(self.connect_args), pool_size=pool_size,
                           max_overflow=max_overflow, **levels)


def check_prefix(prefix: str) -> str:
    if not _PREFIX.match(prefix):
        raise IntegrityKitError(f"--prefix must be lowercase letters, digits and '_' starting with a letter "
                                f"(at most 31 characters), got {prefix!r}")
    return prefix


def foreign_tables(engine: Engine, prefix: str) -> list[str]:
    """Tables in the URL's database that are not ours (do not start with ``prefix``)."""
    inspector = inspect(engine)
    names = []
    schemas: list[str | None] = [None]
    if engine.dialect.name == "postgresql":
        schemas += [s for s in inspector.get_schema_names()
                    if s not in _SYSTEM_SCHEMAS and not s.startswith(("pg_", prefix)) and s != "public"]
    for schema in schemas:
        for table in inspector.get_table_names(schema=schema):
            if not table.startswith(prefix):
                names.append(table if schema is None else f"{schema}.{table}")
    return sorted(names)


@contextmanager
def scratch(url: str | URL | None, *, prefix: str | None = None, purpose: str = "race") -> Iterator[Scratch]:
    """Create a scratch namespace beside ``url``'s database, yield it, drop it; ``purpose`` (what the caller
    does there, as a verb phrase) is how a refusal names it.

    ``prefix=None`` means "not told": the default prefix is used and a database holding other tables is refused.
    """
    told = prefix is not None
    prefix = check_prefix(prefix if prefix is not None else DEFAULT_PREFIX)
    parsed = parse_url(url)
    admin = make_engine(parsed, isolation_level="AUTOCOMMIT") if parsed.get_backend_name() != "sqlite" \
        else make_engine(parsed)
    try:
        try:
            others = foreign_tables(admin, prefix)
        except SQLAlchemyError as error:
            raise IntegrityKitError(f"cannot inspect {mask_url(parsed)}: {first_line(error)}") from None
        if others and not told:
            shown = ", ".join(others[:5]) + (", …" if len(others) > 5 else "")
            raise IntegrityKitError(
                f"will not {purpose} in {mask_url(parsed)}: it holds {len(others)} tables that are not "
                f"integrity-kit's ({shown}); use an empty database, or pass --prefix {DEFAULT_PREFIX} to work in "
                f"a scratch space of its own ({DEFAULT_PREFIX}*) beside them")
        name = f"{prefix}{uuid.uuid4().hex[:10]}"
        dialect = admin.dialect.name
        if dialect == "sqlite":
            with _sqlite_scratch(name) as made:
                yield made
        else:
            with _server_scratch(admin, parsed, name) as made:
                yield made
    finally:
        admin.dispose()


@contextmanager
def _sqlite_scratch(name: str) -> Iterator[Scratch]:
    # A temporary *file*: an in-memory database is private to one connection, so workers could not share it.
    directory = Path(tempfile.mkdtemp(prefix=name))
    try:
        yield Scratch("sqlite", name, URL.create("sqlite", database=str(directory / f"{name}.db")), {})
    finally:
        shutil.rmtree(directory, ignore_errors=True)


@contextmanager
def _server_scratch(admin: Engine, url: URL, name: str) -> Iterator[Scratch]:
    dialect = admin.dialect.name
    create, drop = (f"CREATE SCHEMA {name}", f"DROP SCHEMA IF EXISTS {name} CASCADE") if dialect == "postgresql" \
        else (f"CREATE DATABASE {name}", f"DROP DATABASE IF EXISTS {name}")
    try:
        with admin.connect() as connection:
            connection.execute(text(create))
    except DBAPIError as error:
        raise IntegrityKitError(f"cannot create the scratch space {name} on {mask_url(url)}: "
                                f"{first_line(error.orig)}") from None
    try:
        if dialect == "postgresql":
            # Unqualified names resolve into the scratch schema only; the user's tables stay out of reach.
            yield Scratch(dialect, name, url, {"options": f"-c search_path={name}"})
        else:
            yield Scratch(dialect, name, url.set(database=name), {})
    finally:
        with admin.connect() as connection:
            connection.execute(text(drop))

