"""The payment fault matrix: every fault ends with the database and the gateway's ledger agreeing.

Faults: the settle fails after the gateway approved (the database connection is killed mid-settle on PostgreSQL and
MariaDB, or the settle raises), a gateway timeout followed by a retry under a new key, a decline, and a gateway
that raises. After each fault and its recovery (a retry, or the stale-attempt sweep) there is no charge without a
record, no record of a charge that did not happen, no double charge, and stock = initial - units of paid orders,
with exactly the units of pending orders reserved."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal

import pytest
from sqlalchemy import Engine, create_engine, event, select, text
from sqlalchemy.pool import NullPool

from examples.ecommerce.models import Base
from tests.ecommerce import shop
from tests.ecommerce.apiclient import error as _error

T = Base.metadata.tables
PRODUCT, UNITS, INITIAL_STOCK, PRICE = 2, 2, 5, Decimal("25.00")


def _order(client) -> int:
    assert client.post("/api/cart/items", json={"product_id": PRODUCT, "quantity": UNITS}).status_code == 201
    response = client.post("/api/checkout")
    assert response.status_code == 201, response.get_json()
    return response.get_json()["id"]


def _pay(client, order_id: int, key: str):
    return client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": key})


def assert_consistent(engine: Engine, gateway, *, settled: bool = True) -> None:
    """The database and the gateway's ledger tell the same story (``settled``: nothing is left processing)."""
    with engine.connect() as connection:
        recorded = {key: (order_id, status, amount) for key, order_id, status, amount in connection.execute(
            select(T["payments"].c.idempotency_key, T["payments"].c.order_id, T["payments"].c.status,
                   T["payments"].c.amount))}
        orders = dict(connection.execute(select(T["orders"].c.id, T["orders"].c.status)).all())
        items = connection.execute(select(T["order_items"].c.order_id, T["order_items"].c.product_id,
                                          T["order_items"].c.quantity)).all()
        products = {pid: (stock, reserved) for pid, stock, reserved in connection.execute(
            select(T["products"].c.id, T["products"].c.stock, T["products"].c.reserved))}
    approved = {key: amount for key, (amount, charge) in gateway.charges.items() if charge.approved}
    for key, amount in approved.items():  # no charge without a record
        assert key in recorded, f"charge {key} has no payment row"
        assert recorded[key][1] in ({"succeeded"} if settled else {"succeeded", "processing"}), recorded[key]
        assert recorded[key][2] == amount
    for key, (_order_id, status, _amount) in recorded.items():  # no record of a charge that did not happen
        if status == "succeeded":
            assert key in approved, f"payment {key} succeeded without a charge"
    charged = Counter(recorded[key][0] for key in approved)
    assert all(count == 1 for count in charged.values()), f"double charge: {charged}"
    in_flight = {order_id for order_id, status, _amount in recorded.values() if status == "processing"}
    for order_id, status in orders.items():
        if order_id in in_flight:  # outcome not recorded yet: the order waits, its units held, for reconciliation
            assert status == "pending", (order_id, status)
        else:
            assert (status == "paid") == (charged[order_id] == 1), (order_id, status, charged)
    if settled:
        assert all(status != "processing" for _order_id, status, _amount in recorded.values()), recorded
    sold, held = Counter(), Counter()
    for order_id, product_id, quantity in items:
        if orders[order_id] == "paid":
            sold[product_id] += quantity
        elif orders[order_id] == "pending":
            held[product_id] += quantity
    stock, reserved = products[PRODUCT]
    assert stock == INITIAL_STOCK - sold[PRODUCT] and reserved == held[PRODUCT], (products, sold, held)


@contextmanager
def failing_settle(engine: Engine, admin_url, how: str) -> Iterator[list[str]]:
    """Make the settle's first stock update fail: ``kill`` its database connection, or ``raise`` before it."""
    fired: list[str] = []
    admin = create_engine(admin_url, poolclass=NullPool) if how == "kill" else None

    def fault(conn, _cursor, statement, *_args) -> None:
        if fired or not statement.lstrip().upper().startswith("UPDATE PRODUCTS"):
            return
        fired.append(statement)
        if admin is None:
            raise RuntimeError("the settle failed after the gateway approved")
        dbapi = conn.connection.dbapi_connection
        with admin.connect() as control:
            if engine.dialect.name == "postgresql":
                control.execute(text("SELECT pg_terminate_backend(:pid, 5000)"), {"pid": dbapi.info.backend_pid})
            else:
                control.execute(text(f"KILL CONNECTION {int(dbapi.thread_id())}"))

    event.listen(engine, "before_cursor_execute", fault)
    try:
        yield fired
    finally:
        event.remove(engine, "before_cursor_execute", fault)
        if admin is not None:
            admin.dispose()


def _settle_fails(store, app, client, engine_url, how: str) -> tuple[int, dict]:
    order_id = _order(client)
    with failing_settle(store, engine_url, how) as fired:
        answer = _error(_pay(client, order_id, "k1"), 402, "PAYMENT_FAILED")
    assert fired, "the fault did not fire"
    assert answer["details"]["retryable"] is True and answer["details"]["status"] == "processing"
    gateway = app.extensions["ecommerce"]["gateway"]
    assert gateway.total_charged == PRICE * UNITS  # the money was taken...
    assert_consistent(store, gateway, settled=False)  # ...and the row that says so is still there
    return order_id, answer


