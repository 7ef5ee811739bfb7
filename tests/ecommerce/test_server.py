"""The JSON API as a user runs it: `python -m examples.ecommerce serve` in its own process, spoken to over HTTP."""

from __future__ import annotations

import http.client
import json
import os
import socket
import subprocess
import sys
import time
from collections.abc import Iterator

import pytest

from examples.ecommerce import sample_data
from examples.ecommerce.sample_data import SAMPLE_PASSWORD

pytestmark = pytest.mark.engines("sqlite", "postgresql")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


class Api:
    def __init__(self, port: int) -> None:
        self.port = port
        self.token: str | None = None
        self.last_headers: http.client.HTTPMessage | None = None

    def call(self, method: str, path: str, body: object = None) -> tuple[int, dict]:
        connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=10)
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        try:
            payload = None if body is None else json.dumps(body)
            connection.request(method, path, body=payload, headers=headers)
            response = connection.getresponse()
            self.last_headers = response.headers
            return response.status, json.loads(response.read())
        finally:
            connection.close()

    def login(self, email: str, password: str) -> None:
        status, body = self.call("POST", "/api/auth/login", {"email": email, "password": password})
        assert status == 200, body
        self.token = body["token"]


SECRET = "s" * 40


@pytest.fixture(params=["random key", "key from the environment"])
def server(engine_url, request) -> Iterator[Api]:
    url = engine_url.render_as_string(hide_password=False)
    init = subprocess.run([sys.executable, "-m", "examples.ecommerce", "init", url, "--rows", "300"],
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    port = _free_port()
    environment = {key: value for key, value in os.environ.items() if key != "ECOMMERCE_SECRET_KEY"}
    if request.param == "key from the environment":
        environment["ECOMMERCE_SECRET_KEY"] = SECRET
    process = subprocess.Popen([sys.executable, "-m", "examples.ecommerce", "serve", url, "--port", str(port)],
                               stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment)
    api = Api(port)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                api.call("GET", "/api/products?per_page=1")
                break
            except OSError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise AssertionError(f"the server did not start: {process.communicate()[1]}") from None
                time.sleep(0.1)
        yield api
    finally:
        process.terminate()
        _out, err = process.communicate(timeout=10)
        assert "Traceback" not in err, err
        assert "Serving the reference API for" in err
        assert ("No ECOMMERCE_SECRET_KEY set" in err) is (request.param == "random key")
        assert SECRET not in err and SAMPLE_PASSWORD not in err


def _read_events(stream: http.client.HTTPResponse, count: int) -> list[dict]:
    events: list[dict] = []
    while len(events) < count:
        line = stream.readline().decode()
        assert line, "the stream ended early"
        if line.startswith("data: "):
            events.append(json.loads(line[len("data: "):]))
    return events


def test_checkout_and_payment_over_http_with_live_stock_stream(server: Api) -> None:
    status, listing = server.call("GET", "/api/products?per_page=50")
    assert status == 200 and listing["items"]
    product = next(item for item in listing["items"] if item["available"] >= 2)
    assert server.call("GET", "/api/cart")[0] == 401
    streams, _damage, _plan = sample_data.generate(300)
    first_user = next(streams["users"])[0]
    server.login(first_user["email"], SAMPLE_PASSWORD)  # sample users share a documented password
    _status, cart = server.call("GET", "/api/cart")
    for line in cart["lines"]:  # start from an empty cart whatever the sample data left in it
        server.call("DELETE", f"/api/cart/items/{line['product_id']}")

    stream_connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
    stream_connection.request("GET", "/api/stock/stream?limit=2")
    stream = stream_connection.getresponse()
    assert stream.status == 200 and stream.getheader("Content-Type").startswith("text/event-stream")
    assert stream.readline().startswith(b":")  # the opening comment: we are subscribed from here on

    status, error = server.call("POST", "/api/cart/items", {"product_id": product["id"], "quantity": "2"})
    assert status == 400 and error["error"]["code"] == "VALIDATION_ERROR"
    status, _cart = server.call("POST", "/api/cart/items", {"product_id": product["id"], "quantity": 2})
    assert status == 201
    status, order = server.call("POST", "/api/checkout", {})
    assert status == 201 and order["status"] == "pending"
    status, payment = server.call("POST", "/api/payment/process",
                                  {"order_id": order["order_id"], "idempotency_key": "double-click"})
    assert status == 200
    again_status, again = server.call("POST", "/api/payment/process",
                                      {"order_id": order["order_id"], "idempotency_key": "double-click"})
    assert again_status == 200 and again["payment_id"] == payment["payment_id"] and again["replayed"] is True

    events = _read_events(stream, 2)
    stream_connection.close()
    stock = product["stock"]
    assert [(e["product_id"], e["reason"], e["stock"], e["reserved"]) for e in events] == [
        (product["id"], "checkout", stock, product["stock"] - product["available"] + 2),
        (product["id"], "payment", stock - 2, product["stock"] - product["available"]),
    ]
    status, level = server.call("GET", f"/api/products/{product['id']}/stock")
    assert status == 200 and level["stock"] == stock - 2


def test_unknown_route_and_malformed_body_over_http(server: Api) -> None:
    assert server.call("GET", "/api/nope")[0] == 404
    # The development server's own banner (Werkzeug/x.y Python/x.y) is replaced by a name without versions.
    assert server.last_headers["Server"] == "integrity-kit-shop"
    assert server.last_headers["Content-Type"] == "application/json; charset=utf-8"
    assert server.last_headers["X-Content-Type-Options"] == "nosniff"
    for content_type, status in (("application/json", 400), ("text/plain", 415)):
        connection = http.client.HTTPConnection("127.0.0.1", server.port, timeout=10)
        connection.request("POST", "/api/auth/login", body=b"{broken", headers={"Content-Type": content_type})
        response = connection.getresponse()
        body = json.loads(response.read())
        connection.close()
        assert response.status == status and body["error"]["code"] == "VALIDATION_ERROR"


def test_a_busy_port_is_one_error_line_and_nothing_announced(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    init = subprocess.run([sys.executable, "-m", "examples.ecommerce", "init", url, "--rows", "0"],
                          capture_output=True, text=True, timeout=120)
    assert init.returncode == 0, init.stderr
    with socket.create_server(("127.0.0.1", 0)) as holder:
        port = holder.getsockname()[1]
        run = subprocess.run([sys.executable, "-m", "examples.ecommerce", "serve", url, "--port", str(port)],
                             capture_output=True, text=True, timeout=60)
    assert run.returncode == 2, run.stderr
    assert run.stderr.strip().splitlines() == [
        f"error: cannot listen on 127.0.0.1:{port}: Address already in use; stop what holds it or pass another --port"]
    assert run.stdout == ""
