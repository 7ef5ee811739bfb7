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
    # A province code beside the rest of an address is free text, not the state of a workflow.
    case("check-state-in-an-address-is-free-text", "missing-check-constraint",
         ["CREATE TABLE customers (id INTEGER PRIMARY KEY, city VARCHAR(40), state VARCHAR(40), country VARCHAR(40))",
          "INSERT INTO customers VALUES (1, 'Edmonton', 'AB', 'Canada'), (2, 'Calgary', 'AB', 'Canada')"]),
    case("check-state-holding-one-code-is-free-text", "missing-check-constraint",
         ["CREATE TABLE employees (id INTEGER PRIMARY KEY, state VARCHAR(40))",
          "INSERT INTO employees VALUES (1, 'AB'), (2, 'AB'), (3, 'AB'), (4, 'AB')"]),
    case("check-status-of-a-workflow", "missing-check-constraint",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, state VARCHAR(20) NOT NULL)",
          "INSERT INTO orders VALUES (1, 'pending'), (2, 'paid'), (3, 'shipped'), (4, 'paid'), (5, 'pending')"],
         {("orders", ("state",))}, apply_fix_on=SERVERS),
]
