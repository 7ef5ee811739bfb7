"""Cases of sentinel-default-on-reference."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("sentinel-default", "sentinel-default-on-reference",
         ["CREATE TABLE categories (id INTEGER PRIMARY KEY)",
          "CREATE TABLE products (id INTEGER PRIMARY KEY, category_id INTEGER NOT NULL DEFAULT 0, "
          "stock INTEGER DEFAULT 0)"], {("products", ("category_id",))}, engines=SERVERS, apply_fix_on=SERVERS),
]
