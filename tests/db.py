"""Small database helpers shared by the test packages: run literal SQL, record what an engine sends."""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import create_engine, event


@pytest.fixture(name="engine")
def plain_engine_fixture(engine_url):
    """A plain engine on the scratch database (SQLite keeps its default: foreign keys off). A conftest that
    imports this gets an ``engine`` fixture."""
    engine = create_engine(engine_url)
    yield engine
    engine.dispose()


def execute(engine, *statements: str, autocommit: bool = False) -> None:
    """Run SQL written for one engine, in one transaction; ``autocommit`` for what cannot run inside one
    (CREATE INDEX CONCURRENTLY)."""
    if autocommit:
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        return
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


# A statement that writes: rows, schema, privileges or a bulk load.
WRITES = re.compile(r"^\s*(INSERT|UPDATE|DELETE|CREATE|ALTER|DROP|TRUNCATE|REPLACE|MERGE|COPY|GRANT)\b", re.IGNORECASE)


def writes(sent: list[str]) -> list[str]:
    return [statement for statement in sent if WRITES.match(statement)]


@contextmanager
def statements_sent(engine, *, database: str | None = None) -> Iterator[list[str]]:
    """What ``engine`` sends while the block runs; ``Engine`` itself for every engine, ``database`` to keep only
    the statements sent to that database."""
    sent: list[str] = []

    def record(connection, _cursor, statement, _parameters, _context, _executemany):
        if database is None or connection.engine.url.database == database:
            sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
