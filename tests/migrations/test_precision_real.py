"""False-positive classes found by hand-checking findings on real Alembic histories (issue 18's sample).

`precision_real/` holds one revision per class: dialect tests written as ``isinstance(bind.dialect, ...)`` or
asked of an engine a project helper returns, type changes PostgreSQL makes in the catalog only (an unbounded
VARCHAR to TEXT, a type restated by a rename, a widening known only from the revision that created the column, a
length given to bytea), a column moved aside under a scratch name while a new one is filled, a table created and
changed under a name the pass cannot resolve, NOT NULL restated on a column known NOT NULL (from `existing_nullable`
or from the revision that created it), a downgrade whose except handler re-raises, and downgrades that drop in
a loop over ``reversed()`` or drop names read from the database, and tables a revision creates (and its downgrade
drops) with ``metadata.create_all()`` from the module's own models, a column built by a module helper, reference
rows written out beside DDL, FLOAT(53) restating FLOAT, a type restated through a table rename, and a table
created by the project's own imported ``create_table()``.
`no_downgrade_policy/` is a history that never writes a downgrade.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integrity_kit.migrations import lint
from integrity_kit.migrations.constants import dialect_of_class
from integrity_kit.migrations.rules.columns import _no_rewrite

FIXTURES = Path(__file__).with_name("fixtures")
PG, MY, LITE = "postgresql", "mysql", "sqlite"
ALL = (PG, MY, LITE)

EXPECTED = [
    # the MySQL-only MEDIUMTEXT change runs on MySQL only, where it copies the table
    ("IK850", "h01_isinstance_mysql", 19, (MY,)),
    # VARCHAR -> TEXT is free on PostgreSQL, not on MySQL
    ("IK850", "h04_unbounded_varchar_to_text", 17, (MY,)),
    # the rename is real; the restated Integer() is no type change anywhere
    ("IK805", "h05_rename_restates_type", 17, ALL),
    # a narrowing whose old type only the history knows is still a rewrite
    ("IK803", "h07_narrowing_from_history", 17, (PG,)),
    ("IK850", "h07_narrowing_from_history", 17, (MY,)),
    # the scratch rename and the drop of the scratch column are not reported; the backfill beside DDL is
    ("IK821", "h08_scratch_rename", 19, (PG,)),
    # bytea takes no length on PostgreSQL; on MySQL BLOB -> MEDIUMBLOB copies the table
    ("IK850", "h11_bytea_length", 18, (MY,)),
    # the CHECK is a true finding; the downgrade that drops names read from the database is not "non-reversing"
    ("IK815", "h13_drop_names_read_from_database", 17, (PG,)),
    # tables created by metadata.create_all() from the module's models are new; a model of an existing one is not
    ("IK806", "h17_model_of_an_existing_table", 27, ALL),
    # reference rows written out are no backfill; INSERT ... SELECT is
    ("IK821", "h19_reference_rows", 21, (PG,)),
    # FLOAT(53) is FLOAT on PostgreSQL, REAL is not; on MySQL FLOAT(53) is DOUBLE, another type
    ("IK803", "h20_float_restated", 19, (PG,)),
    ("IK850", "h20_float_restated", 18, (MY,)),
    ("IK850", "h20_float_restated", 19, (MY,)),
    # the renames are true; the Integer() restated through the table rename is no type change
    ("IK805", "h21_type_through_a_table_rename", 17, ALL),
    ("IK805", "h21_type_through_a_table_rename", 18, ALL),
]
# what SQLite cannot render offline (batch mode needs a live table, no ALTER of constraints), beside the revision
# importing a project module, which every dialect reads by the Python pass only
UNRENDERED = {"versions/03_h03_project_engine.py (rendered SQL)",
              "versions/22_h22_project_create_table.py (rendered SQL)"}
UNRENDERED_SQLITE = {"versions/10_h10_already_not_null.py (rendered SQL)",
                     "versions/13_h13_drop_names_read_from_database.py (rendered SQL)",
                     "versions/16_h16_tables_created_by_metadata.py (rendered SQL)",
                     "versions/17_h17_model_of_an_existing_table.py (rendered SQL)"}


@pytest.mark.parametrize("dialect", ALL)
def test_real_history_false_positive_classes_give_only_the_true_findings(dialect: str) -> None:
    result = lint(FIXTURES / "precision_real", dialect=dialect)
    assert {(f.code, f.revision, f.line) for f in result.findings} == {
        (code, revision, line) for code, revision, line, dialects in EXPECTED if dialect in dialects}
    assert result.read_by_python == len(result.revisions) == 23
    assert {entry["object"] for entry in result.not_analysed} == UNRENDERED | (
        UNRENDERED_SQLITE if dialect == LITE else set())


def test_a_history_without_any_downgrade_is_one_finding_on_its_first_revision() -> None:
    result = lint(FIXTURES / "no_downgrade_policy", dialect=PG)
    (finding,) = result.findings
    assert (finding.code, finding.revision) == ("IK840", "p00_base")
    assert "none of the 3 revisions" in finding.message
    later = lint(FIXTURES / "no_downgrade_policy", dialect=PG, since="p00_base")
    assert [(f.code, f.revision) for f in later.findings] == [("IK840", "p01_add_name")]


def test_one_missing_downgrade_among_working_ones_is_reported_on_that_revision() -> None:
    result = lint(FIXTURES / "precision_clean", dialect=PG, render_sql=False)
    assert not [f for f in result.findings if f.code == "IK840"]
    broken = lint(FIXTURES / "broken_downgrade", dialect=PG, render_sql=False)
    assert all("none of the" not in f.message for f in broken.findings if f.code == "IK840")


@pytest.mark.parametrize(("existing", "new", "free"), [
    ("sa.VARCHAR()", "sa.Text()", True),
    ("sa.String(length=50)", "sa.String(80)", True),
    ("sa.String(50)", "sa.VARCHAR()", True),
    ("sa.Text()", "sa.String()", True),
    ("sa.Integer()", "sa.INTEGER()", True),
    ("mysql.VARCHAR(length=50)", "sa.String(50)", True),
    ("sa.String(80)", "sa.String(50)", False),
    ("sa.Text()", "sa.String(50)", False),
    ("sa.Integer()", "sa.BigInteger()", False),
    ("sa.BINARY(16)", "sa.String(36)", False),
    ("sa.Numeric(12, 2)", "sa.Numeric(14, 2)", False),
    ("sa.LargeBinary()", "sa.LargeBinary(length=2 ** 24 - 1)", True),
    ("MyType(x)", "sa.Text()", False),
])
def test_postgresql_catalog_only_type_changes(existing: str, new: str, free: bool) -> None:
    assert _no_rewrite(existing, new) is free


@pytest.mark.parametrize(("name", "dialect"), [
    ("MySQLDialect", MY), ("MySQLDialect_pymysql", MY), ("MariaDBDialect", MY), ("PGDialect_psycopg2", PG),
    ("SQLiteDialect", LITE), ("MSDialect", "mssql"), ("OracleDialect", "oracle"), ("DefaultDialect", None),
    ("MySQLCompiler", None)])
def test_dialect_classes_are_named_for_their_dialect(name: str, dialect: str | None) -> None:
    assert dialect_of_class(name) == dialect
