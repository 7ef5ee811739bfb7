"""Cases of money-type."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("money-type", "money-type", ["CREATE TABLE invoices (id INTEGER PRIMARY KEY, total MONEY)"],
         {("invoices", ("total",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
]
