"""``to_dict()``: JSON-safe columns, exact money, relationships only when asked for."""

from __future__ import annotations

import json
from decimal import Decimal

from sqlalchemy import event
from sqlalchemy.orm import Session

from examples.ecommerce import database, sample_data
from examples.ecommerce.models import Order, Product


def test_to_dict_is_json_safe_and_exact(app_engine) -> None:
    database.create_schema(app_engine)
    sample_data.load(app_engine, 300, 2)
    with Session(app_engine) as session:
        product = session.get(Product, 1)
        data = product.to_dict()
        assert json.loads(json.dumps(data)) == data
        assert Decimal(data["price"]) == product.price
        assert data["price"] == f"{product.price:.2f}"
        assert "category" not in data
        assert isinstance(data["created_at"], str)


def test_to_dict_never_lazy_loads_unless_asked(app_engine) -> None:
    database.create_schema(app_engine)
    sample_data.load(app_engine, 300, 2)
    statements: list[str] = []
    event.listen(app_engine, "before_cursor_execute", lambda *args: statements.append(args[2]))
    with Session(app_engine) as session:
        order = session.get(Order, 1)
        before = len(statements)
        plain = order.to_dict(exclude=("created_at",))
        assert len(statements) == before
        assert "created_at" not in plain
        nested = order.to_dict(include=("items",))
        assert len(statements) == before + 1
        assert sum(Decimal(item["unit_price"]) * item["quantity"] for item in nested["items"]) == order.total_amount
