"""Sample data: deterministic per seed, valid on the reference schema, damaged on purpose on the legacy one."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, func, select, text

from examples.ecommerce import database, sample_data
from examples.ecommerce.legacy import LegacyBase
from examples.ecommerce.models import Base


def _dump(engine: Engine, metadata) -> dict[str, list[tuple]]:
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(select(table).order_by(table.c.id))]
                for name, table in metadata.tables.items()}


def _materialise(rows: int, seed: int, legacy: bool) -> dict[str, list[dict]]:
    streams, _damage, _plan = sample_data.generate(rows, seed, legacy=legacy)
    tables: dict[str, list[dict]] = {}
    for name in ("users", "categories", "products", "carts", "cart_items"):
        tables[name] = [row for chunk in streams[name] for row in chunk]
    for name, chunk in streams["orders_and_items"]:
        tables.setdefault(name, []).extend(chunk)
    return tables


def test_same_seed_same_rows_other_seed_other_rows() -> None:
    first = _materialise(2_000, 7, legacy=False)
    assert first == _materialise(2_000, 7, legacy=False)
    assert first != _materialise(2_000, 8, legacy=False)


def test_row_count_follows_rows_option() -> None:
    for rows in (1_000, 20_000):
        total = sum(len(table) for table in _materialise(rows, 1, legacy=False).values())
        assert 0.9 * rows <= total <= 1.15 * rows


def test_reference_data_keeps_its_own_invariants() -> None:
    tables = _materialise(3_000, 3, legacy=False)
    items_by_order: dict[int, list[dict]] = {}
    for item in tables["order_items"]:
        items_by_order.setdefault(item["order_id"], []).append(item)
    for order in tables["orders"]:
        lines = items_by_order[order["id"]]
        assert order["total_amount"] == sum(line["unit_price"] * line["quantity"] for line in lines)
    lines = [(item["cart_id"], item["product_id"]) for item in tables["cart_items"]]
    assert len(lines) == len(set(lines))
    assert all(product["stock"] >= 0 for product in tables["products"])


def test_loaded_reference_data_is_identical_on_every_engine(app_engine: Engine) -> None:
    database.create_schema(app_engine)
    result = sample_data.load(app_engine, 1_500, 11)
    assert result.damage.is_empty()
    dump = _dump(app_engine, Base.metadata)
    assert {name: len(rows) for name, rows in dump.items() if name in result.counts} == result.counts
    # Sample data is order history only: no live reservations or payment attempts.
    assert all(not rows for name, rows in dump.items() if name not in result.counts)
    # Same ids, emails and money on every engine (timestamps differ only in how each engine returns zones).
    with app_engine.connect() as connection:
        total = connection.execute(select(func.sum(Base.metadata.tables["orders"].c.total_amount))).scalar()
        emails = connection.execute(text("SELECT email FROM users ORDER BY id")).scalars().all()
    expected = _materialise(1_500, 11, legacy=False)
    assert total == sum(order["total_amount"] for order in expected["orders"])
    assert emails == [user["email"] for user in expected["users"]]


def test_new_rows_after_loading_get_fresh_ids(app_engine: Engine) -> None:
    database.create_schema(app_engine)
    sample_data.load(app_engine, 500, 1)
    categories = Base.metadata.tables["categories"]
    with app_engine.begin() as connection:
        result = connection.execute(categories.insert().values(name="New", slug="new"))
    # On PostgreSQL this fails with a duplicate key unless loading moved the serial sequence on.
    assert result.inserted_primary_key[0] > 20


def test_legacy_data_carries_the_damage_it_declares(app_engine: Engine) -> None:
    database.create_schema(app_engine, legacy=True)
    result = sample_data.load(app_engine, 2_000, 5, legacy=True)
    damage = result.damage
    assert damage.orphan_cart_items and damage.duplicate_cart_lines
    assert damage.negative_stock_products and damage.mistotalled_orders
    with app_engine.connect() as connection:
        orphans = connection.execute(text(
            "SELECT ci.id FROM cart_items ci LEFT JOIN products p ON p.id = ci.product_id "
            "WHERE p.id IS NULL ORDER BY ci.id")).scalars().all()
        duplicates = connection.execute(text(
            "SELECT cart_id, product_id FROM cart_items GROUP BY cart_id, product_id HAVING COUNT(*) > 1 "
            "ORDER BY cart_id")).all()
        negative = connection.execute(text("SELECT id FROM products WHERE stock < 0")).scalars().all()
        mistotalled = connection.execute(text(
            "SELECT o.id FROM orders o JOIN order_items i ON i.order_id = o.id GROUP BY o.id, o.total_amount "
            "HAVING ABS(o.total_amount - SUM(i.price * i.quantity)) > 0.5 ORDER BY o.id")).scalars().all()
    assert orphans == damage.orphan_cart_items
    assert [tuple(row) for row in duplicates] == damage.duplicate_cart_lines
    assert negative == damage.negative_stock_products
    assert mistotalled == damage.mistotalled_orders
    assert set(_dump(app_engine, LegacyBase.metadata)) == set(sample_data.TABLE_ORDER)


@pytest.mark.engines("sqlite")
def test_legacy_is_reference_plus_damage() -> None:
    reference = _materialise(2_000, 9, legacy=False)
    legacy = _materialise(2_000, 9, legacy=True)
    assert [u["email"] for u in reference["users"]] == [u["email"] for u in legacy["users"]]
    assert len(legacy["cart_items"]) == len(reference["cart_items"]) + 5
