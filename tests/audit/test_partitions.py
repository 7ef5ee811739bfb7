"""Partitioned PostgreSQL tables: the audit sees the parent as the table, names the partitions that lack what their
siblings have, and every fix it proposes runs, statement by statement and as the generated fix migration."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine, exc

from integrity_kit.audit import audit
from integrity_kit.audit.apply import apply_revision
from integrity_kit.audit.changes import (
    AddForeignKey,
    AddPrimaryKey,
    AddUnique,
    Changes,
    CreateIndex,
    DropIndex,
    TableName,
)
from integrity_kit.audit.migration import write_fix_migration
from integrity_kit.schema import build_snapshot
from tests.db import execute
from tests.servers import scratch_database

pytestmark = pytest.mark.engines("postgresql")

# Range partitions by year; 2026 is created on its own and attached later, without the index each other partition
# was given; customer_id refers to customers by name and type but has no foreign key; rows in every partition.
SHOP = (
    "CREATE TABLE customers (id INTEGER PRIMARY KEY, email VARCHAR(200) NOT NULL UNIQUE)",
    "INSERT INTO customers SELECT g, 'c' || g || '@example.com' FROM generate_series(1, 20) AS g",
    "CREATE TABLE orders (id INTEGER NOT NULL, customer_id INTEGER NOT NULL, placed_on DATE NOT NULL, "
    "PRIMARY KEY (id, placed_on)) PARTITION BY RANGE (placed_on)",
    "CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01')",
    "CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
    "CREATE INDEX ix_orders_2024_placed ON orders_2024 (placed_on, customer_id)",
    "CREATE INDEX ix_orders_2025_placed ON orders_2025 (placed_on, customer_id)",
    "INSERT INTO orders SELECT g, 1 + mod(g, 20), DATE '2024-01-01' + g FROM generate_series(1, 700) AS g",
    "CREATE TABLE orders_2026 (id INTEGER NOT NULL, customer_id INTEGER NOT NULL, placed_on DATE NOT NULL)",
    "INSERT INTO orders_2026 SELECT 1000 + g, 1 + mod(g, 20), DATE '2026-01-01' + g FROM generate_series(1, 50) AS g",
    "ALTER TABLE orders ATTACH PARTITION orders_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
)
PARTITIONS = {"orders_2024", "orders_2025", "orders_2026"}
FIXED = {"missing-foreign-key", "partition-missing-sibling-index"}


@pytest.fixture
def shop(tmp_path) -> Iterator[tuple[Engine, Engine]]:
    """The partitioned shop twice, in two scratch databases: one for the SQL fixes, one for the migration."""
    with scratch_database("postgresql", tmp_path / "a") as first, \
            scratch_database("postgresql", tmp_path / "b") as second:
        engines = create_engine(first), create_engine(second)
        try:
            for engine in engines:
                execute(engine, *SHOP)
            yield engines
        finally:
            for engine in engines:
                engine.dispose()


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


def test_partitions_are_described_under_their_parent(shop) -> None:
    engine, _ = shop
    snapshot = build_snapshot(engine)
    assert {table.name for table in snapshot.tables} == {"customers", "orders"}
    orders = snapshot.table("orders")
    assert orders.partitioned and set(orders.partitions) == PARTITIONS
    assert orders.partition_key == "RANGE (placed_on)"
    tree = {partition.name: partition for partition in orders.partition_tree}
    assert tree["orders_2026"].bound == "FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')"
    assert {index.name for index in tree["orders_2024"].indexes} == {"ix_orders_2024_placed"}
    assert tree["orders_2026"].indexes == ()


def test_findings_are_about_the_parent_and_name_the_partitions(shop) -> None:
    engine, _ = shop
    report = audit(engine)
    assert not {finding.table for finding in report.findings} & PARTITIONS
    missing_fk = [f for f in report.findings if f.rule == "missing-foreign-key"]
    assert [(f.table, f.columns) for f in missing_fk] == [("orders", ("customer_id",))]
    sibling = [f for f in report.findings if f.rule == "partition-missing-sibling-index"]
    assert len(sibling) == 1
    assert sibling[0].evidence["partitions_lacking"] == ["orders_2026"]
    assert sibling[0].evidence["partitions_with"] == ["orders_2024", "orders_2025"]
    assert "orders_2026" in sibling[0].message.split(" of ")[0]


def test_the_old_fixes_fail_on_a_partitioned_table(shop) -> None:
    """What the audit used to propose, so the tests below would catch it coming back."""
    engine, _ = shop
    with pytest.raises(exc.DBAPIError, match="cannot create index on partitioned table .* concurrently"):
        execute(engine, "CREATE INDEX CONCURRENTLY ix_bad ON orders (customer_id)", autocommit=True)
    with pytest.raises(exc.DBAPIError, match="cannot add NOT VALID foreign key on partitioned table"):
        execute(engine, "ALTER TABLE orders ADD CONSTRAINT fk_bad FOREIGN KEY (customer_id) "
                        "REFERENCES customers (id) NOT VALID")


def test_every_sql_fix_runs_statement_by_statement_and_clears_its_finding(shop) -> None:
    engine, _ = shop
    before = audit(engine)
    fixes = [f for f in before.findings if f.fix is not None and f.rule in FIXED]
    assert {f.rule for f in fixes} == FIXED
    sql = "\n".join(f.fix.sql for f in fixes if f.fix is not None)
    assert "CONCURRENTLY" not in "\n".join(line for line in sql.splitlines() if " ON orders " in line)
    assert "ON ONLY orders" in sql
    for statement in _statements(sql):
        execute(engine, statement, autocommit=True)  # one by one, outside a transaction, as a DBA would
    after = audit(engine)
    assert {f.fingerprint for f in fixes}.isdisjoint({f.fingerprint for f in after.findings})
    # What the fixes left: valid parent indexes, and one foreign key adopted by every partition.
    with engine.connect() as connection:
        invalid = connection.exec_driver_sql("SELECT count(*) FROM pg_index WHERE NOT indisvalid").scalar()
        keys = connection.exec_driver_sql(
            "SELECT conrelid::regclass::text, convalidated, conparentid <> 0 FROM pg_constraint "
            "WHERE contype = 'f' ORDER BY 1").all()
    assert invalid == 0
    assert [tuple(row) for row in keys] == [("orders", True, False), ("orders_2024", True, True),
                                             ("orders_2025", True, True), ("orders_2026", True, True)]
    assert not [f for f in after.findings if f.rule in {"unindexed-foreign-key", "invalid-index"}]


def test_the_fix_migration_runs_with_alembic_and_clears_what_it_fixes(shop, tmp_path) -> None:
    _, engine = shop
    before = audit(engine)
    assert before.snapshot is not None
    revision = write_fix_migration(before.findings, before.snapshot, before.url)
    apply_revision(engine, revision, tmp_path / "scripts")
    after = audit(engine)
    fixed = {f.fingerprint for f in before.findings if f.rule in FIXED}
    assert len(fixed) == 2
    assert fixed.isdisjoint({f.fingerprint for f in after.findings})
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM pg_index WHERE NOT indisvalid").scalar() == 0


def test_a_partition_that_has_the_index_gets_it_attached_not_built_again(shop) -> None:
    engine, _ = shop
    execute(engine, "CREATE INDEX ix_own_2025 ON orders_2025 (customer_id)")
    orders = TableName.of(build_snapshot(engine).table("orders"))
    sql = Changes("postgresql", (CreateIndex(orders, ("customer_id",)),)).sql()
    assert "ALTER INDEX ix_orders_customer_id ATTACH PARTITION ix_own_2025;" in sql
    assert "ON orders_2025" not in sql
    for statement in _statements(sql):
        execute(engine, statement, autocommit=True)
    with engine.connect() as connection:
        parent = connection.exec_driver_sql("SELECT indisvalid FROM pg_index "
                                            "WHERE indexrelid = 'ix_orders_customer_id'::regclass").scalar()
    assert parent is True


def test_sub_partitions_get_an_index_per_level_and_a_key_per_leaf(tmp_path) -> None:
    with scratch_database("postgresql", tmp_path) as url:
        engine = create_engine(url)
        try:
            execute(engine, *SHOP[:3],
                    "CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01') "
                    "PARTITION BY RANGE (placed_on)",
                    "CREATE TABLE orders_2024_h1 PARTITION OF orders_2024 FOR VALUES FROM ('2024-01-01') "
                    "TO ('2024-07-01')",
                    "CREATE TABLE orders_2024_h2 PARTITION OF orders_2024 FOR VALUES FROM ('2024-07-01') "
                    "TO ('2025-01-01')",
                    "INSERT INTO orders SELECT g, 1 + mod(g, 20), DATE '2024-01-01' + g FROM generate_series(1, 300) g")
            orders = TableName.of(build_snapshot(engine).table("orders"))
            changes = Changes("postgresql", (CreateIndex(orders, ("customer_id",)),
                                             AddForeignKey(orders, ("customer_id",), TableName("customers"), ("id",))))
            sql = changes.sql()
            assert "CREATE INDEX ix_orders_2024_customer_id ON ONLY orders_2024" in sql
            assert "ALTER TABLE orders_2024 ADD" not in sql  # a partitioned level refuses NOT VALID keys too
            for statement in _statements(sql):
                execute(engine, statement, autocommit=True)
            with engine.connect() as connection:
                assert connection.exec_driver_sql("SELECT count(*) FROM pg_index WHERE NOT indisvalid").scalar() == 0
                adopted = connection.exec_driver_sql("SELECT count(*) FROM pg_constraint WHERE contype = 'f' "
                                                     "AND conparentid <> 0").scalar()
            assert adopted == 3  # orders_2024 and its two halves
        finally:
            engine.dispose()


def test_inheritance_children_get_their_own_index_and_key(tmp_path) -> None:
    """The pre-PostgreSQL-10 partitioning (sakila's payment_p2007_*): nothing is shared, each table gets its own."""
    with scratch_database("postgresql", tmp_path) as url:
        engine = create_engine(url)
        try:
            execute(engine, *SHOP[:2],
                    "CREATE TABLE payments (id INTEGER PRIMARY KEY, customer_id INTEGER NOT NULL)",
                    "CREATE TABLE payments_2024 () INHERITS (payments)",
                    "CREATE TABLE payments_2025 () INHERITS (payments)",
                    "INSERT INTO payments_2024 VALUES (1, 1), (2, 2)", "INSERT INTO payments_2025 VALUES (3, 3)")
            report = audit(engine)
            fixes = [f for f in report.findings if f.rule == "missing-foreign-key"]
            assert [(f.table, f.columns) for f in fixes] == [("payments", ("customer_id",))]
            assert fixes[0].fix is not None
            sql = fixes[0].fix.sql
            assert "ON ONLY" not in sql and "ATTACH" not in sql
            for statement in _statements(sql):
                execute(engine, statement, autocommit=True)
            with engine.connect() as connection:
                keys = connection.exec_driver_sql("SELECT conrelid::regclass::text FROM pg_constraint "
                                                  "WHERE contype = 'f' AND convalidated ORDER BY 1").scalars().all()
                indexes = connection.exec_driver_sql("SELECT count(*) FROM pg_indexes WHERE "
                                                     "position('(customer_id)' IN indexdef) > 0").scalar()
            assert keys == ["payments", "payments_2024", "payments_2025"]
            assert indexes == 3
        finally:
            engine.dispose()


def test_a_redundant_index_on_a_partitioned_table_is_dropped_without_concurrently(shop) -> None:
    engine, _ = shop
    execute(engine, "CREATE INDEX ix_orders_placed ON orders (placed_on)",
            "CREATE INDEX ix_orders_placed_customer ON orders (placed_on, customer_id)")
    redundant = [f for f in audit(engine, select=["redundant-index"]).findings]
    assert [f.evidence["index"] for f in redundant] == ["ix_orders_placed"]
    assert redundant[0].fix is not None and "CONCURRENTLY" not in redundant[0].fix.sql
    for statement in _statements(redundant[0].fix.sql):
        execute(engine, statement, autocommit=True)
    assert audit(engine, select=["redundant-index"]).findings == []
    orders = TableName.of(build_snapshot(engine).table("orders"))
    assert "DROP INDEX CONCURRENTLY" in "\n".join(DropIndex(TableName("customers"), "x", None).sql("postgresql"))
    assert orders.partitioning is not None and orders.partitioning.key_columns == ("placed_on",)


def test_a_unique_key_is_built_per_partition_only_when_it_holds_the_partition_key(shop) -> None:
    engine, _ = shop
    orders = TableName.of(build_snapshot(engine).table("orders"))
    with_key = Changes("postgresql", (AddUnique(orders, ("id", "placed_on")),))
    sql = with_key.sql()
    assert "CREATE UNIQUE INDEX uq_orders_id_placed_on ON ONLY orders" in sql and "USING INDEX" not in sql
    for statement in _statements(sql):
        execute(engine, statement, autocommit=True)
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT indisvalid AND indisunique FROM pg_index "
                                          "WHERE indexrelid = 'uq_orders_id_placed_on'::regclass").scalar() is True
    # Without the partition key PostgreSQL refuses any unique index on the parent: the fix says so and runs nothing.
    without = Changes("postgresql", (AddUnique(orders, ("customer_id",)), AddPrimaryKey(orders, "surrogate")))
    assert _statements(without.sql()) == []
    assert "partitioned by (placed_on)" in without.sql() and "identity column" in without.sql()
    assert "op." not in without.alembic()


