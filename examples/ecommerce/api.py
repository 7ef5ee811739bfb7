"""The reference app's JSON API (Flask): a thin layer over the services, with one error shape everywhere.

Every failure answers ``{"error": {"code", "message", "details"}}``; the code says what kind of failure it is and the
status follows from it. Bad input of any kind (malformed JSON, wrong types, absurd numbers) is a
``VALIDATION_ERROR``, never a 500. The full description (request and response schemas) is served at
``/api/openapi.json`` (:mod:`examples.ecommerce.openapi`).

Endpoints (*: needs ``Authorization: Bearer <token>`` and acts only on the caller's own rows)::

    POST   /api/auth/signup                {"email", "password", "full_name", "phone_number"} -> 201 the account
    POST   /api/auth/login                 {"email", "password"} -> {"token", "token_type", "expires_in"}
    POST   /api/auth/logout             * every token issued so far stops working
    POST   /api/auth/password           * {"current_password", "new_password"} -> a new token; earlier ones end
    GET    /api/auth/me                 * the caller's account
    GET    /api/products                   ?category=<id|slug>&min_price=&max_price=&page=&per_page=
    GET    /api/products/<id>/stock        {"product_id", "stock", "reserved", "available"}
    GET    /api/stock/stream               server-sent events: one "stock" event per committed change
    GET    /api/cart                    *
    POST   /api/cart/items              * {"product_id", "quantity"}   (adds; merges an existing line)
    PUT    /api/cart/items/<product_id> * {"quantity"}                 (sets; 0 removes)
    DELETE /api/cart/items/<product_id> *
    POST   /api/checkout                * {"strategy"?} -> 201 the pending order (with its "id"), stock reserved;
                                          only strategies that cannot oversell are accepted
    GET    /api/orders                  * ?page=&per_page= the caller's orders, newest first
    GET    /api/orders/<id>             * the order, its lines and payment attempts
    POST   /api/payment/process         * {"order_id", "idempotency_key"} (or an Idempotency-Key header)
    POST   /api/reservations/sweep      * resolve stale payment attempts, then release expired reservations
    GET    /api/openapi.json               the OpenAPI 3.1 description

Someone else's order answers 404 exactly like an order that does not exist. Idempotency keys are scoped to the
caller, so one user's key can neither replay nor reveal another user's payment. Accounts and tokens live in
:mod:`~examples.ecommerce.auth`; headers, the size limit and JSON-only bodies in :mod:`~examples.ecommerce.security`.
"""

from __future__ import annotations

import datetime as dt
import functools
import json
import queue
import secrets
from collections.abc import Callable, Iterator
from typing import Any

from argon2 import PasswordHasher
from flask import Flask, Response, g, jsonify, request
from flask.json.provider import DefaultJSONProvider
from sqlalchemy import Engine
from sqlalchemy.exc import DataError, DBAPIError
from werkzeug.exceptions import HTTPException

from examples.ecommerce import cart, catalog, checkout, orders, payments, reservations, security
from examples.ecommerce.auth import TOKEN_TTL, Accounts, Caller
from examples.ecommerce.clock import Clock, utcnow
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError, validation_error
from examples.ecommerce.events import StockEvents
from examples.ecommerce.hashing import DEFAULT_CONCURRENCY, DEFAULT_WAIT_SECONDS, HashingSlots
from examples.ecommerce.openapi import SPEC
from examples.ecommerce.strategies import get_safe_strategy

STATUS = {"VALIDATION_ERROR": 400, "UNAUTHORIZED": 401, "NOT_FOUND": 404, "CONFLICT": 409,
          "INSUFFICIENT_STOCK": 409, "PAYMENT_FAILED": 402, "RATE_LIMITED": 429, "INTERNAL_ERROR": 500}
HEARTBEAT_SECONDS = 15.0
MAX_BODY_BYTES = 64 * 1024
MAX_IDEMPOTENCY_KEY = 64


def error_response(error: DomainError, status: int | None = None) -> tuple[Response, int]:
    response = jsonify(error.to_dict())
    if error.code == "UNAUTHORIZED":
        response.headers["WWW-Authenticate"] = 'Bearer realm="shop"'
    if error.code == "RATE_LIMITED":
        response.headers["Retry-After"] = str(error.details["retry_after"])
    return response, status or STATUS.get(error.code, 400)


