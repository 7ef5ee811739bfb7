"""The audit report as SARIF 2.1.0, for code-scanning UIs: one result per finding, located by the database object
it is about, fingerprinted by the finding's stable fingerprint."""

from __future__ import annotations

from integrity_kit.audit.model import Finding
from integrity_kit.audit.registry import RULES
from integrity_kit.audit.runner import Report
from integrity_kit.report import sarif


def object_path(finding: Finding) -> str:
    """``schema/table/column``: where the finding is, as a path a UI can group by."""
    parts = [finding.schema or "", finding.table, ",".join(finding.columns)]
    return "/".join(part for part in parts if part)


def render(report: Report) -> str:
    index = sarif.rule_index(RULES)
    results = []
    for finding in report.findings:
        text = finding.message + (f"\nFix:\n{finding.fix.sql}" if finding.fix else "")
        location = {"logicalLocations": [{"fullyQualifiedName": object_path(finding).replace("/", "."),
                                          "kind": "member" if finding.columns else "type"}],
                    # A database has no files; the object path under a DATABASE base keeps UIs that insist on a
                    # physical location working, and groups findings by table.
                    "physicalLocation": {"artifactLocation": {"uri": object_path(finding), "uriBaseId": "DATABASE"}}}
        results.append({"ruleId": finding.code, "ruleIndex": index[finding.code],
                        "level": sarif.level(finding.severity), "message": {"text": text},
                        "locations": [location], "partialFingerprints": {"integrityKit/v1": finding.fingerprint},
                        "properties": {"confidence": finding.confidence, "evidence": finding.evidence,
                                       **({"alembic": finding.fix.alembic} if finding.fix else {})}})
    return sarif.render(RULES, results, run={
        "originalUriBaseIds": {"DATABASE": {"description": {"text": report.url}}},
        "properties": {"database": {"url": report.url, "dialect": report.dialect,
                                    "server_version": report.server_version}}})
