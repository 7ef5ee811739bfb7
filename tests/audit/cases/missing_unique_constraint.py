"""Cases of missing-unique-constraint."""

from __future__ import annotations

from tests.audit.cases._case import ALL, Case, case

CASES: list[Case] = [
    case("unique-natural-key", "missing-unique-constraint",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL)"], {("users", ("email",))},
         apply_fix_on=ALL),
    case("unique-on-lower-email-counts", "missing-unique-constraint",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) NOT NULL)",
          # SQLAlchemy cannot reflect expression indexes on SQLite: there the snapshot says so (not_analysed).
          "CREATE UNIQUE INDEX uq_users_email ON users (lower(email))"], engines=("postgresql",)),
    case("unique-line-items", "missing-unique-constraint",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE products (id INTEGER PRIMARY KEY)",
          "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER NOT NULL, product_id INTEGER NOT NULL, "
          "quantity INTEGER)"], {("cart_items", ("cart_id", "product_id"))}, apply_fix_on=ALL),
]