def test_an_unfinished_partitioned_index_is_completed_not_dropped(shop) -> None:
    engine, _ = shop
    execute(engine, "CREATE INDEX ix_orders_customer ON ONLY orders (customer_id)",
            "CREATE INDEX ix_o24_customer ON orders_2024 (customer_id)",
            "ALTER INDEX ix_orders_customer ATTACH PARTITION ix_o24_customer")
    invalid = audit(engine, select=["invalid-index"]).findings
    assert len(invalid) == 1 and invalid[0].evidence["partitions_unattached"] == ["orders_2025", "orders_2026"]
    assert invalid[0].fix is not None and "DROP INDEX" not in invalid[0].fix.sql
    for statement in _statements(invalid[0].fix.sql):
        execute(engine, statement, autocommit=True)
    assert audit(engine, select=["invalid-index"]).findings == []


def test_invalid_indexes_of_partitions_are_reported_once_for_the_table(shop) -> None:
    engine, _ = shop
    # Duplicate ids in two partitions make the unique concurrent builds fail, leaving invalid indexes behind.
    execute(engine, "INSERT INTO orders VALUES (1, 1, '2024-12-30'), (1001, 1, '2026-12-30')")
    for partition in ("orders_2024", "orders_2026"):
        with pytest.raises(exc.DBAPIError, match="could not create unique index"):
            execute(engine, f"CREATE UNIQUE INDEX CONCURRENTLY uq_{partition}_id ON {partition} (id)",
                    autocommit=True)
    invalid = audit(engine, select=["invalid-index"]).findings
    assert [(f.table, f.evidence["partitions"]) for f in invalid] == [("orders", ["orders_2024", "orders_2026"])]
    assert invalid[0].fix is not None
    for statement in _statements(invalid[0].fix.sql):
        execute(engine, statement, autocommit=True)
    assert audit(engine, select=["invalid-index"]).findings == []


