"""Real concurrency on real servers: 16 buyers, separate connections in threads, the last 5 units.

Every safe strategy sells exactly 5, round after round. The naive read-check-write, driven through one forced
interleaving (every buyer reads before anyone writes, held together by a barrier), sells all 16 and the
``reserved`` counter ends up forgetting 15 of them: an oversell caused by lost updates, every time.
"""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, func, select

from examples.ecommerce import catalog, checkout, payments
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Base
from tests.ecommerce import shop

pytestmark = pytest.mark.engines("postgresql", "mariadb")

BUYERS = 16
UNITS = 5
ROUNDS = 3
SAFE = ["for-update", "conditional-update", "optimistic", "serializable"]
T = Base.metadata.tables


@pytest.fixture
def contested(engine_url):
    engine, buyers = shop.contested(engine_url, BUYERS, UNITS)
    yield engine, buyers
    engine.dispose()


def race(engine: Engine, buyers: list[int], strategy: str, pause=None) -> list[object]:
    """Start every buyer at once; each outcome is a CheckoutResult, an error code, or an unexpected exception."""
    start = threading.Barrier(len(buyers))
    outcomes: list[object] = [None] * len(buyers)

    def buy(index: int, user_id: int) -> None:
        try:
            start.wait(timeout=30)
            outcomes[index] = checkout.checkout(engine, user_id, strategy=strategy, pause=pause)
        except DomainError as error:
            outcomes[index] = error.code
        except Exception as error:  # reported by the assertion below, never swallowed
            outcomes[index] = error

    threads = [threading.Thread(target=buy, args=(i, user_id)) for i, user_id in enumerate(buyers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    assert not any(thread.is_alive() for thread in threads), "a buyer hung"
    return outcomes


def units_ordered(engine: Engine) -> int:
    with engine.connect() as connection:
        return connection.execute(select(func.coalesce(func.sum(T["order_items"].c.quantity), 0))).scalar()


@pytest.mark.parametrize("strategy", SAFE)
def test_safe_strategies_sell_exactly_the_last_units(contested, strategy: str) -> None:
    engine, buyers = contested
    gateway = payments.FakeGateway()
    for round_number in range(1, ROUNDS + 1):
        outcomes = race(engine, buyers, strategy)
        won = [outcome for outcome in outcomes if isinstance(outcome, checkout.CheckoutResult)]
        lost = [outcome for outcome in outcomes if not isinstance(outcome, checkout.CheckoutResult)]
        assert len(won) == UNITS, (round_number, outcomes)
        assert lost == ["INSUFFICIENT_STOCK"] * (BUYERS - UNITS), (round_number, outcomes)
        assert shop.product_row(engine, 1) == (UNITS, UNITS)  # all 5 held, none beyond
        assert units_ordered(engine) == UNITS * round_number
        for result in won:
            assert payments.process_payment(engine, result.order_id, f"pay-{result.order_id}", gateway).succeeded
        assert shop.product_row(engine, 1) == (0, 0)
        # Restock for the next round; the winners put the item back in their carts.
        catalog.bulk_update_stock(engine, {1: UNITS})
        winners = {result.order_id for result in won}
        with engine.connect() as connection:
            users = connection.execute(select(T["orders"].c.user_id).where(T["orders"].c.id.in_(winners))).scalars()
            for user_id in users.all():
                shop.fill_cart(engine, user_id, {1: 1})


def test_naive_oversells_when_every_buyer_reads_before_anyone_writes(contested) -> None:
    engine, buyers = contested
    everyone_has_read = threading.Barrier(len(buyers))

    def pause(_product_id: int) -> None:
        everyone_has_read.wait(timeout=30)

    outcomes = race(engine, buyers, "naive", pause=pause)
    assert all(isinstance(outcome, checkout.CheckoutResult) for outcome in outcomes), outcomes
    stock, reserved = shop.product_row(engine, 1)
    ordered = units_ordered(engine)
    assert ordered == BUYERS  # 16 orders for 5 units: oversold by 11
    assert (stock, reserved) == (UNITS, 1)  # every write was "0 + 1": 15 updates lost
    assert ordered - reserved == BUYERS - 1
