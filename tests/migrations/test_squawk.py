"""Beside squawk (the PyPI ``squawk-cli`` wheel) on the fixture revisions: every migration-safety finding squawk
makes on a revision's own SQL has an integrity-kit counterpart on that revision (or is a documented squawk false
positive), and integrity-kit also reports what squawk cannot see in SQL. ``benchmarks/squawk_comparison.py``
prints the same comparison as a table."""

from __future__ import annotations

from pathlib import Path

import pytest

from benchmarks.squawk_comparison import (
    SQUAWK_DISPUTED,
    SQUAWK_OUT_OF_SCOPE,
    SQUAWK_TO_OURS,
    compare,
    squawk_binary,
    whole_history,
)
from integrity_kit.migrations import RULES
from tests.servers import in_ci

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.fixture(scope="module")
def squawk() -> str:
    binary = squawk_binary()
    if binary is None:
        if in_ci():
            pytest.fail("squawk is not installed (it is in the dev extras: pip install -e '.[dev]')")
        pytest.skip("squawk is not installed: pip install squawk-cli")
    return binary


@pytest.fixture(scope="module")
def rows(squawk: str):
    return {row.revision: row for name in ("unsafe", "safe", "two_heads") for row in compare(FIXTURES / name, squawk)}


def safety(rules: list[str]) -> set[str]:
    return {rule for rule in rules if rule not in SQUAWK_OUT_OF_SCOPE}


def test_every_squawk_safety_finding_has_a_counterpart(rows) -> None:
    assert {revision: row.unmapped for revision, row in rows.items() if row.unmapped} == {}
    assert {revision: row.missed for revision, row in rows.items() if row.missed} == {}
    disputed = {(revision, rule) for revision, row in rows.items() for rule in row.disputed}
    assert disputed == set(SQUAWK_DISPUTED)  # still squawk's opinion on those two, and nothing else disputed


def test_the_comparison_is_not_vacuous(rows) -> None:
    """squawk does see the SQL-visible hazards: one or more safety findings on each such unsafe revision."""
    sql_visible = ["u01_add_not_null", "u02_set_not_null", "u03_type_change", "u04_rename_column", "u05_drop_column",
                   "u06_index_not_concurrently", "u07_concurrently_in_transaction", "u08_unique_constraint",
                   "u09_fk_validated", "u15_sql_only_index", "u16_execute_set_not_null"]
    for revision in sql_visible:
        assert safety(rows[revision].squawk), revision
        mapped = {ours for rule in safety(rows[revision].squawk) for ours in SQUAWK_TO_OURS[rule]}
        assert mapped & set(rows[revision].ours), revision


def test_integrity_kit_reports_what_squawk_cannot_see(rows) -> None:
    python_only = {
        "u10_raw_string_execute": "raw-string-execute",  # fails only when executed; rendering hides it
        "u11_backfill_with_ddl": "backfill-in-ddl-transaction",
        "u12_batch_cascade": "batch-recreate-cascade (sqlite)",
        "u13_missing_downgrade": "missing-downgrade",
        "u14_non_reversing": "non-reversing-downgrade",
        "h1_left": "multiple-heads",
        "h2_right": "multiple-heads",
    }
    for revision, rule in python_only.items():
        assert safety(rows[revision].squawk) == set(), revision
        assert rule in rows[revision].python_only, revision
    covered = {ours for row in rows.values() for rule in safety(row.squawk) for ours in SQUAWK_TO_OURS.get(rule, ())}
    assert {rule.name for rule in RULES} - covered == {"raw-string-execute", "backfill-in-ddl-transaction",
                                                       "batch-recreate-cascade", "missing-downgrade",
                                                       "non-reversing-downgrade", "multiple-heads",
                                                       # issue 18's rules: compared on their own fixtures
                                                       # (test_new_rules.py), not on these
                                                       "strong-lock-without-timeout",
                                                       "add-serial-primary-key-column",
                                                       "primary-key-added-in-one-step",
                                                       "volatile-default-rewrites-table",
                                                       "mysql-ddl-blocks-writes", "mysql-ddl-rebuilds-table",
                                                       # reads the target's rows: no static linter can
                                                       "fails-on-existing-rows"}


def test_squawk_on_the_whole_history_in_one_transaction_loses_the_lock_findings(squawk: str, rows) -> None:
    """Fed `alembic upgrade heads --sql` from the generic env.py (one transaction around everything), squawk takes
    every table as created in that transaction and drops its lock findings on them."""
    per_revision = set().union(*(safety(rows[r].squawk) for r in rows if r.startswith("u")))
    whole = safety(whole_history(FIXTURES / "unsafe", squawk, generic_env=True))
    lost = per_revision - whole
    assert {"require-concurrent-index-creation", "disallowed-unique-constraint",
            "adding-foreign-key-constraint"} <= lost
