"""A race for people: one result as a short report, several side by side as one table."""

from __future__ import annotations

from collections.abc import Sequence

from rich import box
from rich.console import Console
from rich.table import Table

from integrity_kit.races.result import RaceResult
from integrity_kit.report.console import printable, recorded

FILE_WIDTH = 120


def render(results: Sequence[RaceResult], *, console: Console | None = None) -> str:
    """One result as a report, several side by side; without ``console``, the text a file gets."""
    if console is None:
        return recorded(lambda file_console: render(results, console=file_console), width=FILE_WIDTH)
    if len(results) == 1:
        render_one(console, results[0])
    else:
        render_many(console, results)
    return ""


def _errors(result: RaceResult) -> str:
    return printable(", ".join(f"{code}×{count}" for code, count in sorted(result.errors.items()))) or "-"


def _verdict(result: RaceResult) -> str:
    return "[green]held[/]" if result.invariants_held else "[bold red]BROKEN[/]"


def render_one(console: Console, result: RaceResult) -> None:
    console.print(f"[bold]{result.strategy}[/] on {result.dialect} {result.server_version} at "
                  f"{result.isolation_level}: {result.workers} workers, {result.attempts} checkouts of 1 unit, "
                  f"{result.initial_stock} in stock")
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(justify="right")
    rows = [("orders placed", result.orders_placed), ("units sold", result.units_sold),
            ("final stock", result.final_stock), ("oversold units", result.oversold_units),
            ("lost updates", result.lost_updates), ("rejected (out of stock)", result.rejected),
            ("retries", result.retries), ("errors", _errors(result)),
            ("orders/s", f"{result.orders_per_s:.1f}"), ("duration", f"{result.duration_s:.2f} s")]
    for label, value in rows:
        table.add_row(label, str(value))
    console.print(table)
    for invariant in result.invariants:
        mark = "[green]ok[/]    " if invariant.held else "[bold red]BROKEN[/]"
        console.print(f"  {mark} {printable(invariant.name)}  ({printable(invariant.detail)})")
    console.print(f"invariants {_verdict(result)} (checked against the database after the run)")
    for note in result.notes:
        console.print(f"note: {printable(note)}")


def render_many(console: Console, results: Sequence[RaceResult]) -> None:
    """Strategies side by side, one column each (fits an 80-column terminal; long values wrap in their cell)."""
    first = results[0]
    console.print(f"{first.dialect} {first.server_version}: {first.workers} workers, {first.attempts} checkouts "
                  f"of 1 unit, {first.initial_stock} in stock")
    narrow = console.width < 100
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False, padding=(0, 0) if narrow else (0, 1))
    table.add_column("", style="bold", no_wrap=True)
    for result in results:
        # On a narrow terminal names break at their hyphens and long values wrap, so nothing is cut off.
        header = result.strategy.replace("-", "-\n") if narrow else result.strategy
        table.add_column(header, justify="right", min_width=max(map(len, header.splitlines())))
    rows = [
        ("isolation", lambda r: r.isolation_level),
        ("orders", lambda r: str(r.orders_placed)),
        ("units sold", lambda r: str(r.units_sold)),
        ("oversold", lambda r: str(r.oversold_units)),
        ("lost updates", lambda r: str(r.lost_updates)),
        ("rejected", lambda r: str(r.rejected)),
        ("retries", lambda r: str(r.retries)),
        ("errors by code", _errors),
        ("orders/s", lambda r: f"{r.orders_per_s:.1f}"),
        ("invariants", _verdict),
    ]
    for label, cell in rows:
        values = [cell(result) for result in results]
        if narrow:  # pre-wrapped at spaces, so every column is as narrow as its header and nothing is cut
            values = [value.replace(", ", "\n").replace(" ", "\n") if "[" not in value else value
                      for value in values]
        table.add_row(label, *values)
    console.print(table)
    for note in first.notes:
        console.print(f"note: {printable(note)}")
