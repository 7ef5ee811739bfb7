"""Real public schemas (chinook, sakila) on every engine: they load, the audit reads them, and with their foreign
keys taken away the missing-foreign-key rule recovers most of them with few wrong guesses."""

from __future__ import annotations

import pytest

from integrity_kit.audit import audit
from tests.audit.corpus import fk_recovery, load


@pytest.mark.parametrize("schema", ["chinook", "sakila"])
def test_foreign_keys_are_recovered(schema: str, engine_name: str, engine_url) -> None:
    load(schema, engine_name, engine_url)
    recovery = fk_recovery(engine_url)
    assert len(recovery.declared) == {"chinook": 11, "sakila": 22}[schema]
    # Chinook's SupportRepId -> Employee and ReportsTo -> Employee carry no name of their target: their indexes
    # and types find them (weakly: warnings), and the values confirm them (test_fk_inference).
    assert recovery.recall >= 0.95
    assert recovery.precision >= 0.9


@pytest.mark.parametrize("schema", ["chinook", "sakila"])
def test_the_intact_schemas_audit_without_crashing_or_inventing_keys(schema: str, engine_name: str,
                                                                     engine_url) -> None:
    load(schema, engine_name, engine_url)
    report = audit(engine_url.render_as_string(hide_password=False))
    assert report.tables >= 11
    # Every key these schemas need is declared; sakila's film_text is a full-text copy of film, not a reference.
    guessed = {(f.table.lower(), f.columns) for f in report.findings if f.rule == "missing-foreign-key"}
    assert guessed == set()
    assert all(item.object for item in report.not_analysed)
