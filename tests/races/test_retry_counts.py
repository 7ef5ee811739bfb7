"""``retries`` and ``retried_because`` of a race agree by construction: every retry has its reason, and the count is
the number of reasons, whether the checkout finally ordered, was told "out of stock" or gave up."""

from __future__ import annotations

import dataclasses
from decimal import Decimal

import pytest

from examples.ecommerce import strategies
from examples.ecommerce.race_workload import CheckoutWorkload
from integrity_kit.races.simulate import RaceSpace

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.mark.parametrize("strategy", ["optimistic", "serializable"])
def test_retries_equal_the_reasons_given(engine_url, strategy: str) -> None:
    results = []
    with RaceSpace(engine_url, max_workers=8) as space:
        for seed in range(4):
            results.append(space.simulate(strategy, workers=8, attempts=16, stock=5, seed=seed, think_ms=2))
    for result in results:
        assert result.retries == sum(result.retried_because.values()), result.to_dict()
        assert result.to_dict()["retries"] == sum(result.to_dict()["retried_because"].values())
    if strategy == "optimistic":  # 8 buyers on one version column: some must lose and retry
        assert sum(result.retries for result in results) > 0


def test_a_checkout_that_gave_up_counts_only_its_retries(engine_url, monkeypatch) -> None:
    """Five attempts that all lost are four retries: the fifth failure ends the checkout with its code."""
    def always_stale(*_args: object) -> Decimal:
        raise strategies.VersionConflict()

    optimistic = strategies.STRATEGIES["optimistic"]
    monkeypatch.setitem(strategies.STRATEGIES, "optimistic", dataclasses.replace(optimistic, claim=always_stale))
    monkeypatch.setattr(strategies.time, "sleep", lambda _seconds: None)
    with RaceSpace(engine_url, workload=CheckoutWorkload(), max_workers=1) as space:
        result = space.simulate("optimistic", workers=1, attempts=1, stock=5)
    max_attempts = optimistic.max_attempts
    assert result.errors == {"CONFLICT": 1}
    assert result.retries == max_attempts - 1 == result.retried_because.get("version conflict")
