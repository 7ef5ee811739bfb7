"""No fix that deletes rows or fails (issue 19, item 3): a clean-up deleting more than 10% of a table says so in
the finding's first line, and the fix migration never adds a constraint whose validation is known to fail, for
every rule with a clean-up (orphans, duplicates, check violations, NULLs)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from integrity_kit.audit import Report, audit
from integrity_kit.audit.apply import apply_revision
from integrity_kit.audit.migration import write_fix_migration
from integrity_kit.audit.model import Finding
from tests.db import execute

HEADLINE = "the clean-up deletes"


def _rows(count: int, make) -> str:
    return ", ".join(make(n) for n in range(1, count + 1))


def _one(report: Report, rule: str) -> Finding:
    [finding] = [f for f in report.findings if f.rule == rule]
    return finding


def _orphans(engine: Engine, orphans: int, rows: int = 20) -> None:
    """``rows`` order lines, the first ``orphans`` of them pointing at orders that do not exist."""
    execute(engine, "CREATE TABLE orders (id INTEGER PRIMARY KEY)",
            f"INSERT INTO orders VALUES {_rows(rows, lambda n: f'({n})')}",
            "CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER NOT NULL)",
            f"INSERT INTO order_lines VALUES {_rows(rows, lambda n: f'({n}, {n + 1000 if n <= orphans else n})')}")


def _duplicates(engine: Engine, copies: int, rows: int = 20) -> None:
    """``rows`` users, ``copies`` of which repeat the first one's email."""
    execute(engine, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(60))",
            f"INSERT INTO users VALUES {_rows(rows, lambda n: _user(n, 'a' if n <= copies + 1 else str(n)))}")


def _user(key: int, name: str) -> str:
    return f"({key}, '{name}@x.org')"


def _product(key: int) -> str:
    """Product 1 has negative stock and product 2 no name: one row in the way of each constraint."""
    return f"({key}, {'NULL' if key == 2 else repr(f'p{key}')}, {-1 if key == 1 else key})"


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
@pytest.mark.parametrize(("orphans", "announced"), [(2, False), (3, True), (9, True)])
def test_deleting_orphans_beyond_a_tenth_of_the_table_is_the_headline(engine: Engine, orphans: int,
                                                                      announced: bool) -> None:
    _orphans(engine, orphans)
    finding = _one(audit(engine, select=["missing-foreign-key"]), "missing-foreign-key")
    first_line = finding.message.splitlines()[0]
    assert (f"{HEADLINE} {orphans} of 20 rows ({100 * orphans // 20}%)" in first_line) is announced
    assert finding.fix is not None and "DELETE" in finding.fix.sql
    assert finding.evidence["orphan_rows"] == orphans


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_rows_breaking_a_declared_key_are_announced_as_the_share_their_clean_up_deletes(engine: Engine,
                                                                                      engine_name: str) -> None:
    execute(engine, "CREATE TABLE orders (id INTEGER PRIMARY KEY)", "INSERT INTO orders VALUES (1), (2)",
            "CREATE TABLE order_lines (id INTEGER PRIMARY KEY, order_id INTEGER REFERENCES orders (id))")
    if engine_name == "mariadb":
        execute(engine, "SET FOREIGN_KEY_CHECKS = 0", "INSERT INTO order_lines VALUES (1, 1), (2, 7), (3, 8)")
    elif engine_name == "postgresql":
        execute(engine, "ALTER TABLE order_lines DROP CONSTRAINT order_lines_order_id_fkey",
                "INSERT INTO order_lines VALUES (1, 1), (2, 7), (3, 8)",
                "ALTER TABLE order_lines ADD FOREIGN KEY (order_id) REFERENCES orders (id) NOT VALID")
    else:
        execute(engine, "INSERT INTO order_lines VALUES (1, 1), (2, 7), (3, 8)")
    finding = _one(audit(engine, select=["foreign-key-violations"]), "foreign-key-violations")
    assert f"{HEADLINE} 2 of 3 rows (67%)" in finding.message.splitlines()[0]


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
@pytest.mark.parametrize("rule", ["missing-unique-constraint", "duplicate-rows"])
@pytest.mark.parametrize(("copies", "announced"), [(1, False), (5, True)])
def test_deleting_duplicates_beyond_a_tenth_is_the_headline(engine: Engine, rule: str, copies: int,
                                                            announced: bool) -> None:
    _duplicates(engine, copies)
    finding = _one(audit(engine, select=[rule]), rule)
    # The clean-up keeps one row of the group: it deletes the copies, not the group.
    assert (f"{HEADLINE} {copies} of 20 rows" in finding.message.splitlines()[0]) is announced


def _broken_shop(engine: Engine) -> None:
    """One table per rule with a clean-up, each with a row standing in the way of its constraint."""
    _orphans(engine, 1)
    _duplicates(engine, 1)
    execute(engine, "CREATE TABLE products (id INTEGER PRIMARY KEY, name VARCHAR(40), stock INTEGER)",
            f"INSERT INTO products VALUES {_rows(150, _product)}")


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_the_fix_migration_never_adds_a_constraint_known_to_fail(engine: Engine, engine_name: str,
                                                                 tmp_path: Path) -> None:
    _broken_shop(engine)
    report = audit(engine, select=["missing-foreign-key", "missing-unique-constraint", "missing-check-constraint",
                                   "missing-not-null"])
    blocked = {(f.rule, f.table) for f in report.findings if "would fail" in f.message or "backfill" in f.message}
    assert blocked == {("missing-foreign-key", "order_lines"), ("missing-unique-constraint", "users"),
                       ("missing-check-constraint", "products"), ("missing-not-null", "products")}
    assert report.snapshot is not None
    text = write_fix_migration(report.findings, report.snapshot, report.url)
    upgrade = text[text.index("def upgrade"):text.index("def downgrade")]
    code = [line.strip() for line in upgrade.splitlines() if line.strip() and not line.strip().startswith("#")]
    assert not any("create_unique_constraint" in line or "unique=True" in line for line in code)
    # Only the NOT NULLs no row stands in the way of are validated and set.
    assert not any("VALIDATE" in line and "_not_null" not in line for line in code)
    assert not any("'name'" in line and "nullable=False" in line for line in code)
    if engine_name == "postgresql":  # added NOT VALID, with the reason, and never validated
        assert any("create_foreign_key" in line and "postgresql_not_valid=True" in line for line in code)
        assert "NOT VALID and not validated: 1 orphan rows remain" in upgrade
    else:
        assert not any("create_foreign_key" in line or "create_check_constraint" in line for line in code)
        assert "Left out: the foreign key order_lines(order_id) -> orders would fail: 1 orphan rows remain" in upgrade
    assert "Left out: NOT NULL on products.name would fail: 1 null rows remain" in upgrade
    assert "Left out: UNIQUE (email) on users would fail: 1 duplicate groups remain" in upgrade
    apply_revision(engine, text, tmp_path / "alembic")  # and it runs: nothing in it fails on the data
    after = audit(engine)
    assert {(f.rule, f.table) for f in after.findings if f.rule in {r for r, _ in blocked}} >= {
        ("missing-unique-constraint", "users"), ("missing-not-null", "products")}


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_a_unique_key_null_in_most_rows_gets_no_not_null(engine: Engine) -> None:
    execute(engine, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(60) UNIQUE)",
            "INSERT INTO users VALUES (1, 'a@x.org'), (2, NULL), (3, NULL), (4, 'b@x.org')")
    finding = _one(audit(engine, select=["nullable-unique-column"]), "nullable-unique-column")
    assert "2 of 4 rows are NULL" in finding.message and finding.fix is None