@pytest.mark.engines("postgresql", "mariadb")
def test_connection_killed_during_settle_then_retry_with_the_same_key(store, app, client, engine_url) -> None:
    order_id, _answer = _settle_fails(store, app, client, engine_url, "kill")
    response = _pay(client, order_id, "k1")
    assert response.status_code == 200 and response.get_json()["status"] == "succeeded", response.get_json()
    assert_consistent(store, app.extensions["ecommerce"]["gateway"])


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
@pytest.mark.parametrize("recovery", ["same key", "new key", "sweep"])
def test_settle_raises_after_the_gateway_approved(store, app, client, engine_url, recovery: str) -> None:
    order_id, _answer = _settle_fails(store, app, client, engine_url, "raise")
    gateway = app.extensions["ecommerce"]["gateway"]
    if recovery == "same key":
        assert _pay(client, order_id, "k1").get_json()["status"] == "succeeded"
    elif recovery == "new key":
        _error(_pay(client, order_id, "k2"), 409, "CONFLICT")  # reconciled first: the order is paid already
    else:
        app.extensions["ecommerce"]["clock"].advance(minutes=6)
        body = client.post("/api/reservations/sweep").get_json()
        assert len(body["resolved_payments"]) == 1 and body["cancelled_orders"] == []
    assert gateway.total_charged == PRICE * UNITS and len(gateway.charges) == 1
    assert_consistent(store, gateway)
    assert shop.count(store, "orders", status="paid") == 1


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_gateway_timeout_then_a_retry_with_a_new_key_charges_once(store, app, client) -> None:
    order_id = _order(client)
    gateway = app.extensions["ecommerce"]["gateway"]
    gateway.behaviour = "timeout"
    answer = _error(_pay(client, order_id, "k1"), 402, "PAYMENT_FAILED")
    assert answer["details"]["reason"] == "timeout" and answer["details"]["retryable"] is True
    assert_consistent(store, gateway, settled=False)
    gateway.behaviour = "succeed"
    conflict = _error(_pay(client, order_id, "k2"), 409, "CONFLICT")
    assert conflict["details"]["status"] == "paid"
    assert gateway.total_charged == PRICE * UNITS  # one charge, not two
    assert_consistent(store, gateway)


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_decline(store, app, client) -> None:
    order_id = _order(client)
    gateway = app.extensions["ecommerce"]["gateway"]
    gateway.behaviour = "decline"
    answer = _error(_pay(client, order_id, "k1"), 402, "PAYMENT_FAILED")
    assert answer["details"]["status"] == "declined"
    assert_consistent(store, gateway)
    assert shop.product_row(store, PRODUCT) == (INITIAL_STOCK, 0)


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
@pytest.mark.parametrize("recovery", ["same key", "new key", "sweep"])
def test_gateway_raises(store, app, client, recovery: str) -> None:
    order_id = _order(client)
    gateway = app.extensions["ecommerce"]["gateway"]
    gateway.behaviour = "raise"
    answer = _error(_pay(client, order_id, "k1"), 402, "PAYMENT_FAILED")
    assert answer["details"]["reason"] == "gateway error" and answer["details"]["retryable"] is True
    _error(_pay(client, order_id, "k1"), 402, "PAYMENT_FAILED")  # still down: nothing changes
    assert_consistent(store, gateway, settled=False)
    gateway.behaviour = "succeed"
    if recovery == "sweep":
        app.extensions["ecommerce"]["clock"].advance(minutes=6)
        assert len(client.post("/api/reservations/sweep").get_json()["resolved_payments"]) == 1
        assert_consistent(store, gateway)  # resolved as not charged; the order is still payable
        assert shop.count(store, "orders", status="pending") == 1
    else:
        response = _pay(client, order_id, "k1" if recovery == "same key" else "k2")
        assert response.status_code == 200 and response.get_json()["status"] == "succeeded", response.get_json()
        assert gateway.total_charged == PRICE * UNITS
        assert_consistent(store, gateway)


@pytest.mark.engines("sqlite")
def test_an_attempt_in_flight_is_not_taken_over(store, app, client) -> None:
    """A second request while the first may still be charging must wait, not charge under another key."""
    from examples.ecommerce import payments

    order_id = _order(client)
    with store.begin() as connection:  # what a process killed mid-call leaves: processing, no answer noted
        connection.execute(T["payments"].insert().values(
            order_id=order_id, idempotency_key="u1:k1", status="processing", amount=PRICE * UNITS,
            created_at=payments.for_database(app.extensions["ecommerce"]["clock"](), store.dialect.name)))
    _error(_pay(client, order_id, "k1"), 409, "CONFLICT")
    _error(_pay(client, order_id, "k2"), 409, "CONFLICT")
    app.extensions["ecommerce"]["clock"].advance(minutes=6)  # past the bound: the call is presumed dead
    assert _pay(client, order_id, "k1").get_json()["status"] == "succeeded"
    assert_consistent(store, app.extensions["ecommerce"]["gateway"])
