"""Transaction boundaries in the capture: every statement placed in its transaction, on each engine."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import Session

from integrity_kit.queries import capture
from integrity_kit.report import queries_json
from tests.queries.models import Author, Base, seed


def _line(marker: str) -> int:
    lines = Path(__file__).read_text().splitlines()
    return next(i + 1 for i, line in enumerate(lines) if line.endswith(marker))


SERVER_DEFAULT = {"sqlite": "SERIALIZABLE", "postgresql": "READ COMMITTED", "mariadb": "REPEATABLE READ"}


@pytest.fixture
def engine(engine_url):
    engine = create_engine(engine_url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session)
    yield engine
    engine.dispose()


def sqls(transaction) -> list[str]:
    return [s.sql for s in transaction.statements]


def test_each_transaction_holds_its_own_statements_and_outcome(engine: Engine, engine_name: str) -> None:
    with capture(engine) as log:
        with Session(engine) as session:
            session.execute(text("SELECT name FROM authors WHERE id = 1")).all()
            session.execute(text("UPDATE authors SET name = 'x' WHERE id = 1"))
            session.commit()
            session.execute(text("SELECT name FROM authors WHERE id = 2")).all()
            session.rollback()
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))  # closed without commit: rolled back

    first, second, third = log.transactions
    assert sqls(first) == ["SELECT name FROM authors WHERE id = 1", "UPDATE authors SET name = 'x' WHERE id = 1"]
    assert (first.outcome, second.outcome, third.outcome) == ("commit", "rollback", "rollback")
    assert sqls(second) == ["SELECT name FROM authors WHERE id = 2"]
    assert {t.dialect for t in log.transactions} == {engine_name}
    assert [s.transaction for s in log.statements] == [1, 1, 2, 3]
    assert log.transaction(2) is second
    assert all(t.seen_begin for t in log.transactions)
    assert first.isolation_level == SERVER_DEFAULT[engine_name]


def test_savepoints_say_which_statements_were_kept(engine: Engine) -> None:
    with capture(engine) as log, Session(engine) as session:
        with session.begin_nested():
            session.add(Author(name="kept"))
        try:
            with session.begin_nested():
                session.add(Author(name="undone"))
                session.flush()
                raise LookupError
        except LookupError:
            pass
        session.commit()

    (transaction,) = log.transactions
    kept, undone = transaction.savepoints
    assert (kept.outcome, undone.outcome) == ("released", "rolled back")
    assert [s.sql.split()[0] for s in kept.statements] == ["INSERT"]
    assert [s.sql.split()[0] for s in undone.statements] == ["INSERT"]
    assert kept.statements[0].savepoint == kept.name != undone.name == undone.statements[0].savepoint
    assert transaction.savepoint_of(undone.statements[0]) is undone
    assert transaction.outcome == "commit"


def test_isolation_level_from_each_place_it_can_be_set(engine_url, engine_name: str) -> None:
    engine = create_engine(engine_url, isolation_level="REPEATABLE READ" if engine_name != "sqlite" else None)
    try:
        with capture(engine) as log:
            with engine.connect() as connection:
                connection.execute(text("SELECT 1"))
            with engine.connect().execution_options(isolation_level="SERIALIZABLE") as connection:
                connection.execute(text("SELECT 2"))
            with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
                connection.execute(text("SELECT 3"))
                connection.execute(text("SELECT 4"))
            if engine_name != "sqlite":
                with engine.connect() as connection:
                    connection.execute(text("SET TRANSACTION ISOLATION LEVEL READ COMMITTED"))
                    connection.execute(text("SELECT 5"))
                    connection.commit()
        levels = [t.isolation_level for t in log.transactions]
        engine_level = "SERIALIZABLE" if engine_name == "sqlite" else "REPEATABLE READ"
        expected = [engine_level, "SERIALIZABLE", "AUTOCOMMIT"]
        if engine_name != "sqlite":
            expected.append("READ COMMITTED")
        assert levels == expected
        autocommit = log.transactions[2]
        assert autocommit.autocommit and autocommit.outcome == "commit"  # the driver committed each statement
    finally:
        engine.dispose()


def test_two_connections_interleaved_stay_apart(engine: Engine) -> None:
    with capture(engine) as log, engine.connect() as one, engine.connect() as two:
        one.execute(text("SELECT name FROM authors WHERE id = 1"))
        two.execute(text("SELECT name FROM authors WHERE id = 2"))
        one.execute(text("UPDATE authors SET name = 'a' WHERE id = 1"))
        two.execute(text("SELECT name FROM authors WHERE id = 3"))  # SQLite allows one writer at a time
        one.commit()
        two.rollback()

    first, second = log.transactions
    assert sqls(first) == ["SELECT name FROM authors WHERE id = 1", "UPDATE authors SET name = 'a' WHERE id = 1"]
    assert sqls(second) == ["SELECT name FROM authors WHERE id = 2", "SELECT name FROM authors WHERE id = 3"]
    assert first.connection != second.connection
    assert (first.outcome, second.outcome) == ("commit", "rollback")


def test_pooled_connection_keeps_its_number_across_transactions(engine: Engine) -> None:
    with capture(engine) as log:
        for _ in range(3):
            with Session(engine) as session:
                session.execute(text("SELECT 1")).all()
                session.commit()
    assert len(log.transactions) == 3
    assert len({t.connection for t in log.transactions}) == 1  # the pool hands the same connection back


def test_capture_started_inside_a_transaction_says_it_did_not_see_the_begin(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        with capture(connection) as log:
            connection.execute(text("SELECT 2"))
            connection.commit()
    (transaction,) = log.transactions
    assert not transaction.seen_begin and transaction.outcome == "commit"
    assert sqls(transaction) == ["SELECT 2"]


def test_clear_forgets_transactions_too(engine: Engine) -> None:
    with capture(engine) as log:
        with Session(engine) as session:
            session.execute(text("SELECT 1")).all()
            session.commit()
        log.clear()
        with Session(engine) as session:
            session.execute(text("SELECT 2")).all()
            session.commit()
    (transaction,) = log.transactions
    assert sqls(transaction) == ["SELECT 2"] and transaction.id == 1


@pytest.mark.engines("sqlite", "postgresql")
def test_async_session_transactions(engine_url, engine_name: str) -> None:
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}[engine_name]
    engine = create_async_engine(engine_url.set(drivername=driver))

    async def main():
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine) as session:
            with capture(engine) as log:
                author = Author(name="async")
                session.add(author)
                await session.commit()
                await session.execute(text("SELECT 1"))
                await session.rollback()
        await engine.dispose()
        return log

    log = asyncio.run(main())
    first, second = log.transactions
    assert first.outcome == "commit" and sqls(first)[0].startswith("INSERT INTO authors")
    assert second.outcome == "rollback" and sqls(second) == ["SELECT 1"]
    assert first.dialect == engine_name


def test_json_report_carries_transactions(engine: Engine, engine_name: str) -> None:
    with capture(engine) as log, Session(engine) as session:
        session.execute(text("SELECT name FROM authors WHERE id = 1")).all()  # json: read
        session.commit()
    data = json.loads(queries_json.render(log))
    assert data["summary"]["transactions"] == 1
    (transaction,) = data["transactions"]
    assert transaction["dialect"] == engine_name and transaction["outcome"] == "commit"
    assert transaction["statements"] == 1
    assert transaction["first_location"].endswith(f"test_transactions.py:{_line('# json: read')}")
    assert data["statements"][0]["transaction"] == 1
