"""Cases of missing-primary-key."""

from __future__ import annotations

from tests.audit.cases._case import SERVERS, Case, case

CASES: list[Case] = [
    case("pk-missing", "missing-primary-key", ["CREATE TABLE log (happened_at VARCHAR(30), message VARCHAR(200))"],
         {("log", ())}, apply_fix_on=SERVERS),
    case("pk-unique-not-null-is-enough", "missing-primary-key",
         ["CREATE TABLE codes (code VARCHAR(10) NOT NULL UNIQUE)"]),
]
