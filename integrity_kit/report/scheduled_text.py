"""A scheduled race for people: each step of the two buyers, then the invariants."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from integrity_kit.races.scheduled_race import ScheduledReport
from integrity_kit.report.console import printable, recorded

FILE_WIDTH = 120


def render(reports: Sequence[ScheduledReport], *, console: Console | None = None) -> str:
    """Print every report to ``console``; without one, the text a file gets."""
    if console is None:
        return recorded(lambda file_console: render(reports, console=file_console), width=FILE_WIDTH)
    for report in reports:
        render_scheduled(console, report)
    return ""


def render_scheduled(console: Console, report: ScheduledReport) -> None:
    result = report.result
    console.print(f"[bold]{result.strategy}[/] on {result.dialect} {result.server_version} at "
                  f"{result.isolation_level}, scheduled: two buyers, {result.initial_stock} in stock")
    for line in report.trace:
        console.print(f"  {printable(line)}", markup=False)
    console.print(f"  orders {result.orders_placed}, units sold {result.units_sold}, final stock "
                  f"{result.final_stock}, lost updates {result.lost_updates}, oversold {result.oversold_units}")
    verdict = "[green]invariants held[/]" if result.invariants_held else "[bold red]invariants BROKEN[/]"
    console.print(f"  {verdict}: {printable(report.how)}")
    for note in result.notes:
        console.print(f"  note: {printable(note)}")
