"""Cases of partition-missing-sibling-foreign-key (PostgreSQL partitioning; sakila's inheritance children are in
tests/audit/test_partitions.py)."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

_SETUP = ("CREATE TABLE customers (id INTEGER PRIMARY KEY)",
          "INSERT INTO customers VALUES (1), (2), (3)",
          "CREATE TABLE payments (id INTEGER NOT NULL, customer_id INTEGER, paid_on DATE NOT NULL) "
          "PARTITION BY RANGE (paid_on)",
          *(f"CREATE TABLE payments_{year} PARTITION OF payments FOR VALUES FROM ('{year}-01-01') TO "
            f"('{year + 1}-01-01')" for year in (2024, 2025, 2026)),
          "INSERT INTO payments VALUES (1, 1, '2024-05-01'), (2, 2, '2025-05-01'), (3, 3, '2026-05-01')")
_KEY = "FOREIGN KEY (customer_id) REFERENCES customers (id)"

TESTED_BY = "tests/audit/test_partitions.py"

CASES: list[Case] = [
    case("late-partition-lacks-its-siblings-foreign-key", "partition-missing-sibling-foreign-key",
         [*_SETUP, f"ALTER TABLE payments_2024 ADD {_KEY}", f"ALTER TABLE payments_2025 ADD {_KEY}"],
         {("payments", ("customer_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    # A key of the parent is on every partition: nothing lacks it.
    case("a-parent-foreign-key-reaches-every-partition", "partition-missing-sibling-foreign-key",
         [*_SETUP, f"ALTER TABLE payments ADD {_KEY}"], engines=("postgresql",)),
    # One partition of three with a key of its own is a choice, not a gap.
    case("a-foreign-key-on-one-partition-is-a-choice", "partition-missing-sibling-foreign-key",
         [*_SETUP, f"ALTER TABLE payments_2024 ADD {_KEY}"], engines=("postgresql",)),
]
