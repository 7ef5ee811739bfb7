"""Evidence from the data for every finding that proposes a constraint: would adding it today succeed?

A missing foreign key with zero orphans over many rows is a safe change, and more likely a real key; one with
orphans needs a clean-up first, and the finding says which rows. Each rule gathers its own findings' evidence
(``Rule.gather_evidence``); this module runs them and holds the verdict they share. Probes run on the audit's
read-only connection.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Sequence

from integrity_kit.audit.changes import Operation
from integrity_kit.audit.model import Finding, Rule
from integrity_kit.audit.probes import Evidence, Probe, ProbeFailed
from integrity_kit.schema import NotAnalysed, Snapshot

# A clean-up deleting more than this share of a table's rows is announced in the finding's first line.
DELETES_HEADLINE_SHARE = 0.10


def gather(findings: list[Finding], snapshot: Snapshot, probe: Probe, rules: Sequence[Rule],
           on_progress: Callable[[int, int], None] | None = None) -> tuple[list[Finding], list[NotAnalysed]]:
    """The findings with their evidence added (in the same order), and the probes that could not finish.
    ``rules`` are the rules that made the findings; a rule whose evidence shows the name misled it (a count
    taken for a reference, a fraction for money) returns None, and the finding is dropped."""
    by_name = {rule.name: rule for rule in rules if rule.gathers_evidence()}
    todo = [index for index, finding in enumerate(findings) if finding.rule in by_name]
    result: list[Finding | None] = list(findings)
    problems = []
    for done, index in enumerate(todo, start=1):
        finding = findings[index]
        try:
            result[index] = by_name[finding.rule].gather_evidence(finding, snapshot, probe)
        except ProbeFailed as error:
            problems.append(NotAnalysed(f"evidence for {finding.rule} on {finding.table}({', '.join(finding.columns)})",
                                        f"{error.kind}: {error}"))
        except KeyError:  # the finding names an object the snapshot does not hold (schema-drift and the like)
            pass
        if on_progress:
            on_progress(done, len(todo))
    return [finding for finding in result if finding is not None], problems


def deletion_headline(seen: Evidence) -> str:
    """`` — the clean-up deletes 77 of 77 rows (100%)`` when the clean-up would delete more than
    ``DELETES_HEADLINE_SHARE`` of the table, else nothing: a person must see that before the constraint."""
    if not seen.deletes or not seen.table_rows or seen.deletes <= DELETES_HEADLINE_SHARE * seen.table_rows:
        return ""
    return (f" — the clean-up deletes {seen.deletes} of {seen.table_rows} rows "
            f"({100 * seen.deletes / seen.table_rows:.0f}%)")


def judged(finding: Finding, seen: Evidence, key: str, noun: str, *, confidence_step: float = 0.0,
           clean_up: Operation | None = None, blocks: bool = True) -> Finding:
    """``finding`` with the probe's verdict: its evidence under ``key``, the verdict in its message, and (when
    rows stand in the way) the clean-up ``clean_up`` first among its changes."""
    evidence = {**finding.evidence, **seen.to_dict(key)}
    if seen.count:
        verdict = (f"; adding it today would fail: {seen.count} {noun} in {seen.rows_checked} rows, e.g. "
                   f"{seen.samples[:3]}") if blocks else f"; {seen.count} {noun} in {seen.rows_checked} rows"
        headline = deletion_headline(seen) if blocks and clean_up is not None else ""
        if headline:
            evidence = {**evidence, "clean_up_deletes": seen.deletes, "table_rows": seen.table_rows}
        found = dataclasses.replace(finding, message=finding.message + headline + verdict, evidence=evidence)
        if blocks and clean_up is not None and found.changes is not None:
            found = found.with_changes(found.changes.first(clean_up))
        return found
    confidence = finding.confidence
    if confidence_step and seen.rows_checked:
        confidence = min(0.99, confidence + confidence_step)
    verdict = (f"; adding it today would succeed: 0 {noun} in {seen.rows_checked} rows" if blocks
               else f"; every value is exact to the cent today ({seen.rows_checked} rows)")
    return dataclasses.replace(finding, message=finding.message + verdict, evidence=evidence, confidence=confidence)

