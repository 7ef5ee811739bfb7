"""Hypothesis drives the interleaving engine: generated schedules and carts, run on a real server, invariants
asserted from the database. With ``naive`` it must find a counterexample and shrink it to the two-buyer lost
update; with the fixes it must find none."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings

from integrity_kit.races.testing import RaceHarness, assert_invariants, race_cases

SETTINGS = settings(deadline=None, derandomize=True, database=None, print_blob=False,
                    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])


@pytest.fixture
def harness(engine_url):
    with RaceHarness(engine_url, timeout=5.0) as opened:
        yield opened


@pytest.mark.engines("postgresql", "mariadb")
def test_hypothesis_finds_and_shrinks_the_naive_lost_update(harness) -> None:
    found = []

    @settings(SETTINGS, max_examples=30)
    @given(case=race_cases())
    def naive_keeps_the_invariants(case) -> None:
        report = harness.run("naive", case.order, stock=case.stock, quantities=case.quantities)
        if not report.invariants_held:
            found.append(case)
        assert_invariants(report)

    with pytest.raises(AssertionError) as failure:
        naive_keeps_the_invariants()
    smallest = found[-1]  # Hypothesis replays the shrunk example last
    assert len(smallest.order) == 4 and smallest.quantities == (1, 1)
    # Both buyers read before either writes: the only shape of a lost update.
    assert sorted(smallest.order[:2]) == ["A", "B"], smallest
    assert "naive:" in str(failure.value) and "lost update" in str(failure.value)


@pytest.mark.engines("postgresql")
@pytest.mark.parametrize("strategy", ["for-update", "conditional-update", "optimistic", "serializable"])
def test_hypothesis_finds_nothing_against_the_fixes(harness, strategy: str) -> None:
    @settings(SETTINGS, max_examples=12)
    @given(case=race_cases())
    def keeps_the_invariants(case) -> None:
        assert_invariants(harness.run(strategy, case.order, stock=case.stock, quantities=case.quantities))

    keeps_the_invariants()
