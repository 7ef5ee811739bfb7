"""The reference app's JSON API (Flask): a thin layer over the services, with one error shape everywhere.

Every failure answers ``{"error": {"code", "message", "details"}}``; the code says what kind of failure it is and the
status follows from it. Bad input of any kind (malformed JSON, wrong types, absurd numbers) is a
``VALIDATION_ERROR``, never a 500.

Endpoints::

    GET    /api/products                          ?category=<id|slug>&min_price=&max_price=&page=&per_page=
    GET    /api/products/<id>/stock               {"product_id", "stock", "reserved", "available"}
    GET    /api/cart/<user_id>
    POST   /api/cart/<user_id>/items              {"product_id", "quantity"}   (adds; merges an existing line)
    PUT    /api/cart/<user_id>/items/<product_id> {"quantity"}                 (sets; 0 removes)
    DELETE /api/cart/<user_id>/items/<product_id>
    POST   /api/checkout                          {"user_id", "strategy"?}    -> 201 pending order, stock reserved
    POST   /api/payment/process                   {"order_id", "idempotency_key"} (or an Idempotency-Key header)
    POST   /api/reservations/sweep                release expired reservations now
    GET    /api/stock/stream                      server-sent events: one "stock" event per committed change
"""

from __future__ import annotations

import json
import queue
from collections.abc import Iterator
from typing import Any

from flask import Flask, Response, jsonify, request
from sqlalchemy import Engine
from sqlalchemy.exc import DBAPIError
from werkzeug.exceptions import HTTPException

from examples.ecommerce import cart, catalog, checkout, payments, reservations
from examples.ecommerce.clock import Clock, utcnow
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError, validation_error
from examples.ecommerce.events import StockEvents

STATUS = {"VALIDATION_ERROR": 400, "NOT_FOUND": 404, "CONFLICT": 409, "INSUFFICIENT_STOCK": 409,
          "PAYMENT_FAILED": 402}
HEARTBEAT_SECONDS = 15.0
MAX_BODY_BYTES = 64 * 1024


def error_response(error: DomainError, status: int | None = None) -> tuple[Response, int]:
    return jsonify(error.to_dict()), status or STATUS.get(error.code, 400)


def _body() -> dict[str, Any]:
    data = request.get_json(silent=True, force=True)
    if not isinstance(data, dict):
        raise DomainError("VALIDATION_ERROR", "the request body must be a JSON object",
                          {"field": "body", "rule": "json_object", "value": None})
    return data


def _query_int(name: str, default: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    if not raw.isdigit() or len(raw) > 9:
        raise validation_error(name, "type", raw, f"{name} must be a whole number")
    return int(raw)


def create_app(engine: Engine, *, gateway: payments.PaymentGateway | None = None, clock: Clock = utcnow,
               events: StockEvents | None = None) -> Flask:
    app = Flask(__name__)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.json.sort_keys = False
    gateway = gateway or payments.FakeGateway("succeed")
    events = events or StockEvents()
    app.extensions["ecommerce"] = {"engine": engine, "gateway": gateway, "events": events, "clock": clock}

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        code = "NOT_FOUND" if error.code == 404 else "VALIDATION_ERROR"
        return error_response(DomainError(code, error.description or error.name, {"http_status": error.code}),
                              error.code)

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        # A constraint the services did not pre-check (a race they lost): the database refused the row.
        found = violation(error)
        if found is None:
            raise error
        return error_response(DomainError("CONFLICT", "the database refused the change",
                                          {"constraint": found.constraint, "kind": found.kind}))

    @app.get("/api/products")
    def list_products():
        page = catalog.list_products(
            engine, category=request.args.get("category"), min_price=request.args.get("min_price"),
            max_price=request.args.get("max_price"), page=_query_int("page", 1),
            per_page=_query_int("per_page", 20))
        return jsonify(page.to_dict())

    @app.get("/api/products/<int:product_id>/stock")
    def product_stock(product_id: int):
        return jsonify(catalog.stock_level(engine, product_id))

    @app.get("/api/cart/<int:user_id>")
    def view_cart(user_id: int):
        return jsonify(cart.view_cart(engine, user_id).to_dict())

    @app.post("/api/cart/<int:user_id>/items")
    def add_to_cart(user_id: int):
        body = _body()
        if "product_id" not in body:
            raise validation_error("product_id", "required", None, "product_id is required")
        view = cart.add_item(engine, user_id, body["product_id"], body.get("quantity", 1))
        return jsonify(view.to_dict()), 201

    @app.put("/api/cart/<int:user_id>/items/<int:product_id>")
    def set_cart_quantity(user_id: int, product_id: int):
        body = _body()
        if "quantity" not in body:
            raise validation_error("quantity", "required", None, "quantity is required")
        return jsonify(cart.set_quantity(engine, user_id, product_id, body["quantity"]).to_dict())

    @app.delete("/api/cart/<int:user_id>/items/<int:product_id>")
    def remove_from_cart(user_id: int, product_id: int):
        return jsonify(cart.remove_item(engine, user_id, product_id).to_dict())

    @app.post("/api/checkout")
    def do_checkout():
        body = _body()
        strategy = body.get("strategy", checkout.DEFAULT_STRATEGY)
        if not isinstance(strategy, str):
            raise validation_error("strategy", "type", strategy, "strategy must be a string")
        reservations.sweep_expired(engine, clock=clock, events=events)  # expired holds go back on sale first
        result = checkout.checkout(engine, body.get("user_id"), strategy=strategy, clock=clock, events=events)
        return jsonify(result.to_dict()), 201

    @app.post("/api/payment/process")
    def process_payment():
        body = _body()
        key = body.get("idempotency_key", request.headers.get("Idempotency-Key"))
        result = payments.process_payment(engine, body.get("order_id"), key, gateway, clock=clock, events=events)
        if not result.succeeded:
            raise DomainError("PAYMENT_FAILED", f"the payment was declined: {result.reason}", result.to_dict())
        return jsonify(result.to_dict())

    @app.post("/api/reservations/sweep")
    def sweep():
        return jsonify({"cancelled_orders": reservations.sweep_expired(engine, clock=clock, events=events)})

    @app.get("/api/stock/stream")
    def stock_stream():
        limit = _query_int("limit", 0)  # 0: stream until the client goes away; N: close after N events
        # Subscribe now, before the response starts, so no change committed after this request is missed.
        subscriber = events.subscribe()
        return Response(_sse(events, subscriber, limit), mimetype="text/event-stream",
                        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"})

    return app


def _sse(events: StockEvents, subscriber: queue.Queue, limit: int) -> Iterator[str]:
    sent = 0
    try:
        yield ": stock changes follow\n\n"
        while not limit or sent < limit:
            try:
                change = subscriber.get(timeout=HEARTBEAT_SECONDS)
            except queue.Empty:
                yield ": keep-alive\n\n"
                continue
            sent += 1
            yield f"event: stock\ndata: {json.dumps(change)}\n\n"
    finally:
        events.unsubscribe(subscriber)
