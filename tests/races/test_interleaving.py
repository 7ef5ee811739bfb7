"""The interleaving engine on its own: blocked steps, deferred steps, and a step that hangs past the timeout."""

from __future__ import annotations

import time

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from integrity_kit.errors import error_code
from integrity_kit.races.interleaving import Interleaving, ScheduleError, connection_ids

pytestmark = pytest.mark.engines("postgresql")


@pytest.fixture
def engine(engine_url):
    made = create_engine(engine_url)
    connection_ids(made)
    with made.begin() as connection:
        connection.execute(text("CREATE TABLE t (id INTEGER PRIMARY KEY, v INTEGER)"))
        connection.execute(text("INSERT INTO t VALUES (1, 0)"))
    yield made
    made.dispose()


def sql_session(engine, *statements: str, pause_after: float = 0.0):
    """A program running ``statements`` one step each; ``pause_after`` seconds of Python work after each one stand
    for a slow machine."""
    def program(ctx):
        with engine.connect() as connection:
            for statement in statements:
                ctx.step(statement)
                try:
                    connection.execute(text(statement)) if statement != "COMMIT" else connection.commit()
                except DBAPIError as error:
                    ctx.fail(error_code(error))
                    connection.rollback()
                    return
                time.sleep(pause_after)

    return program


def test_a_blocked_step_and_the_steps_behind_it_wait_for_the_lock(engine) -> None:
    programs = {"T1": sql_session(engine, "UPDATE t SET v = 1 WHERE id = 1", "COMMIT"),
                "T2": sql_session(engine, "UPDATE t SET v = 2 WHERE id = 1", "COMMIT")}
    trace = Interleaving(engine).run(programs, ["T1", "T2", "T2", "T1"])
    assert trace.lines() == [
        " 1. T1: UPDATE t SET v = 1 WHERE id = 1",
        " 2. T2: UPDATE t SET v = 2 WHERE id = 1 -- blocked on a lock, resumed after step 3",
        " 3. T1: COMMIT",  # T2's COMMIT was deferred behind its blocked UPDATE, so T1's COMMIT ran first
        " 4. T2: COMMIT",
    ]
    with engine.connect() as connection:
        assert connection.execute(text("SELECT v FROM t")).scalar_one() == 2


def test_a_release_is_credited_to_the_step_that_caused_it_however_slowly_the_released_step_ends(engine) -> None:
    # T2 needs far longer than the settling pause to finish its step once T1's COMMIT lets it go; T3's step must
    # not be taken for the one that released it.
    programs = {"T1": sql_session(engine, "UPDATE t SET v = 1 WHERE id = 1", "COMMIT"),
                "T2": sql_session(engine, "UPDATE t SET v = 2 WHERE id = 1", "COMMIT", pause_after=0.6),
                "T3": sql_session(engine, "SELECT 1", "COMMIT")}
    trace = Interleaving(engine).run(programs, ["T1", "T2", "T1", "T3", "T2", "T3"])
    assert trace.lines()[:4] == [
        " 1. T1: UPDATE t SET v = 1 WHERE id = 1",
        " 2. T2: UPDATE t SET v = 2 WHERE id = 1 -- blocked on a lock, resumed after step 3",
        " 3. T1: COMMIT",
        " 4. T3: SELECT 1",
    ]


def test_a_step_that_hangs_is_cancelled_at_the_timeout(engine) -> None:
    programs = {"T1": sql_session(engine, "SELECT pg_sleep(30)", "COMMIT")}
    trace = Interleaving(engine, timeout=0.5).run(programs, ["T1"])
    first = trace.steps[0]
    assert first.timed_out and first.error == "57014"  # query_canceled
    assert "still waiting at the timeout, cancelled" in trace.lines()[0]


def test_an_order_naming_an_unknown_session_is_refused(engine) -> None:
    with pytest.raises(ScheduleError, match="T9"):
        Interleaving(engine).run({"T1": sql_session(engine, "COMMIT")}, ["T1", "T9"])
