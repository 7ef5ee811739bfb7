"""Hypothesis race tests for your own checkout: generated interleavings and carts, run on a real engine.

    import pytest
    from hypothesis import HealthCheck, given, settings
    from integrity_kit.races.testing import RaceHarness, assert_invariants, race_cases

    @pytest.fixture(scope="module")
    def harness():
        with RaceHarness("postgresql://localhost/scratch", workload="myshop.race:WORKLOAD") as opened:
            yield opened

    def test_checkout_never_loses_stock(harness):
        @settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
        @given(case=race_cases())
        def property(case):
            assert_invariants(harness.run("for-update", case.order, stock=case.stock, quantities=case.quantities))

        property()

Each case is an interleaving of 2-3 buyers (each appears twice: read, then write and commit) with 1-2 units in
every cart and 1-4 in stock. Hypothesis shrinks a failing case to the smallest schedule that still breaks an
invariant; :func:`assert_invariants` says which invariant broke and prints the trace. Requires ``hypothesis``.
"""

from __future__ import annotations

from dataclasses import dataclass

from hypothesis import strategies as st

from integrity_kit.races.scheduled_race import RaceHarness, ScheduledReport

__all__ = ["RaceCase", "RaceHarness", "assert_invariants", "race_cases"]

NAMES = "ABCDEFGH"


@dataclass(frozen=True)
class RaceCase:
    order: tuple[str, ...]
    quantities: tuple[int, ...]
    stock: int


@st.composite
def race_cases(draw, *, min_buyers: int = 2, max_buyers: int = 3, max_quantity: int = 2,
               max_stock: int = 4) -> RaceCase:
    """A schedule (every buyer twice, in any interleaving), the buyers' cart quantities and the stock."""
    buyers = draw(st.integers(min_buyers, max_buyers))
    names = list(NAMES[:buyers])
    order = draw(st.permutations([name for name in names for _ in range(2)]))
    quantities = draw(st.lists(st.integers(1, max_quantity), min_size=buyers, max_size=buyers))
    stock = draw(st.integers(1, max_stock))
    return RaceCase(tuple(order), tuple(quantities), stock)


def assert_invariants(report: ScheduledReport) -> None:
    """Fail with the broken invariants and the step-by-step trace (the counterexample worth reading)."""
    broken = [f"{i.name} ({i.detail})" for i in report.result.invariants if not i.held]
    if broken:
        trace = "\n".join(report.trace)
        raise AssertionError(f"{report.result.strategy}: {'; '.join(broken)}\n{trace}\n{report.how}")
