"""A migration rehearsal for a terminal: what was copied, the sessions' baseline, then one row per statement."""

from __future__ import annotations

from rich.console import Console
from rich.table import Table

from integrity_kit.migrations.rehearsal import Latency, Rehearsal
from integrity_kit.report.console import markup_safe, printable, recorded

FILE_WIDTH = 120
_STATUS_STYLES = {"ran": "green", "failed": "bold red", "not run": "dim"}


def render(rehearsal: Rehearsal, *, console: Console | None = None) -> str:
    """Print to ``console``; without one, return the text as a file gets it (no colour, 120 columns)."""
    if console is None:
        return recorded(lambda file_console: render(rehearsal, console=file_console), width=FILE_WIDTH)
    console.print(f"[bold]Rehearsal[/] of {len(rehearsal.revisions)} pending revision(s) on a scratch copy of "
                  f"{markup_safe(rehearsal.target)}" + (f" ({markup_safe(rehearsal.scratch)}, dropped)"
                                                        if rehearsal.scratch else ""))
    copied = [table for table in rehearsal.tables if table.why != "schema only"]
    if copied:
        console.print("copied: " + ", ".join(
            f"{markup_safe(table.name)} {table.copied:,}" + (f" of {table.rows:,} rows (sample)" if table.sampled
                                                             else " rows") for table in copied))
    for session in rehearsal.sessions:
        console.print(f"session: {markup_safe(session)}")
    for kind, latency in rehearsal.baseline.items():
        during = rehearsal.during.get(kind)
        console.print(f"{kind}s: baseline {_latency(latency)}"
                      + (f"; during the migration {_latency(during)}" if during else ""))
    if rehearsal.statements:
        table = Table(show_lines=False, expand=False)
        table.add_column("revision", no_wrap=True)
        table.add_column("statement", overflow="fold", ratio=1, min_width=24)
        table.add_column("status", no_wrap=True)
        # The waits are the longest a reader / writer operation spent inside the statement's lock window.
        for title in ("duration", "lock held", "reader wait", "writer wait"):
            table.add_column(title, justify="right", no_wrap=True)
        for run in rehearsal.statements:
            status = f"[{_STATUS_STYLES[run.status]}]{run.status}[/]"
            table.add_row(printable(run.revision), printable(run.to_dict()["sql"]), status, _seconds(run.duration),
                          _seconds(run.lock_held), _seconds(run.reader_wait), _seconds(run.writer_wait))
        console.print(table)
    for run in rehearsal.failed:
        console.print(f"[bold red]failed in rehearsal:[/] {markup_safe(run.revision)}: {markup_safe(run.error)}"
                      + (" [yellow](a table it names holds a sample of its rows: the failure may come from the "
                         "sample, e.g. a parent row that was not copied)[/]" if run.may_come_from_sample else ""))
    for message, count in rehearsal.session_errors.items():
        console.print(f"[yellow]session error ({count}x): {markup_safe(message)}[/]")
    for item in rehearsal.not_analysed:
        console.print(f"[yellow]not rehearsed: {markup_safe(item['object'])}: {markup_safe(item['reason'])}[/]")
    for note in rehearsal.notes:
        console.print(f"[yellow]{markup_safe(note)}[/]")
    return ""


def _latency(latency: Latency) -> str:
    failed = f", {latency.failed} failed" if latency.failed else ""
    return (f"median {_seconds(latency.median)}, max {_seconds(latency.longest)} "
            f"({latency.operations} operations{failed})")


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value * 1000:.1f} ms" if value < 1 else f"{value:.2f} s"
