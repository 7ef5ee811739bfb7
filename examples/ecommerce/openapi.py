"""The API's OpenAPI 3 description, served at ``/api/openapi.json``.

Written by hand as data, next to the routes it describes; ``tests/ecommerce/test_openapi.py`` fails when a route
and its description part ways, and ``tests/ecommerce/test_api_fuzz.py`` checks the answers against these schemas.
"""

from __future__ import annotations

from typing import Any

from examples.ecommerce import auth, validation
from examples.ecommerce.strategies import SAFE_STRATEGIES

ID = {"type": "integer", "minimum": 1, "maximum": 2**31 - 1}
MONEY = {"type": "string", "pattern": r"^-?\d+\.\d{2}$", "description": "exact decimal amount, two places"}
TIMESTAMP = {"type": "string", "format": "date-time"}
ERROR_CODES = ["VALIDATION_ERROR", "UNAUTHORIZED", "NOT_FOUND", "CONFLICT", "INSUFFICIENT_STOCK", "PAYMENT_FAILED",
               "RATE_LIMITED", "INTERNAL_ERROR"]


def _ref(name: str) -> dict[str, str]:
    return {"$ref": f"#/components/schemas/{name}"}


def _json(schema: dict[str, Any], description: str, **extra: Any) -> dict[str, Any]:
    return {"description": description, "content": {"application/json": {"schema": schema}}, **extra}


def _error(description: str, **extra: Any) -> dict[str, Any]:
    return _json(_ref("Error"), description, **extra)


def _body(schema: dict[str, Any], *, required: bool = True) -> dict[str, Any]:
    return {"required": required, "content": {"application/json": {"schema": schema}}}


def _object(properties: dict[str, Any], required: tuple[str, ...] = ()) -> dict[str, Any]:
    schema: dict[str, Any] = {"type": "object", "properties": properties}
    if required:
        schema["required"] = list(required)
    return schema


RETRY_AFTER = {"Retry-After": {"description": "seconds to wait", "schema": {"type": "integer", "minimum": 1}}}
COMMON_ERRORS = {
    "400": _error("invalid input (VALIDATION_ERROR)"),
    "413": _error("request body too large (VALIDATION_ERROR)"),
    "415": _error("request body is not JSON (VALIDATION_ERROR)"),
    "default": _error("any other failure, with the same error body"),
}
AUTH_ERRORS = {"401": _error("missing, expired, tampered or revoked token (UNAUTHORIZED)")}
SECURED: list[dict[str, list[str]]] = [{"bearerAuth": []}]


def _operation(summary: str, responses: dict[str, Any], *, secured: bool = False, body: dict[str, Any] | None = None,
               parameters: list[dict[str, Any]] | None = None, tag: str) -> dict[str, Any]:
    operation: dict[str, Any] = {"summary": summary, "tags": [tag], "responses": {**responses, **COMMON_ERRORS}}
    if secured:
        operation["security"] = SECURED
        operation["responses"].update(AUTH_ERRORS)
    else:
        operation["security"] = []
    if body is not None:
        operation["requestBody"] = body
    if parameters:
        operation["parameters"] = parameters
    return operation


def _path_id(name: str) -> dict[str, Any]:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _query(name: str, schema: dict[str, Any], description: str) -> dict[str, Any]:
    return {"name": name, "in": "query", "required": False, "schema": schema, "description": description}


