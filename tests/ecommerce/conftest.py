"""Fixtures most API tests share: the small shop, its API, and a signed-in client (a module overrides one by
defining its own)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from tests.ecommerce import shop
from tests.ecommerce.apiclient import as_user


@pytest.fixture
def store(app_engine: Engine) -> Engine:
    shop.build(app_engine)
    return app_engine


@pytest.fixture
def app(store: Engine):
    return shop.api(store)


@pytest.fixture
def client(app):
    return as_user(app, 1)
