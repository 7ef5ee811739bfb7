"""Cases of float-for-money."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("float-money", "float-for-money",
         ["CREATE TABLE orders (id INTEGER PRIMARY KEY, total_amount FLOAT NOT NULL, weight FLOAT)"],
         {("orders", ("total_amount",))}, apply_fix_on=SERVERS),
]
