from __future__ import annotations

from integrity_kit.audit import Report, audit
from tests.db import execute, plain_engine_fixture, statements_sent

__all__ = ["audited", "execute", "keys", "plain_engine_fixture"]


def audited(engine, **options) -> tuple[Report, list[str]]:
    """Audit through the library and return every statement the audit sent."""
    with statements_sent(engine) as sent:
        report = audit(engine, **options)
    return report, sent


def keys(report: Report, *rules: str) -> set[tuple[str, str, tuple[str, ...]]]:
    return {(f.rule, f.table, f.columns) for f in report.findings if not rules or f.rule in rules}
