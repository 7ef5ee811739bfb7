"""Cases of check-violations."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("negative-stock", "check-violations",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER, price NUMERIC(10, 2))",
          "INSERT INTO products VALUES (1, 5, 1.00), (2, -1, 2.00), (3, NULL, -3.00)"],
         {("products", ("stock",)), ("products", ("price",))}),
    case("check-not-valid-violated", "check-violations",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER)", "INSERT INTO products VALUES (1, -2)",
          "ALTER TABLE products ADD CONSTRAINT ck_stock CHECK (stock >= 0) NOT VALID"],
         {("products", ())}, engines=("postgresql",)),
]
