"""Snapshots of SQLAlchemy models, the ``module:Base`` loader, and models-versus-database comparison."""

from __future__ import annotations

import pytest
from sqlalchemy import Column, Float, Integer, MetaData, String, Table
from sqlalchemy import types as sqltypes

from examples.ecommerce.database import create_schema
from examples.ecommerce.legacy import LegacyBase
from examples.ecommerce.models import Base
from integrity_kit.errors import IntegrityKitError
from integrity_kit.schema import build_snapshot, compare, load_metadata, snapshot_from_metadata
from tests.schema.conftest import execute
from tests.schema.test_reference import REFERENCE_CHECKS, REFERENCE_FKS, REFERENCE_INDEXES, REFERENCE_UNIQUES


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql", "mysql", "mariadb"])
def test_models_snapshot_needs_no_database(dialect):
    snapshot = snapshot_from_metadata(Base.metadata, dialect)
    assert snapshot.source == "models" and snapshot.dialect == dialect
    fks = {(t.name, fk.columns, fk.referred_table, fk.on_delete) for t in snapshot.tables for fk in t.foreign_keys}
    assert fks == REFERENCE_FKS
    assert {(t.name, u.columns) for t in snapshot.tables for u in t.unique_constraints} == REFERENCE_UNIQUES
    assert {(t.name, i.name, i.columns) for t in snapshot.tables for i in t.indexes} == REFERENCE_INDEXES
    assert {(t.name, c.name) for t in snapshot.tables for c in t.check_constraints} == REFERENCE_CHECKS
    products = snapshot.table("products")
    assert products.column("price").type_sql in ("NUMERIC(12, 2)", "DECIMAL(12, 2)")
    assert products.column("stock").server_default == "'0'" and products.column("stock").client_default == "0"
    assert products.column("id").autoincrement and not products.column("id").nullable
    assert products.primary_key.name == "pk_products"
    legacy = snapshot_from_metadata(LegacyBase.metadata, dialect)
    assert isinstance(legacy.table("orders").column("total_amount").type, sqltypes.Float)
    assert legacy.table("orders").column("created_at").client_default == "datetime.now"


def test_load_metadata_accepts_a_base_or_a_metadata():
    assert load_metadata("examples.ecommerce.models:Base") is Base.metadata
    assert load_metadata("examples.ecommerce.models:Base.metadata") is Base.metadata
    assert load_metadata("examples.ecommerce.legacy:LegacyBase") is LegacyBase.metadata


@pytest.mark.parametrize(
    ("spec", "message"),
    [
        ("examples.ecommerce.models", "--models expects module:object"),
        (":Base", "--models expects module:object"),
        ("no_such_package_xyz.models:Base", "cannot import 'no_such_package_xyz.models'"),
        ("examples.ecommerce.models:Missing", "has no attribute 'Missing'"),
        ("examples.ecommerce.models:NAMING_CONVENTION", "is a dict, not a declarative base or a MetaData"),
        ("broken_models_module:Base", "importing 'broken_models_module' for --models"),
    ],
)
def test_load_metadata_errors_are_one_line(spec, message, tmp_path, monkeypatch):
    (tmp_path / "broken_models_module.py").write_text("raise RuntimeError('boom\\nsecond line')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    with pytest.raises(IntegrityKitError) as raised:
        load_metadata(spec)
    assert message in str(raised.value)
    assert "\n" not in str(raised.value)


def test_reference_models_match_the_migrated_database(app_engine, engine_name):
    create_schema(app_engine)
    live = build_snapshot(app_engine)
    models = snapshot_from_metadata(Base.metadata, app_engine.dialect.name)
    assert compare(models, live) == []


def test_legacy_models_match_the_legacy_database(engine, engine_name):
    create_schema(engine, legacy=True)
    live = build_snapshot(engine)
    assert compare(snapshot_from_metadata(LegacyBase.metadata, engine.dialect.name), live) == []


def test_drift_is_detected(app_engine, engine_name):
    create_schema(app_engine)
    execute(
        app_engine,
        "ALTER TABLE products ADD COLUMN note VARCHAR(10)",
        "CREATE INDEX ix_users_full_name ON users (full_name)",
    )
    live = build_snapshot(app_engine)
    # The models drift the other way: float money, a looser column, a table the database never got.
    drifted = MetaData(naming_convention=Base.metadata.naming_convention)
    for table in Base.metadata.sorted_tables:
        table.to_metadata(drifted)
    drifted.tables["orders"].c.total_amount.type = Float()
    drifted.tables["users"].c.full_name.nullable = True
    Table("coupons", drifted, Column("id", Integer, primary_key=True), Column("code", String(20)))
    models = snapshot_from_metadata(drifted, app_engine.dialect.name)

    found = {(d.kind, d.table, d.object) for d in compare(models, live)}
    assert found == {
        ("missing-table", "coupons", None),
        ("extra-column", "products", "note"),
        ("extra-index", "users", "ix_users_full_name"),
        ("column-type", "orders", "total_amount"),
        ("column-nullable", "users", "full_name"),
    }
    by_kind = {d.kind: d for d in compare(models, live)}
    assert by_kind["column-type"].models == "FLOAT"
    assert "NUMERIC(12, 2)" in by_kind["column-type"].live or "DECIMAL(12, 2)" in by_kind["column-type"].live


def test_missing_constraints_are_detected(engine, engine_name):
    # The reference models against the legacy database: every lost key and check is named.
    create_schema(engine, legacy=True)
    differences = compare(snapshot_from_metadata(Base.metadata, engine.dialect.name), build_snapshot(engine))
    kinds = {(d.kind, d.table, d.object) for d in differences}
    assert ("missing-foreign-key", "cart_items", "product_id") in kinds
    assert ("missing-foreign-key", "orders", "user_id") in kinds
    assert ("missing-unique", "cart_items", "cart_id,product_id") in kinds
    assert ("missing-check", "products", "ck_products_stock_non_negative") in kinds
    assert ("missing-index", "orders", "ix_orders_user_id_status_created_at") in kinds
    assert ("column-type", "products", "price") in kinds
    assert ("missing-table", "payments", None) in kinds
    assert ("foreign-key-action", "cart_items", "cart_id") in kinds


def test_unknown_dialect_is_one_clear_error():
    with pytest.raises(IntegrityKitError, match="unknown dialect 'oracle9'"):
        snapshot_from_metadata(Base.metadata, "oracle9")


@pytest.mark.engines("postgresql")
def test_models_naming_the_default_schema_match_the_live_tables(engine, engine_name):
    # A model that spells out schema="public" is the same table as the live one in the default schema.
    metadata = MetaData(schema="public")
    Table("notes", metadata, Column("id", Integer, primary_key=True), Column("body", String(50), nullable=False))
    metadata.create_all(engine)
    live = build_snapshot(engine)
    models = snapshot_from_metadata(metadata, "postgresql")
    assert models.tables[0].schema == "public" and live.tables[0].schema is None
    assert compare(models, live) == []
