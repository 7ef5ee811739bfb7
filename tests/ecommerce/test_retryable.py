"""`strategies.retryable` classifies the errors real servers raise under contention, not hand-made ones."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Column, Engine, Integer, MetaData, Table, create_engine, select, text, update
from sqlalchemy.exc import DBAPIError

from examples.ecommerce.database import make_engine
from examples.ecommerce.strategies import retryable

metadata = MetaData()
rows = Table("contended", metadata, Column("id", Integer, primary_key=True, autoincrement=False),
             Column("n", Integer, nullable=False))


@pytest.fixture
def engine(engine_url) -> Engine:
    engine = make_engine(engine_url.render_as_string(hide_password=False))
    metadata.create_all(engine)
    with engine.begin() as connection:
        connection.execute(rows.insert(), [{"id": 1, "n": 0}, {"id": 2, "n": 0}])
    yield engine
    engine.dispose()


@pytest.mark.engines("postgresql", "mariadb")
def test_a_real_deadlock_is_retryable(engine: Engine, engine_name: str) -> None:
    """Two transactions each lock one row, then want the other's: the server kills one of them."""
    both_locked = threading.Barrier(2, timeout=10)
    errors: list[BaseException] = []

    def worker(first: int, second: int) -> None:
        try:
            with engine.begin() as connection:
                connection.execute(update(rows).where(rows.c.id == first).values(n=rows.c.n + 1))
                both_locked.wait()
                connection.execute(update(rows).where(rows.c.id == second).values(n=rows.c.n + 1))
        except DBAPIError as error:
            errors.append(error)

    threads = [threading.Thread(target=worker, args=pair) for pair in ((1, 2), (2, 1))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(errors) == 1, errors  # one victim; the other transaction commits
    expected = "40P01 deadlock detected" if engine_name == "postgresql" else "1213 deadlock found"
    assert retryable(errors[0]) == expected


@pytest.mark.engines("postgresql")
def test_a_real_serialization_failure_is_retryable(engine: Engine) -> None:
    serializable = engine.execution_options(isolation_level="SERIALIZABLE")
    with serializable.connect() as first, serializable.connect() as second:
        first.begin()
        second.begin()
        first.execute(select(rows.c.n).where(rows.c.id == 1)).scalar_one()
        second.execute(update(rows).where(rows.c.id == 1).values(n=5))
        second.commit()
        with pytest.raises(DBAPIError) as raised:
            first.execute(update(rows).where(rows.c.id == 1).values(n=6))
        first.rollback()
    assert retryable(raised.value) == "40001 serialization failure"


@pytest.mark.engines("sqlite")
def test_a_busy_sqlite_database_is_retryable(engine: Engine) -> None:
    impatient = create_engine(engine.url, connect_args={"timeout": 0})
    try:
        with engine.connect() as holder:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            with impatient.connect() as other, pytest.raises(DBAPIError) as raised:
                other.exec_driver_sql("BEGIN IMMEDIATE")
            holder.rollback()
    finally:
        impatient.dispose()
    assert retryable(raised.value) == "5 database is locked (SQLITE_BUSY)"


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_a_constraint_violation_is_not_retryable(engine: Engine) -> None:
    with pytest.raises(DBAPIError) as raised, engine.begin() as connection:
        connection.execute(rows.insert().values(id=1, n=0))
    assert retryable(raised.value) is None
    with engine.connect() as connection:  # and the rows are as they were
        assert connection.execute(text("SELECT COUNT(*) FROM contended")).scalar() == 2