# The fixes whose form depends on the table being partitioned.
PARTITION_AWARE = {"missing-foreign-key", "unindexed-foreign-key", "redundant-index", "invalid-index",
                   "partition-missing-sibling-index", "missing-check-constraint", "missing-unique-constraint"}


@pytest.mark.parametrize("how", ["sql", "migration"])
def test_sakila_payment_partitions_take_every_fix(tmp_path, how: str) -> None:
    """sakila's payment is partitioned the pre-PostgreSQL-10 way (payment_p2007_01 ... INHERITS (payment)): its
    fixes run, and reach the children too."""
    from tests.audit.corpus import load

    with scratch_database("postgresql", tmp_path) as url:
        load("sakila", "postgresql", url)
        engine = create_engine(url)
        try:
            before = audit(engine)
            assert before.snapshot is not None
            payment = before.snapshot.table("payment")
            assert payment.partitioned and len(payment.partition_tree) == 6
            assert not {f.table for f in before.findings} & set(payment.partitions)
            fixes = [f for f in before.findings if f.table == "payment" and f.rule in PARTITION_AWARE]
            assert {f.rule for f in fixes} >= {"unindexed-foreign-key"}
            if how == "sql":
                for finding in fixes:
                    assert finding.fix is not None
                    for statement in _statements(finding.fix.sql):
                        execute(engine, statement, autocommit=True)
            else:
                apply_revision(engine, write_fix_migration(fixes, before.snapshot, before.url), tmp_path / "scripts")
            after = audit(engine)
            assert {f.fingerprint for f in fixes}.isdisjoint({f.fingerprint for f in after.findings})
            with engine.connect() as connection:
                children = connection.exec_driver_sql(
                    "SELECT count(DISTINCT tablename) FROM pg_indexes WHERE starts_with(tablename, 'payment') "
                    "AND position('(rental_id)' IN indexdef) > 0").scalar()
            assert children == 7  # the parent and its six children: an inheritance parent's index is its own
        finally:
            engine.dispose()


