"""Cases of redundant-index."""

from __future__ import annotations

from tests.audit.cases._case import ALL, Case, case

CASES: list[Case] = [
    case("redundant-index", "redundant-index",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, status VARCHAR(10))",
          "CREATE INDEX ix_orders_user_id ON orders (user_id)",
          "CREATE INDEX ix_orders_user_id_status ON orders (user_id, status)",
          "CREATE UNIQUE INDEX uq_orders_status_user ON orders (status, user_id)",
          "CREATE INDEX ix_orders_status ON orders (status)"],
         {("orders", ("user_id",)), ("orders", ("status",))}, apply_fix_on=ALL),
    case("unique-index-is-not-redundant-beside-wider", "redundant-index",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100), name VARCHAR(50))",
          "CREATE UNIQUE INDEX uq_users_email ON users (email)", "CREATE INDEX ix_users_email_name ON users "
          "(email, name)"]),
    case("partial-index-is-not-redundant", "redundant-index",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER, paid BOOLEAN)",
          "CREATE INDEX ix_orders_user_paid ON orders (user_id) WHERE paid",
          "CREATE INDEX ix_orders_user_id_id ON orders (user_id, id)"], engines=("sqlite", "postgresql")),
]
