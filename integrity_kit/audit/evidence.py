"""Evidence from the data for every finding that proposes a constraint: would adding it today succeed?

A missing foreign key with zero orphans over many rows is a safe change, and more likely a real key; one with
orphans needs a clean-up first, and the finding says which rows. Probes run on the audit's read-only connection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

from integrity_kit.audit import fixes
from integrity_kit.audit.model import Finding, Fix
from integrity_kit.audit.probes import Evidence, Probe, ProbeFailed
from integrity_kit.schema import NotAnalysed, Snapshot, Table

MAX_STATUSES = 20
# The rules whose findings propose adding something the data may already break.
PROPOSING = ("missing-foreign-key", "missing-unique-constraint", "missing-not-null", "missing-check-constraint",
             "nullable-unique-column", "float-for-money")


def gather(findings: list[Finding], snapshot: Snapshot, probe: Probe,
           on_progress: Callable[[int, int], None] | None = None) -> tuple[list[Finding], list[NotAnalysed]]:
    """The findings with their evidence added (in the same order), and the probes that could not finish."""
    todo = [index for index, finding in enumerate(findings) if finding.rule in PROPOSING]
    result, problems = list(findings), []
    for done, index in enumerate(todo, start=1):
        finding = findings[index]
        try:
            result[index] = _with_evidence(finding, snapshot, probe)
        except ProbeFailed as error:
            problems.append(NotAnalysed(f"evidence for {finding.rule} on {finding.table}({', '.join(finding.columns)})",
                                        f"probe failed: {error}"))
        except KeyError:  # the finding names an object the snapshot does not hold (schema-drift and the like)
            pass
        if on_progress:
            on_progress(done, len(todo))
    return result, problems


def _with_evidence(finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding:
    table = snapshot.table(finding.table, finding.schema)
    columns = finding.columns
    dialect = snapshot.dialect
    if finding.rule == "missing-foreign-key":
        target = snapshot.table(finding.target["table"], finding.target.get("schema"))
        target_columns = tuple(finding.target["columns"])
        seen = probe.orphans(table, columns, target, target_columns)
        return _judged(finding, seen, "orphan_rows", "orphan row(s)", confidence_step=0.05,
                       clean_up=fixes.delete_orphans(dialect, table, columns, target, target_columns))
    if finding.rule == "missing-unique-constraint":
        seen = probe.duplicates(table, columns)
        keep_by = table.primary_key.columns[0] if table.primary_key and table.primary_key.columns else columns[0]
        return _judged(finding, seen, "duplicate_groups", "duplicated value(s)",
                       clean_up=fixes.delete_duplicates(dialect, table, columns, keep_by))
    if finding.rule in ("missing-not-null", "nullable-unique-column"):
        seen = probe.violations(table, f"{fixes.quote(dialect, columns[0])} IS NOT NULL")
        return _judged(finding, seen, "null_rows", "NULL(s)", clean_up=_review(table, dialect, "backfill the NULLs"))
    if finding.rule == "missing-check-constraint":
        condition = _condition_of(finding)
        if condition is None:
            return _with_values_in_use(finding, table, probe, dialect)
        seen = probe.violations(table, condition)
        return _judged(finding, seen, "violating_rows", "row(s) breaking it",
                       clean_up=_review(table, dialect, "correct the rows that break it"))
    if finding.rule == "float-for-money":
        seen = probe.violations(table, _exact_cents(dialect, fixes.quote(dialect, columns[0])))
        return _judged(finding, seen, "inexact_values", "value(s) with fractions of a cent", blocks=False)
    return finding


def _judged(finding: Finding, seen: Evidence, key: str, noun: str, *, confidence_step: float = 0.0,
            clean_up: Fix | None = None, blocks: bool = True) -> Finding:
    evidence = {**finding.evidence, **seen.to_dict(key)}
    if seen.count:
        verdict = (f"; adding it today would fail: {seen.count} {noun} in {seen.rows_checked} rows, e.g. "
                   f"{seen.samples[:3]}") if blocks else f"; {seen.count} {noun} in {seen.rows_checked} rows"
        fix = finding.fix
        if blocks and clean_up is not None and fix is not None:
            fix = Fix(f"{clean_up.sql}\n{fix.sql}", f"{clean_up.alembic}\n{fix.alembic}")
        return dataclasses.replace(finding, message=finding.message + verdict, evidence=evidence, fix=fix)
    confidence = finding.confidence
    if confidence_step and seen.rows_checked:
        confidence = min(0.99, confidence + confidence_step)
    verdict = (f"; adding it today would succeed: 0 {noun} in {seen.rows_checked} rows" if blocks
               else f"; every value is exact to the cent today ({seen.rows_checked} rows)")
    return dataclasses.replace(finding, message=finding.message + verdict, evidence=evidence, confidence=confidence)


def _with_values_in_use(finding: Finding, table: Table, probe: Probe, dialect: str) -> Finding:
    """A status CHECK needs the set of statuses: offer the values in use today, for a person to confirm."""
    values = probe.distinct(table, finding.columns[0], limit=MAX_STATUSES + 1)
    if not values or len(values) > MAX_STATUSES:
        return finding
    condition = (f"{fixes.quote(dialect, finding.columns[0])} IN "
                 f"({', '.join(_sql_string(value) for value in values)})")
    return dataclasses.replace(
        finding, message=finding.message.replace("…the statuses the app uses…", ", ".join(map(str, values))) +
        " (the values in use today: confirm the set)",
        evidence={**finding.evidence, "condition": condition, "values_in_use": values},
        fix=fixes.add_check(dialect, table, finding.columns[0], condition))


def _sql_string(value) -> str:
    return "'" + str(value).replace("'", "''") + "'"


def _condition_of(finding: Finding) -> str | None:
    condition = finding.evidence.get("condition")
    return None if not condition or "…" in condition else condition


def _exact_cents(dialect: str, column: str) -> str:
    if dialect == "postgresql":  # round() takes numeric, not double precision, with a scale
        return f"CAST({column} AS NUMERIC) = ROUND(CAST({column} AS NUMERIC), 2)"
    return f"{column} = ROUND({column}, 2)"


def _review(table: Table, dialect: str, what: str) -> Fix:
    return Fix(f"-- first {what} in {fixes.qualified_table(dialect, table)}",
               f"# first {what} in {table.name} (its own revision)")
