"""Cases of invalid-index.

An invalid index is what a failed ``CREATE INDEX CONCURRENTLY`` leaves behind, which setup SQL run in one
transaction cannot produce: tests/audit/test_rules.py builds one outside a transaction instead."""

from __future__ import annotations

from tests.audit.cases._case import Case

CASES: list[Case] = []
TESTED_BY = "tests/audit/test_rules.py::test_invalid_index_is_reported_and_its_fix_drops_it"
