"""Names guessed as meaning are checked against the values (issue 19, items 3 and 4): a count that shares a word
with a table is no reference, a fraction is no money, a province code is no status, a mostly-NULL column gets no
NOT NULL; and on the real corpus no true reference is lost to the value check."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Engine, column, create_engine, insert, table

from integrity_kit.audit import audit
from integrity_kit.audit.evidence import gather
from integrity_kit.audit.probes import Probe
from integrity_kit.audit.rules.keys import MissingForeignKey
from integrity_kit.schema import build_snapshot
from tests.audit.corpus import fk_recovery
from tests.audit.helpers import keys
from tests.audit.test_fixes_apply_on_corpus import load_corpus
from tests.db import execute


def _northwind_like(engine: Engine) -> None:
    """Northwind's shape: 77 products whose units_on_order (0..100 by tens) shares a word with orders, whose keys
    start at 10248; a freight (real) beside no other money column, and a discount holding fractions."""
    execute(engine, "CREATE TABLE orders (order_id INTEGER PRIMARY KEY, freight REAL, ship_city VARCHAR(40))",
            "CREATE TABLE products (product_id INTEGER PRIMARY KEY, unit_price REAL, units_on_order INTEGER)",
            "CREATE TABLE order_details (order_id INTEGER NOT NULL, product_id INTEGER NOT NULL, unit_price REAL, "
            "quantity INTEGER, discount REAL, PRIMARY KEY (order_id, product_id))")
    orders = table("orders", column("order_id"), column("freight"), column("ship_city"))
    products = table("products", column("product_id"), column("unit_price"), column("units_on_order"))
    details = table("order_details", column("order_id"), column("product_id"), column("unit_price"),
                    column("quantity"), column("discount"))
    with engine.begin() as connection:
        connection.execute(insert(orders), [{"order_id": 10248 + n, "freight": round(3.25 + n * 7.13, 2),
                                             "ship_city": "Reims"} for n in range(30)])
        connection.execute(insert(products), [{"product_id": n, "unit_price": 4.5 + n,
                                               "units_on_order": (n % 11) * 10} for n in range(1, 78)])
        connection.execute(insert(details), [{"order_id": 10248 + n % 30, "product_id": 1 + n % 77,
                                              "unit_price": 4.5 + n % 77, "quantity": 1 + n % 5,
                                              "discount": (0, 0.05, 0.1, 0.15, 0.2, 0.25)[n % 6]}
                                             for n in range(60)])


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_a_count_sharing_a_word_with_a_table_is_no_reference_and_nothing_is_deleted(engine: Engine) -> None:
    _northwind_like(engine)
    report = audit(engine)
    found = keys(report, "missing-foreign-key")
    assert ("missing-foreign-key", "products", ("units_on_order",)) not in found
    # The real references of the line table stay, with every distinct value present in the target.
    assert {("missing-foreign-key", "order_details", ("order_id",)),
            ("missing-foreign-key", "order_details", ("product_id",))} <= found
    for finding in report.findings:
        if finding.rule == "missing-foreign-key":
            assert finding.evidence["present_in_target"] == finding.evidence["distinct_values"]
    assert not any("DELETE" in (f.fix.sql if f.fix else "") for f in report.findings)


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_freight_is_money_and_a_discount_of_fractions_is_not(engine: Engine) -> None:
    _northwind_like(engine)
    money = keys(audit(engine, select=["float-for-money"]))
    assert ("float-for-money", "orders", ("freight",)) in money
    assert ("float-for-money", "order_details", ("discount",)) not in money
    assert ("float-for-money", "order_details", ("unit_price",)) in money


def test_without_data_a_freight_needs_a_money_sibling_or_a_commercial_table(tmp_path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    execute(engine, "CREATE TABLE trucks (id INTEGER PRIMARY KEY, freight REAL, weight REAL)",
            "CREATE TABLE shipments (id INTEGER PRIMARY KEY, freight REAL, weight REAL)",
            "CREATE TABLE loads (id INTEGER PRIMARY KEY, freight REAL, total REAL, weight REAL)")
    found = keys(audit(engine, select=["float-for-money"], data=False))
    engine.dispose()
    assert found == {("float-for-money", "shipments", ("freight",)), ("float-for-money", "loads", ("freight",)),
                     ("float-for-money", "loads", ("total",))}


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_not_null_shows_the_count_and_is_never_proposed_for_a_mostly_null_column(engine: Engine) -> None:
    execute(engine, "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(60), state VARCHAR(40))",
            "CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(40), stock INTEGER)")
    people = table("customers", column("id"), column("email"), column("state"))
    products = table("products", column("id"), column("name"), column("stock"))
    with engine.begin() as connection:
        connection.execute(insert(people), [{"id": n, "email": f"c{n}@x.org" if n % 2 else None, "state": "AB"}
                                            for n in range(1, 60)])
        connection.execute(insert(products), [{"id": n, "name": f"p{n}", "stock": n} for n in range(1, 60)])
    report = audit(engine, select=["missing-not-null"])
    by_column = {(f.table, f.columns): f for f in report.findings}
    assert ("customers", ("email",)) not in by_column  # NULL in 29 of 59 rows
    assert "0 of 59 rows are NULL" in by_column[("products", ("stock",))].message


def test_chinook_province_and_optional_columns_get_no_constraint(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'chinook.db'}"
    from sqlalchemy.engine import make_url

    load_corpus("chinook", "sqlite", make_url(url), without_foreign_keys=False)
    report = audit(url)
    found = keys(report, "missing-not-null", "missing-check-constraint")
    assert ("missing-not-null", "Customer", ("State",)) not in found  # NULL in 29 of 59 rows
    assert not {key for key in found if key[0] == "missing-check-constraint" and key[2] == ("State",)}


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_on_chinook_without_its_keys_the_value_check_keeps_every_recovered_key(engine_name: str, engine_url,
                                                                               tmp_path) -> None:
    """The recall with data equals the recall from names: every removed key the names recover holds only values
    its target has (share 1.0), so the value check drops none of them."""
    load_corpus("chinook", engine_name, engine_url, without_foreign_keys=False)
    by_name = fk_recovery(engine_url)
    engine = create_engine(engine_url)
    try:
        snapshot = build_snapshot(engine)
        stripped = dataclasses.replace(snapshot, tables=tuple(dataclasses.replace(t, foreign_keys=())
                                                              for t in snapshot.tables))
        rule = MissingForeignKey()
        with engine.connect() as connection:
            judged, problems = gather(list(rule.check(stripped)), stripped, Probe(connection), [rule])
    finally:
        engine.dispose()
    assert problems == []
    with_data = {(f.table.lower(), f.columns[0].lower(), f.target["table"].lower()) for f in judged}
    assert with_data == set(by_name.found)
    # All 11: SupportRepId and ReportsTo, which no name ties to Employee, come from their indexes and types
    # (the one entity nothing refers to; a nullable column over Employee's own key), and the values keep them.
    assert len(by_name.recovered) == 11 and len(by_name.declared) == 11
    assert all(f.evidence["present_in_target"] == f.evidence["distinct_values"] for f in judged)


@pytest.mark.engines("mariadb")
def test_employees_references_named_after_their_parents_key_are_recovered(engine_url) -> None:
    """employees' dept_emp.emp_no -> employees.emp_no carry the parent's key name, no `_id`: all six come back."""
    load_corpus("employees", "mariadb", engine_url, without_foreign_keys=False)
    recovery = fk_recovery(engine_url)
    assert len(recovery.declared) == 6 and recovery.recall == 1.0 and recovery.precision == 1.0
