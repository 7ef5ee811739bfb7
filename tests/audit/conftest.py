from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from integrity_kit.audit import Report, audit
from tests.recording import statements_sent


@pytest.fixture
def engine(engine_url):
    """A plain engine on the scratch database (SQLite keeps its default: foreign keys off)."""
    engine = create_engine(engine_url)
    yield engine
    engine.dispose()


def execute(engine, *statements: str, autocommit: bool = False) -> None:
    if autocommit:  # CREATE INDEX CONCURRENTLY cannot run inside a transaction
        with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
            for statement in statements:
                connection.exec_driver_sql(statement)
        return
    with engine.begin() as connection:
        for statement in statements:
            connection.exec_driver_sql(statement)


def audited(engine, **options) -> tuple[Report, list[str]]:
    """Audit through the library and return every statement the audit sent."""
    with statements_sent(engine) as sent:
        report = audit(engine, **options)
    return report, sent


def keys(report: Report, *rules: str) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(f.rule, f.table, f.columns) for f in report.findings if not rules or f.rule in rules}
