"""The service layer on every engine: cart rules, checkout, reservations, payments, catalog."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from examples.ecommerce import cart, catalog, checkout, payments, reservations
from examples.ecommerce.clock import FakeClock
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Order
from tests.ecommerce import shop


def _code(raised: pytest.ExceptionInfo) -> str:
    return raised.value.code


def test_add_merges_lines_and_validates(store: Engine) -> None:
    cart.add_item(store, 1, 1, 2)
    view = cart.add_item(store, 1, 1, 3)
    assert [(line.product_id, line.quantity) for line in view.lines] == [(1, 5)]
    assert shop.count(store, "cart_items") == 1
    assert view.total == Decimal("49.95")
    for bad in (0, -1, 1.5, "2", True, 10**9, None):
        with pytest.raises(DomainError) as raised:
            cart.add_item(store, 1, 1, bad)
        assert _code(raised) == "VALIDATION_ERROR", bad
    with pytest.raises(DomainError) as raised:
        cart.add_item(store, 1, 1, 6)  # 5 + 6 > the per-customer limit of 10
    assert raised.value.details["rule"] == "max_per_user"
    with pytest.raises(DomainError) as raised:
        cart.add_item(store, 1, 2, 6)  # only 5 in stock
    assert _code(raised) == "INSUFFICIENT_STOCK"
    with pytest.raises(DomainError) as raised:
        cart.add_item(store, 1, 999, 1)
    assert _code(raised) == "NOT_FOUND"
    with pytest.raises(DomainError) as raised:
        cart.add_item(store, 999, 1, 1)
    assert _code(raised) == "NOT_FOUND"
    assert [(line.product_id, line.quantity) for line in cart.set_quantity(store, 1, 1, 4).lines] == [(1, 4)]
    assert cart.remove_item(store, 1, 1).lines == []
    with pytest.raises(DomainError) as raised:
        cart.remove_item(store, 1, 1)
    assert _code(raised) == "NOT_FOUND"


@pytest.mark.parametrize("strategy", ["naive", "for-update", "conditional-update", "optimistic", "serializable"])
def test_checkout_reserves_prices_and_clears_cart(store: Engine, strategy: str) -> None:
    cart.add_item(store, 1, 3, 2)
    cart.add_item(store, 1, 1, 3)
    result = checkout.checkout(store, 1, strategy=strategy)
    assert result.total == Decimal("36.97")  # 3 x 9.99 + 2 x 3.50, exact
    assert [line[:2] for line in result.lines] == [(1, 3), (3, 2)]  # ascending product id
    assert shop.product_row(store, 1) == (10, 3)
    assert shop.product_row(store, 3) == (100, 2)
    assert shop.count(store, "cart_items") == 0
    assert shop.count(store, "stock_reservations", status="active") == 2
    with Session(store) as session:
        order = session.get(Order, result.order_id)
        assert order.status == "pending"
        assert sum(item.line_total for item in order.items) == order.total_amount


def test_checkout_is_all_or_nothing(store: Engine) -> None:
    shop.fill_cart(store, 1, {1: 2, 2: 6})  # product 2 has only 5
    before = shop.snapshot(store)
    with pytest.raises(DomainError) as raised:
        checkout.checkout(store, 1)
    assert _code(raised) == "INSUFFICIENT_STOCK"
    assert raised.value.details == {"product_id": 2, "requested": 6, "available": 5}
    assert shop.snapshot(store) == before  # product 1's reservation was rolled back with the rest
    with pytest.raises(DomainError) as raised:
        checkout.checkout(store, 2)
    assert raised.value.message == "the cart is empty"


def test_price_at_purchase_time_survives_catalog_changes(store: Engine) -> None:
    cart.add_item(store, 1, 1, 1)
    order_id = checkout.checkout(store, 1).order_id
    from examples.ecommerce.models import Product
    with Session(store) as session:
        session.get(Product, 1).price = Decimal("19.99")
        session.commit()
        assert session.get(Order, order_id).items[0].unit_price == Decimal("9.99")


def test_payment_success_converts_reservation_and_is_idempotent(store: Engine) -> None:
    gateway = payments.FakeGateway("succeed")
    cart.add_item(store, 1, 2, 2)
    order_id = checkout.checkout(store, 1).order_id
    first = payments.process_payment(store, order_id, "key-1", gateway)
    second = payments.process_payment(store, order_id, "key-1", gateway)  # the double click
    assert first.succeeded and second.replayed
    assert (second.payment_id, second.status, second.amount) == (first.payment_id, "succeeded", Decimal("50.00"))
    assert gateway.calls == 1 and gateway.total_charged == Decimal("50.00")
    assert shop.product_row(store, 2) == (3, 0)  # sold: out of stock and out of the hold
    assert shop.count(store, "payments") == 1
    with pytest.raises(DomainError) as raised:
        payments.process_payment(store, order_id, "key-2", gateway)  # a new key cannot pay a paid order again
    assert _code(raised) == "CONFLICT"
    with pytest.raises(DomainError) as raised:
        payments.process_payment(store, 999, "key-3", gateway)
    assert _code(raised) == "NOT_FOUND"


def test_decline_releases_stock_and_replays(store: Engine) -> None:
    gateway = payments.FakeGateway("decline")
    cart.add_item(store, 1, 2, 2)
    order_id = checkout.checkout(store, 1).order_id
    result = payments.process_payment(store, order_id, "k", gateway)
    assert result.status == "declined" and not result.succeeded
    assert payments.process_payment(store, order_id, "k", gateway).replayed
    assert shop.product_row(store, 2) == (5, 0)
    assert shop.count(store, "orders", status="payment_failed") == 1
    assert shop.count(store, "stock_reservations", status="active") == 0


@pytest.mark.parametrize("behaviour", ["raise", "timeout"])
def test_an_unknown_outcome_keeps_the_attempt_and_a_retry_reconciles_it(store: Engine, behaviour: str) -> None:
    cart.add_item(store, 1, 2, 2)
    order_id = checkout.checkout(store, 1).order_id
    gateway = payments.FakeGateway(behaviour)
    with pytest.raises(DomainError) as raised:
        payments.process_payment(store, order_id, "k", gateway)
    assert _code(raised) == "PAYMENT_FAILED" and raised.value.details["retryable"] is True
    # The attempt stays, under the key the gateway knows it by (a timed-out charge may have happened).
    assert shop.count(store, "payments", status="processing", idempotency_key="k") == 1
    assert shop.product_row(store, 2) == (5, 2) and shop.count(store, "orders", status="pending") == 1
    # Retrying with the same key: a timed-out charge is found by the gateway, never charged twice.
    gateway.behaviour = "succeed"
    assert payments.process_payment(store, order_id, "k", gateway).succeeded
    assert gateway.total_charged == Decimal("50.00") and len(gateway.charges) == 1
    assert shop.product_row(store, 2) == (3, 0)
    assert shop.count(store, "payments") == 1


def test_expiry_sweep_releases_and_blocks_late_payment(store: Engine) -> None:
    clock = FakeClock()
    cart.add_item(store, 1, 2, 5)
    order_id = checkout.checkout(store, 1, clock=clock).order_id
    assert shop.product_row(store, 2) == (5, 5)
    assert reservations.sweep_expired(store, clock=clock) == []
    clock.advance(minutes=16)
    with pytest.raises(DomainError) as raised:
        payments.process_payment(store, order_id, "late", payments.FakeGateway(), clock=clock)
    assert raised.value.details["status"] == "expired"
    assert reservations.sweep_expired(store, clock=clock) == [order_id]
    assert shop.product_row(store, 2) == (5, 0)
    assert shop.count(store, "orders", status="cancelled") == 1
    assert reservations.sweep_expired(store, clock=clock) == []


def test_listing_filters_paginates_and_loads_categories_eagerly(store: Engine) -> None:
    page = catalog.list_products(store, per_page=2)
    assert (page.total, len(page.items), page.to_dict()["pages"]) == (3, 2, 2)
    assert page.items[0]["category"]["slug"] == "games" and page.items[0]["available"] == 10
    assert [p["id"] for p in catalog.list_products(store, page=2, per_page=2).items] == [3]
    assert [p["id"] for p in catalog.list_products(store, category="books").items] == [2]
    assert [p["id"] for p in catalog.list_products(store, min_price="5", max_price="10").items] == [1]
    assert catalog.list_products_n_plus_one(store) == catalog.list_products(store).items
    for bad in ({"page": 0}, {"per_page": 1000}, {"min_price": "abc"}):
        with pytest.raises(DomainError):
            catalog.list_products(store, **bad)


def test_bulk_stock_update_is_one_atomic_statement(store: Engine) -> None:
    statements = []
    from sqlalchemy import event

    def count_updates(conn, cursor, statement, *args):
        if statement.lstrip().upper().startswith("UPDATE"):
            statements.append(statement)

    event.listen(store, "before_cursor_execute", count_updates)
    try:
        assert catalog.bulk_update_stock(store, {1: 7, 2: 0, 3: 42}) == 3
    finally:
        event.remove(store, "before_cursor_execute", count_updates)
    assert len(statements) == 1 and "CASE" in statements[0]
    assert [shop.product_row(store, pid)[0] for pid in (1, 2, 3)] == [7, 0, 42]
    cart.add_item(store, 1, 1, 5)
    checkout.checkout(store, 1)
    with pytest.raises(DomainError) as raised:
        catalog.bulk_update_stock(store, {1: 4, 3: 1})  # 5 of product 1 are reserved
    assert _code(raised) == "CONFLICT"
    assert [shop.product_row(store, pid)[0] for pid in (1, 3)] == [7, 42]  # neither changed
    with pytest.raises(DomainError):
        catalog.bulk_update_stock(store, {1: -1})
    with Session(store) as session:
        assert session.scalar(select(Order.status)) == "pending"
