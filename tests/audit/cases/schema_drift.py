"""Cases of schema-drift.

The rule compares the database with SQLAlchemy models (``--models``), which setup SQL alone cannot give:
tests/audit/test_command.py runs it against the reference app's models instead."""

from __future__ import annotations

from tests.audit.cases._case import Case

CASES: list[Case] = []
TESTED_BY = "tests/audit/test_command.py"
