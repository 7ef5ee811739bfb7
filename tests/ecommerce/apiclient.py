"""Flask test clients that speak for one user: a real signed token in every request's Authorization header."""

from __future__ import annotations

from flask import Flask
from flask.testing import FlaskClient


def as_user(app: Flask, user_id: int) -> FlaskClient:
    """A test client logged in as ``user_id`` (the token is issued by the app's own accounts service)."""
    client = app.test_client()
    token = app.extensions["ecommerce"]["accounts"].issue_token(user_id)
    client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {token}"
    return client


def error(response, status: int, code: str) -> dict:
    """The structured error body of ``response``, after checking its status, shape and code."""
    assert response.status_code == status, response.get_data(as_text=True)
    body = response.get_json()
    assert set(body) == {"error"} and set(body["error"]) == {"code", "message", "details"}
    assert body["error"]["code"] == code
    return body["error"]
