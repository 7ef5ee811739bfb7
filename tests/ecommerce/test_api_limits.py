"""Hostile shapes the parser or the HTTP server meets before the app: JSON nested 5,000 deep, a 70 KB header.
Both get the API's JSON error body, never a 500 or an HTML page."""

from __future__ import annotations

import http.client
import json
import threading
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine
from werkzeug.serving import make_server

from examples.ecommerce import security
from tests.ecommerce import shop
from tests.ecommerce.apiclient import error

pytestmark = pytest.mark.engines("sqlite")

DEEP = 5_000


@pytest.fixture
def app(app_engine: Engine):
    shop.build(app_engine)
    return shop.api(app_engine)


@pytest.mark.parametrize("path", ["/api/auth/login", "/api/auth/signup"])
@pytest.mark.parametrize("shape", ["[", '{"a":'])
def test_json_nested_thousands_deep_is_a_validation_error(app, path: str, shape: str) -> None:
    app.testing = False  # a RecursionError must not escape as a 500 in production either
    closing = "]" if shape == "[" else "}"
    body = shape * DEEP + "1" + closing * DEEP
    refused = error(app.test_client().post(path, data=body, content_type="application/json"), 400,
                    "VALIDATION_ERROR")
    assert refused["details"]["rule"] == "json_object"


@pytest.fixture
def served(app) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, app, threaded=True, request_handler=security.QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_port
    server.shutdown()
    thread.join(timeout=10)


def _raw(port: int, request: bytes) -> tuple[int, dict[str, str], bytes]:
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=10)
    connection.connect()
    assert connection.sock is not None
    connection.sock.sendall(request)
    response = http.client.HTTPResponse(connection.sock)
    response.begin()
    try:
        return response.status, {name.lower(): value for name, value in response.getheaders()}, response.read()
    finally:
        connection.close()


def test_a_70_kb_header_gets_the_json_error_body(served: int) -> None:
    status, headers, body = _raw(served, b"GET /api/products HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * 70_000
                                 + b"\r\n\r\n")
    assert status == 431
    assert headers["content-type"] == "application/json; charset=utf-8"
    assert headers["x-content-type-options"] == "nosniff" and "werkzeug" not in headers.get("server", "").lower()
    assert json.loads(body) == {"error": {"code": "VALIDATION_ERROR", "message": "request header fields too large",
                                          "details": {"http_status": 431}}}


def test_too_many_headers_get_the_json_error_body(served: int) -> None:
    many = b"".join(b"X-H%d: v\r\n" % index for index in range(150))
    status, headers, body = _raw(served, b"GET /api/products HTTP/1.1\r\nHost: x\r\n" + many + b"\r\n")
    assert status == 431 and headers["content-type"].startswith("application/json")
    assert json.loads(body)["error"]["details"] == {"http_status": 431}


def test_ordinary_requests_still_work(served: int) -> None:
    status, _headers, body = _raw(served, b"GET /api/products HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
    assert status == 200 and json.loads(body)["total"] == 3
