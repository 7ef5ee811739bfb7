"""Cases of missing-not-null."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("not-null-missing", "missing-not-null",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, stock INTEGER, "
          "description VARCHAR(200))"], {("products", ("stock",))}, apply_fix_on=SERVERS),
    # NULL in half the rows: optional by design, never proposed (chinook's Customer.State is NULL in 29 of 59).
    case("not-null-mostly-null-is-optional", "missing-not-null",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER)",
          "INSERT INTO products VALUES (1, 5), (2, NULL), (3, 7), (4, NULL)"]),
    case("not-null-no-row-null", "missing-not-null",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER)",
          "INSERT INTO products VALUES (1, 5), (2, 0), (3, 7), (4, 2)"], {("products", ("stock",))},
         apply_fix_on=SERVERS),
]
