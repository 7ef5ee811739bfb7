"""Cases of missing-not-null."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("not-null-missing", "missing-not-null",
         ["CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(50) NOT NULL, stock INTEGER, "
          "description VARCHAR(200))"], {("products", ("stock",))}, apply_fix_on=SERVERS),
]
