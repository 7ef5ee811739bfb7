"""Cases of missing-check-constraint."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("check-missing", "missing-check-constraint",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, price NUMERIC(10, 2) NOT NULL)"],
         {("products", ("stock",)), ("products", ("price",))}, apply_fix_on=SERVERS),
    case("check-present", "missing-check-constraint",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, "
          "CONSTRAINT ck_products_stock CHECK (stock >= 0))"]),
    case("check-present-column-level", "missing-check-constraint",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL CHECK (stock >= 0))"]),
]
