"""The fixture directories: one unsafe revision per rule gives exactly the expected findings, the safe twins none.

`unsafe/` holds one revision per rule (u01..u16, on top of the base r00); `safe/` holds the safe twin of each (the
fix the rule's documentation gives). Expectations are the full set of (code, revision, line) per dialect — a missing
finding and an extra one both fail.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from integrity_kit.migrations import RULES, lint

FIXTURES = Path(__file__).with_name("fixtures")

# (code, revision, line, dialects the finding is expected on)
PG, MY, LITE = "postgresql", "mysql", "sqlite"
ALL = (PG, MY, LITE)
UNSAFE = [
    ("IK801", "u01_add_not_null", 17, ALL),
    ("IK802", "u02_set_not_null", 17, (PG, MY)),
    ("IK803", "u03_type_change", 17, (PG,)),  # MySQL: IK850 below judges the same change
    ("IK805", "u04_rename_column", 17, ALL),
    ("IK806", "u05_drop_column", 17, ALL),
    ("IK810", "u06_index_not_concurrently", 17, (PG,)),
    ("IK811", "u07_concurrently_in_transaction", 17, (PG,)),
    ("IK812", "u08_unique_constraint", 17, (PG,)),
    ("IK815", "u09_fk_validated", 17, (PG,)),
    ("IK820", "u10_raw_string_execute", 18, ALL),
    ("IK821", "u11_backfill_with_ddl", 18, (PG,)),
    ("IK830", "u12_batch_cascade", 18, (LITE,)),
    ("IK840", "u13_missing_downgrade", 20, ALL),
    ("IK841", "u14_non_reversing", 18, ALL),
    ("IK810", "u15_sql_only_index", 18, (PG,)),  # only the rendered SQL shows it: the string is built at runtime
    ("IK802", "u16_execute_set_not_null", 17, (PG, MY)),  # inside an op.execute string
    # The type change and the foreign key also copy the table on MySQL/MariaDB (the online-DDL rule says how)
    ("IK850", "u03_type_change", 17, (MY,)),
    ("IK850", "u09_fk_validated", 17, (MY,)),
]
# The safe twins are safe on PostgreSQL; postgresql_not_valid means nothing to MySQL, where adding the foreign key
# still copies the table.
SAFE = [("IK850", "s09_fk_not_valid", 17, (MY,))]
# Rules that fire on an unsafe revision besides the one its docstring names
ALSO = {"u03_type_change": {"mysql-ddl-blocks-writes"}, "u09_fk_validated": {"mysql-ddl-blocks-writes"}}
TWO_HEADS = [("IK842", "h1_left", 10, ALL), ("IK842", "h2_right", 10, ALL)]


def found(result) -> set[tuple[str, str, int]]:
    return {(f.code, f.revision, f.line) for f in result.findings}


def expected(table, dialect: str) -> set[tuple[str, str, int]]:
    return {(code, revision, line) for code, revision, line, dialects in table if dialect in dialects}


@pytest.mark.parametrize("dialect", ALL)
def test_unsafe_revisions_give_exactly_the_expected_findings(dialect: str) -> None:
    result = lint(FIXTURES / "unsafe", dialect=dialect)
    assert found(result) == expected(UNSAFE, dialect)


@pytest.mark.parametrize("dialect", ALL)
def test_safe_twins_give_no_findings(dialect: str) -> None:
    result = lint(FIXTURES / "safe", dialect=dialect)
    assert found(result) == expected(SAFE, dialect)
    assert len(result.revisions) == 20
    # s05 drops a column with a reasoned ignore: silenced, and counted as ignored rather than lost
    assert [(f.rule, f.revision) for f in result.ignored] == [("drop-column-or-table", "s05_drop_unused_column")]
    assert result.unexplained_ignores == []


def test_every_rule_has_an_unsafe_fixture() -> None:
    from tests.migrations.test_new_rules import DEFAULTS, KEYS, MYSQL, TIMEOUT
    from tests.migrations.test_preflight import COVERS

    covered = {code for code, *_ in UNSAFE + TWO_HEADS + TIMEOUT + KEYS + DEFAULTS + MYSQL} | set(COVERS)
    assert covered == {rule.code for rule in RULES}


def test_each_unsafe_revision_is_flagged_by_its_own_rule() -> None:
    """The docstring of each unsafe revision names the rule it breaks; that rule (and only rules listed for that
    revision) fires on it."""
    by_revision = {}
    for dialect in ALL:
        for finding in lint(FIXTURES / "unsafe", dialect=dialect).findings:
            by_revision.setdefault(finding.revision, set()).add(finding.rule)
    for path in sorted((FIXTURES / "unsafe" / "versions").glob("*_u*.py")):
        named = path.read_text().splitlines()[0].split()[1].rstrip(".,")
        revision = path.stem.split("_", 1)[1]
        assert by_revision[revision] == {named} | ALSO.get(revision, set()), path.name


def test_findings_carry_the_safe_sequence() -> None:
    result = lint(FIXTURES / "unsafe", dialect="postgresql")
    python_findings = [f for f in result.findings if f.source == "python"]
    assert python_findings and all(f.fix for f in python_findings)
    fixes = {f.code: f.fix for f in python_findings}
    assert "postgresql_concurrently=True" in fixes["IK810"] and "autocommit_block" in fixes["IK810"]
    assert "postgresql_not_valid=True" in fixes["IK815"] and "VALIDATE CONSTRAINT" in fixes["IK815"]
    assert "UNIQUE USING INDEX" in fixes["IK812"]
    assert "server_default=" in fixes["IK801"]
    assert fixes["IK820"] == 'op.execute(sa.text(\'UPDATE users SET email = lower(email)\'))'


def test_sql_only_finding_is_marked_as_coming_from_the_rendered_sql() -> None:
    result = lint(FIXTURES / "unsafe", dialect="postgresql", since="u14_non_reversing")
    assert [(f.code, f.source) for f in result.findings if f.revision == "u15_sql_only_index"] == [("IK810", "sql")]
    # without the second analysis the runtime-built CREATE INDEX is invisible
    quiet = lint(FIXTURES / "unsafe", dialect="postgresql", since="u14_non_reversing", render_sql=False)
    assert [f for f in quiet.findings if f.revision == "u15_sql_only_index"] == []


@pytest.mark.parametrize("dialect", ALL)
def test_two_heads_are_reported_on_each_head(dialect: str) -> None:
    result = lint(FIXTURES / "two_heads", dialect=dialect)
    assert found(result) == expected(TWO_HEADS, dialect)
    assert all("alembic merge" in f.fix for f in result.findings)


@pytest.mark.parametrize("dialect", ALL)
def test_merged_history_is_clean(dialect: str) -> None:
    result = lint(FIXTURES / "merged", dialect=dialect)
    assert result.findings == []
    assert result.revisions[0] == "r00_base" and result.revisions[-1] == "h3_merge"
    assert sorted(result.revisions[1:3]) == ["h1_left", "h2_right"]
    assert result.not_analysed == []  # the merge has no operations, so nothing is lost by not rendering it
