"""Small database helpers shared by the test packages: run literal SQL, record what an engine sends."""

from __future__ import annotations

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


@contextmanager
def statements_sent(engine) -> Iterator[list[str]]:
    sent: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        sent.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield sent
    finally:
        event.remove(engine, "before_cursor_execute", record)
