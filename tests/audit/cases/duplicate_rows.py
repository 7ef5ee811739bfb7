"""Cases of duplicate-rows."""

from __future__ import annotations

from tests.audit.cases._case import ALL, Case, case

CASES: list[Case] = [
    case("duplicate-cart-lines", "duplicate-rows",
         ["CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER, product_id INTEGER)",
          "INSERT INTO cart_items VALUES (1, 1, 7), (2, 1, 7), (3, 1, 8), (4, 2, 7), (5, NULL, 7), (6, NULL, 7)"],
         {("cart_items", ("cart_id", "product_id"))}, apply_fix_on=ALL),
    case("duplicate-emails", "duplicate-rows",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(50))",
          "INSERT INTO users VALUES (1, 'a@x'), (2, 'b@x'), (3, 'a@x'), (4, NULL), (5, NULL)"],
         {("users", ("email",))}, apply_fix_on=ALL),
]
