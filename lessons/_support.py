"""What every lesson needs and nothing more: where its database is, and a freshly built shop in it.

Each lesson runs on a temporary SQLite file with no setup; set ``DATABASE_URL`` (PostgreSQL, MySQL/MariaDB) to run
it on a server instead. The lesson then drops and recreates the reference app's tables in that database.
"""

from __future__ import annotations

import atexit
import os
import shutil
import tempfile
from pathlib import Path

from sqlalchemy import Connection, Engine, text

from examples.ecommerce import database, sample_data
from integrity_kit.connect import mask_url


def database_url(lesson: str) -> str:
    """``DATABASE_URL`` from the environment, else a new SQLite file that is removed when the kernel exits."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url
    folder = Path(tempfile.mkdtemp(prefix=f"ik-{lesson}-"))
    atexit.register(shutil.rmtree, folder, ignore_errors=True)
    return f"sqlite:///{folder / 'shop.db'}"


def fresh_shop(url: str, *, legacy: bool = False, rows: int = 0, seed: int = sample_data.DEFAULT_SEED):
    """The app's engine (SQLite foreign keys on) over a rebuilt schema, plus the sample data's ``LoadResult``."""
    engine = database.make_engine(url)
    database.drop_schema(engine)
    database.create_schema(engine, legacy=legacy)
    loaded = sample_data.load(engine, rows, seed, legacy=legacy) if rows else None
    return engine, loaded


def shown(engine: Engine) -> str:
    """The engine's URL with any password masked, for printing."""
    return mask_url(engine.url)


def explain(connection: Connection, sql: str, **params) -> list[str]:
    """The plan the engine chooses for ``sql``, one line per step, in that engine's own words."""
    dialect = connection.dialect.name
    if dialect == "sqlite":
        rows = connection.execute(text(f"EXPLAIN QUERY PLAN {sql}"), params).all()
        return [row[-1] for row in rows]
    if dialect == "postgresql":
        return [row[0] for row in connection.execute(text(f"EXPLAIN {sql}"), params)]
    result = connection.execute(text(f"EXPLAIN {sql}"), params)
    return [f"table={row.table} type={row.type} key={row.key} rows={row.rows} {row.Extra or ''}".strip()
            for row in result]
