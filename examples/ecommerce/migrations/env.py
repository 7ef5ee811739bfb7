"""Alembic environment for the reference app.

The connection comes from ``config.attributes["connection"]`` when called from Python (``init``, the tests), or
from ``DATABASE_URL`` when run with the ``alembic`` command.
"""

from __future__ import annotations

import os

from alembic import context

from examples.ecommerce.models import Base

config = context.config
target_metadata = Base.metadata


def _configure(**kwargs) -> None:
    context.configure(
        target_metadata=target_metadata,
        compare_type=True,
        compare_server_default=False,
        # Each revision commits on its own: a backfill revision never runs while an earlier revision's DDL locks
        # are still held, and a failure keeps the revisions before it.
        transaction_per_migration=True,
        **kwargs,
    )


def run_offline() -> None:
    url = os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url")
    _configure(url=url, literal_binds=True, dialect_opts={"paramstyle": "named"},
               render_as_batch=str(url).startswith("sqlite"))
    with context.begin_transaction():
        context.run_migrations()


def run_online() -> None:
    connection = config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from examples.ecommerce.database import make_engine

    engine = make_engine(os.environ.get("DATABASE_URL") or config.get_main_option("sqlalchemy.url"))
    try:
        with engine.connect() as connection:
            _run_on(connection)
    finally:
        engine.dispose()


def _run_on(connection) -> None:
    if connection.dialect.name == "sqlite":
        _run_on_sqlite(connection)
        return
    if connection.dialect.name == "postgresql":
        # A revision that cannot get its lock within 5s fails instead of queueing every query on the table behind
        # it. The setting lasts for the session: commit it at once, unless the caller holds a transaction open.
        outer = connection.in_transaction()
        connection.exec_driver_sql("SET lock_timeout = '5s'")
        if not outer:
            connection.commit()
    _configure(connection=connection)
    with context.begin_transaction():
        context.run_migrations()


def _run_on_sqlite(connection) -> None:
    """SQLite cannot ALTER most things, so batch mode rebuilds the table: copy, DROP the old one, rename. With
    foreign keys on, that DROP deletes the old rows first, cascading into cart_items (ON DELETE CASCADE) or being
    refused by order_items (RESTRICT). SQLite's own recipe: foreign keys off around the rebuild (the pragma only
    takes effect outside a transaction), then `PRAGMA foreign_key_check` before committing."""
    if connection.in_transaction():
        raise RuntimeError("run SQLite migrations on a connection outside a transaction (engine.connect(), not "
                           "engine.begin()): PRAGMA foreign_keys cannot change inside one")
    enforced = connection.exec_driver_sql("PRAGMA foreign_keys").scalar()
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    connection.commit()  # ends SQLAlchemy's autobegun bookkeeping; pysqlite sends no BEGIN for a PRAGMA
    try:
        _configure(connection=connection, render_as_batch=True, on_version_apply=_foreign_key_check)
        with context.begin_transaction():
            context.run_migrations()
    finally:
        if enforced:
            connection.exec_driver_sql("PRAGMA foreign_keys = ON")
            connection.commit()


def _foreign_key_check(ctx, step, **_kwargs) -> None:
    # Runs inside each revision's own transaction, so a revision that broke a reference is rolled back.
    broken = ctx.connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    if broken:
        raise RuntimeError(f"revision {step.up_revision_id} left rows that break foreign keys "
                           f"(table, rowid, parent, fk): {broken[:5]}")


if context.is_offline_mode():
    run_offline()
else:
    run_online()
