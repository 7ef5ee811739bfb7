"""``integrity-kit audit``: a thin command over :func:`integrity_kit.audit.audit`."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import click

from integrity_kit.audit import baseline as baselines
from integrity_kit.audit.config import AuditConfig
from integrity_kit.audit.config import load as load_config
from integrity_kit.audit.runner import FAIL_ON, Report, audit
from integrity_kit.commands.output import emit, note, split_selectors, terminal, write_file
from integrity_kit.errors import IntegrityKitError
from integrity_kit.report import renderer

# rich (about as costly to import as SQLAlchemy), the report renderers and the migration writer are imported
# where they are used: `audit --format json` is a start-up-bound command on small schemas.


@click.command("audit", short_help="Audit a live database for missing keys, constraints and unsafe types.")
@click.argument("database_url", envvar="DATABASE_URL", required=False)
@click.option("--models", metavar="MODULE:BASE", help="Also compare the database with these SQLAlchemy models "
              "(a declarative base or a MetaData), for the schema-drift rule.")
@click.option("--schema", "schemas", multiple=True, metavar="NAME",
              help="Schema to audit; repeat for several. Default: the connection's default schema.")
@click.option("--select", multiple=True, metavar="RULES",
              help="Only these rules: codes (IK101), code prefixes (IK1) or names; repeat or comma-separate.")
@click.option("--ignore", multiple=True, metavar="RULES", help="Skip these rules (same forms as --select).")
@click.option("--no-data", is_flag=True,
              help="Schema only: skip the rules that read rows (orphans, duplicates, rows breaking checks).")
@click.option("--sample-rows", type=click.IntRange(min=1), metavar="N",
              help="Examine at most N rows of each table in the data probes (for huge tables); the evidence says "
                   "it was a sample.")
@click.option("--statement-timeout", type=click.FloatRange(min=0.1), default=30.0, show_default=True,
              metavar="SECONDS", help="Time budget for each catalog query and data probe.")
@click.option("--lock-timeout", type=click.FloatRange(min=0.001), default=None, metavar="SECONDS",
              help="How long to wait for a lock another session holds before reporting that table as not "
                   "analysed.  [default: a tenth of --statement-timeout]")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif", "markdown", "html"]),
              default="text", show_default=True, help="Report format: text for people, json for scripts, sarif for "
              "code-scanning UIs, markdown for a pull-request comment, html for one self-contained page with an "
              "entity-relationship diagram (best with --output).")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), help="Write the report to this file.")
@click.option("--fail-on", type=click.Choice(FAIL_ON), default=None,
              help="Exit 1 when a finding at or above this severity exists.  [default: error, or the configuration's]")
@click.option("--allow-partial", is_flag=True,
              help="Exit 0 even when something was not analysed (no privilege, a lock, a timeout). Without it a "
                   "partial run with no finding at or above --fail-on exits 1: what was not read may hold one.")
@click.option("--config", "config_path", type=click.Path(dir_okay=False, exists=True), metavar="FILE",
              help="Read settings from FILE instead of the .integrity-kit.toml or pyproject.toml [tool.integrity-kit] "
                   "found from the current directory.")
@click.option("--no-fixes", is_flag=True, help="Text format: leave out the fix SQL under each finding.")
@click.option("--baseline", type=click.Path(dir_okay=False), metavar="FILE",
              help="Leave out the findings this baseline accepted: only new findings are reported and fail.")
@click.option("--write-baseline", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write every finding of this run to FILE as the accepted baseline.")
@click.option("--fix-migration", type=click.Path(dir_okay=False, writable=True), metavar="FILE",
              help="Write an Alembic revision that fixes the selected findings with the safe patterns (data "
                   "clean-ups as commented steps). Review it, set down_revision, then run it.")
def audit_command(database_url: str | None, models: str | None, schemas: tuple[str, ...], select: tuple[str, ...],
                  ignore: tuple[str, ...], no_data: bool, sample_rows: int | None, statement_timeout: float,
                  lock_timeout: float | None, output_format: str, output: str | None, fail_on: str | None,
                  allow_partial: bool, config_path: str | None, no_fixes: bool, baseline: str | None,
                  write_baseline: str | None, fix_migration: str | None) -> None:
    """Audit the live database at DATABASE_URL (default: $DATABASE_URL) for missing keys, constraints and unsafe
    types. Read-only: the audit runs in a read-only transaction with a statement timeout and never writes.

    Exit codes: 0 no finding at or above --fail-on, 1 such findings (or a partial run, see --allow-partial),
    2 usage error or nothing could be analysed.
    """
    if not database_url:
        raise IntegrityKitError("no database: pass DATABASE_URL or set the DATABASE_URL environment variable")
    config = load_config(Path(config_path) if config_path else None)
    report = _audit_with_progress(database_url, show_progress=not no_data, models=models,
                                  schemas=list(schemas) or None, select=split_selectors(select),
                                  ignore=split_selectors(ignore), statement_timeout=statement_timeout,
                                  lock_timeout=lock_timeout, data=not no_data, config=config,
                                  sample_rows=sample_rows)
    if report.tables == 0:  # most likely the wrong database or schema: an empty audit is not a clean one
        raise IntegrityKitError(f"no tables to audit in {report.url} (schemas: {', '.join(report.schemas)}); "
                                + _where_tables_are(database_url, report.schemas))
    if write_baseline:
        baselines.write(report, write_baseline)
        note(f"wrote {len(report.findings)} finding(s) to the baseline {write_baseline}")
    if baseline:
        baselines.apply(report, baselines.read(baseline))
    if fix_migration:
        from integrity_kit.audit.migration import write_fix_migration

        if report.snapshot is None:  # audit() keeps the snapshot it read; a Report from elsewhere may not
            raise IntegrityKitError("--fix-migration needs the schema snapshot the audit read")

        write_file(fix_migration, write_fix_migration(report.findings, report.snapshot, report.url))
        note(f"wrote the fix migration to {fix_migration}")
    render = renderer("audit", output_format)
    if output_format != "text":
        emit(render(report), output)
    elif output:
        write_file(output, render(report, show_fixes=not no_fixes))
    else:
        render(report, console=terminal(), show_fixes=not no_fixes)
    raise SystemExit(report.exit_code(fail_on or config.fail_on or "error", allow_partial=allow_partial))


def _audit_with_progress(database_url: str, *, show_progress: bool, models: str | None,
                         schemas: list[str] | None, select: list[str], ignore: list[str], statement_timeout: float,
                         lock_timeout: float | None, data: bool, config: AuditConfig,
                         sample_rows: int | None) -> Report:
    """The library's audit(), with a progress bar on a terminal while the data probes run (they can take
    minutes on big tables)."""
    def run(on_progress: Callable[[int, int], None] | None = None) -> Report:
        return audit(database_url, models=models, schemas=schemas, select=select, ignore=ignore,
                     statement_timeout=statement_timeout, lock_timeout=lock_timeout, data=data, config=config,
                     sample_rows=sample_rows, on_progress=on_progress)

    progress_console = terminal(stderr=True) if show_progress else None
    if progress_console is None or not progress_console.is_terminal:
        return run()
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(TextColumn("checking the data"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                  console=progress_console, transient=True) as progress:
        task = progress.add_task("probes", total=None)
        return run(lambda done, total: progress.update(task, completed=done, total=total))


def _where_tables_are(database_url: str, searched: list[str] | tuple[str, ...]) -> str:
    """The end of the no-tables error: which schemas do hold tables, as a --schema to pass."""
    from sqlalchemy.exc import SQLAlchemyError

    from integrity_kit.connect import make_engine
    from integrity_kit.schema.visibility import schemas_with_tables

    try:
        engine = make_engine(database_url)
        try:
            with engine.connect() as connection:
                found = schemas_with_tables(connection, besides=tuple(searched))
        finally:
            engine.dispose()
    except (SQLAlchemyError, IntegrityKitError):
        found = {}
    if not found:
        return "check the database name, or pass --schema"
    listed = ", ".join(f"{name} ({count} table{'s' if count != 1 else ''})" for name, count in sorted(found.items()))
    first = sorted(found, key=lambda name: (-found[name], name))[0]
    return f"tables are in: {listed}; pass --schema {first} (repeat --schema for several)"

