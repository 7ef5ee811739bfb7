"""The reference app's two schemas: the legacy one shows every planted flaw, the correct one no error at all."""

from __future__ import annotations

from examples.ecommerce import database
from tests.audit.helpers import audited, keys

LEGACY_FLAWS = {
    # relations without a foreign key
    ("missing-foreign-key", "cart_items", ("product_id",)),
    ("missing-foreign-key", "orders", ("user_id",)),
    ("missing-foreign-key", "order_items", ("product_id",)),
    ("missing-foreign-key", "categories", ("parent_id",)),
    # money as float
    ("float-for-money", "products", ("price",)),
    ("float-for-money", "orders", ("total_amount",)),
    ("float-for-money", "order_items", ("price",)),
    # no uniqueness on cart (and order) lines, nor on natural keys
    ("missing-unique-constraint", "cart_items", ("cart_id", "product_id")),
    ("missing-unique-constraint", "order_items", ("order_id", "product_id")),
    ("missing-unique-constraint", "products", ("sku",)),
    ("missing-unique-constraint", "categories", ("slug",)),
    # no CHECK on stock, price or quantity
    ("missing-check-constraint", "products", ("stock",)),
    ("missing-check-constraint", "products", ("price",)),
    ("missing-check-constraint", "cart_items", ("quantity",)),
    ("missing-check-constraint", "order_items", ("quantity",)),
    ("missing-check-constraint", "order_items", ("price",)),
    ("missing-check-constraint", "orders", ("total_amount",)),
    ("missing-check-constraint", "orders", ("status",)),
}
# The declared foreign keys have no index; InnoDB creates one by itself, so MariaDB is clean here.
UNINDEXED = {
    ("unindexed-foreign-key", "carts", ("user_id",)),
    ("unindexed-foreign-key", "cart_items", ("cart_id",)),
    ("unindexed-foreign-key", "order_items", ("order_id",)),
    ("unindexed-foreign-key", "products", ("category_id",)),
}


def test_legacy_schema_shows_every_planted_flaw(app_engine, engine_name: str) -> None:
    database.create_schema(app_engine, legacy=True)
    report, _ = audited(app_engine)
    rules = {rule for rule, _table, _columns in LEGACY_FLAWS | UNINDEXED}
    expected = LEGACY_FLAWS | (set() if engine_name == "mariadb" else UNINDEXED)
    assert keys(report, *rules) == expected
    by_key = {(f.rule, f.table, f.columns): f for f in report.findings}
    unindexed_lookup = by_key[("missing-foreign-key", "orders", ("user_id",))]
    assert unindexed_lookup.severity.value == "error" and unindexed_lookup.target == {"table": "users",
                                                                                      "columns": ["id"]}
    assert "no index" in unindexed_lookup.message and "CREATE INDEX" in unindexed_lookup.fix.sql
    assert report.exit_code("error") == 1 and report.not_analysed == []


def test_reference_schema_has_no_error_level_finding(app_engine, engine_name: str) -> None:
    database.create_schema(app_engine)
    report, _ = audited(app_engine)
    assert [f for f in report.findings if f.severity.value == "error"] == []
    assert report.exit_code("error") == 0 and report.not_analysed == []
    # Nothing at all on the servers; the app's engine turns SQLite's foreign keys on, so nothing there either.
    assert report.findings == []
    assert report.tables == len(database.APP_TABLES) + 1  # and alembic_version


