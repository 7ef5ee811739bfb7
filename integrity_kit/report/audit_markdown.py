"""The audit report as Markdown, sized for a pull-request comment: the counts, then the findings that matter most."""

from __future__ import annotations

from integrity_kit.audit.runner import Report

MOST = 25
ICONS = {"error": "🔴", "warning": "🟡", "info": "🔵"}


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def render(report: Report, *, most: int = MOST) -> str:
    counts = report.by_severity()
    lines = [f"### integrity-kit audit: {report.url}", "",
             f"{report.tables} table(s) on {report.dialect} {report.server_version or ''}".rstrip() + ": "
             + ", ".join(f"{ICONS[severity]} {count} {severity}" for severity, count in counts.items()), ""]
    if not report.findings:
        lines.append("No findings.")
    else:
        lines += ["| | rule | object | finding |", "|---|---|---|---|"]
        for finding in report.findings[:most]:
            target = f"{finding.schema + '.' if finding.schema else ''}{finding.table}"
            if finding.columns:
                target += f"({', '.join(finding.columns)})"
            lines.append(f"| {ICONS[finding.severity.value]} | `{finding.code}` {finding.rule} | `{_cell(target)}` "
                         f"| {_cell(finding.message)} |")
        if len(report.findings) > most:
            lines += ["", f"…and {len(report.findings) - most} more (`integrity-kit audit --format json` lists all)."]
    if report.not_analysed:
        lines += ["", f"Not analysed: {len(report.not_analysed)} object(s)."]
    if report.baseline_hidden:
        lines += ["", f"{report.baseline_hidden} known finding(s) hidden by the baseline."]
    return "\n".join(lines) + "\n"
