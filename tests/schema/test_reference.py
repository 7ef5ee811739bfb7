"""The reference and legacy schemas of the example app, reflected on every engine with exact expectations."""

from __future__ import annotations

import pytest
from sqlalchemy import types as sqltypes

from examples.ecommerce.database import APP_TABLES, create_schema
from integrity_kit.schema import Snapshot, build_snapshot

# (table, columns, referred table, ON DELETE) of every foreign key the reference schema declares.
REFERENCE_FKS = {
    ("categories", ("parent_id",), "categories", "SET NULL"),
    ("products", ("category_id",), "categories", "RESTRICT"),
    ("carts", ("user_id",), "users", "CASCADE"),
    ("cart_items", ("cart_id",), "carts", "CASCADE"),
    ("cart_items", ("product_id",), "products", "CASCADE"),
    ("orders", ("user_id",), "users", "RESTRICT"),
    ("order_items", ("order_id",), "orders", "CASCADE"),
    ("order_items", ("product_id",), "products", "RESTRICT"),
    ("stock_reservations", ("order_id",), "orders", "CASCADE"),
    ("stock_reservations", ("product_id",), "products", "RESTRICT"),
    ("payments", ("order_id",), "orders", "RESTRICT"),
}

REFERENCE_UNIQUES = {
    ("users", ("email",)),
    ("users", ("phone_number",)),
    ("categories", ("name",)),
    ("categories", ("slug",)),
    ("products", ("sku",)),
    ("carts", ("user_id",)),
    ("cart_items", ("cart_id", "product_id")),
    ("order_items", ("order_id", "product_id")),
    ("stock_reservations", ("order_id", "product_id")),
    ("payments", ("idempotency_key",)),
}

REFERENCE_INDEXES = {
    ("categories", "ix_categories_parent_id", ("parent_id",)),
    ("products", "ix_products_category_id", ("category_id",)),
    ("cart_items", "ix_cart_items_product_id", ("product_id",)),
    ("orders", "ix_orders_user_id_status_created_at", ("user_id", "status", "created_at")),
    ("order_items", "ix_order_items_product_id", ("product_id",)),
    ("stock_reservations", "ix_stock_reservations_product_id", ("product_id",)),
    ("stock_reservations", "ix_stock_reservations_status_expires_at", ("status", "expires_at")),
    ("payments", "ix_payments_order_id", ("order_id",)),
}

REFERENCE_CHECKS = {
    ("products", "ck_products_price_positive"),
    ("products", "ck_products_stock_non_negative"),
    ("products", "ck_products_alert_threshold_non_negative"),
    ("products", "ck_products_version_positive"),
    ("products", "ck_products_reserved_non_negative"),
    ("products", "ck_products_stock_not_below_reserved"),
    ("cart_items", "ck_cart_items_quantity_positive"),
    ("orders", "ck_orders_status_known"),
    ("orders", "ck_orders_total_non_negative"),
    ("order_items", "ck_order_items_quantity_positive"),
    ("order_items", "ck_order_items_unit_price_positive"),
    ("stock_reservations", "ck_stock_reservations_quantity_positive"),
    ("stock_reservations", "ck_stock_reservations_status_known"),
    ("payments", "ck_payments_status_known"),
    ("payments", "ck_payments_amount_non_negative"),
    ("users", "ck_users_token_version_non_negative"),
}

LEGACY_FKS = {
    ("products", ("category_id",), "categories", "NO ACTION"),
    ("carts", ("user_id",), "users", "NO ACTION"),
    ("cart_items", ("cart_id",), "carts", "NO ACTION"),
    ("order_items", ("order_id",), "orders", "NO ACTION"),
}

LEGACY_TABLES = {"users", "categories", "products", "carts", "cart_items", "orders", "order_items"}


def _fks(snapshot: Snapshot, dialect: str) -> set[tuple]:
    found = set()
    for table in snapshot.tables:
        for fk in table.foreign_keys:
            assert fk.referred_schema is None
            assert fk.referred_columns == ("id",)
            found.add((table.name, fk.columns, fk.referred_table, fk.on_delete))
    return found


def _expected_fks(expected: set[tuple], dialect: str) -> set[tuple]:
    # MariaDB does not tell RESTRICT from NO ACTION (both refuse the delete) and prints neither.
    if dialect == "mysql":
        return {(t, c, r, "NO ACTION" if action == "RESTRICT" else action) for t, c, r, action in expected}
    return expected


def _uniques(snapshot: Snapshot) -> set[tuple]:
    return {(table.name, unique.columns) for table in snapshot.tables for unique in table.unique_constraints}


def _plain_indexes(snapshot: Snapshot) -> set[tuple]:
    return {
        (table.name, index.name, index.columns)
        for table in snapshot.tables
        for index in table.indexes
        if not index.unique
    }


def _checks(snapshot: Snapshot) -> set[tuple]:
    return {(table.name, check.name) for table in snapshot.tables for check in table.check_constraints}


