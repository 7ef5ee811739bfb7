"""Cases of nullable-unique-column."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("nullable-unique", "nullable-unique-column",
         ["CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(100) UNIQUE)"], {("users", ("email",))},
         apply_fix_on=SERVERS),
]
