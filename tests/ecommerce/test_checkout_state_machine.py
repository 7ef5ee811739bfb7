"""A stateful hypothesis test: random sequences of add / remove / checkout / pay / fail / expire keep the books.

After every step, straight from the database: stock + units sold == initial stock; reserved is never negative and
equals the active reservations; no order without items; a paid order has exactly one successful payment and
nothing else does; every order total equals the sum of its items; the gateway charged every successful payment
exactly once.
"""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test
from sqlalchemy import Engine, delete, func, insert, select

from examples.ecommerce import cart, checkout, database, payments, reservations
from examples.ecommerce.clock import FakeClock
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Base

pytestmark = pytest.mark.engines("sqlite", "postgresql")

T = Base.metadata.tables
INITIAL = {1: ("4.99", 6), 2: ("12.50", 3), 3: ("0.10", 20)}
USERS = (1, 2, 3)
SAFE = ("for-update", "conditional-update", "optimistic", "serializable")
EXPECTED = {"VALIDATION_ERROR", "INSUFFICIENT_STOCK", "NOT_FOUND", "CONFLICT", "PAYMENT_FAILED"}


def reset(engine: Engine) -> None:
    with engine.begin() as connection:
        for table in reversed(Base.metadata.sorted_tables):
            connection.execute(delete(table))
        connection.execute(insert(T["categories"]), [{"id": 1, "name": "All", "slug": "all"}])
        connection.execute(insert(T["users"]), [
            {"id": user_id, "email": f"u{user_id}@example.com", "phone_number": f"+1 555 {user_id:07d}",
             "full_name": f"User {user_id}"} for user_id in USERS])
        connection.execute(insert(T["products"]), [
            {"id": pid, "sku": f"S{pid}", "name": f"P{pid}", "category_id": 1, "price": price, "stock": stock}
            for pid, (price, stock) in INITIAL.items()])


class CheckoutMachine(RuleBasedStateMachine):
    engine: Engine

    def __init__(self) -> None:
        super().__init__()
        reset(self.engine)
        self.clock = FakeClock()
        self.gateway = payments.FakeGateway()
        self.orders: list[int] = []
        self.key_round: Counter[int] = Counter()  # a new key only after a settled outcome; retries reuse it

    def _expect_domain_error(self, call) -> None:
        try:
            call()
        except DomainError as error:
            assert error.code in EXPECTED, error

    @rule(user=st.sampled_from(USERS), product=st.sampled_from(list(INITIAL)), quantity=st.integers(-1, 12))
    def add(self, user: int, product: int, quantity: int) -> None:
        self._expect_domain_error(lambda: cart.add_item(self.engine, user, product, quantity))

    @rule(user=st.sampled_from(USERS), product=st.sampled_from(list(INITIAL)))
    def remove(self, user: int, product: int) -> None:
        self._expect_domain_error(lambda: cart.remove_item(self.engine, user, product))

    @rule(user=st.sampled_from(USERS), strategy=st.sampled_from(SAFE))
    def checkout(self, user: int, strategy: str) -> None:
        try:
            result = checkout.checkout(self.engine, user, strategy=strategy, clock=self.clock)
        except DomainError as error:
            assert error.code in {"VALIDATION_ERROR", "INSUFFICIENT_STOCK"}, error
        else:
            self.orders.append(result.order_id)

    @precondition(lambda self: self.orders)
    @rule(data=st.data(), behaviour=st.sampled_from(payments.FakeGateway.BEHAVIOURS), new_key=st.booleans())
    def pay(self, data, behaviour: str, new_key: bool) -> None:
        order_id = data.draw(st.sampled_from(self.orders))
        self.gateway.behaviour = behaviour
        if new_key:  # the client gave up on its key (e.g. after a timeout) and retries under a fresh one
            self.key_round[order_id] += 1
        key = f"order-{order_id}-{self.key_round[order_id]}"
        try:
            payments.process_payment(self.engine, order_id, key, self.gateway, clock=self.clock)
        except DomainError as error:
            assert error.code in {"PAYMENT_FAILED", "CONFLICT"}, error
        else:
            self.key_round[order_id] += 1

    @rule(minutes=st.sampled_from([1, 16]))
    def expire(self, minutes: int) -> None:
        self.clock.advance(minutes=minutes)
        payments.resolve_stale(self.engine, self.gateway, clock=self.clock)
        reservations.sweep_expired(self.engine, clock=self.clock)

    @invariant()
    def books_balance(self) -> None:
        with self.engine.connect() as connection:
            products = {pid: (stock, reserved) for pid, stock, reserved in connection.execute(
                select(T["products"].c.id, T["products"].c.stock, T["products"].c.reserved))}
            orders = {oid: (status, total) for oid, status, total in connection.execute(
                select(T["orders"].c.id, T["orders"].c.status, T["orders"].c.total_amount))}
            items = connection.execute(select(T["order_items"].c.order_id, T["order_items"].c.product_id,
                                              T["order_items"].c.quantity, T["order_items"].c.unit_price)).all()
            held = dict(connection.execute(
                select(T["stock_reservations"].c.product_id, func.sum(T["stock_reservations"].c.quantity))
                .where(T["stock_reservations"].c.status == "active").group_by(T["stock_reservations"].c.product_id)
            ).all())
            succeeded = connection.execute(
                select(T["payments"].c.order_id, T["payments"].c.idempotency_key, T["payments"].c.amount)
                .where(T["payments"].c.status == "succeeded")).all()
            recorded = dict(connection.execute(select(T["payments"].c.idempotency_key, T["payments"].c.status)).all())
            in_flight = connection.execute(select(T["payments"].c.order_id)
                                           .where(T["payments"].c.status == "processing")).scalars().all()
        sold = Counter()
        totals: dict[int, Decimal] = Counter()
        for order_id, product_id, quantity, unit_price in items:
            totals[order_id] += unit_price * quantity
            if orders[order_id][0] == "paid":
                sold[product_id] += quantity
        for pid, (stock, reserved) in products.items():
            assert stock + sold[pid] == INITIAL[pid][1], pid
            assert 0 <= reserved <= stock
            assert reserved == (held.get(pid) or 0)
        for order_id, (_status, total) in orders.items():
            assert totals.get(order_id), f"order {order_id} has no items"
            assert totals[order_id] == total
        paid_by_payment = Counter(order_id for order_id, _, _ in succeeded)
        assert paid_by_payment == Counter(oid for oid, (status, _) in orders.items() if status == "paid")
        for _order_id, key, amount in succeeded:
            charged, charge = self.gateway.charges[key]
            assert charge.approved and charged == amount
        # An attempt left in flight (its outcome unknown) still holds its order's units for reconciliation.
        assert all(orders[order_id][0] == "pending" for order_id in in_flight)
        approved = [key for key, (_amount, charge) in self.gateway.charges.items() if charge.approved]
        # No charge without a record, and never two charges for one order.
        assert all(recorded.get(key) in {"succeeded", "processing"} for key in approved), (approved, recorded)
        charged_orders = Counter(key.rsplit("-", 1)[0] for key in approved)
        assert all(count == 1 for count in charged_orders.values()), charged_orders


def test_checkout_state_machine(app_engine: Engine, engine_name: str) -> None:
    database.create_schema(app_engine)
    CheckoutMachine.engine = app_engine
    run_state_machine_as_test(CheckoutMachine, settings=settings(
        max_examples=60 if engine_name == "sqlite" else 40, stateful_step_count=25, deadline=None,
        suppress_health_check=[HealthCheck.too_slow], database=None))
