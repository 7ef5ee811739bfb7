"""The migration linter's result for a terminal: one line per finding with its safe sequence, then a summary."""

from __future__ import annotations

from rich.console import Console

from integrity_kit.migrations.linter import LintResult
from integrity_kit.report.console import SEVERITY_STYLES, markup_safe, recorded

FILE_WIDTH = 120


def render(result: LintResult, *, console: Console | None = None) -> str:
    """Print to ``console``; without one, return the text as a file gets it (no colour, 120 columns)."""
    if console is None:
        return recorded(lambda file_console: render(result, console=file_console), width=FILE_WIDTH)
    for finding in result.findings:
        style = SEVERITY_STYLES[finding.severity.value]
        console.print(f"[bold]{markup_safe(finding.path)}:{finding.line}[/] [{style}]{finding.code}[/] "
                      f"[{style}]{finding.rule}[/] {markup_safe(finding.message)}"
                      + (" [dim](rendered SQL)[/]" if finding.source == "sql" else ""))
        for blocker in (finding.blockers or ())[:3]:
            console.print(f"    [yellow]in the way now: {markup_safe(_blocker(blocker))}[/]")
        if finding.fix:
            for line in finding.fix.splitlines():
                console.print(f"    [green]{markup_safe(line)}[/]")
    for finding in result.unexplained_ignores:
        console.print(f"[bold]{markup_safe(finding.path)}:{finding.line}[/] [yellow]ignore comment for {finding.rule} "
                      "has no reason, so it ignores nothing[/]")
    for item in result.not_analysed:
        console.print(f"[yellow]not analysed: {markup_safe(item['object'])}: {markup_safe(item['reason'])}[/]")
    for note in result.notes:
        console.print(f"[yellow]{markup_safe(note)}[/]")
    console.print(markup_safe(result.summary_line()) + (f", {len(result.not_analysed)} not analysed (listed above)"
                                                        if result.not_analysed else ""))
    count = len(result.findings)
    summary = (f"{len(result.revisions)} revision(s) linted for {result.dialect}: "
               f"{count} finding(s), {len(result.ignored)} ignored with a reason")
    console.print(f"[{'bold red' if count else 'bold green'}]{markup_safe(summary)}[/]")
    return ""


def _blocker(blocker: dict) -> str:
    age = f", {blocker['age_seconds']:.0f} s" if blocker.get("age_seconds") is not None else ""
    where = "" if blocker.get("scope", "table") == "table" else " (open on the server, not proven to touch this table)"
    query = f": {blocker['query']}" if blocker.get("query") else ""
    return f"pid {blocker['pid']} ({blocker.get('state') or 'state unknown'}{age}, {blocker.get('mode') or 'lock ?'})" \
        f"{where}{query}"
