"""Cases of unindexed-foreign-key."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("unindexed-fk", "unindexed-foreign-key",
         ["CREATE TABLE carts (id INTEGER PRIMARY KEY)",
          "CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER REFERENCES carts (id))"],
         {("cart_items", ("cart_id",))}, engines=("sqlite", "postgresql"), apply_fix_on=("sqlite", "postgresql")),
    case("fk-indexed-by-leading-columns-any-order", "unindexed-foreign-key",
         ["CREATE TABLE a (x INTEGER NOT NULL, y INTEGER NOT NULL, PRIMARY KEY (x, y))",
          "CREATE TABLE b (id INTEGER PRIMARY KEY, x INTEGER, y INTEGER, z INTEGER, "
          "FOREIGN KEY (x, y) REFERENCES a (x, y))",
          "CREATE INDEX ix_b_y_x_z ON b (y, x, z)"], engines=("sqlite", "postgresql")),
    case("fk-not-indexed-by-trailing-columns", "unindexed-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(10), user_id INTEGER REFERENCES users (id))",
          "CREATE INDEX ix_orders_status_user_id ON orders (status, user_id)"],
         {("orders", ("user_id",))}, engines=("sqlite", "postgresql")),
    case("fk-partial-index-not-null-counts", "unindexed-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))",
          "CREATE INDEX ix_orders_user_id ON orders (user_id) WHERE user_id IS NOT NULL"],
         engines=("postgresql",)),
    case("fk-other-partial-index-does-not", "unindexed-foreign-key",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, paid BOOLEAN, user_id INTEGER REFERENCES users (id))",
          "CREATE INDEX ix_orders_user_id ON orders (user_id) WHERE paid"],
         {("orders", ("user_id",))}, engines=("postgresql",)),
]