def test_reference_schema(app_engine, engine_name):
    create_schema(app_engine)
    snapshot = build_snapshot(app_engine)
    dialect = app_engine.dialect.name

    assert snapshot.dialect == dialect
    assert snapshot.not_analysed == ()
    assert {table.name for table in snapshot.tables} == set(APP_TABLES) | {"alembic_version"}
    assert _fks(snapshot, dialect) == _expected_fks(REFERENCE_FKS, dialect)
    assert all(fk.validated and fk.enforced for table in snapshot.tables for fk in table.foreign_keys)
    assert _uniques(snapshot) == REFERENCE_UNIQUES
    assert _plain_indexes(snapshot) == REFERENCE_INDEXES
    assert _checks(snapshot) == REFERENCE_CHECKS
    assert all(index.valid and index.predicate is None for table in snapshot.tables for index in table.indexes)

    for table in APP_TABLES:
        assert snapshot.table(table).primary_key.columns == ("id",)
        assert snapshot.table(table).column("id").autoincrement
    for table, column in [("products", "price"), ("orders", "total_amount"), ("order_items", "unit_price"),
                          ("payments", "amount")]:
        money = snapshot.table(table).column(column)
        assert isinstance(money.type, sqltypes.Numeric) and not isinstance(money.type, sqltypes.Float)
        assert (money.type.precision, money.type.scale) == (12, 2)
        assert not money.nullable

    products = snapshot.table("products")
    assert products.column("stock").server_default.strip("'") == "0"
    assert products.column("description").nullable
    assert products.column("sku").type.length == 64
    # Lookups the rules lean on.
    assert [fk.referred_table for fk in snapshot.foreign_keys_from(products)] == ["categories"]
    incoming = {(table.name, fk.columns) for table, fk in snapshot.foreign_keys_to(products)}
    assert incoming == {("cart_items", ("product_id",)), ("order_items", ("product_id",)),
                        ("stock_reservations", ("product_id",))}
    cart_items = snapshot.table("cart_items")
    # The cart-line uniqueness leads with cart_id, so it serves that foreign key (PK, uniques and indexes count).
    assert {key.columns for key in cart_items.covering(["cart_id"])} == {("cart_id", "product_id")}
    assert {key.columns for key in cart_items.covering(["product_id", "cart_id"])} == {("cart_id", "product_id")}
    assert [index.name for index in cart_items.indexes_leading_with(["product_id"])] == ["ix_cart_items_product_id"]


def test_legacy_schema(engine, engine_name):
    create_schema(engine, legacy=True)
    snapshot = build_snapshot(engine)
    dialect = engine.dialect.name

    assert snapshot.not_analysed == ()
    assert {table.name for table in snapshot.tables} == LEGACY_TABLES
    # The relations without a declared key are simply absent.
    assert _fks(snapshot, dialect) == LEGACY_FKS
    assert _uniques(snapshot) == {("users", ("email",)), ("users", ("phone_number",))}
    assert _checks(snapshot) == set()
    if dialect == "mysql":
        # InnoDB indexes every foreign key itself, naming the index after the column.
        assert _plain_indexes(snapshot) == {
            ("products", "category_id", ("category_id",)),
            ("carts", "user_id", ("user_id",)),
            ("cart_items", "cart_id", ("cart_id",)),
            ("order_items", "order_id", ("order_id",)),
        }
    else:
        assert _plain_indexes(snapshot) == set()
    assert snapshot.table("cart_items").covering(["cart_id", "product_id"]) == ()
    for table, column in [("products", "price"), ("orders", "total_amount"), ("order_items", "price")]:
        assert isinstance(snapshot.table(table).column(column).type, sqltypes.Float)
    assert snapshot.table("products").column("stock").nullable
    created = snapshot.table("orders").column("created_at").type
    assert isinstance(created, sqltypes.DateTime) and not created.timezone


@pytest.mark.engines("sqlite")
def test_sqlite_foreign_keys_pragma(engine, app_engine, engine_name):
    create_schema(app_engine)
    off = build_snapshot(engine)
    on = build_snapshot(app_engine)
    assert off.foreign_keys_pragma is False
    assert on.foreign_keys_pragma is True
    assert {fk.enforced for table in off.tables for fk in table.foreign_keys} == {False}
    assert {fk.enforced for table in on.tables for fk in table.foreign_keys} == {True}


@pytest.mark.engines("sqlite")
def test_sqlite_row_estimates_only_after_analyze(engine, engine_name):
    create_schema(engine, legacy=True)
    with engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO users (email, phone_number) VALUES ('a@x.io', '1'), ('b@x.io', '2')")
    assert build_snapshot(engine).table("users").row_estimate is None
    with engine.begin() as connection:
        connection.exec_driver_sql("ANALYZE")
    snapshot = build_snapshot(engine)
    assert snapshot.table("users").row_estimate == 2
    assert snapshot.table("orders").row_estimate in (None, 0)


@pytest.mark.engines("sqlite")
def test_sqlite_attached_database_as_schema(engine_url, tmp_path, engine_name):
    from sqlalchemy import create_engine, event

    engine = create_engine(engine_url)

    @event.listens_for(engine, "connect")
    def attach(dbapi_connection, _record):
        dbapi_connection.execute("ATTACH DATABASE ? AS aux", (str(tmp_path / "aux.db"),))

    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE main.owners (id INTEGER PRIMARY KEY)")
            connection.exec_driver_sql("CREATE TABLE aux.pets (id INTEGER PRIMARY KEY, name TEXT UNIQUE)")
            connection.exec_driver_sql("INSERT INTO aux.pets (name) VALUES ('a'), ('b'), ('c')")
            connection.exec_driver_sql("ANALYZE aux")
        snapshot = build_snapshot(engine, schemas=["main", "aux"])
        assert snapshot.schemas == (None, "aux")
        assert [table.qualified_name for table in snapshot.tables] == ["owners", "aux.pets"]
        pets = snapshot.table("pets", schema="aux")
        assert pets.row_estimate == 3
        assert [unique.columns for unique in pets.unique_constraints] == [("name",)]
    finally:
        engine.dispose()
