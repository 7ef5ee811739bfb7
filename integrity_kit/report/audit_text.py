"""The audit report for a terminal: grouped by table, severity in colour, a summary; readable at 80 columns."""

from __future__ import annotations

from itertools import groupby

from rich.console import Console
from rich.text import Text

from integrity_kit.audit.runner import Report
from integrity_kit.report.console import SEVERITY_STYLES, markup_safe, printable, recorded

FILE_WIDTH = 100
GROUP_AT = 2  # not-analysed entries sharing one reason from this many on are printed as one line
SHOWN_IN_GROUP = 4


def render(report: Report, *, console: Console | None = None, show_fixes: bool = True) -> str:
    """Print to ``console``; without one, return the text as a file gets it (no colour, 100 columns)."""
    if console is None:
        return recorded(lambda file_console: render(report, console=file_console, show_fixes=show_fixes),
                        width=FILE_WIDTH)
    version = f" {report.server_version}" if report.server_version else ""
    console.print(Text(printable(f"{report.url} ({report.dialect}{version}), schemas: {', '.join(report.schemas)}"),
                       style="bold"))
    by_table = groupby(sorted(report.findings, key=lambda f: (f.schema or "", f.table)),
                       key=lambda f: (f.schema, f.table))
    for (schema, table), findings in by_table:
        console.print()
        console.print(Text(printable(f"{schema}.{table}" if schema else table), style="bold underline"))
        for finding in sorted(findings, key=lambda f: (-f.severity.rank, f.code)):
            line = Text("  ")
            line.append(f"{finding.severity.value:<7}", style=SEVERITY_STYLES[finding.severity.value])
            line.append(f" {finding.code} {finding.rule}", style="dim")
            if finding.columns:
                line.append(printable(f" ({', '.join(finding.columns)})"))
            console.print(line)
            console.print(Text(f"    {printable(finding.message)}"))
            if finding.confidence < 1:
                console.print(Text(f"    confidence {finding.confidence:.2f}: "
                                   f"{printable('; '.join(finding.evidence.get('signals', [])))}", style="dim"))
            if show_fixes and finding.fix:
                for fix_line in finding.fix.sql.splitlines():
                    # SQL is never wrapped, even on a terminal: copied from a log it must still run.
                    console.print(Text(f"    {printable(fix_line)}", style="green"), soft_wrap=True)
    for reason, objects in _by_reason(report):
        if len(objects) < GROUP_AT:
            for name in objects:
                console.print(f"[magenta]not analysed[/] {markup_safe(name)}: {markup_safe(reason)}")
            continue
        # One line for one cause: a role without SELECT on 40 tables is one fact, not 40 lines to scroll past.
        shown = ", ".join(objects[:SHOWN_IN_GROUP]) + (f", and {len(objects) - SHOWN_IN_GROUP} more"
                                                      if len(objects) > SHOWN_IN_GROUP else "")
        console.print(f"[magenta]not analysed[/] {len(objects)} objects ({markup_safe(shown)}): "
                      f"{markup_safe(reason)}; --format json lists each")
    counts = report.by_severity()
    console.print()
    summary = Text(f"{report.tables} table(s), {len(report.findings)} finding(s): ")
    for index, (severity, count) in enumerate(counts.items()):
        summary.append(f"{count} {severity}", style=SEVERITY_STYLES[severity] if count else "dim")
        if index < len(counts) - 1:
            summary.append(", ")
    if report.not_analysed:
        summary.append(f"; partial: {len(report.not_analysed)} not analysed", style="magenta")
    if report.baseline_hidden:
        summary.append(f"; {report.baseline_hidden} known finding(s) hidden by the baseline", style="dim")
    console.print(summary)
    return ""


def _by_reason(report: Report) -> list[tuple[str, list[str]]]:
    """The not-analysed entries grouped by reason, in the order each reason first appears."""
    groups: dict[str, list[str]] = {}
    for item in report.not_analysed:
        groups.setdefault(item.reason, []).append(item.object)
    return list(groups.items())

