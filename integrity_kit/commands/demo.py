"""The ``integrity-kit demo`` command: a thin layer over :class:`integrity_kit.demo.Demo`."""

from __future__ import annotations

import tempfile
from pathlib import Path

import click
from rich.console import Console

from integrity_kit.demo.story import Demo

DEMO_ROWS = 5_000  # enough for every kind of damage and the N+1 to show; the whole demo stays in seconds


@click.command("demo", short_help="The whole story on an embedded SQLite database, no setup.")
@click.option("--db", "database_url", metavar="URL", default=None,
              help="Run on this database instead of a new SQLite file (the app's tables are created in it; "
                   "existing ones are only dropped with --reset).")
@click.option("--keep", "keep_dir", metavar="DIR", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Leave the database (shop.db when no --db), the HTML audit report and the fix migration in DIR.")
@click.option("--reset", is_flag=True, help="Drop the reference app's tables first if the database already has them.")
@click.option("--rows", type=click.IntRange(min=100), default=DEMO_ROWS, show_default=True,
              help="Approximate number of sample rows in the legacy shop.")
@click.pass_context
def demo_command(ctx: click.Context, database_url: str | None, keep_dir: Path | None, reset: bool,
                 rows: int) -> None:
    """Build the legacy reference shop, audit it with evidence from its data, find the N+1 in its product page,
    race its checkout naive and locked, clean the data and apply the fix migration the audit wrote, then audit
    again. Every number is measured during the run.

    Exit codes: 0 every step worked, 1 a step failed (it says which), 2 bad input.
    """
    probe = Console(emoji=False)
    console = Console(emoji=False, highlight=False, width=None if probe.is_terminal else 100)
    status = Console(emoji=False, stderr=True)
    debug = bool(ctx.obj and ctx.obj.get("debug"))
    with tempfile.TemporaryDirectory(prefix="integrity-kit-demo-") as scratch:
        workdir = keep_dir or Path(scratch)
        workdir.mkdir(parents=True, exist_ok=True)
        url = database_url or f"sqlite:///{(workdir / 'shop.db').resolve()}"
        demo = Demo(url, workdir, console=console, status=status, rows=rows, keep=keep_dir is not None,
                    reset=reset, debug=debug)
        demo.preflight()
        result = demo.run()
    ctx.exit(0 if result.failed_step is None else 1)
