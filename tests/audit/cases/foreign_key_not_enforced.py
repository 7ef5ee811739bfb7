"""Cases of foreign-key-not-enforced."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("fk-not-valid", "foreign-key-not-enforced",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)", "CREATE TABLE orders (id INTEGER PRIMARY KEY, "
          "user_id INTEGER)", "ALTER TABLE orders ADD CONSTRAINT fk_orders_user FOREIGN KEY (user_id) "
          "REFERENCES users (id) NOT VALID"], {("orders", ("user_id",))}, engines=("postgresql",),
         apply_fix_on=("postgresql",)),
    case("fk-sqlite-pragma-off", "foreign-key-not-enforced",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))"],
         {("orders", ())}, engines=("sqlite",)),
]
