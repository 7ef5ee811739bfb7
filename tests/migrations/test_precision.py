"""False positives and misses of the migration rules, on fixture revisions that reproduce each class.

`precision_clean/` holds one revision per false-positive class: each gives only the true findings listed (other
rules' findings, or one finding for a change attempted two ways); `precision_misses/` holds revisions that must give
exactly the findings listed. Expectations are the full set of (code, revision, line) per dialect: a missing finding
and an extra one both fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integrity_kit.migrations import lint
from integrity_kit.migrations.classify import Action, classify, empties

FIXTURES = Path(__file__).with_name("fixtures")
PG, MY, LITE = "postgresql", "mysql", "sqlite"
ALL = (PG, MY, LITE)

CLEAN = [
    # renames of existing tables and columns are true findings of IK805; the downgrades reverse them (no IK841)
    ("IK805", "c19_rename_table_back", 17, ALL),
    ("IK805", "c20_rename_column_back", 17, ALL),
    ("IK805", "c24_rename_by_sql", 17, ALL),
    ("IK805", "c25_batch_rename_back", 18, ALL),
    # the swap's backfill runs beside DDL on PostgreSQL: true; the drop and the rename of the swap are not reported
    ("IK821", "c21_column_swap", 18, (PG,)),
    # MySQL's DROP KEY read as the index drop it is (it used to be a dropped column)
    ("IK810", "c30_drop_key_is_no_column", 17, (PG,)),
    # SQLite cannot fill an added primary key or identity column; MySQL renders Identity() as a plain column
    ("IK801", "c12_serial_pk", 17, (LITE,)),
    ("IK801", "c13_identity", 17, (MY, LITE)),
    # on PostgreSQL the same columns are serial/identity keys added to existing tables: one finding, IK817's
    ("IK817", "c12_serial_pk", 17, (PG,)),
    ("IK817", "c13_identity", 17, (PG,)),
    ("IK817", "c16_sql_bigserial", 17, (PG,)),
    # on MySQL the primary key is AUTO_INCREMENT (writes wait); SQLAlchemy renders c13's Identity() as a plain column
    ("IK850", "c12_serial_pk", 17, (MY,)),
    # MySQL copies the table to add a foreign key while foreign_key_checks is on
    ("IK850", "c26_unnamed_fk", 17, (MY,)),
    # SQLite's own DROP COLUMN refuses an indexed column, so dropping the column does not undo the index there
    ("IK841", "c27_index_goes_with_column", 19, (LITE,)),
    # a try/except fallback in SQL for an op.* call is the same change: one finding, on the call
    ("IK810", "c31_index_fallback", 18, (PG,)),
    ("IK801", "c32_column_fallback", 18, ALL),
    ("IK806", "c33_drop_fallback", 18, ALL),
]

MISSES = [
    ("IK810", "m01_index_rebuilt", 17, (PG,)),
    ("IK810", "m02_rebuilt_half_concurrent", 17, (PG,)),
    ("IK810", "m03_rebuilt_in_sql", 17, (PG,)),
    ("IK821", "m04_orm_update_connection", 19, (PG,)),
    ("IK821", "m05_orm_update_op", 18, (PG,)),
    ("IK821", "m06_with_update", 18, (PG,)),
    ("IK821", "m07_insert_select", 18, (PG,)),
    ("IK821", "m08_fstring_update", 19, (PG,)),
    ("IK821", "m09_ddl_after_commit", 19, (PG,)),
    ("IK821", "m10_delete_some_rows", 17, (PG,)),
    ("IK801", "m10_delete_some_rows", 18, ALL),
    ("IK801", "m11_pk_without_autoincrement", 17, ALL),
    ("IK805", "m12_rename_not_reversed", 17, ALL),
    ("IK841", "m12_rename_not_reversed", 17, ALL),
    ("IK841", "m13_rebuild_not_reversed", 17, ALL),
    ("IK805", "m14_mysql_change", 17, ALL),
    ("IK803", "m14_mysql_change", 17, (PG,)),  # on MySQL the CHANGE restates VARCHAR(100): a rename only
    ("IK821", "m15_update_then_alter", 17, (PG,)),
    ("IK821", "m16_statement_in_a_variable", 19, (PG,)),
]


def found(result) -> set[tuple[str, str, int]]:
    return {(f.code, f.revision, f.line) for f in result.findings}


def expected(table, dialect: str) -> set[tuple[str, str, int]]:
    return {(code, revision, line) for code, revision, line, dialects in table if dialect in dialects}


@pytest.mark.parametrize("dialect", ALL)
def test_false_positive_classes_give_only_the_true_findings(dialect: str) -> None:
    result = lint(FIXTURES / "precision_clean", dialect=dialect)
    assert found(result) == expected(CLEAN, dialect)
    assert len(result.revisions) == 35
    # every revision renders, except two SQLite cannot render offline (batch mode, ALTER of constraints)
    unrendered = {entry["object"].split()[0] for entry in result.not_analysed}
    assert unrendered == ({"versions/25_c25_batch_rename_back.py", "versions/26_c26_unnamed_fk.py"}
                          if dialect == LITE else set())


@pytest.mark.parametrize("dialect", ALL)
def test_misses_give_exactly_the_expected_findings(dialect: str) -> None:
    result = lint(FIXTURES / "precision_misses", dialect=dialect)
    assert found(result) == expected(MISSES, dialect)
    assert result.not_analysed == []


def test_every_fixture_revision_names_the_rule_it_is_about() -> None:
    """Each fixture's docstring names a rule; a clean revision is never flagged by it (except where listed for a
    dialect), a miss is flagged by it on at least one dialect."""
    from integrity_kit.migrations.rules import BY_KEY

    listed = {(code, revision) for code, revision, _line, _d in CLEAN + MISSES}
    for directory in ("precision_clean", "precision_misses"):
        for path in sorted((FIXTURES / directory / "versions").glob("*.py"))[1:]:
            rule = BY_KEY[path.read_text().splitlines()[0].split()[1].rstrip(":")]
            revision = path.stem.split("_", 1)[1]
            if directory == "precision_misses":
                assert (rule.code, revision) in listed, path.name


def test_a_rebuild_is_one_finding_with_the_build_then_swap_fix() -> None:
    result = lint(FIXTURES / "precision_misses", dialect=PG, since="r00_base", render_sql=False)
    (finding,) = [f for f in result.findings if f.revision == "m01_index_rebuilt"]
    assert "ix_orders_status_new" in finding.fix and "postgresql_concurrently=True" in finding.fix
    assert "ALTER INDEX ix_orders_status_new RENAME TO ix_orders_status" in finding.fix
    (unreversed,) = [f for f in result.findings if f.revision == "m13_rebuild_not_reversed"]
    assert "rebuild of table items" in unreversed.message


def test_a_table_named_by_an_fstring_hole_is_not_given_a_name() -> None:
    result = lint(FIXTURES / "precision_misses", dialect=PG, render_sql=False)
    (finding,) = [f for f in result.findings if f.revision == "m08_fstring_update"]
    assert finding.table is None and "ik_hole" not in finding.message


@pytest.mark.parametrize(("sql", "kind"), [
    ("SELECT setval('s', 1)", "select"),
    ("WITH r AS (SELECT 1) SELECT * FROM r", "select"),
    ("COPY orders TO STDOUT", "select"),
    ("PRAGMA foreign_keys=OFF", "session"),
    ("SET LOCAL lock_timeout = '1s'", "session"),
    ("SET statement_timeout TO 0", "session"),
    ("COMMIT", "session"),
    ("LOCK TABLE orders IN SHARE MODE", "session"),
    ('CREATE EXTENSION IF NOT EXISTS "uuid-ossp"', "ddl_other"),
    ("GRANT SELECT ON orders TO reporting", "ddl_other"),
    ("COMMENT ON TABLE orders IS 'x'", "ddl_other"),
    ("CREATE TYPE mood AS ENUM ('a')", "ddl_other"),
    ("CREATE OR REPLACE VIEW v AS SELECT 1", "ddl_other"),
    ("ANALYZE orders", "maintenance"),
    ("VACUUM orders", "maintenance"),
    ("UPDATE orders SET a = 1", "data"),
    ("INSERT INTO logs (m) SELECT email FROM users", "data"),
    ("INSERT OR REPLACE INTO logs VALUES (1)", "data"),
    ("REPLACE INTO logs VALUES (1)", "data"),
    ("DELETE FROM orders WHERE id = 1", "data"),
    ("MERGE INTO orders USING s ON (1 = 1) WHEN MATCHED THEN DELETE", "data"),
    ("COPY orders FROM STDIN", "data"),
    ("SELECT * INTO orders_copy FROM orders", "data"),
    ("WITH r AS (SELECT 1) UPDATE orders SET a = 1", "data"),
    ("-- why\nUPDATE orders SET a = 1", "data"),
    ("TRUNCATE orders", "truncate"),
    ("ALTER TABLE orders ADD COLUMN id SERIAL NOT NULL", "add_column"),
    ("ALTER TABLE orders ADD COLUMN id BIGINT GENERATED ALWAYS AS IDENTITY NOT NULL", "add_column"),
    ("ALTER TABLE `orders` ADD COLUMN `id` INT NOT NULL AUTO_INCREMENT", "add_column"),
    ("ALTER TABLE orders ADD COLUMN n INT NOT NULL", "add_column_not_null_no_default"),
    ("ALTER TABLE orders ADD PRIMARY KEY (id)", "add_primary_key"),
    ("ALTER TABLE `orders` ADD INDEX `ix` (`a`)", "create_index"),
    ("ALTER TABLE orders ADD UNIQUE KEY ux (a)", "create_index"),
    ("ALTER TABLE `orders` DROP KEY `ix`", "drop_index"),
    ("ALTER TABLE `orders` MODIFY `a` VARCHAR(10) NOT NULL", "set_not_null"),
    ("ALTER TABLE `orders` MODIFY `a` VARCHAR(10)", "alter_type"),
    ("ALTER TABLE orders RENAME TO purchases", "rename"),
    ("RENAME TABLE orders TO purchases", "rename"),
    ("ALTER TABLE orders RENAME INDEX a TO b", "rename_index"),
    ("DO $$ BEGIN PERFORM 1; END $$", "other"),
])
def test_classify_tells_what_a_statement_does(sql: str, kind: str) -> None:
    assert classify(sql)[0].kind == kind


def test_classify_reads_every_statement_of_a_string_and_mysql_change() -> None:
    assert [a.kind for a in classify("UPDATE t SET a = 1; ALTER TABLE t ADD COLUMN b INT")] == ["data", "add_column"]
    assert classify("ALTER TABLE `users` CHANGE `name` `display_name` VARCHAR(100)") == [
        Action("rename", "users", "RENAME COLUMN name TO display_name", name="display_name"),
        Action("alter_type", "users", "CHANGE `name` `display_name` VARCHAR(100)")]
    assert [a.table for a in classify("DROP TABLE a, b")] == ["a", "b"]
    assert classify("CREATE INDEX ix_a ON t (a)")[0].name == "ix_a"
    assert empties(classify("DELETE FROM t")[0]) and not empties(classify("DELETE FROM t WHERE a = 1")[0])
    assert empties(classify("TRUNCATE TABLE t RESTART IDENTITY")[0])
