"""The JSON API through Flask's test client: every endpoint, every error code, never a 500 for bad input.

Each test speaks as user 1 (``client``) or user 2 (``other``) with a real token; who may see what is in
test_authorization.py, and logging in itself in test_auth.py."""

from __future__ import annotations

import json
import threading

import pytest
from sqlalchemy import Engine

from tests.ecommerce import shop
from tests.ecommerce.apiclient import as_user
from tests.ecommerce.apiclient import error as _error

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture
def other(app):
    return as_user(app, 2)


def _checkout(client, product_id: int = 2, quantity: int = 2) -> int:
    assert client.post("/api/cart/items", json={"product_id": product_id, "quantity": quantity}).status_code == 201
    response = client.post("/api/checkout")
    assert response.status_code == 201, response.get_json()
    body = response.get_json()
    assert body["id"] == body["order_id"]
    return body["id"]


def test_products_listing_filters_and_pages(client) -> None:
    body = client.get("/api/products?per_page=2").get_json()
    assert (body["total"], body["pages"], len(body["items"])) == (3, 2, 2)
    item = body["items"][0]
    assert item["price"] == "9.99" and item["category"]["slug"] == "games" and item["available"] == 10
    assert [p["id"] for p in client.get("/api/products?page=2&per_page=2").get_json()["items"]] == [3]
    assert [p["id"] for p in client.get("/api/products?category=books").get_json()["items"]] == [2]
    assert [p["id"] for p in client.get("/api/products?category=1").get_json()["items"]] == [2]
    assert [p["id"] for p in client.get("/api/products?min_price=4&max_price=10").get_json()["items"]] == [1]
    for query in ("page=0", "page=abc", "per_page=1000", "min_price=cheap", "max_price=-1", "page=99999999999999"):
        _error(client.get(f"/api/products?{query}"), 400, "VALIDATION_ERROR")


def test_stock_endpoint(client) -> None:
    assert client.get("/api/products/2/stock").get_json() == {"product_id": 2, "stock": 5, "reserved": 0,
                                                              "available": 5}
    _checkout(client)
    assert client.get("/api/products/2/stock").get_json()["available"] == 3
    _error(client.get("/api/products/999/stock"), 404, "NOT_FOUND")
    _error(client.get(f"/api/products/{10**30}/stock"), 400, "VALIDATION_ERROR")


def test_cart_endpoints(client) -> None:
    assert client.get("/api/cart").get_json() == {"user_id": 1, "lines": [], "total": "0.00"}
    client.post("/api/cart/items", json={"product_id": 1, "quantity": 2})
    body = client.post("/api/cart/items", json={"product_id": 1, "quantity": 1}).get_json()
    assert [(line["product_id"], line["quantity"]) for line in body["lines"]] == [(1, 3)]  # merged
    assert body["total"] == "29.97"
    body = client.put("/api/cart/items/1", json={"quantity": 5}).get_json()
    assert body["lines"][0]["quantity"] == 5
    assert client.delete("/api/cart/items/1").get_json()["lines"] == []
    _error(client.delete("/api/cart/items/1"), 404, "NOT_FOUND")
    _error(client.put("/api/cart/items/1", json={"quantity": 1}), 404, "NOT_FOUND")
    _error(client.post("/api/cart/items", json={"product_id": 999}), 404, "NOT_FOUND")
    _error(client.post("/api/cart/items", json={"product_id": 2, "quantity": 6}), 409, "INSUFFICIENT_STOCK")