SCHEMAS: dict[str, Any] = {
    "Error": _object({"error": _object({
        "code": {"type": "string", "enum": ERROR_CODES},
        "message": {"type": "string"},
        "details": {"type": "object"},
    }, ("code", "message", "details"))}, ("error",)),
    "Credentials": _object({"email": {"type": "string", "format": "email", "maxLength": 255},
                            "password": {"type": "string", "minLength": 1, "maxLength": auth.MAX_PASSWORD}},
                           ("email", "password")),
    "Signup": _object({
        "email": {"type": "string", "format": "email", "maxLength": 255},
        "password": {"type": "string", "minLength": auth.MIN_PASSWORD, "maxLength": auth.MAX_PASSWORD},
        "full_name": {"type": "string", "minLength": 1, "maxLength": 120},
        "phone_number": {"type": "string", "pattern": r"^\+?[0-9][0-9 ()-]{5,18}[0-9]$", "maxLength": 20},
    }, ("email", "password", "full_name", "phone_number")),
    "PasswordChange": _object({
        "current_password": {"type": "string", "maxLength": auth.MAX_PASSWORD},
        "new_password": {"type": "string", "minLength": auth.MIN_PASSWORD, "maxLength": auth.MAX_PASSWORD},
    }, ("current_password", "new_password")),
    "User": _object({"id": ID, "email": {"type": "string"}, "full_name": {"type": "string"},
                     "phone_number": {"type": "string"}, "created_at": TIMESTAMP},
                    ("id", "email", "full_name", "phone_number")),
    "Token": _object({"token": {"type": "string"}, "token_type": {"type": "string", "enum": ["Bearer"]},
                      "expires_in": {"type": "integer", "description": "seconds"}},
                     ("token", "token_type", "expires_in")),
    "LoggedOut": _object({"logged_out": {"type": "boolean"}}, ("logged_out",)),
    "Product": _object({
        "id": ID, "sku": {"type": "string"}, "name": {"type": "string"}, "description": {"type": ["string", "null"]},
        "category_id": ID, "price": MONEY, "stock": {"type": "integer"},
        "stock_alert_threshold": {"type": "integer"}, "reserved": {"type": "integer"},
        "available": {"type": "integer"},
        "category": _object({"id": ID, "name": {"type": "string"}, "slug": {"type": "string"},
                             "parent_id": {"type": ["integer", "null"]}}),
    }, ("id", "sku", "name", "price", "available")),
    "ProductPage": _object({"items": {"type": "array", "items": _ref("Product")}, "page": {"type": "integer"},
                            "per_page": {"type": "integer"}, "total": {"type": "integer"},
                            "pages": {"type": "integer"}}, ("items", "page", "per_page", "total", "pages")),
    "StockLevel": _object({"product_id": ID, "stock": {"type": "integer"}, "reserved": {"type": "integer"},
                           "available": {"type": "integer"}}, ("product_id", "stock", "reserved", "available")),
    "Cart": _object({
        "user_id": ID,
        "lines": {"type": "array", "items": _object({
            "product_id": ID, "name": {"type": "string"}, "quantity": {"type": "integer", "minimum": 1},
            "unit_price": MONEY, "line_total": MONEY}, ("product_id", "quantity", "unit_price", "line_total"))},
        "total": MONEY,
    }, ("user_id", "lines", "total")),
    "CartLineAdd": _object({"product_id": ID, "quantity": {
        "type": "integer", "minimum": 1, "maximum": validation.MAX_LINE_QUANTITY, "default": 1}}, ("product_id",)),
    "CartLineSet": _object({"quantity": {"type": "integer", "minimum": 0,
                                         "maximum": validation.MAX_LINE_QUANTITY}}, ("quantity",)),
    "CheckoutRequest": _object({"strategy": {"type": "string", "enum": list(SAFE_STRATEGIES),
                                             "description": "stock strategy (only those that cannot oversell), "
                                             "default conditional-update"}}),
    "PendingOrder": _object({
        "id": ID, "order_id": ID, "status": {"type": "string", "enum": ["pending"]}, "total": MONEY,
        "reserved_until": TIMESTAMP,
        "items": {"type": "array", "items": _object({"product_id": ID, "quantity": {"type": "integer"},
                                                     "unit_price": MONEY}, ("product_id", "quantity", "unit_price"))},
    }, ("id", "order_id", "status", "total", "reserved_until", "items")),
    "Order": _object({
        "id": ID, "user_id": ID, "status": {"type": "string", "enum": list(validation.ORDER_STATUSES)},
        "total_amount": MONEY, "created_at": TIMESTAMP,
        "items": {"type": "array", "items": _object({"id": ID, "product_id": ID, "quantity": {"type": "integer"},
                                                     "unit_price": MONEY})},
        "payments": {"type": "array", "items": _object({
            "id": ID, "status": {"type": "string"}, "amount": MONEY,
            "gateway_reference": {"type": ["string", "null"]}, "failure_reason": {"type": ["string", "null"]},
            "created_at": TIMESTAMP})},
    }, ("id", "user_id", "status", "total_amount", "items", "payments")),
    "OrderPage": _object({"items": {"type": "array", "items": _object({
        "id": ID, "user_id": ID, "status": {"type": "string", "enum": list(validation.ORDER_STATUSES)},
        "total_amount": MONEY, "created_at": TIMESTAMP}, ("id", "user_id", "status", "total_amount"))},
        "page": {"type": "integer"}, "per_page": {"type": "integer"}, "total": {"type": "integer"},
        "pages": {"type": "integer"}}, ("items", "page", "per_page", "total", "pages")),
    "PaymentRequest": _object({
        "order_id": ID,
        "idempotency_key": {"type": "string", "minLength": 1, "maxLength": 64,
                            "description": "the same key for every retry of one payment (or an Idempotency-Key "
                                           "header)"},
    }, ("order_id",)),
    "Payment": _object({"order_id": ID, "payment_id": ID, "status": {"type": "string"}, "amount": MONEY,
                        "reference": {"type": ["string", "null"]}, "reason": {"type": ["string", "null"]},
                        "replayed": {"type": "boolean"}},
                       ("order_id", "payment_id", "status", "amount", "replayed")),
    "Sweep": _object({"cancelled_orders": {"type": "array", "items": ID},
                      "resolved_payments": {"type": "array", "items": ID}}, ("cancelled_orders", "resolved_payments")),
}

