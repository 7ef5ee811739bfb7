"""The ``integrity-kit`` command: one thin click command per capability over the library API."""

from __future__ import annotations

import sys

import click
from rich.console import Console
from rich.markup import escape

from integrity_kit import __version__
from integrity_kit.errors import IntegrityKitError


class _Group(click.Group):
    """Turns every :class:`IntegrityKitError` into one line on stderr and exit code 2."""

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IntegrityKitError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            Console(stderr=True, highlight=False, soft_wrap=True).print(
                f"[bold red]integrity-kit: error:[/] {escape(str(error))}", markup=True
            )
            ctx.exit(error.exit_code)


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="integrity-kit")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find, prove and teach data-integrity problems in SQLAlchemy-era databases.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error or the database could not be analysed.
    """
    ctx.ensure_object(dict)["debug"] = debug


# Capabilities that later work fills in. Each says so plainly and exits 2 rather than printing anything that
# could be mistaken for a result.
_PLANNED = {
    "race": "Run concurrent checkout simulations against a database.",
    "anomalies": "Measure which isolation anomalies an engine allows at each level.",
    "demo": "The whole story on an embedded SQLite database, no setup.",
}


def _planned_command(name: str, summary: str) -> click.Command:
    @click.command(
        name=name,
        help=f"{summary}\n\nNot built yet: this command exits with code 2.",
        short_help=f"{summary} (not built yet)",
        context_settings={"ignore_unknown_options": True, "allow_extra_args": True},
    )
    @click.argument("args", nargs=-1, type=click.UNPROCESSED)
    def command(args: tuple[str, ...]) -> None:
        raise IntegrityKitError(f"'integrity-kit {name}' is not built yet")

    return command


for _name, _summary in _PLANNED.items():
    cli.add_command(_planned_command(_name, _summary))

from integrity_kit.queries.command import queries_command  # noqa: E402 - built commands register after the stubs

cli.add_command(queries_command)

from integrity_kit.migrations.command import lint_migrations_command  # noqa: E402

cli.add_command(lint_migrations_command)

from integrity_kit.audit.command import audit_command, explain_command, rules_command  # noqa: E402

cli.add_command(audit_command)
cli.add_command(rules_command)
cli.add_command(explain_command)


def main() -> None:
    cli(prog_name="integrity-kit")


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