def test_the_audit_sends_nothing_that_writes(app_engine) -> None:
    database.create_schema(app_engine, legacy=True)
    _report, statements = audited(app_engine)
    writes = [s for s in statements if s.lstrip().split()[0].upper() in
              ("INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "TRUNCATE", "GRANT", "COMMIT")]
    assert writes == []
    # The first statement makes the transaction read-only on every engine that has such a thing.
    assert any("READ ONLY" in s.upper() or "QUERY_ONLY" in s.upper() for s in statements[:3])


def test_the_damage_in_the_legacy_sample_data_is_found_by_its_keys(app_engine) -> None:
    from examples.ecommerce import sample_data

    database.create_schema(app_engine, legacy=True)
    damage = sample_data.load(app_engine, legacy=True).damage
    report, statements = audited(app_engine)
    by_rule = {(f.rule, f.table, f.columns): f for f in report.findings}
    orphans = by_rule[("missing-foreign-key", "cart_items", ("product_id",))]
    assert orphans.evidence["orphan_rows"] == len(damage.orphan_cart_items)
    assert sorted(orphans.evidence["sample_keys"]) == sorted(damage.orphan_cart_items)
    assert "adding it today would fail" in orphans.message and orphans.fix.sql.startswith("-- review first")
    clean = by_rule[("missing-foreign-key", "orders", ("user_id",))]
    assert clean.evidence["orphan_rows"] == 0 and clean.confidence > orphans.confidence
    lines = by_rule[("missing-unique-constraint", "cart_items", ("cart_id", "product_id"))]
    assert lines.evidence["duplicate_groups"] == len(damage.duplicate_cart_lines)
    status = by_rule[("missing-check-constraint", "orders", ("status",))]
    assert "pending" in status.evidence["values_in_use"] and "'pending'" in status.fix.sql
    duplicates = by_rule[("duplicate-rows", "cart_items", ("cart_id", "product_id"))]
    assert sorted(tuple(s["key"]) for s in duplicates.evidence["sample_keys"]) == sorted(damage.duplicate_cart_lines)
    negative = by_rule[("check-violations", "products", ("stock",))]
    assert negative.evidence["sample_keys"] == damage.negative_stock_products
    with app_engine.connect() as connection:
        assert negative.evidence["rows_checked"] == connection.exec_driver_sql("SELECT COUNT(*) FROM products").scalar()
        orders = connection.exec_driver_sql("SELECT COUNT(*) FROM orders").scalar()
    assert damage.mistotalled_orders
    mistotalled = by_rule[("derived-total-mismatch", "orders", ("total_amount",))]
    assert mistotalled.evidence["sample_keys"] == damage.mistotalled_orders
    assert mistotalled.evidence["mismatched_rows"] == len(damage.mistotalled_orders)
    assert mistotalled.evidence["rows_checked"] == orders
    assert all(s.lstrip().split()[0].upper() in ("SELECT", "SET", "START", "PRAGMA", "SAVEPOINT", "RELEASE",
                                                 "ROLLBACK", "SHOW", "WITH") for s in statements), statements
    schema_only, _ = audited(app_engine, select=["duplicate-rows", "check-violations", "derived-total-mismatch"],
                             data=False)
    assert schema_only.findings == []


def test_the_reference_data_has_totals_that_agree_with_their_lines(app_engine) -> None:
    from examples.ecommerce import sample_data

    database.create_schema(app_engine)
    sample_data.load(app_engine, rows=2000)
    report, _ = audited(app_engine, select=["derived-total-mismatch", "check-violations", "foreign-key-violations"])
    assert report.findings == [] and report.not_analysed == []
    # The rule did look: one cent off on one order, and that order is reported.
    with app_engine.begin() as connection:
        connection.exec_driver_sql("UPDATE orders SET total_amount = total_amount + 0.01 WHERE id = 3")
    report, _ = audited(app_engine, select=["derived-total-mismatch"])
    assert [(f.table, f.evidence["sample_keys"]) for f in report.findings] == [("orders", [3])]


def test_sample_rows_bounds_what_the_probes_read(app_engine) -> None:
    from examples.ecommerce import sample_data

    database.create_schema(app_engine, legacy=True)
    sample_data.load(app_engine, rows=2000, legacy=True)
    report, _ = audited(app_engine, select=["missing-foreign-key", "check-violations"], sample_rows=50)
    probed = [f for f in report.findings if "rows_checked" in f.evidence]
    assert probed and all(f.evidence["rows_checked"] <= 50 and f.evidence["sampled"] is True for f in probed)
    full, _ = audited(app_engine, select=["missing-foreign-key"])
    assert all("sampled" not in f.evidence for f in full.findings)
    orders = next(f for f in full.findings if f.table == "orders")
    with app_engine.connect() as connection:
        assert orders.evidence["rows_checked"] == connection.exec_driver_sql("SELECT COUNT(*) FROM orders").scalar()
