"""``integrity-kit lint-migrations PATH``: a thin command over :func:`integrity_kit.migrations.lint`."""

from __future__ import annotations

import contextlib
import json

import click

from integrity_kit.commands.output import emit, terminal, write_file
from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations.linter import lint
from integrity_kit.migrations.model import DIALECTS
from integrity_kit.migrations.rehearsal_copy import DEFAULT_MAX_ROWS
from integrity_kit.migrations.target import read_target
from integrity_kit.report import renderer


@click.command("lint-migrations")
@click.argument("path", type=click.Path(file_okay=True, dir_okay=True))
@click.option("--dialect", type=click.Choice(DIALECTS), default=None,
              help="The database the migrations will run on; rules that do not apply to it are skipped "
                   "(default: the --database's dialect, else postgresql).")
@click.option("--database", "database", metavar="URL", default=None,
              help="The database the migrations will run on: its alembic_version is read (read-only) and only the "
                   "revisions it has not applied are linted; all of them when it has no alembic_version table.")
@click.option("--since", metavar="REV", default=None,
              help="Lint only the revisions newer than REV (the history is still read for context).")
@click.option("--select", "select", multiple=True, metavar="RULE",
              help="Run only these rules (code, code prefix such as IK81, or name); repeat for several.")
@click.option("--ignore", "ignore", multiple=True, metavar="RULE",
              help="Skip these rules (code, code prefix or name); repeat for several.")
@click.option("--no-sql", is_flag=True,
              help="Skip the second analysis on the rendered offline SQL (env.py and the revisions are never run).")
@click.option("--server-version", metavar="VERSION", default=None,
              help="The target server, e.g. mysql-8.0.35 or mariadb-10.11: which online DDL algorithm MySQL/MariaDB "
                   "uses depends on it (default: the oldest releases still supported, MySQL 8.4 and MariaDB 10.11).")
@click.option("--rehearse", is_flag=True,
              help="Also run the pending revisions on a scratch copy of the --database (a new database beside it, "
                   "dropped at the end) while concurrent sessions read and write the touched tables, and report per "
                   "statement how long it held its lock and the longest wait it caused a reader and a writer.")
@click.option("--rehearse-rows", "rehearse_rows", type=int, metavar="N", default=None,
              help=f"Rows copied per table for --rehearse: whole tables up to N rows, the first N by primary key "
                   f"above that (default: {DEFAULT_MAX_ROWS:,}).")
@click.option("--queries", "queries", multiple=True, metavar="FILE",
              type=click.Path(exists=True, dir_okay=False),
              help="For --rehearse: replay the application's statements on the touched tables from this "
                   "`integrity-kit queries --format json` file instead of reads and writes by primary key; repeat "
                   "for several.")
@click.option("--scratch-url", "scratch_url", metavar="URL", default=None,
              help="For --rehearse: create the scratch database on this server instead of the --database's.")
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True, help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to this file instead of standard output.")
def lint_migrations_command(path: str, dialect: str | None, database: str | None, since: str | None,
                            select: tuple[str, ...],
                            ignore: tuple[str, ...], no_sql: bool, server_version: str | None,
                            rehearse: bool, rehearse_rows: int | None, queries: tuple[str, ...],
                            scratch_url: str | None, output_format: str, output: str | None) -> None:
    """Lint an Alembic script directory for unsafe migration steps.

    PATH is the script directory (the folder holding env.py and versions/). It is read as the project ships it,
    with nothing of the project installed: the revision graph comes from each file's source, and each revision's
    upgrade() and downgrade() are read as Python (findings point at the exact op.* call). Then the whole history's
    offline SQL is rendered once and each revision's part is checked again. A revision whose module cannot be
    imported, a file that does not parse, or a check that fails is listed as "not analysed" with the file and the
    reason, and the other revisions go on; the last lines say how much was read ("N revisions, M read by the
    Python pass, K SQL rendered"). When env.py cannot run offline, or renders another dialect than --dialect, the
    SQL is rendered with a generic offline environment instead and a line says so. Whatever env.py and the
    revisions print or log is kept out of the report. Silence a true finding with a reason:
    `# integrity-kit: ignore[rule-name] why this is safe here`.

    With --database URL the target's alembic_version is read in a transaction that is rolled back, and only the
    revisions it has not applied yet are linted; a line says where the database stands. Then every unique
    constraint or index, foreign key, CHECK, NOT NULL and type change of those revisions is probed against the
    target's rows, with the audit's read-only, time-boxed probes: an operation the rows make fail is an error
    (fails-on-existing-rows) naming the keys in the way, and in JSON every finding carries "data" (would_fail,
    count, sample_keys, rows, bytes) and "blockers". A database without alembic_version is taken to be at the
    base only when it holds none of the history's tables. Nothing is written to the target.

    With --rehearse the pending revisions also run, in the offline script's transactions, on a scratch database
    (ik_rehearsal_<hex>) holding the target's schema and the rows of the tables they touch, while concurrent
    sessions replay reads and writes; the scratch database is dropped at the end, also on Ctrl-C or SIGTERM
    (one line, exit code 130). Progress goes to stderr.

    Exit codes: 0 no findings, 1 findings or a statement that failed in rehearsal, 2 bad path, not an Alembic
    directory, an unreachable --database, a database at a revision the history does not hold, or one without
    alembic_version that holds the history's tables.
    """
    try:
        _lint_migrations(path, dialect, database, since, select, ignore, no_sql, server_version, rehearse,
                         rehearse_rows, queries, scratch_url, output_format, output)
    except KeyboardInterrupt:
        # The rehearsal has dropped its scratch database by the time the interrupt reaches here.
        click.echo("integrity-kit: interrupted" + (": the rehearsal's scratch database was dropped"
                                                   if rehearse else ""), err=True)
        raise SystemExit(130) from None