OWN_KEYS = ("ALTER TABLE orders_2024 ADD CONSTRAINT own_2024 FOREIGN KEY (customer_id) REFERENCES customers (id)",
            "ALTER TABLE orders_2025 ADD CONSTRAINT own_2025 FOREIGN KEY (customer_id) REFERENCES customers (id) "
            "NOT VALID")


def test_with_partitions_keys_the_fix_migration_runs_too(shop, tmp_path) -> None:
    _, engine = shop
    execute(engine, *OWN_KEYS)
    before = audit(engine)
    assert before.snapshot is not None
    fixed = {f.fingerprint for f in before.findings if f.rule in FIXED | {"partition-missing-sibling-foreign-key"}}
    assert len(fixed) == 3
    apply_revision(engine, write_fix_migration(before.findings, before.snapshot, before.url), tmp_path / "scripts")
    assert fixed.isdisjoint({f.fingerprint for f in audit(engine).findings})
    with engine.connect() as connection:  # two findings ask for the 2026 partition's key: it is added once
        keys = connection.exec_driver_sql("SELECT conrelid::regclass::text, count(*) FROM pg_constraint "
                                          "WHERE contype = 'f' GROUP BY 1 ORDER BY 1").all()
    assert [tuple(row) for row in keys] == [("orders", 1), ("orders_2024", 1), ("orders_2025", 1), ("orders_2026", 1)]


