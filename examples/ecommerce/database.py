"""Engines, schema creation (correct schema through Alembic, legacy through ``create_all``) and reset."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine, MetaData, event, inspect
from sqlalchemy.engine import URL

from examples.ecommerce.legacy import LegacyBase
from examples.ecommerce.models import Base
from integrity_kit.connect import make_engine as _make_engine
from integrity_kit.connect import verify_connection

MIGRATIONS = Path(__file__).with_name("migrations")
SQLITE_BUSY_TIMEOUT_MS = 30_000
APP_TABLES = tuple(table.name for table in Base.metadata.sorted_tables)


def make_engine(url: str | URL | None, **kwargs) -> Engine:
    """The app's engine: integrity-kit's connection checks, plus foreign keys switched on for SQLite.

    SQLite ignores every declared foreign key unless each connection runs ``PRAGMA foreign_keys = ON``; an app
    that forgets it has constraints on paper only (the audit's ``foreign-key-not-enforced`` rule looks for that).
    Pooled connections are pinged before use, so the first request after a database restart does not fail.
    """
    kwargs.setdefault("pool_pre_ping", True)
    engine = _make_engine(url, check=False, **kwargs)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_foreign_keys_on)
    verify_connection(engine)
    return engine


def _sqlite_foreign_keys_on(dbapi_connection, _record) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA foreign_keys = ON")
    # SQLite has one write lock for the whole file: under a hundred concurrent requests a writer may queue for
    # longer than the driver's 5 s default, and waiting is better than a 500.
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
    cursor.close()


def alembic_config(connection=None) -> Config:
    """An Alembic ``Config`` for the app's migrations that needs no ``alembic.ini`` on disk."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def upgrade(engine: Engine, revision: str = "head") -> None:
    # connect(), not begin(): env.py owns the transaction (on SQLite it must switch foreign keys off before it).
    with engine.connect() as connection:
        command.upgrade(alembic_config(connection), revision)


def downgrade(engine: Engine, revision: str = "base") -> None:
    with engine.connect() as connection:
        command.downgrade(alembic_config(connection), revision)


def create_schema(engine: Engine, *, legacy: bool = False) -> None:
    """The correct schema through the migrations, or the legacy one as its first project created it."""
    if legacy:
        LegacyBase.metadata.create_all(engine)
    else:
        upgrade(engine)


def existing_tables(engine: Engine) -> list[str]:
    """App tables (and Alembic's version table) already present in the target database."""
    names = set(inspect(engine).get_table_names())
    return sorted(names & (set(APP_TABLES) | {"alembic_version"}))


def drop_schema(engine: Engine) -> None:
    """Drop the app's tables in either form, children first, and Alembic's version table."""
    reflected = MetaData()
    present = existing_tables(engine)
    if not present:
        return
    reflected.reflect(engine, only=present)
    reflected.drop_all(engine)
