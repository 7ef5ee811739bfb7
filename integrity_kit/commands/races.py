"""``integrity-kit race`` and ``integrity-kit anomalies``: thin commands over the races library."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.races.loading import DEFAULT_WORKLOAD
from integrity_kit.races.workload import Outcome
from integrity_kit.report import renderer

_FORMATS = click.Choice(["text", "json"])


@contextmanager
def _one_line_errors(url: str | None) -> Iterator[None]:
    """A database error in the middle of a run (lost connection, missing privilege) is one line and exit 2."""
    from sqlalchemy.exc import SQLAlchemyError

    from integrity_kit.connect import mask_url
    from integrity_kit.races.interleaving import ScheduleError

    try:
        yield
    except (SQLAlchemyError, ScheduleError) as error:
        where = mask_url(url) if url else "$DATABASE_URL"
        raise IntegrityKitError(f"the run on {where} failed: {first_line(error)}") from None


def _live(console: Console, enabled: bool):
    """A progress bar on stderr while the workers run (only on a terminal: logs and pipes stay clean)."""
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(),
                    TextColumn("{task.fields[tally]}"), TimeElapsedColumn(), console=console,
                    disable=not enabled, transient=True)


def _console() -> Console:
    # Pipes and files get a fixed width wide enough for the side-by-side table, so output is stable to compare.
    probe = Console(emoji=False)
    return Console(emoji=False, highlight=False, width=None if probe.is_terminal else 120)


@click.command("race", short_help="Run concurrent checkout simulations against a database.")
@click.argument("database_url", required=False, envvar="DATABASE_URL")
@click.option("--strategy", default="naive", show_default=True, metavar="NAME",
              help="naive, for-update, conditional-update, optimistic, serializable, or 'all' side by side.")
@click.option("--workers", default=8, show_default=True, type=int, help="Concurrent connections (threads).")
@click.option("--attempts", default=200, show_default=True, type=int, help="Checkouts of one unit, in total.")
@click.option("--stock", default=50, show_default=True, type=int, help="Units of the contested product.")
@click.option("--isolation", "isolation_level", default=None, metavar="LEVEL",
              help="Isolation level for every connection (default: the engine's; 'serializable' sets its own).")
@click.option("--seed", default=None, type=int, help="Seed for the think time between read and write.")
@click.option("--think-ms", default=0.0, show_default=True, type=float,
              help="Sleep up to this many ms between a checkout's read and its write, as request handling would.")
@click.option("--scheduled", is_flag=True,
              help="Instead of a stochastic race, step two buyers through the lost-update interleaving (stock 2 "
                   "unless --stock is given) and show how the strategy prevents it, or does not.")
@click.option("--workload", default=DEFAULT_WORKLOAD, show_default=True, metavar="MODULE:OBJECT",
              help="The checkout to race: a workload object (see integrity_kit.races.workload.Workload).")
@click.option("--prefix", default=None, metavar="PREFIX",
              help="Name prefix for the scratch space; giving it allows a database that holds other tables.")
@click.option("--format", "output_format", type=_FORMATS, default="text", show_default=True, help="Output format.")
def race_command(database_url: str | None, strategy: str, workers: int, attempts: int, stock: int,
                 isolation_level: str | None, seed: int | None, think_ms: float, scheduled: bool, workload: str,
                 prefix: str | None, output_format: str) -> None:
    """Race checkouts of the last units of a product on real concurrent connections to DATABASE_URL (default:
    $DATABASE_URL) and check the invariants (units sold <= stock, stock = initial - sold, stock >= 0, every order
    has items and a payment state) against the database afterwards.

    The run creates its own ik_race_* scratch schema (PostgreSQL), database (MySQL/MariaDB) or temporary file
    (SQLite) and drops it at the end. Exit code 1 when an invariant broke, 0 when all held.
    """
    from integrity_kit.races.loading import load_workload
    from integrity_kit.races.simulate import check_counts, check_strategy

    check_counts(workers, attempts, stock, think_ms)
    loaded = load_workload(workload)
    names = list(loaded.strategies()) if strategy == "all" else [check_strategy(loaded, strategy)]
    console = _console()
    if scheduled:
        from integrity_kit.races.scheduled_race import run_scheduled

        given = click.get_current_context().get_parameter_source("stock") == click.core.ParameterSource.COMMANDLINE
        with _one_line_errors(database_url):
            reports = [run_scheduled(database_url, name, workload=loaded, prefix=prefix,
                                     isolation_level=isolation_level, stock=stock if given else 2) for name in names]
        if output_format == "json":
            click.echo(renderer("race", "json")(reports))
        else:
            renderer("scheduled", "text")(reports, console=console)
        click.get_current_context().exit(0 if all(report.invariants_held for report in reports) else 1)

    from integrity_kit.races.simulate import RaceSpace

    status = Console(emoji=False, stderr=True)
    results = []
    with _one_line_errors(database_url), _live(status, status.is_terminal) as live, RaceSpace(
            database_url, workload=loaded, prefix=prefix, isolation_level=isolation_level,
            max_workers=workers) as space:
        for name in names:
            task = live.add_task(name, total=attempts, tally="")
            tally = {"ordered": 0, "rejected": 0, "error": 0}

            def advance(outcome: Outcome, task=task, tally=tally) -> None:
                tally[outcome.status] += 1
                live.update(task, advance=1, tally=f"{tally['ordered']} ordered, {tally['rejected']} rejected, "
                                                   f"{tally['error']} errors")

            results.append(space.simulate(name, workers=workers, attempts=attempts, stock=stock, seed=seed,
                                          think_ms=think_ms, progress=advance))
    if output_format == "json":
        click.echo(renderer("race", "json")(results))
    else:
        renderer("race", "text")(results, console=console)
    click.get_current_context().exit(0 if all(result.invariants_held for result in results) else 1)


@click.command("anomalies", short_help="Measure which isolation anomalies an engine allows at each level.")
@click.argument("database_url", required=False, envvar="DATABASE_URL")
@click.option("--prefix", default=None, metavar="PREFIX",
              help="Name prefix for the scratch space; giving it allows a database that holds other tables.")
@click.option("--trace", is_flag=True, help="Print every step of every schedule with what it saw.")
@click.option("--format", "output_format", type=_FORMATS, default="text", show_default=True, help="Output format.")
def anomalies_command(database_url: str | None, prefix: str | None, trace: bool, output_format: str) -> None:
    """Run Hermitage-style schedules -- P4 (lost update), G-single (read skew), G2-item (write skew) -- at every
    isolation level the engine at DATABASE_URL (default: $DATABASE_URL) offers and print which anomalies it
    allows, and how the others were prevented (a step blocked, an error aborted a transaction, or a read saw the
    right value).

    Two sessions on separate connections are stepped through one exact interleaving each, in a scratch space
    that is dropped afterwards. Always exits 0 when the matrix could be measured (an anomaly is a property of the
    level, not a finding).
    """
    from integrity_kit.races.anomalies import anomaly_matrix

    with _one_line_errors(database_url):
        matrix = anomaly_matrix(database_url, prefix=prefix)
    if output_format == "json":
        click.echo(renderer("anomalies", "json")(matrix))
        return
    renderer("anomalies", "text")(matrix, console=_console(), verbose=trace)
