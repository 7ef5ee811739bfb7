from __future__ import annotations

import pytest
from sqlalchemy import create_engine, event

from integrity_kit.schema import Snapshot, build_snapshot


@pytest.fixture
def engine(engine_url):
    """A plain engine on the scratch database (SQLite keeps its default: foreign keys off)."""
    engine = create_engine(engine_url)
    yield engine
    engine.dispose()


def execute(engine, *statements: str) -> None:
    """Run DDL/DML written for one engine, in one transaction."""
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def snapshot_counting(engine, **kwargs) -> tuple[Snapshot, list[str]]:
    """Build a snapshot and return every statement it sent to the database."""
    statements: list[str] = []

    def record(_conn, _cursor, statement, _parameters, _context, _executemany):
        statements.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        snapshot = build_snapshot(engine, **kwargs)
    finally:
        event.remove(engine, "before_cursor_execute", record)
    return snapshot, statements
