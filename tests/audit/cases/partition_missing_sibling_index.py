"""Cases of partition-missing-sibling-index (PostgreSQL partitioning; the whole fix story is in
tests/audit/test_partitions.py)."""

from __future__ import annotations

from tests.audit.cases._case import Case, case

_ORDERS = ("CREATE TABLE orders (id INTEGER NOT NULL, customer_id INTEGER, placed_on DATE NOT NULL, "
           "PRIMARY KEY (id, placed_on)) PARTITION BY RANGE (placed_on)")
_YEARS = tuple(f"CREATE TABLE orders_{year} PARTITION OF orders FOR VALUES FROM ('{year}-01-01') TO "
               f"('{year + 1}-01-01')" for year in (2024, 2025))
_LATE = ("CREATE TABLE orders_2026 (id INTEGER NOT NULL, customer_id INTEGER, placed_on DATE NOT NULL)",
         "ALTER TABLE orders ATTACH PARTITION orders_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')")

TESTED_BY = "tests/audit/test_partitions.py"

CASES: list[Case] = [
    case("late-partition-lacks-its-siblings-index", "partition-missing-sibling-index",
         [_ORDERS, *_YEARS, "CREATE INDEX ix_o24_customer ON orders_2024 (customer_id)",
          "CREATE INDEX ix_o25_customer ON orders_2025 (customer_id)", *_LATE],
         {("orders", ("customer_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    case("late-partition-lacks-a-unique-index", "partition-missing-sibling-index",
         [_ORDERS, *_YEARS, "CREATE UNIQUE INDEX uq_o24_customer ON orders_2024 (customer_id)",
          "CREATE UNIQUE INDEX uq_o25_customer ON orders_2025 (customer_id)", *_LATE],
         {("orders", ("customer_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
    # An index on one partition of three is a choice (a hot partition), not a gap.
    case("an-index-on-one-partition-is-a-choice", "partition-missing-sibling-index",
         [_ORDERS, *_YEARS, "CREATE INDEX ix_o24_customer ON orders_2024 (customer_id)", *_LATE],
         engines=("postgresql",)),
    # Indexes of the parent are on every partition, attached: nothing lacks anything.
    case("a-parent-index-reaches-every-partition", "partition-missing-sibling-index",
         [_ORDERS, *_YEARS, "CREATE INDEX ix_orders_customer ON orders (customer_id)", *_LATE],
         engines=("postgresql",)),
    # A different method or predicate is a different index: the late partition's hash index is not the siblings'.
    case("same-columns-other-method-is-not-the-same-index", "partition-missing-sibling-index",
         [_ORDERS, *_YEARS, "CREATE INDEX ix_o24_customer ON orders_2024 (customer_id)",
          "CREATE INDEX ix_o25_customer ON orders_2025 (customer_id)", *_LATE,
          "CREATE INDEX ix_o26_customer ON orders_2026 USING hash (customer_id)"],
         {("orders", ("customer_id",))}, engines=("postgresql",), apply_fix_on=("postgresql",)),
]
