"""The database itself refuses bad rows, on every engine, even when the model validators are bypassed."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, insert, select, update
from sqlalchemy.exc import DBAPIError

from examples.ecommerce import database
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.models import Base

T = Base.metadata.tables


@pytest.fixture
def shop(app_engine: Engine) -> Engine:
    database.create_schema(app_engine)
    # No explicit ids: on PostgreSQL they would leave the serial sequences behind. A fresh database numbers
    # these rows 1, 2, ... in insert order.
    with app_engine.begin() as connection:
        connection.execute(insert(T["users"]), [
            {"email": "a@example.com", "phone_number": "+1 555 0000001", "full_name": "A"},
            {"email": "b@example.com", "phone_number": "+1 555 0000002", "full_name": "B"},
        ])
        connection.execute(insert(T["categories"]), {"name": "Books", "slug": "books"})
        connection.execute(insert(T["products"]),
                           {"sku": "SKU-1", "name": "Book", "category_id": 1, "price": "9.99", "stock": 3})
        connection.execute(insert(T["carts"]), {"user_id": 1})
        connection.execute(insert(T["cart_items"]), {"cart_id": 1, "product_id": 1, "quantity": 1})
        connection.execute(insert(T["orders"]), {"user_id": 1, "total_amount": "9.99"})
        connection.execute(insert(T["order_items"]),
                           {"order_id": 1, "product_id": 1, "quantity": 1, "unit_price": "9.99"})
    return app_engine


# (statement, kind of violation, name the engine must report; SQLite names only CHECKs and unique columns)
REFUSED = {
    "negative stock": (update(T["products"]).values(stock=-1), "check", "ck_products_stock_non_negative"),
    "zero price": (update(T["products"]).values(price=0), "check", "ck_products_price_positive"),
    "negative alert threshold": (update(T["products"]).values(stock_alert_threshold=-1), "check",
                                 "ck_products_alert_threshold_non_negative"),
    "zero cart quantity": (update(T["cart_items"]).values(quantity=0), "check", "ck_cart_items_quantity_positive"),
    "unknown order status": (update(T["orders"]).values(status="lost"), "check", "ck_orders_status_known"),
    "negative order total": (update(T["orders"]).values(total_amount=-5), "check", "ck_orders_total_non_negative"),
    "zero unit price": (update(T["order_items"]).values(unit_price=0), "check",
                        "ck_order_items_unit_price_positive"),
    "duplicate cart line": (insert(T["cart_items"]).values(cart_id=1, product_id=1, quantity=2), "unique",
                            "uq_cart_items_cart_id_product_id"),
    "duplicate email": (insert(T["users"]).values(email="a@example.com", phone_number="+1 555 0000009",
                                                  full_name="C"), "unique", "uq_users_email"),
    "second cart for a user": (insert(T["carts"]).values(user_id=1), "unique", "uq_carts_user_id"),
    "cart line for a missing product": (insert(T["cart_items"]).values(cart_id=1, product_id=999, quantity=1),
                                        "foreign_key", "fk_cart_items_product_id_products"),
    "order for a missing user": (insert(T["orders"]).values(user_id=999, total_amount=1), "foreign_key",
                                 "fk_orders_user_id_users"),
    "deleting a product that was ordered": (T["products"].delete(), "foreign_key",
                                            "fk_order_items_product_id_products"),
    "deleting a user with orders": (T["users"].delete().where(T["users"].c.id == 1), "foreign_key",
                                    "fk_orders_user_id_users"),
    "product without a price": (insert(T["products"]).values(sku="S2", name="X", category_id=1, price=None),
                                "not_null", None),
}

_SQLITE_NAMES = {"check": lambda name: name, "unique": lambda name: None, "foreign_key": lambda name: None,
                 "not_null": lambda name: None}


def _snapshot(engine: Engine) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
                for name, table in T.items()}


@pytest.mark.parametrize("case", list(REFUSED))
def test_engine_refuses(shop: Engine, engine_name: str, case: str) -> None:
    statement, kind, name = REFUSED[case]
    before = _snapshot(shop)
    with pytest.raises(DBAPIError) as raised, shop.begin() as connection:
        connection.execute(statement)
    found = violation(raised.value)
    assert found is not None, f"not recognised as a constraint violation: {raised.value.orig!r}"
    assert found.kind == kind
    expected_name = _SQLITE_NAMES[kind](name) if engine_name == "sqlite" else name
    if expected_name:
        assert found.constraint == expected_name
    assert _snapshot(shop) == before


def test_deleting_a_user_cascades_to_the_cart_but_orders_block_it(shop: Engine) -> None:
    with shop.begin() as connection:
        user_id = connection.execute(insert(T["users"]).values(
            email="c@example.com", phone_number="+1 555 0000003", full_name="C")).inserted_primary_key[0]
        cart_id = connection.execute(insert(T["carts"]).values(user_id=user_id)).inserted_primary_key[0]
        connection.execute(insert(T["cart_items"]).values(cart_id=cart_id, product_id=1, quantity=1))
        connection.execute(T["users"].delete().where(T["users"].c.id == user_id))
        remaining = connection.execute(
            select(func.count()).select_from(T["cart_items"]).where(T["cart_items"].c.cart_id == cart_id)
        ).scalar()
        assert connection.execute(select(func.count()).select_from(T["carts"]).where(T["carts"].c.id == cart_id)
                                  ).scalar() == 0
    assert remaining == 0


def test_deleting_a_category_sets_children_parent_to_null(shop: Engine) -> None:
    with shop.begin() as connection:
        home = connection.execute(insert(T["categories"]).values(name="Home", slug="home")).inserted_primary_key[0]
        kitchen = connection.execute(insert(T["categories"]).values(
            name="Kitchen", slug="kitchen", parent_id=home)).inserted_primary_key[0]
        connection.execute(T["categories"].delete().where(T["categories"].c.id == home))
        parent = connection.execute(
            select(T["categories"].c.parent_id).where(T["categories"].c.id == kitchen)).scalar()
    assert parent is None
