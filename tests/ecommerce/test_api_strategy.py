"""Clients cannot choose the unsafe checkout: ``{"strategy": "naive"}`` is refused, even by 20 buyers at once."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine

from tests.ecommerce import shop
from tests.ecommerce.apiclient import as_user
from tests.ecommerce.apiclient import error as _error

pytestmark = pytest.mark.engines("postgresql", "mariadb")

BUYERS = 20
UNITS = 5


@pytest.fixture
def contested(engine_url):
    engine, buyers = shop.contested(engine_url, BUYERS, UNITS)
    yield engine, buyers
    engine.dispose()


def _checkout_at_once(engine: Engine, buyers: list[int], body: dict | None) -> list[tuple[int, dict]]:
    app = shop.api(engine)
    clients = [as_user(app, user_id) for user_id in buyers]
    start = threading.Barrier(len(clients))
    answers: list[tuple[int, dict]] = [(0, {})] * len(clients)

    def buy(index: int) -> None:
        start.wait(timeout=30)
        response = clients[index].post("/api/checkout", json=body) if body is not None \
            else clients[index].post("/api/checkout")
        answers[index] = (response.status_code, response.get_json())

    threads = [threading.Thread(target=buy, args=(index,)) for index in range(len(clients))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return answers


def test_the_naive_strategy_is_refused_for_concurrent_buyers(contested) -> None:
    engine, buyers = contested
    answers = _checkout_at_once(engine, buyers, {"strategy": "naive"})
    assert [status for status, _ in answers] == [400] * BUYERS, answers
    details = answers[0][1]["error"]["details"]
    assert answers[0][1]["error"]["code"] == "VALIDATION_ERROR"
    assert details["field"] == "strategy" and "naive" not in details["allowed"]
    assert shop.product_row(engine, 1) == (UNITS, 0) and shop.count(engine, "orders") == 0


def test_the_default_strategy_sells_exactly_the_stock(contested) -> None:
    engine, buyers = contested
    answers = _checkout_at_once(engine, buyers, None)
    statuses = sorted(status for status, _ in answers)
    assert statuses == [201] * UNITS + [409] * (BUYERS - UNITS), answers
    assert shop.product_row(engine, 1) == (UNITS, UNITS) and shop.count(engine, "orders") == UNITS


@pytest.mark.engines("sqlite")
def test_every_safe_strategy_stays_available(app_engine: Engine) -> None:
    shop.build(app_engine)
    client = as_user(shop.api(app_engine), 1)
    for strategy in ("for-update", "conditional-update", "optimistic", "serializable"):
        assert client.post("/api/cart/items", json={"product_id": 3, "quantity": 1}).status_code == 201
        assert client.post("/api/checkout", json={"strategy": strategy}).status_code == 201
    assert client.post("/api/cart/items", json={"product_id": 3, "quantity": 1}).status_code == 201
    _error(client.post("/api/checkout", json={"strategy": "naive"}), 400, "VALIDATION_ERROR")