def test_partitions_keys_are_adopted_by_the_parents_key_not_doubled(shop) -> None:
    engine, _ = shop
    execute(engine, *OWN_KEYS)
    report = audit(engine)
    sibling = [f for f in report.findings if f.rule == "partition-missing-sibling-foreign-key"]
    assert [f.evidence["partitions_lacking"] for f in sibling] == [["orders_2026"]]
    missing = next(f for f in report.findings if f.rule == "missing-foreign-key")
    assert missing.fix is not None
    sql = missing.fix.sql
    assert "ALTER TABLE orders_2024 ADD" not in sql and "ALTER TABLE orders_2025 ADD" not in sql
    assert "ALTER TABLE orders_2025 VALIDATE CONSTRAINT own_2025;" in sql
    for statement in _statements(sql):
        execute(engine, statement, autocommit=True)
    with engine.connect() as connection:
        keys = connection.exec_driver_sql("SELECT conrelid::regclass::text, conname, convalidated FROM pg_constraint "
                                          "WHERE contype = 'f' ORDER BY 1").all()
    assert [tuple(row) for row in keys] == [
        ("orders", "fk_orders_customer_id_customers", True), ("orders_2024", "own_2024", True),
        ("orders_2025", "own_2025", True), ("orders_2026", "fk_orders_customer_id_customers", True)]
    after = audit(engine)
    assert not [f for f in after.findings if f.rule in {"missing-foreign-key", "partition-missing-sibling-foreign-key"}]


def test_many_partitions_are_named_in_the_evidence_and_a_few_in_the_message(tmp_path) -> None:
    with scratch_database("postgresql", tmp_path) as url:
        engine = create_engine(url)
        try:
            months = [f"2024_{month:02d}" for month in range(1, 13)] + ["2025_01", "2025_02"]
            statements = [SHOP[2]]
            for number, month in enumerate(months):
                year, mm = month.split("_")
                end = f"{int(year) + (mm == '12')}-{int(mm) % 12 + 1:02d}-01"
                statements.append(f"CREATE TABLE orders_{month} PARTITION OF orders FOR VALUES FROM "
                                  f"('{year}-{mm}-01') TO ('{end}')")
                if number < 8:
                    statements.append(f"CREATE INDEX ix_{month} ON orders_{month} (customer_id)")
            execute(engine, *statements)
            findings = audit(engine, select=["partition-missing-sibling-index"]).findings
            assert len(findings) == 1
            assert findings[0].evidence["partitions_lacking"] == [f"orders_{month}" for month in months[8:]]
            assert "orders_2024_09, orders_2024_10, orders_2024_11, orders_2024_12, orders_2025_01 and 1 more" in \
                findings[0].message
        finally:
            engine.dispose()
