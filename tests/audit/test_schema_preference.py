"""Auditing more schemas does not weaken a finding: a reference target in the table's own schema is preferred over
a same-named table in another audited schema, so the finding stays an error instead of an ambiguous warning."""

from __future__ import annotations

import pytest

from integrity_kit.audit import audit
from tests.db import execute

pytestmark = pytest.mark.engines("postgresql")


def _missing_fks(report) -> dict[tuple[str | None, str, str], tuple[str, str | None]]:
    return {(f.schema, f.table, f.columns[0]): (f.severity.value, (f.target or {}).get("schema"))
            for f in report.findings if f.rule == "missing-foreign-key"}


def test_same_schema_target_wins_without_an_ambiguity_downgrade(engine) -> None:
    execute(engine, *[statement for schema in ("shop", "archive") for statement in (
        f"CREATE SCHEMA {schema}",
        f"CREATE TABLE {schema}.users (id INTEGER PRIMARY KEY)",
        f"CREATE TABLE {schema}.orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL)",
    )])
    alone = _missing_fks(audit(engine, schemas=["shop"], data=False))
    both = _missing_fks(audit(engine, schemas=["shop", "archive"], data=False))
    assert alone == {("shop", "orders", "user_id"): ("error", "shop")}
    assert both == {("shop", "orders", "user_id"): ("error", "shop"),
                    ("archive", "orders", "user_id"): ("error", "archive")}


def test_a_target_only_in_another_schema_is_still_found(engine) -> None:
    execute(engine, "CREATE SCHEMA shop", "CREATE SCHEMA accounts",
            "CREATE TABLE accounts.users (id INTEGER PRIMARY KEY)",
            "CREATE TABLE shop.orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL)")
    found = _missing_fks(audit(engine, schemas=["shop", "accounts"], data=False))
    assert found[("shop", "orders", "user_id")][1] == "accounts"