def _body(*, optional: bool = False) -> dict[str, Any]:
    if optional and not request.get_data(cache=True):
        return {}
    try:
        data = request.get_json(silent=True)
    except RecursionError:  # nesting deeper than the parser's stack: bad input like any other malformed body
        data = None
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


def _idempotency_key(body: dict[str, Any], caller: Caller) -> str:
    key = body.get("idempotency_key", request.headers.get("Idempotency-Key"))
    if not isinstance(key, str) or not key.strip():
        raise validation_error("idempotency_key", "required", None, "idempotency_key must be a non-empty string")
    if len(key) > MAX_IDEMPOTENCY_KEY:
        raise validation_error("idempotency_key", "max_length", None,
                               f"idempotency_key must be at most {MAX_IDEMPOTENCY_KEY} characters",
                               maximum=MAX_IDEMPOTENCY_KEY)
    # Keys are unique in the payments table across all users: scoping them to the caller keeps user B's request
    # with user A's key from replaying (or revealing) A's payment.
    return f"u{caller.user_id}:{key.strip()}"


def create_app(engine: Engine, *, gateway: payments.PaymentGateway | None = None, clock: Clock = utcnow,
               events: StockEvents | None = None, secret_key: str | None = None,
               token_ttl: dt.timedelta = TOKEN_TTL, password_hasher: PasswordHasher | None = None,
               hash_concurrency: int = DEFAULT_CONCURRENCY, hash_wait: float = DEFAULT_WAIT_SECONDS) -> Flask:
    """The API over ``engine``. Without ``secret_key`` a random one is made: tokens then last as long as this
    process (fine for tests and demos; give a stable key when several processes or restarts must accept them).
    ``password_hasher`` defaults to argon2-cffi's recommended argon2id parameters; tests pass cheaper ones.
    At most ``hash_concurrency`` password hashes are computed at once; a request that waits ``hash_wait``
    seconds for a turn is answered ``RATE_LIMITED`` (429 with ``Retry-After``)."""
    app = Flask(__name__, static_folder=None)
    app.config["MAX_CONTENT_LENGTH"] = MAX_BODY_BYTES
    app.config["SECRET_KEY"] = secret_key or secrets.token_urlsafe(32)
    if isinstance(app.json, DefaultJSONProvider):  # the provider whose key order is configurable
        app.json.sort_keys = False
    gateway = gateway or payments.FakeGateway("succeed")
    events = events or StockEvents()
    accounts = Accounts(engine, app.config["SECRET_KEY"], clock=clock, ttl=token_ttl, hasher=password_hasher,
                        hashing=HashingSlots(hash_concurrency, hash_wait))
    app.extensions["ecommerce"] = {"engine": engine, "gateway": gateway, "events": events, "clock": clock,
                                   "accounts": accounts}
    security.install(app)

    def login_required(view: Callable[..., Any]) -> Callable[..., Any]:
        @functools.wraps(view)
        def wrapped(*args: Any, **kwargs: Any) -> Any:
            g.caller = accounts.authenticate(request.headers.get("Authorization"))
            return view(*args, **kwargs)
        return wrapped

    def caller() -> Caller:
        return g.caller

    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        return error_response(error)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if error.code is not None and error.code >= 500:
            return error_response(DomainError("INTERNAL_ERROR", "the server could not complete the request",
                                              {"http_status": error.code}), error.code)
        code = "NOT_FOUND" if error.code == 404 else "VALIDATION_ERROR"
        return error_response(DomainError(code, error.description or error.name, {"http_status": error.code}),
                              error.code)

    @app.errorhandler(DBAPIError)
    def _database_error(error: DBAPIError):
        # A constraint the services did not pre-check (a race they lost): the database refused the row.
        found = violation(error)
        if found is None and isinstance(error, DataError):
            # A value the checks let through but the column cannot hold (too long, out of range): bad input.
            return error_response(DomainError("VALIDATION_ERROR", "a value does not fit its column",
                                              {"rule": "database_type"}))
        if found is None:
            raise error
        return error_response(DomainError("CONFLICT", "the database refused the change",
                                          {"constraint": found.constraint, "kind": found.kind}))

    @app.get("/api/openapi.json")
    def openapi():
        return jsonify(SPEC)

    @app.post("/api/auth/signup")
    def signup():
        user = accounts.signup(_body(), request.remote_addr or "unknown")
        return jsonify(user.to_dict()), 201

    @app.post("/api/auth/login")
    def login():
        body = _body()
        token = accounts.login(body.get("email"), body.get("password"), request.remote_addr or "unknown")
        return jsonify({"token": token, "token_type": "Bearer", "expires_in": int(accounts.ttl.total_seconds())})

    @app.post("/api/auth/logout")
    @login_required
    def logout():
        accounts.logout(caller())
        return jsonify({"logged_out": True})

    @app.post("/api/auth/password")
    @login_required
    def change_password():
        body = _body()
        token = accounts.change_password(caller(), body.get("current_password"), body.get("new_password"),
                                         request.remote_addr or "unknown")
        return jsonify({"token": token, "token_type": "Bearer", "expires_in": int(accounts.ttl.total_seconds())})

    @app.get("/api/auth/me")
    @login_required
    def me():
        return jsonify(accounts.profile(caller()))

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

    @app.get("/api/cart")
    @login_required
    def view_cart():
        return jsonify(cart.view_cart(engine, caller().user_id).to_dict())

    @app.post("/api/cart/items")
    @login_required
    def add_to_cart():
        body = _body()
        if "product_id" not in body:
            raise validation_error("product_id", "required", None, "product_id is required")
        view = cart.add_item(engine, caller().user_id, body["product_id"], body.get("quantity", 1))
        return jsonify(view.to_dict()), 201

    @app.put("/api/cart/items/<int:product_id>")
    @login_required
    def set_cart_quantity(product_id: int):
        body = _body()
        if "quantity" not in body:
            raise validation_error("quantity", "required", None, "quantity is required")
        return jsonify(cart.set_quantity(engine, caller().user_id, product_id, body["quantity"]).to_dict())

    @app.delete("/api/cart/items/<int:product_id>")
    @login_required
    def remove_from_cart(product_id: int):
        return jsonify(cart.remove_item(engine, caller().user_id, product_id).to_dict())

    @app.post("/api/checkout")
    @login_required
    def do_checkout():
        body = _body(optional=True)
        strategy = body.get("strategy", checkout.DEFAULT_STRATEGY)
        if not isinstance(strategy, str):
            raise validation_error("strategy", "type", strategy, "strategy must be a string")
        get_safe_strategy(strategy)  # the unsafe strategy is for lessons and the race tool, never for clients
        _sweep()  # expired holds go back on sale first
        result = checkout.checkout(engine, caller().user_id, strategy=strategy, clock=clock, events=events)
        return jsonify({"id": result.order_id, **result.to_dict()}), 201

    @app.get("/api/orders")
    @login_required
    def list_orders():
        page = orders.list_orders(engine, caller().user_id, page=_query_int("page", 1),
                                  per_page=_query_int("per_page", 20))
        return jsonify(page.to_dict())

    @app.get("/api/orders/<int:order_id>")
    @login_required
    def get_order(order_id: int):
        return jsonify(orders.get_order(engine, caller().user_id, order_id))

    @app.post("/api/payment/process")
    @login_required
    def process_payment():
        body = _body()
        order_id = orders.require_owned(engine, caller().user_id, body.get("order_id"))
        key = _idempotency_key(body, caller())
        result = payments.process_payment(engine, order_id, key, gateway, clock=clock, events=events)
        if not result.succeeded:
            raise DomainError("PAYMENT_FAILED", f"the payment was declined: {result.reason}", result.to_dict())
        return jsonify(result.to_dict())

    def _sweep() -> dict[str, list[int]]:
        # Stale payment attempts first: an order with one in flight keeps its hold until the attempt is resolved.
        resolved = payments.resolve_stale(engine, gateway, clock=clock, events=events)
        return {"cancelled_orders": reservations.sweep_expired(engine, clock=clock, events=events),
                "resolved_payments": resolved}

    @app.post("/api/reservations/sweep")
    @login_required
    def sweep():
        return jsonify(_sweep())

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
