"""Helpers the audit tests share: audit through the library and see what it sent, and the findings as keys."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine

from integrity_kit.audit import Report, audit
from tests.db import statements_sent


def audited(engine: Engine, **options: Any) -> tuple[Report, list[str]]:
    """Audit through the library and return every statement the audit sent."""
    with statements_sent(engine) as sent:
        report = audit(engine, **options)
    return report, sent


def keys(report: Report, *rules: str) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(f.rule, f.table, f.columns) for f in report.findings if not rules or f.rule in rules}
