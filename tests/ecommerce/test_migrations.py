"""The Alembic migrations build exactly the schema the models declare, and go up and down on every engine."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, insert, inspect, select, text

from examples.ecommerce import database
from examples.ecommerce.models import Base
from tests.servers import scratch_database


def _schema_picture(engine: Engine) -> dict:
    """Everything a careful engineer declares, normalised so two databases can be compared."""
    inspector = inspect(engine)
    picture = {}
    for table in sorted(set(inspector.get_table_names()) - {"alembic_version"}):
        picture[table] = {
            "columns": {c["name"]: (c["nullable"], type(c["type"]).__name__) for c in inspector.get_columns(table)},
            "pk": tuple(inspector.get_pk_constraint(table)["constrained_columns"]),
            "fks": sorted((tuple(fk["constrained_columns"]), fk["referred_table"], fk["name"],
                           (fk.get("options") or {}).get("ondelete", "").upper() or None)
                          for fk in inspector.get_foreign_keys(table)),
            "checks": sorted(c["name"] for c in inspector.get_check_constraints(table)),
            "unique": sorted((u["name"], tuple(u["column_names"])) for u in inspector.get_unique_constraints(table)),
            "indexes": sorted((i["name"], tuple(i["column_names"]), bool(i["unique"]))
                              for i in inspector.get_indexes(table)
                              if not i.get("duplicates_constraint")),
        }
    return picture


def test_one_head() -> None:
    script = ScriptDirectory.from_config(database.alembic_config())
    assert len(script.get_heads()) == 1


def test_upgrade_head_then_downgrade_base(app_engine: Engine) -> None:
    database.upgrade(app_engine)
    assert set(database.APP_TABLES) <= set(inspect(app_engine).get_table_names())
    database.downgrade(app_engine)
    assert set(inspect(app_engine).get_table_names()) <= {"alembic_version"}
    database.upgrade(app_engine)  # and up again: the downgrade left nothing behind that blocks it
    assert set(database.APP_TABLES) <= set(inspect(app_engine).get_table_names())


def test_migrated_schema_matches_models_autogenerate(app_engine: Engine) -> None:
    database.upgrade(app_engine)
    with app_engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        assert compare_metadata(context, Base.metadata) == []


def test_migrated_schema_matches_create_all(app_engine: Engine, engine_name: str, tmp_path) -> None:
    # Autogenerate does not compare CHECK constraints or ON DELETE; this compares everything we declare.
    database.upgrade(app_engine)
    with scratch_database(engine_name, tmp_path / "models") as other_url:
        other = database.make_engine(other_url)
        try:
            Base.metadata.create_all(other)
            assert _schema_picture(app_engine) == _schema_picture(other)
        finally:
            other.dispose()


def test_alert_threshold_backfills_existing_rows(app_engine: Engine) -> None:
    database.upgrade(app_engine, "0001_baseline")
    with app_engine.begin() as connection:
        connection.execute(text("INSERT INTO categories (name, slug) VALUES ('Books', 'books')"))
        connection.execute(text(
            "INSERT INTO products (sku, name, category_id, price, stock) "
            "VALUES ('A', 'a', 1, 5, 1), ('B', 'b', 1, 6, 2)"
        ))
    database.upgrade(app_engine)
    products = Base.metadata.tables["products"]
    with app_engine.begin() as connection:
        assert connection.execute(select(products.c.stock_alert_threshold)).scalars().all() == [5, 5]
        # New rows without a value get the server default; the column is NOT NULL from now on.
        connection.execute(insert(products).values(sku="C", name="c", category_id=1, price=7))
        assert connection.execute(
            select(products.c.stock_alert_threshold).where(products.c.sku == "C")
        ).scalar() == 5
    columns = {c["name"]: c for c in inspect(app_engine).get_columns("products")}
    assert columns["stock_alert_threshold"]["nullable"] is False
    database.downgrade(app_engine, "0001_baseline")
    assert "stock_alert_threshold" not in {c["name"] for c in inspect(app_engine).get_columns("products")}
    with app_engine.connect() as connection:
        assert connection.execute(text("SELECT COUNT(*) FROM products")).scalar() == 3


@pytest.mark.engines("sqlite")
def test_offline_sql_renders_every_revision() -> None:
    # `alembic upgrade --sql` must work too, for teams that review DDL before running it.
    import contextlib
    import io

    from alembic import command

    config = database.alembic_config()
    config.set_main_option("sqlalchemy.url", "postgresql://")
    buffer = io.StringIO()
    config.output_buffer = buffer
    with contextlib.redirect_stdout(buffer):
        command.upgrade(config, "head", sql=True)
    sql = buffer.getvalue()
    assert "CREATE TABLE cart_items" in sql
    assert "UPDATE products SET stock_alert_threshold = 5" in sql


def test_upgrading_a_database_with_rows_loses_none(app_engine: Engine) -> None:
    """SQLite's batch mode rebuilds `products`; with foreign keys on, dropping the old table would cascade into
    cart_items (ON DELETE CASCADE) or be refused by order_items (RESTRICT). Every row must survive every step."""
    database.upgrade(app_engine, "0001_baseline")
    with app_engine.begin() as connection:
        for statement in (
            "INSERT INTO users (email, phone_number, full_name) VALUES ('a@example.com', '+1 555 0000001', 'A')",
            "INSERT INTO categories (name, slug) VALUES ('Books', 'books')",
            "INSERT INTO products (sku, name, category_id, price, stock) VALUES ('A', 'a', 1, 5, 3)",
            "INSERT INTO carts (user_id) VALUES (1)",
            "INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 1, 2)",
            "INSERT INTO orders (user_id, status, total_amount) VALUES (1, 'pending', 5)",
            "INSERT INTO order_items (order_id, product_id, quantity, unit_price) VALUES (1, 1, 1, 5)",
        ):
            connection.execute(text(statement))
    tables = ("users", "categories", "products", "carts", "cart_items", "orders", "order_items")

    def counts() -> dict[str, int]:
        with app_engine.connect() as connection:
            return {t: connection.execute(text(f"SELECT COUNT(*) FROM {t}")).scalar() for t in tables}

    before = counts()
    assert set(before.values()) == {1}
    script = ScriptDirectory.from_config(database.alembic_config())
    for revision in reversed(list(script.walk_revisions("0001_baseline", "head"))):
        if revision.revision == "0001_baseline":
            continue
        database.upgrade(app_engine, revision.revision)
        assert counts() == before, f"rows lost upgrading to {revision.revision}"
    database.downgrade(app_engine, "0001_baseline")
    assert counts() == before


@pytest.mark.engines("postgresql")
def test_constraints_created_not_valid_are_validated_by_head(app_engine: Engine) -> None:
    database.upgrade(app_engine, "0004_alert_threshold_check")
    with app_engine.connect() as connection:
        pending = connection.execute(text("SELECT conname FROM pg_constraint WHERE NOT convalidated")).scalars()
        assert set(pending) == {"ck_products_alert_threshold_non_negative",
                                "ck_products_stock_alert_threshold_not_null"}
    database.upgrade(app_engine)
    with app_engine.connect() as connection:
        assert connection.execute(text("SELECT conname FROM pg_constraint WHERE NOT convalidated")).all() == []