@pytest.mark.parametrize("body", [
    b"{not json", b"[1, 2]", b'"text"', b"", b"null",
    json.dumps({"product_id": 1, "quantity": "3"}).encode(),
    json.dumps({"product_id": 1, "quantity": 10**40}).encode(),
    json.dumps({"product_id": 1, "quantity": 1.5}).encode(),
    json.dumps({"product_id": 1, "quantity": True}).encode(),
    json.dumps({"product_id": 1, "quantity": -4}).encode(),
    json.dumps({"product_id": 1, "quantity": 0}).encode(),
    json.dumps({"product_id": 1, "quantity": 11}).encode(),  # over the per-customer limit
    json.dumps({"product_id": [1], "quantity": 1}).encode(),
    json.dumps({"quantity": 1}).encode(),
    b'{"product_id": 1, "quantity": 1e999}',
    b'{"product_id": 1, "quantity": NaN}',
], ids=lambda body: body.decode()[:40])
def test_bad_input_is_a_validation_error_never_a_500(client, body: bytes) -> None:
    response = client.post("/api/cart/items", data=body, content_type="application/json")
    _error(response, 400, "VALIDATION_ERROR")


def test_oversized_body_and_unknown_routes(client) -> None:
    _error(client.post("/api/checkout", data=b"{" + b" " * 100_000 + b"}", content_type="application/json"),
           413, "VALIDATION_ERROR")
    _error(client.get("/api/nothing-here"), 404, "NOT_FOUND")
    _error(client.delete("/api/checkout"), 405, "VALIDATION_ERROR")


def test_checkout_endpoint(client) -> None:
    _error(client.post("/api/checkout"), 400, "VALIDATION_ERROR")  # empty cart
    _error(client.post("/api/checkout", json={"strategy": 3}), 400, "VALIDATION_ERROR")
    _error(client.post("/api/checkout", json=[1]), 400, "VALIDATION_ERROR")
    client.post("/api/cart/items", json={"product_id": 1, "quantity": 1})
    _error(client.post("/api/checkout", json={"strategy": "yolo"}), 400, "VALIDATION_ERROR")
    response = client.post("/api/checkout", json={"strategy": "for-update"})
    assert response.status_code == 201
    body = response.get_json()
    assert body["status"] == "pending" and body["total"] == "9.99"
    assert body["items"] == [{"product_id": 1, "quantity": 1, "unit_price": "9.99"}]
    assert client.get("/api/cart").get_json()["lines"] == []
    order = client.get(f"/api/orders/{body['id']}").get_json()
    assert (order["id"], order["user_id"], order["status"], order["total_amount"]) == (body["id"], 1, "pending",
                                                                                       "9.99")
    assert [(item["product_id"], item["quantity"]) for item in order["items"]] == [(1, 1)]
    assert order["payments"] == []
    _error(client.get("/api/orders/999"), 404, "NOT_FOUND")
    client.post("/api/cart/items", json={"product_id": 3, "quantity": 2})
    newer = client.post("/api/checkout").get_json()["id"]
    listing = client.get("/api/orders").get_json()
    assert [o["id"] for o in listing["items"]] == [newer, body["id"]] and listing["total"] == 2  # newest first
    assert [o["id"] for o in client.get("/api/orders?per_page=1&page=2").get_json()["items"]] == [body["id"]]
    _error(client.get("/api/orders?per_page=101"), 400, "VALIDATION_ERROR")


def test_checkout_insufficient_stock(client, store: Engine) -> None:
    shop.fill_cart(store, 1, {2: 6})  # more than the 5 in stock, put there behind the API's back
    error = _error(client.post("/api/checkout"), 409, "INSUFFICIENT_STOCK")
    assert error["details"] == {"product_id": 2, "requested": 6, "available": 5}


def test_payment_endpoint_is_idempotent(client, app) -> None:
    order_id = _checkout(client)
    first = client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "click-1"})
    second = client.post("/api/payment/process", json={"order_id": order_id},
                         headers={"Idempotency-Key": "click-1"})
    assert first.status_code == second.status_code == 200
    assert first.get_json()["payment_id"] == second.get_json()["payment_id"]
    assert second.get_json()["replayed"] is True
    assert app.extensions["ecommerce"]["gateway"].calls == 1
    assert client.get("/api/products/2/stock").get_json() == {"product_id": 2, "stock": 3, "reserved": 0,
                                                              "available": 3}
    _error(client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "click-2"}),
           409, "CONFLICT")
    _error(client.post("/api/payment/process", json={"order_id": 999, "idempotency_key": "x"}), 404, "NOT_FOUND")
    _error(client.post("/api/payment/process", json={"order_id": order_id}), 400, "VALIDATION_ERROR")
    _error(client.post("/api/payment/process", json={"order_id": "one", "idempotency_key": "x"}), 400,
           "VALIDATION_ERROR")


