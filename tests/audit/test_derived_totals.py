"""derived-total-mismatch beyond its cases: a real schema with real data (Chinook's invoices), sampling, and the
schema-only mode that must not guess."""

from __future__ import annotations

import functools

import pytest
from sqlalchemy import create_engine

from examples.ecommerce import database, sample_data
from integrity_kit.audit import audit
from integrity_kit.audit.changes import quote
from tests.audit.corpus import load
from tests.audit.helpers import audited
from tests.db import execute


def test_chinook_invoices_agree_with_their_lines_until_one_is_changed(engine_name: str, engine_url) -> None:
    load("chinook", engine_name, engine_url)
    # The PostgreSQL edition of Chinook spells its names in snake case.
    invoice, total, key, line = (("invoice", "total", "invoice_id", "invoice_line") if engine_name == "postgresql"
                                 else ("Invoice", "Total", "InvoiceId", "InvoiceLine"))
    engine = create_engine(engine_url)
    try:
        report = audit(engine, select=["derived-total-mismatch"])
        assert report.findings == [] and report.not_analysed == []
        q = functools.partial(quote, report.dialect)
        execute(engine, f"UPDATE {q(invoice)} SET {q(total)} = {q(total)} + 1 WHERE {q(key)} IN (7, 98)")
        [finding] = audit(engine, select=["derived-total-mismatch"]).findings
    finally:
        engine.dispose()
    assert (finding.table, finding.columns, finding.target["table"]) == (invoice, (total,), line)
    assert finding.evidence["sample_keys"] == [7, 98] and finding.evidence["mismatched_rows"] == 2
    assert finding.evidence["rows_checked"] == 412  # every invoice, each with all its lines
    assert "declared foreign key" in finding.evidence["joined_by"]


def test_sample_rows_bounds_the_parents_and_sums_their_lines_in_full(app_engine) -> None:
    database.create_schema(app_engine, legacy=True)
    damage = sample_data.load(app_engine, rows=2000, legacy=True).damage
    first = min(damage.mistotalled_orders)
    report, _ = audited(app_engine, select=["derived-total-mismatch"], sample_rows=first - 1)
    # The examined orders all have every line summed: none of them is flagged by a partial sum.
    assert report.findings == [] and report.not_analysed == []
    report, _ = audited(app_engine, select=["derived-total-mismatch"], sample_rows=first)
    [finding] = report.findings
    assert finding.evidence["sample_keys"] == [first]
    assert finding.evidence["rows_checked"] == first and finding.evidence["sampled"] is True


def test_without_data_the_rule_does_not_guess(app_engine) -> None:
    database.create_schema(app_engine, legacy=True)
    sample_data.load(app_engine, rows=500, legacy=True)
    report, statements = audited(app_engine, select=["derived-total-mismatch"], data=False)
    assert report.findings == [] and report.not_analysed == []
    assert not [s for s in statements if "order_items" in s and "SUM(" in s.upper()]


@pytest.mark.engines("postgresql")
def test_a_probe_over_its_time_budget_is_reported_and_the_audit_goes_on(engine) -> None:
    # Lines joined by the inferred reference (no constraint to check while loading them).
    execute(engine, "CREATE TABLE orders (id INTEGER PRIMARY KEY, total NUMERIC(12, 2), placed_at TIMESTAMP)",
            "CREATE TABLE order_items (id INTEGER PRIMARY KEY, order_id INTEGER, quantity INTEGER, "
            "unit_price NUMERIC(10, 2))",
            "INSERT INTO orders SELECT g, 2.00, NULL FROM generate_series(1, 200000) AS g",
            "INSERT INTO order_items SELECT g, (g + 1) / 2, 1, 1.00 FROM generate_series(1, 400000) AS g",
            "ANALYZE")
    report = audit(engine, select=["derived-total-mismatch", "timestamp-without-time-zone"], statement_timeout=0.1)
    assert [f.rule for f in report.findings] == ["timestamp-without-time-zone"]  # the other rule still reported
    [timed_out] = report.not_analysed
    assert "derived-total-mismatch" in timed_out.object and "statement timeout" in timed_out.reason
    # With time enough, the same probe finds every order's total equal to its two lines.
    # (that probe takes 0.6 to 1 s here: six times the budget above)
    assert audit(engine, select=["derived-total-mismatch"]).findings == []
