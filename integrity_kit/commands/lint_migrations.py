"""``integrity-kit lint-migrations PATH``: a thin command over :func:`integrity_kit.migrations.lint`."""

from __future__ import annotations

import click

from integrity_kit.commands.output import emit, terminal, write_file
from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations.linter import lint
from integrity_kit.migrations.model import DIALECTS
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
@click.option("--format", "output_format", type=click.Choice(["text", "json", "sarif"]), default="text",
              show_default=True, help="Output format.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to this file instead of standard output.")
def lint_migrations_command(path: str, dialect: str | None, database: str | None, since: str | None,
                            select: tuple[str, ...],
                            ignore: tuple[str, ...], no_sql: bool, server_version: str | None,
                            output_format: str, output: str | None) -> None:
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

    Exit codes: 0 no findings, 1 findings, 2 bad path, not an Alembic directory, an unreachable --database, a
    database at a revision the history does not hold, or one without alembic_version that holds the history's
    tables.
    """
    target = None
    if database is not None:
        if since is not None:
            raise IntegrityKitError("--since and --database both choose the revisions to lint: give one of them")
        target = read_target(database)
        if dialect is not None and dialect != target.dialect:
            raise IntegrityKitError(f"--dialect {dialect} does not match --database, which is {target.dialect}")
        dialect = target.dialect
    result = lint(path, dialect=dialect or "postgresql", since=since, target=target,
                  select=list(select) or None, ignore=list(ignore) or None,
                  render_sql=not no_sql, server_version=server_version)
    render = renderer("lint", output_format)
    if output_format != "text":
        emit(render(result), output)
    elif output:
        write_file(output, render(result))
    else:
        render(result, console=terminal(soft_wrap=True))
    raise SystemExit(1 if result.findings else 0)
