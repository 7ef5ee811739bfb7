"""One fingerprint policy for both rule families: what a finding is about, never how it is worded."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from integrity_kit.migrations import lint

UNSAFE = Path(__file__).with_name("fixtures") / "unsafe"


def test_rewording_a_message_keeps_the_fingerprint() -> None:
    findings = lint(UNSAFE, dialect="postgresql", render_sql=True).findings
    assert findings
    for finding in findings:
        reworded = dataclasses.replace(finding, message="said differently: " + finding.message.upper(),
                                       fix=None, line=finding.line + 3)
        assert reworded.fingerprint == finding.fingerprint, finding.rule


def test_findings_of_one_run_have_distinct_fingerprints_per_operation() -> None:
    findings = lint(UNSAFE, dialect="postgresql", render_sql=False).findings
    prints = [finding.fingerprint for finding in findings]
    assert len(set(prints)) == len(prints)
    again = [finding.fingerprint for finding in lint(UNSAFE, dialect="postgresql", render_sql=False).findings]
    assert again == prints