@pytest.mark.parametrize("behaviour", ["decline", "timeout", "raise"])
def test_payment_failures(client, app, behaviour: str) -> None:
    order_id = _checkout(client)
    app.extensions["ecommerce"]["gateway"].behaviour = behaviour
    error = _error(client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "k"}),
                   402, "PAYMENT_FAILED")
    stock = client.get("/api/products/2/stock").get_json()
    if behaviour == "decline":
        assert error["details"]["status"] == "declined"
        assert stock["reserved"] == 0  # released at once
    else:
        assert error["details"]["retryable"] is True and error["details"]["status"] == "processing"
        assert stock["reserved"] == 2  # still held until the attempt is reconciled


def test_sweep_endpoint_releases_expired_reservations(client, app) -> None:
    order_id = _checkout(client)
    assert client.post("/api/reservations/sweep").get_json() == {"cancelled_orders": [], "resolved_payments": []}
    app.extensions["ecommerce"]["clock"].advance(minutes=30)
    assert client.post("/api/reservations/sweep").get_json() == {"cancelled_orders": [order_id],
                                                                 "resolved_payments": []}
    assert client.get("/api/products/2/stock").get_json()["available"] == 5
    _error(client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "late"}),
           409, "CONFLICT")


def _events(response, timeout: float = 10.0) -> list[dict]:
    """Read the stream to its end in a thread, so a missing event fails the test instead of hanging it."""
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(response.response), daemon=True)
    reader.start()
    reader.join(timeout)
    assert not reader.is_alive(), f"the stream did not deliver its events within {timeout}s: {chunks}"
    text = b"".join(chunks).decode()
    return [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]


def test_stock_stream_sees_only_committed_changes(client, app, store: Engine) -> None:
    response = client.get("/api/stock/stream?limit=2", buffered=False)
    assert response.status_code == 200 and response.mimetype == "text/event-stream"
    broker = app.extensions["ecommerce"]["events"]
    shop.fill_cart(store, 1, {1: 1, 2: 6})  # line 2 fails: the whole checkout rolls back, product 1 included
    _error(client.post("/api/checkout"), 409, "INSUFFICIENT_STOCK")
    client.delete("/api/cart/items/2")
    order_id = client.post("/api/checkout").get_json()["order_id"]
    client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "k"})
    # Had the rolled-back checkout published anything, it would be first here.
    assert _events(response) == [
        {"product_id": 1, "stock": 10, "reserved": 1, "available": 9, "reason": "checkout"},
        {"product_id": 1, "stock": 9, "reserved": 0, "available": 9, "reason": "payment"},
    ]
    assert broker._subscribers == []  # the stream unsubscribed when it ended


def test_stock_stream_reports_payment_decline_and_expiry(client, other, app) -> None:
    response = client.get("/api/stock/stream?limit=6", buffered=False)
    order_id = _checkout(client)
    client.post("/api/payment/process", json={"order_id": order_id, "idempotency_key": "k"})
    declined = _checkout(other, product_id=2, quantity=1)
    app.extensions["ecommerce"]["gateway"].behaviour = "decline"
    other.post("/api/payment/process", json={"order_id": declined, "idempotency_key": "k2"})
    _checkout(other, product_id=2, quantity=1)
    app.extensions["ecommerce"]["clock"].advance(minutes=30)
    client.post("/api/reservations/sweep")
    assert [(e["reason"], e["stock"], e["reserved"]) for e in _events(response)] == [
        ("checkout", 5, 2), ("payment", 3, 0), ("checkout", 3, 1), ("payment declined", 3, 0),
        ("checkout", 3, 1), ("reservation expired", 3, 0)]
