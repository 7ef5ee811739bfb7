"""Cases of foreign-key-type-mismatch."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("fk-type-mismatch", "foreign-key-type-mismatch",
         ["CREATE TABLE users (id BIGINT PRIMARY KEY)",
          "CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER REFERENCES users (id))"],
         # MariaDB refuses such a key outright, and SQLite has affinities rather than sizes.
         {("orders", ("user_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
]
