"""Cases of foreign-key-violations."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("fk-violations-sqlite-pragma-off", "foreign-key-violations",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, "
          "cart_id INTEGER REFERENCES carts (id))", "INSERT INTO carts VALUES (1)",
          "INSERT INTO cart_items VALUES (1, 1), (2, 5), (3, NULL)"],
         {("cart_items", ("cart_id",))}, engines=("sqlite",), apply_fix_on=("sqlite",)),
    case("fk-violations-not-valid", "foreign-key-violations",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, "
          "cart_id INTEGER)", "INSERT INTO carts VALUES (1)", "INSERT INTO cart_items VALUES (1, 1), (2, 5)",
          "ALTER TABLE cart_items ADD CONSTRAINT fk_items_cart FOREIGN KEY (cart_id) REFERENCES carts (id) NOT VALID"],
         {("cart_items", ("cart_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    case("fk-violations-none", "foreign-key-violations",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)", "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, "
          "cart_id INTEGER REFERENCES carts (id))", "INSERT INTO carts VALUES (1)",
          "INSERT INTO cart_items VALUES (1, 1)"]),
]
