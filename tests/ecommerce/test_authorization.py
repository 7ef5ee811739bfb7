"""User A cannot read, change, check out or pay for user B's cart or orders through any endpoint.

Every attempt is made with A's real token against B's real rows; the database must come out of A's attempts
exactly as it went in, and every refusal must look like "does not exist" (no hint that B's order is there)."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Engine, select

from examples.ecommerce.models import Base, Payment
from examples.ecommerce.openapi import SPEC
from tests.ecommerce import shop
from tests.ecommerce.apiclient import as_user, error

pytestmark = pytest.mark.engines("sqlite", "postgresql")
A, B = 1, 2


@pytest.fixture
def store(app_engine: Engine) -> Engine:
    shop.build(app_engine, users=2)
    return app_engine


@pytest.fixture
def b_rows(app) -> dict[str, int]:
    """B's paid order (key "b-key"), B's pending order, and B's cart with two lines."""
    b = as_user(app, B)
    b.post("/api/cart/items", json={"product_id": 1, "quantity": 1})
    paid = b.post("/api/checkout").get_json()["id"]
    payment = b.post("/api/payment/process", json={"order_id": paid, "idempotency_key": "b-key"})
    assert payment.status_code == 200
    b.post("/api/cart/items", json={"product_id": 3, "quantity": 2})
    pending = b.post("/api/checkout").get_json()["id"]
    b.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
    b.post("/api/cart/items", json={"product_id": 3, "quantity": 1})
    return {"paid": paid, "pending": pending, "payment": payment.get_json()["payment_id"]}


def _without_ids(body: dict) -> str:
    return re.sub(r"\d+", "N", repr(body))


def test_a_cannot_read_or_pay_bs_orders(app, store: Engine, b_rows: dict[str, int]) -> None:
    a = as_user(app, A)
    before = shop.snapshot(store)
    gateway_calls = app.extensions["ecommerce"]["gateway"].calls
    assert a.get("/api/orders").get_json()["items"] == []  # B's orders are not in A's list
    assert {o["id"] for o in as_user(app, B).get("/api/orders").get_json()["items"]} == {b_rows["paid"],
                                                                                        b_rows["pending"]}
    missing = a.get("/api/orders/999999").get_json()
    for order_id in (b_rows["paid"], b_rows["pending"]):
        response = a.get(f"/api/orders/{order_id}")
        error(response, 404, "NOT_FOUND")
        assert _without_ids(response.get_json()) == _without_ids(missing)  # indistinguishable from no order
        for key in ("a-key", "b-key"):
            error(a.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": key}), 404,
                  "NOT_FOUND")
            error(a.post("/api/payment/process", json={"order_id": order_id}, headers={"Idempotency-Key": key}),
                  404, "NOT_FOUND")
    assert shop.snapshot(store) == before
    assert app.extensions["ecommerce"]["gateway"].calls == gateway_calls
    # B still sees both, and can pay the pending one.
    b = as_user(app, B)
    assert b.get(f"/api/orders/{b_rows['paid']}").get_json()["payments"][0]["id"] == b_rows["payment"]
    assert b.post("/api/payment/process", json={"order_id": b_rows["pending"], "idempotency_key": "b-2"}
                  ).status_code == 200


def test_a_cannot_read_change_or_check_out_bs_cart(app, store: Engine, b_rows: dict[str, int]) -> None:
    a = as_user(app, A)
    b_cart = as_user(app, B).get("/api/cart").get_json()
    assert [(line["product_id"], line["quantity"]) for line in b_cart["lines"]] == [(1, 2), (3, 1)]
    before = shop.snapshot(store)
    assert a.get("/api/cart").get_json() == {"user_id": A, "lines": [], "total": "0.00"}
    assert a.get("/api/cart?user_id=2").get_json()["user_id"] == A  # a user id in the query is ignored
    for product_id in (1, 3):
        error(a.put(f"/api/cart/items/{product_id}", json={"quantity": 5}), 404, "NOT_FOUND")
        error(a.put(f"/api/cart/items/{product_id}", json={"quantity": 0, "user_id": B}), 404, "NOT_FOUND")
        error(a.delete(f"/api/cart/items/{product_id}"), 404, "NOT_FOUND")
    # A checkout names no cart: the caller's own (empty) cart is the only one it can take.
    error(a.post("/api/checkout", json={"user_id": B}), 400, "VALIDATION_ERROR")
    assert shop.snapshot(store) == before
    # Adding with B's id in the body fills A's cart, not B's.
    added = a.post("/api/cart/items", json={"product_id": 2, "quantity": 1, "user_id": B})
    assert added.status_code == 201 and added.get_json()["user_id"] == A
    assert as_user(app, B).get("/api/cart").get_json() == b_cart


def test_a_reusing_bs_idempotency_key_pays_only_for_as_own_order(app, store: Engine, b_rows: dict[str, int]) -> None:
    a = as_user(app, A)
    a.post("/api/cart/items", json={"product_id": 2, "quantity": 1})
    order_id = a.post("/api/checkout").get_json()["id"]
    paid = a.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "b-key"})
    assert paid.status_code == 200
    body = paid.get_json()
    # Not B's stored answer replayed: a new payment, for A's order, at A's price.
    assert body["replayed"] is False and body["order_id"] == order_id and body["amount"] == "25.00"
    assert body["payment_id"] != b_rows["payment"]
    with store.connect() as connection:
        owners = dict(connection.execute(select(Payment.id, Payment.order_id)).all())
    assert owners[b_rows["payment"]] == b_rows["paid"]


SECURED = sorted((method.upper(), path) for path, item in SPEC["paths"].items()
                 for method, operation in item.items() if operation.get("security"))


def test_every_secured_route_is_listed() -> None:
    routes = {f"{method} {path}" for method, path in SECURED}
    assert routes == {
        "POST /api/auth/logout", "POST /api/auth/password", "GET /api/auth/me", "GET /api/cart",
        "POST /api/cart/items", "PUT /api/cart/items/{product_id}", "DELETE /api/cart/items/{product_id}",
        "POST /api/checkout", "GET /api/orders", "GET /api/orders/{order_id}", "POST /api/payment/process",
        "POST /api/reservations/sweep"}


@pytest.mark.parametrize(("method", "path"), SECURED, ids=[f"{m} {p}" for m, p in SECURED])
def test_every_secured_route_needs_a_token(app, store: Engine, b_rows: dict[str, int], method: str,
                                           path: str) -> None:
    before = shop.snapshot(store)
    url = path.replace("{product_id}", "1").replace("{order_id}", str(b_rows["pending"]))
    client = app.test_client()
    body = {"order_id": b_rows["pending"], "idempotency_key": "k", "product_id": 1, "quantity": 1,
            "current_password": shop.PASSWORD, "new_password": "a new password"}
    for headers in ({}, {"Authorization": "Bearer not-a-token"}):
        response = client.open(url, method=method, json=body, headers=headers)
        error(response, 401, "UNAUTHORIZED")
    assert shop.snapshot(store) == before
    assert set(before) == set(Base.metadata.tables)
