"""The isolation level x anomaly matrix for people: the table, then how each cell came about."""

from __future__ import annotations

from typing import TYPE_CHECKING

from rich import box
from rich.console import Console
from rich.table import Table

from integrity_kit.report.console import printable, recorded

if TYPE_CHECKING:
    from integrity_kit.races.anomalies import Matrix

FILE_WIDTH = 120


def render(matrix: Matrix, *, console: Console | None = None, verbose: bool = False) -> str:
    """Print to ``console`` (``verbose`` adds every step's trace); without one, the text a file gets."""
    if console is None:
        return recorded(lambda file_console: render(matrix, console=file_console, verbose=verbose),
                        width=FILE_WIDTH)
    render_matrix(console, matrix, verbose=verbose)
    return ""


def render_matrix(console: Console, matrix: Matrix, *, verbose: bool = False) -> None:
    """The isolation level x anomaly matrix, then how each cell came about."""
    settings = ", ".join(f"{key}={value}" for key, value in matrix.settings.items())
    console.print(f"{matrix.dialect} {matrix.server_version}" + (f" ({settings})" if settings else ""))
    levels = list(dict.fromkeys(result.isolation_level for result in matrix.results))
    anomalies = list(dict.fromkeys(result.anomaly for result in matrix.results))
    table = Table(box=box.SIMPLE_HEAD, pad_edge=False)
    table.add_column("isolation level", no_wrap=True)
    for anomaly in anomalies:
        table.add_column(anomaly, no_wrap=True)
    for level in levels:
        cells = []
        for anomaly in anomalies:
            outcome = matrix.outcome(anomaly, level)
            cells.append("[bold red]anomaly[/]" if outcome == "anomaly" else "[green]prevented[/]")
        table.add_row(level, *cells)
    console.print(table)
    for result in matrix.results:
        console.print(printable(f"{result.anomaly} at {result.isolation_level}: {result.outcome}: {result.how}"))
        if verbose:
            for line in result.trace:
                console.print(f"    {printable(line)}")
    for note in matrix.notes:
        console.print(f"note: {printable(note)}")