PATHS: dict[str, Any] = {
    "/api/openapi.json": {"get": _operation("This description", {"200": _json({"type": "object"}, "OpenAPI 3.1")},
                                            tag="meta")},
    "/api/auth/signup": {"post": _operation(
        "Create an account (the password is stored only as an argon2id hash)",
        {"201": _json(_ref("User"), "the new account"), "409": _error("email or phone number taken (CONFLICT)"),
         "429": _error("too many sign-ups from this address, or password hashing at capacity "
                              "(RATE_LIMITED)", headers=RETRY_AFTER)},
        body=_body(_ref("Signup")), tag="auth")},
    "/api/auth/login": {"post": _operation(
        "Exchange email and password for a bearer token",
        {"200": _json(_ref("Token"), "a signed token, valid for expires_in seconds"),
         "401": _error("wrong email or password: the same answer whether or not the email exists (UNAUTHORIZED)"),
         "429": _error("too many failures for this account or address, or password hashing at capacity "
                              "(RATE_LIMITED)", headers=RETRY_AFTER)},
        body=_body(_ref("Credentials")), tag="auth")},
    "/api/auth/logout": {"post": _operation(
        "End every token issued to the caller so far", {"200": _json(_ref("LoggedOut"), "logged out")},
        secured=True, tag="auth")},
    "/api/auth/password": {"post": _operation(
        "Change the password: earlier tokens stop working, a new one is returned",
        {"200": _json(_ref("Token"), "a token for the new password"),
         "429": _error("too many wrong current passwords, or password hashing at capacity "
                              "(RATE_LIMITED)", headers=RETRY_AFTER)},
        secured=True, body=_body(_ref("PasswordChange")), tag="auth")},
    "/api/auth/me": {"get": _operation("The caller's account", {"200": _json(_ref("User"), "the account")},
                                       secured=True, tag="auth")},
    "/api/products": {"get": _operation(
        "Products, filtered and paginated", {"200": _json(_ref("ProductPage"), "one page")}, tag="catalog",
        parameters=[_query("category", {"type": "string"}, "category id or slug"),
                    _query("min_price", {"type": "string"}, "decimal"),
                    _query("max_price", {"type": "string"}, "decimal"),
                    _query("page", {"type": "integer", "minimum": 1}, "from 1"),
                    _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "1 to 100")])},
    "/api/products/{product_id}/stock": {"get": _operation(
        "A product's stock level", {"200": _json(_ref("StockLevel"), "the level"),
                                    "404": _error("no such product (NOT_FOUND)")},
        parameters=[_path_id("product_id")], tag="catalog")},
    "/api/stock/stream": {"get": _operation(
        "Server-sent events: one `stock` event per committed change",
        {"200": {"description": "an event stream", "content": {"text/event-stream": {"schema": {"type": "string"}}}}},
        parameters=[_query("limit", {"type": "integer", "minimum": 0}, "close after this many events (0: never)")],
        tag="catalog")},
    "/api/cart": {"get": _operation("The caller's cart", {"200": _json(_ref("Cart"), "the cart")}, secured=True,
                                    tag="cart")},
    "/api/cart/items": {"post": _operation(
        "Add a product to the caller's cart (merges with an existing line)",
        {"201": _json(_ref("Cart"), "the cart"), "404": _error("no such product (NOT_FOUND)"),
         "409": _error("not enough stock (INSUFFICIENT_STOCK)")},
        secured=True, body=_body(_ref("CartLineAdd")), tag="cart")},
    "/api/cart/items/{product_id}": {
        "put": _operation("Set a line's quantity (0 removes it)",
                          {"200": _json(_ref("Cart"), "the cart"),
                           "404": _error("no such product, or not in the cart (NOT_FOUND)"),
                           "409": _error("not enough stock (INSUFFICIENT_STOCK)")},
                          secured=True, body=_body(_ref("CartLineSet")), parameters=[_path_id("product_id")],
                          tag="cart"),
        "delete": _operation("Remove a line", {"200": _json(_ref("Cart"), "the cart"),
                                               "404": _error("not in the cart (NOT_FOUND)")},
                             secured=True, parameters=[_path_id("product_id")], tag="cart"),
    },
    "/api/checkout": {"post": _operation(
        "Turn the caller's cart into a pending order, stock reserved",
        {"201": _json(_ref("PendingOrder"), "the new order"),
         "409": _error("not enough stock (INSUFFICIENT_STOCK) or a refused change (CONFLICT)")},
        secured=True, body=_body(_ref("CheckoutRequest"), required=False), tag="orders")},
    "/api/orders": {"get": _operation(
        "The caller's orders, newest first", {"200": _json(_ref("OrderPage"), "one page")}, secured=True,
        tag="orders", parameters=[_query("page", {"type": "integer", "minimum": 1}, "from 1"),
                                  _query("per_page", {"type": "integer", "minimum": 1, "maximum": 100}, "1 to 100")])},
    "/api/orders/{order_id}": {"get": _operation(
        "One of the caller's orders", {"200": _json(_ref("Order"), "the order"),
                                       "404": _error("no such order among the caller's (NOT_FOUND)")},
        secured=True, parameters=[_path_id("order_id")], tag="orders")},
    "/api/payment/process": {"post": _operation(
        "Pay for one of the caller's pending orders, once per idempotency key",
        {"200": _json(_ref("Payment"), "paid (or the stored answer for a key already used)"),
         "402": _error("declined, or the outcome is not known yet: details.retryable says to retry with the "
                       "same key (PAYMENT_FAILED)"),
         "404": _error("no such order among the caller's (NOT_FOUND)"),
         "409": _error("not pending, reservation expired, or key in use (CONFLICT)")},
        secured=True, body=_body(_ref("PaymentRequest")), tag="orders",
        parameters=[{"name": "Idempotency-Key", "in": "header", "required": False,
                     "schema": {"type": "string", "minLength": 1, "maxLength": 64}}])},
    "/api/reservations/sweep": {"post": _operation(
        "Resolve stale payment attempts and release reservations that expired now",
        {"200": _json(_ref("Sweep"), "the orders cancelled and the payment attempts resolved")},
        secured=True, tag="orders")},
}

SPEC: dict[str, Any] = {
    "openapi": "3.1.0",
    "info": {"title": "integrity-kit reference shop", "version": "1.0.0",
             "description": "Every failure answers the Error body; its code says what kind of failure it is."},
    "paths": PATHS,
    "components": {
        "schemas": SCHEMAS,
        "securitySchemes": {"bearerAuth": {"type": "http", "scheme": "bearer",
                                           "description": "the token from POST /api/auth/login"}},
    },
}
