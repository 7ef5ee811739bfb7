"""HTTP hygiene on every kind of answer: charset, nosniff, no version banner, size limit, JSON-only bodies, and a
bug that becomes a structured 500 without the server's insides."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import DataError

from examples.ecommerce import catalog, security
from examples.ecommerce.api import MAX_BODY_BYTES, create_app
from examples.ecommerce.clock import FakeClock
from tests.ecommerce import shop
from tests.ecommerce.apiclient import error

pytestmark = pytest.mark.engines("sqlite")


@pytest.fixture
def app(app_engine: Engine):
    shop.build(app_engine, users=1)
    application = create_app(app_engine, clock=FakeClock(), password_hasher=shop.FAST_HASHER)
    application.testing = True
    return application


def _answers(client) -> dict[str, object]:
    for _ in range(5):
        client.post("/api/auth/login", json={"email": "u1@example.com", "password": "wrong password"})
    return {
        "200": client.get("/api/products"),
        "201": client.post("/api/cart/items", json={"product_id": 1}),
        "400": client.post("/api/cart/items", json={"product_id": "x"}),
        "401": client.get("/api/cart", headers={"Authorization": "Bearer nope"}),
        "404": client.get("/api/nowhere"),
        "405": client.patch("/api/cart"),
        "413": client.post("/api/cart/items", data=b"[" + b"0," * MAX_BODY_BYTES + b"0]",
                           content_type="application/json"),
        "415": client.post("/api/cart/items", data="product_id=1", content_type="application/x-www-form-urlencoded"),
        "429": client.post("/api/auth/login", json={"email": "u1@example.com", "password": shop.PASSWORD}),
        "openapi": client.get("/api/openapi.json"),
        "stream": client.get("/api/stock/stream?limit=1", buffered=False),
    }


def test_every_answer_carries_the_security_headers(client) -> None:
    for name, response in _answers(client).items():
        assert name in ("openapi", "stream") or response.status_code == int(name), (name, response.status_code)
        assert "charset=utf-8" in response.headers["Content-Type"], name
        assert response.headers["X-Content-Type-Options"] == "nosniff", name
        assert response.headers["X-Frame-Options"] == "DENY", name
        assert "default-src 'none'" in response.headers["Content-Security-Policy"], name
        assert "Server" not in response.headers, name
        if name != "stream":
            assert response.mimetype == "application/json", name
        response.close()


def test_personal_answers_are_not_cached(client) -> None:
    assert client.get("/api/cart").headers["Cache-Control"] == "no-store"
    assert client.post("/api/auth/login", json={}).headers["Cache-Control"] == "no-store"


def test_oversized_and_non_json_bodies_get_the_error_body(client) -> None:
    too_big = error(client.post("/api/cart/items", data=b"{" + b" " * MAX_BODY_BYTES + b"}",
                                content_type="application/json"), 413, "VALIDATION_ERROR")
    assert too_big["details"] == {"http_status": 413}
    for content_type in ("text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"):
        refused = error(client.post("/api/cart/items", data='{"product_id": 1}', content_type=content_type),
                        415, "VALIDATION_ERROR")
        assert "JSON" in refused["message"]
    # JSON with a charset parameter, or a +json type, is JSON; an empty body needs no type at all.
    assert client.post("/api/cart/items", data='{"product_id": 1}',
                       content_type="application/json; charset=utf-8").status_code == 201
    assert client.post("/api/checkout").status_code == 201


def test_a_bug_is_a_structured_500_without_a_stack_trace(app, client, monkeypatch) -> None:
    app.testing = False  # let Flask turn the exception into a response, as it does in production

    def broken(*_args, **_kwargs):
        raise RuntimeError("secret detail: /srv/app/catalog.py line 42")

    monkeypatch.setattr(catalog, "list_products", broken)
    response = client.get("/api/products")
    body = error(response, 500, "INTERNAL_ERROR")
    text = response.get_data(as_text=True)
    assert "secret detail" not in text and "Traceback" not in text and 'File "' not in text
    assert body["details"] == {"http_status": 500}
    assert response.headers["X-Content-Type-Options"] == "nosniff"


def test_the_development_server_names_no_versions() -> None:
    handler = object.__new__(security.QuietRequestHandler)  # version_string needs no connection
    assert handler.version_string() == security.SERVER_NAME
    assert not any(char.isdigit() for char in handler.version_string())


def test_a_value_the_column_cannot_hold_is_bad_input_not_a_500(client, monkeypatch) -> None:
    def too_long(*_args, **_kwargs):
        raise DataError("INSERT …", {}, Exception("value too long for type character varying(20)"))

    monkeypatch.setattr(catalog, "list_products", too_long)
    body = error(client.get("/api/products"), 400, "VALIDATION_ERROR")
    assert body["details"] == {"rule": "database_type"} and "varying" not in body["message"]
