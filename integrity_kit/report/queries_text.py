"""A :class:`~integrity_kit.queries.capture.QueryLog` for people: the N+1 patterns with their fixes, the duplicates."""

from __future__ import annotations

from rich.console import Console

from integrity_kit.queries.capture import QueryLog
from integrity_kit.report.console import markup_safe, recorded


def _one_line(sql: str) -> str:
    return " ".join(sql.split())


def render(log: QueryLog, *, console: Console | None = None, show_statements: bool = False) -> str:
    """Print to ``console``; without one, the text a file gets (no colour, lines never wrapped)."""
    if console is None:
        # A fix is code to paste: wrapped at 80 columns it is no longer valid code, so a file gets whole lines.
        return recorded(lambda file_console: render(log, console=file_console, show_statements=show_statements),
                        width=None, soft_wrap=True)
    n_plus_one = log.n_plus_one
    duplicates = log.duplicates
    total_ms = sum(s.duration for s in log.statements) * 1000
    console.print(
        f"[bold]{len(log.statements)}[/] statements ({total_ms:.1f} ms in the database), "
        f"[bold]{len(n_plus_one)}[/] N+1 pattern(s), [bold]{len(duplicates)}[/] duplicate(s)"
    )
    if not log.statements:
        console.print("[yellow]No SQL was captured: did the program use SQLAlchemy?[/]")
    for number, finding in enumerate(n_plus_one, 1):
        what = finding.relationship or {"lookup": "one query per row", "count": "a COUNT per row",
                                        "column": "a column load per row"}.get(finding.kind, "repeated query")
        console.print()
        console.print(f"[bold red]N+1 #{number}[/] {markup_safe(what)}: [bold]{finding.count}[/] similar queries "
                      f"from [cyan]{markup_safe(finding.location or '<unknown>')}[/]")
        console.print(f"  [green]fix:[/] {markup_safe(finding.fix)}")
        if finding.explanation:
            console.print(f"  [dim]{markup_safe(finding.explanation)}[/]")
        console.print(f"  [dim]sample:[/] {markup_safe(_one_line(finding.sample_sql))}")
    for duplicate in duplicates:
        console.print()
        console.print(f"[bold yellow]duplicate[/] sent {duplicate.count} times from "
                      f"[cyan]{markup_safe(', '.join(duplicate.locations) or '<unknown>')}[/]")
        console.print(f"  [dim]sql:[/] {markup_safe(_one_line(duplicate.sql))}  [dim]parameters:[/] "
                      f"{markup_safe(repr(duplicate.parameters))}")
    if show_statements and log.statements:
        console.print()
        console.print("[bold]statements[/]")
        for number, statement in enumerate(log.statements, 1):
            # one line per statement, never wrapped, so it can be grepped and diffed
            console.print(f"{number:>4}. {markup_safe(statement.location or '?')}  {statement.duration * 1000:.2f} ms  "
                          f"{markup_safe(_one_line(statement.sql))}", soft_wrap=True)
    return ""
