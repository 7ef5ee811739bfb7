"""missing-foreign-key beyond the case files: ambiguity names both parents, references found from the values need
the values, and on chinook with its keys removed the data recovers every one of them on every engine."""

from __future__ import annotations

import dataclasses

from sqlalchemy import create_engine

from integrity_kit.audit import audit
from integrity_kit.audit.probes import Probe
from integrity_kit.audit.rules.keys import MissingForeignKey
from integrity_kit.audit.runner import run_rules
from integrity_kit.schema import build_snapshot
from tests.audit.cases.missing_foreign_key import CASES
from tests.audit.corpus import load
from tests.db import execute

BY_ID = {case.id: case for case in CASES}


def _findings(engine, *, data: bool) -> dict:
    report = audit(engine, select=["missing-foreign-key"], data=data)
    assert report.not_analysed == []
    return {(f.table, f.columns): f for f in report.findings}


def test_two_equal_parents_are_reported_as_ambiguous_with_both(engine) -> None:
    execute(engine, *BY_ID["fk-two-equal-parents"].setup)
    finding = _findings(engine, data=False)[("invoice", ("customer_id",))]
    named = {finding.target["table"], *(name.split(".")[-2] for name in finding.evidence["also_possible"])}
    assert named == {"crm_customer", "shop_customer"}
    assert "ambiguous" in finding.message
    # Ambiguity costs confidence: never an error-level certainty.
    assert finding.confidence < MissingForeignKey.ERROR_AT


def test_roles_with_no_name_tie_need_the_values(engine) -> None:
    execute(engine, *BY_ID["fk-role-found-from-values"].setup)
    assert _findings(engine, data=False) == {}
    found = _findings(engine, data=True)
    rep = found[("customer", ("support_rep_id",))]
    assert rep.target == {"table": "employee", "columns": ["id"]}
    assert any("distinct values are keys of employee.id" in signal for signal in rep.evidence["signals"])
    assert rep.evidence["orphan_rows"] == 0
    boss = found[("employee", ("reports_to",))]
    assert boss.target["table"] == "employee"


def test_a_loop_is_no_hierarchy(engine) -> None:
    """The same shape as reports_to, but 1 -> 2 -> 3 -> 1: a count or a version, not who reports to whom."""
    execute(engine, "CREATE TABLE employee (id INTEGER PRIMARY KEY, reports_to INTEGER)",
            "INSERT INTO employee VALUES (1, 2), (2, 3), (3, 1), (4, NULL)")
    assert _findings(engine, data=True) == {}


def test_chinook_without_its_keys_is_recovered_entirely_with_its_data(engine_name: str, engine_url) -> None:
    """With the rows, the two references no name ties (SupportRepId, ReportsTo -> Employee) come back too: 11 of
    11, nothing else, and every finding with no orphan."""
    load("chinook", engine_name, engine_url)
    engine = create_engine(engine_url)
    try:
        snapshot = build_snapshot(engine)
        declared = {(t.name.lower(), fk.columns, fk.referred_table.lower()) for t in snapshot.tables
                    for fk in t.foreign_keys}
        stripped = dataclasses.replace(snapshot, tables=tuple(dataclasses.replace(t, foreign_keys=())
                                                              for t in snapshot.tables))
        with engine.connect() as connection:
            report = run_rules(stripped, [MissingForeignKey], url="-", probe=Probe(connection))
    finally:
        engine.dispose()
    found = {(f.table.lower(), f.columns, f.target["table"].lower()) for f in report.findings}
    assert len(declared) == 11 and found == declared
    assert all(f.evidence["orphan_rows"] == 0 for f in report.findings)


def test_indexed_columns_no_name_ties_are_weak_guesses_the_values_refute(engine) -> None:
    """Without data the schema alone suggests them, as warnings saying why; with data the values drop both."""
    execute(engine, *BY_ID["fk-unnamed-indexed-columns-refuted-by-values"].setup)
    guessed = _findings(engine, data=False)
    assert set(guessed) == {("employee", ("rank",)), ("visit", ("session_id",))}
    assert all(f.severity.value == "warning" and f.confidence < MissingForeignKey.ERROR_AT for f in guessed.values())
    assert all(any(s.startswith(MissingForeignKey.UNNAMED) for s in f.evidence["signals"]) for f in guessed.values())
    assert _findings(engine, data=True) == {}
