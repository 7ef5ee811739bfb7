"""Cases of timestamp-without-time-zone."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

CASES: list[Case] = [
    case("timestamp-without-zone", "timestamp-without-time-zone",
         ["CREATE TABLE events (id INTEGER PRIMARY KEY, at TIMESTAMP, at_tz TIMESTAMP WITH TIME ZONE)"],
         {("events", ("at",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
]
