"""Stochastic races on real servers: naive loses updates and oversells nearly every run, the fixes never do.

16 workers on separate connections, released together by a barrier, race 16 one-unit checkouts of the last 5 units. The
counts come from the database after each run (DESIGN.md §3 invariants), not from what the workers believed.
"""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, inspect

from integrity_kit.races import simulate
from integrity_kit.races.simulate import RaceSpace

pytestmark = pytest.mark.engines("postgresql", "mariadb")

RUNS = 10
WORKERS = 16
ATTEMPTS = 16
STOCK = 5
SAFE = ["for-update", "conditional-update", "optimistic", "serializable"]


def test_naive_oversells_or_loses_updates_in_at_least_9_of_10_runs(engine_url) -> None:
    damaged = 0
    for _ in range(RUNS):
        result = simulate(engine_url, "naive", workers=WORKERS, attempts=ATTEMPTS, stock=STOCK)  # one run = one call
        assert result.orders_placed == result.units_sold  # one unit per order: the counts agree with each other
        if result.oversold_units > 0 or result.lost_updates > 0:
            damaged += 1
            assert not result.invariants_held
            assert result.to_dict()["broken_invariants"]
    assert damaged >= 9, f"naive broke the invariants in only {damaged} of {RUNS} runs"


@pytest.mark.parametrize("strategy", SAFE)
def test_safe_strategies_hold_every_invariant_in_10_of_10_runs(engine_url, strategy: str) -> None:
    with RaceSpace(engine_url, max_workers=WORKERS) as space:  # one schema, refilled for each run
        results = [space.simulate(strategy, workers=WORKERS, attempts=ATTEMPTS, stock=STOCK, seed=run)
                   for run in range(RUNS)]
    for run, result in enumerate(results):
        assert result.invariants_held, (run, result.to_dict())
        # Demand exceeds supply three times over, so every unit sells and everyone else is told "out of stock".
        assert (result.units_sold, result.final_stock, result.lost_updates) == (STOCK, 0, 0), result.to_dict()
        assert result.rejected == ATTEMPTS - STOCK and result.errors == {}, result.to_dict()


def test_the_scratch_space_is_dropped_and_user_tables_untouched(engine_url) -> None:
    engine = create_engine(engine_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE ik_race_keep (id INTEGER PRIMARY KEY)")
        with RaceSpace(engine_url, max_workers=4) as space:
            assert space.name.startswith("ik_race_") and space.name in _namespaces(engine)
            result = space.simulate("conditional-update", workers=4, attempts=6, stock=3)
            assert result.units_sold == 3
        assert space.name not in _namespaces(engine)
        assert inspect(engine).get_table_names() == ["ik_race_keep"]
    finally:
        engine.dispose()


def _namespaces(engine) -> list[str]:
    # PostgreSQL schemas of the test database; MariaDB databases on the server (other runs may add their own).
    return inspect(engine).get_schema_names()