def _lint_migrations(path: str, dialect: str | None, database: str | None, since: str | None,
                     select: tuple[str, ...], ignore: tuple[str, ...], no_sql: bool, server_version: str | None,
                     rehearse: bool, rehearse_rows: int | None, queries: tuple[str, ...], scratch_url: str | None,
                     output_format: str, output: str | None) -> None:
    if rehearse and database is None:
        raise IntegrityKitError("--rehearse needs --database URL: the rehearsal copies that database's tables")
    if not rehearse and (rehearse_rows is not None or queries or scratch_url is not None):
        raise IntegrityKitError("--rehearse-rows, --queries and --scratch-url only apply with --rehearse")
    if rehearse and output_format == "sarif":
        raise IntegrityKitError("--rehearse has no SARIF form: use --format text or json")
    target = None
    if database is not None:
        if since is not None:
            raise IntegrityKitError("--since and --database both choose the revisions to lint: give one of them")
        target = read_target(database)
        if dialect is not None and dialect != target.dialect:
            raise IntegrityKitError(f"--dialect {dialect} does not match --database, which is {target.dialect}")
        dialect = target.dialect
    status = terminal(stderr=True)
    # Probing a big target's rows can take minutes: a spinner on a terminal says it is working, and on what.
    with status.status(f"linting; probing the rows of {target.url}" if target else "linting", spinner="dots") \
            if status.is_terminal else contextlib.nullcontext():
        result = lint(path, dialect=dialect or "postgresql", since=since, target=target,
                      select=list(select) or None, ignore=list(ignore) or None,
                      render_sql=not no_sql, server_version=server_version)
    rehearsal = None
    if rehearse:
        assert database is not None
        from integrity_kit.migrations.rehearsal import rehearse as run_rehearsal

        rehearsal = run_rehearsal(path, database, queries=queries, scratch_url=scratch_url,
                                  max_rows=DEFAULT_MAX_ROWS if rehearse_rows is None else rehearse_rows,
                                  on_progress=lambda message: click.echo(f"rehearsal: {message}", err=True))
    render = renderer("lint", output_format)
    if output_format == "json" and rehearsal is not None:
        emit(json.dumps(result.to_dict() | {"rehearsal": rehearsal.to_dict()}, indent=2), output)
    elif output_format != "text":
        emit(render(result), output)
    elif output:
        text = render(result)
        if rehearsal is not None:
            text += renderer("rehearsal", "text")(rehearsal)
        write_file(output, text)
    else:
        console = terminal(soft_wrap=True)
        render(result, console=console)
        if rehearsal is not None:
            renderer("rehearsal", "text")(rehearsal, console=console)
    raise SystemExit(1 if result.findings or (rehearsal is not None and rehearsal.failed) else 0)
