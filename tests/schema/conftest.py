from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from integrity_kit.schema import Snapshot, build_snapshot
from tests.recording import statements_sent


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
    with statements_sent(engine) as sent:
        snapshot = build_snapshot(engine, **kwargs)
    return snapshot, sent
