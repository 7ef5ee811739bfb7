"""Cases of table-without-index."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("table-without-index", "table-without-index", ["CREATE TABLE log (message VARCHAR(200))"],
         {("log", ())}, apply_fix_on=SERVERS),
]
