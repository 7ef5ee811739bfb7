"""The ``integrity-kit`` command: one thin click command per capability over the library API."""

from __future__ import annotations

import importlib

import click

from integrity_kit import __version__
from integrity_kit.errors import IntegrityKitError


class _Group(click.Group):
    """Turns every :class:`IntegrityKitError` into one line on stderr and exit code 2, and imports each built
    command only when it runs (or help lists it): `audit` should not pay for Alembic and the query tracer."""

    lazy_commands = {
        "audit": "integrity_kit.commands.audit:audit_command",
        "rules": "integrity_kit.commands.rules:rules_command",
        "explain": "integrity_kit.commands.rules:explain_command",
        "lint-migrations": "integrity_kit.commands.lint_migrations:lint_migrations_command",
        "queries": "integrity_kit.commands.queries:queries_command",
        "race": "integrity_kit.commands.races:race_command",
        "anomalies": "integrity_kit.commands.races:anomalies_command",
        "demo": "integrity_kit.commands.demo:demo_command",
    }

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(set(super().list_commands(ctx)) | set(self.lazy_commands))

    # Query capture runs on SQLAlchemy 1.4; every other command needs 2.0 (integrity_kit.sqlalchemy_support).
    runs_on_sqlalchemy_14 = frozenset({"queries"})

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        if name in self.lazy_commands:
            from integrity_kit.sqlalchemy_support import capture_problem, toolkit_problem

            problem = (capture_problem() if name in self.runs_on_sqlalchemy_14
                       else toolkit_problem(f"integrity-kit {name}"))
            if problem is not None:
                return _refusal(name, problem)
        if name in self.lazy_commands:
            module_name, attribute = self.lazy_commands[name].split(":")
            return getattr(importlib.import_module(module_name), attribute)
        return super().get_command(ctx, name)

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except IntegrityKitError as error:
            if ctx.obj and ctx.obj.get("debug"):
                raise
            # rich costs about as much to import as SQLAlchemy: only an error (or text output) pays for it.
            from rich.console import Console

            from integrity_kit.report.console import markup_safe

            Console(emoji=False, stderr=True, highlight=False, soft_wrap=True).print(
                f"[bold red]integrity-kit: error:[/] {markup_safe(error)}", markup=True
            )
            ctx.exit(error.exit_code)


def _refusal(name: str, problem: str) -> click.Command:
    """A stand-in for a command the installed SQLAlchemy cannot run: it takes any arguments and says why."""

    def refuse(args: tuple[str, ...]) -> None:
        raise IntegrityKitError(problem)

    return click.Command(name, callback=refuse, help=problem, short_help="Unavailable: " + problem.split(";")[0],
                         params=[click.Argument(["args"], nargs=-1, type=click.UNPROCESSED)],
                         context_settings={"ignore_unknown_options": True, "help_option_names": []})


@click.group(cls=_Group, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", prog_name="integrity-kit")
@click.option("--debug", is_flag=True, help="Show full tracebacks instead of one-line errors.")
@click.pass_context
def cli(ctx: click.Context, debug: bool) -> None:
    """Find, prove and teach data-integrity problems in SQLAlchemy-era databases.

    Exit codes: 0 clean, 1 findings at or above --fail-on, 2 usage error or the database could not be analysed.
    """
    ctx.ensure_object(dict)["debug"] = debug


def main() -> None:
    cli(prog_name="integrity-kit")


if __name__ == "__main__":  # pragma: no cover
    main()
