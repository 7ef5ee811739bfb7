"""Inline ignores: ``# integrity-kit: ignore[rule-or-code, ...] reason``. An ignore without a reason ignores
nothing, so every silenced finding says why in the code review."""

from __future__ import annotations

import re

from integrity_kit.migrations.model import Finding, Revision

PATTERN = re.compile(r"#\s*integrity-kit:\s*ignore\[([^\]]+)\]\s*(.*)$")


def ignores_for(revision: Revision) -> dict[int, tuple[set[str], str]]:
    found = {}
    for number, line in enumerate(revision.source_lines, start=1):
        match = PATTERN.search(line)
        if match:
            keys = {key.strip() for key in match.group(1).split(",") if key.strip()}
            found[number] = (keys, match.group(2).strip())
    return found


def call_lines(revision: Revision) -> dict[int, range]:
    """The lines of every call in the revision, so an ignore anywhere on a multi-line call covers it."""
    spans = {}
    for op in revision.upgrade + (revision.downgrade or []):
        spans[op.line] = op.lines
    return spans


def apply(revision: Revision, findings: list[Finding]) -> tuple[list[Finding], list[tuple[Finding, str]],
                                                                list[Finding]]:
    """Split findings into (kept, (ignored, reason), kept-because-the-ignore-has-no-reason)."""
    comments = ignores_for(revision)
    spans = call_lines(revision)
    kept, ignored, unexplained = [], [], []
    for finding in findings:
        lines = list(spans.get(finding.line, range(finding.line, finding.line + 1)))
        candidates = [finding.line - 1, *lines]
        match = None
        for number in candidates:
            keys, reason = comments.get(number, (set(), ""))
            if finding.code in keys or finding.rule in keys:
                match = reason
                break
        if match is None:
            kept.append(finding)
        elif match:
            ignored.append((finding, match))
        else:
            kept.append(finding)
            unexplained.append(finding)
    return kept, ignored, unexplained
