"""The migration linter's result as SARIF 2.1.0: one result per finding, located at its line in the revision."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from integrity_kit.migrations.linter import LintResult
from integrity_kit.migrations.rules import RULES
from integrity_kit.report import sarif


def render(result: LintResult) -> str:
    index = sarif.rule_index(RULES)
    results = []
    # Ignored findings go in as suppressed results with the reason, as code-scanning tools expect for in-source
    # suppressions, so a dismissal stays visible and reviewable.
    suppressed = {finding.fingerprint for finding in result.ignored}
    for finding in result.findings + result.ignored:
        text = finding.message + ("\nSafe sequence:\n" + finding.fix if finding.fix else "")
        entry: dict[str, Any] = {
            "ruleId": finding.code, "ruleIndex": index[finding.code], "level": sarif.level(finding.severity),
            "message": {"text": text},
            "locations": [{"physicalLocation": {"artifactLocation": {"uri": Path(finding.path).as_posix()},
                                                "region": {"startLine": finding.line}}}],
            "partialFingerprints": {"integrityKit/v1": finding.fingerprint},
            "properties": {"revision": finding.revision, "source": finding.source}}
        if finding.fingerprint in suppressed:
            entry["suppressions"] = [{"kind": "inSource",
                                      "justification": result.ignore_reasons.get(finding.fingerprint, "")}]
        results.append(entry)
    # What could not be analysed goes in as tool notifications, so a code-scanning view with no results still shows
    # that part of the history was not read rather than that nothing was found.
    notifications = [{"level": "warning", "message": {"text": f"not analysed: {item['object']}: {item['reason']}"}}
                     for item in result.not_analysed]
    notifications += [{"level": "note", "message": {"text": note}} for note in result.notes]
    run = {"invocations": [{"executionSuccessful": True, "toolExecutionNotifications": notifications}],
           "properties": {"summary": result.summary_line()}}
    return sarif.render(RULES, results, run=run)
