"""Rows that break a declared CHECK are found on MariaDB too: ``SET check_constraint_checks=0`` lets them in, and the
catalog cannot say so (MariaDB has no NOT VALID), so every declared CHECK is probed there."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine

from integrity_kit.audit import audit

pytestmark = pytest.mark.engines("mariadb")


def audit_products(engine_url, rows: str, *, checks_off: bool) -> list:
    """The check-violations findings on a products table with a declared CHECK and ``rows`` inserted (with the
    session's checks off when ``checks_off``)."""
    engine = create_engine(engine_url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql(
                "CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, "
                "CONSTRAINT ck_products_stock CHECK (stock >= 0))")
            if checks_off:
                connection.exec_driver_sql("SET SESSION check_constraint_checks = 0")  # this session only
            connection.exec_driver_sql(f"INSERT INTO products VALUES {rows}")
            connection.exec_driver_sql("SET SESSION check_constraint_checks = 1")
        report = audit(engine, select=["check-violations"])
    finally:
        engine.dispose()
    return [f for f in report.findings if f.rule == "check-violations"]


def test_rows_inserted_with_checks_off_are_found(engine_url) -> None:
    [finding] = audit_products(engine_url, "(1, 5), (2, -3), (3, -1)", checks_off=True)
    assert finding.table == "products" and finding.evidence["violating_rows"] == 2
    assert "stock" in finding.evidence["condition"]


def test_a_clean_declared_check_is_quiet(engine_url) -> None:
    assert audit_products(engine_url, "(1, 5)", checks_off=False) == []
