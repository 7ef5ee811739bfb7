"""``integrity-kit queries``: run a Python script or module under query capture and report N+1 patterns."""

from __future__ import annotations

import contextlib
import importlib.util
import os
import runpy
import sys
import traceback
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import click

from integrity_kit.commands.output import check_writable, emit, terminal, write_file
from integrity_kit.errors import IntegrityKitError
from integrity_kit.report import renderer

_PYTHONS = {"python", "python3", Path(sys.executable).name}


def _target(module: str | None, argv: tuple[str, ...]) -> tuple[str, str, list[str]]:
    """("module" | "path", name, sys.argv for the program) from ``-m module`` or ``-- python app.py args``."""
    args = list(argv)
    if module:
        return "module", module, [module, *args]
    if args and (Path(args[0]).name in _PYTHONS or os.path.abspath(args[0]) == sys.executable):
        args = args[1:]
    if not args:
        raise IntegrityKitError("nothing to run: use 'integrity-kit queries -- python app.py' or '-m module'")
    if args[0] == "-m":
        if len(args) < 2:
            raise IntegrityKitError("'-m' needs a module name")
        return "module", args[1], [args[1], *args[2:]]
    if args[0].startswith("-"):
        raise IntegrityKitError(f"unsupported python option {args[0]!r}: only a script path or -m module")
    script = args[0]
    if not script.endswith(".py") and Path(args[0]).name not in _PYTHONS and not Path(script).is_file():
        raise IntegrityKitError(f"can only run Python programs in-process, not {script!r}")
    if not Path(script).is_file():
        raise IntegrityKitError(f"no such script: {script}")
    return "path", script, args


def _check_module(name: str) -> None:
    sys.path.insert(0, os.getcwd())
    try:
        found = importlib.util.find_spec(name) is not None
    except (ImportError, ValueError):
        found = False
    finally:
        sys.path.pop(0)
    if not found:
        raise IntegrityKitError(f"no module named {name!r}")


def _run(kind: str, name: str, program_argv: list[str]) -> int | str | None:
    """Run the program in this process; returns its exit status (None for a normal end)."""
    saved_argv, saved_path = sys.argv[:], sys.path[:]
    sys.argv = program_argv
    sys.path.insert(0, os.path.dirname(os.path.abspath(name)) if kind == "path" else os.getcwd())
    try:
        if kind == "module":
            runpy.run_module(name, run_name="__main__", alter_sys=True)
        else:
            runpy.run_path(name, run_name="__main__")
        return None
    except SystemExit as stop:
        return stop.code
    finally:
        sys.argv, sys.path[:] = saved_argv, saved_path


def _confirm_engine(url: str) -> Any:
    """The --confirm database, connected once now so a bad URL stops before the program runs."""
    from integrity_kit.connect import make_engine

    return make_engine(url)


def _confirm(log: Any, engine: Any) -> None:
    from integrity_kit.connect import mask_url
    from integrity_kit.races.replay import confirm_risks

    if not log.transactions:
        raise IntegrityKitError("nothing to confirm: the program sent no statements, so no transaction was captured")
    log.use_schema(engine)
    risks = log.race_risks
    if not risks:
        return
    with terminal(stderr=True).status(f"replaying {len(risks)} race risk(s) on a scratch copy beside "
                                      f"{mask_url(engine.url)}", spinner="dots"):
        for risk, confirmed in zip(risks, confirm_risks(engine.url, risks, log), strict=True):
            risk.confirmed = confirmed


@click.command(
    "queries",
    context_settings={"ignore_unknown_options": True, "allow_interspersed_args": False},
    short_help="Run a script under query capture and report N+1 patterns.",
)
@click.option("-m", "--module", "module", metavar="MODULE", help="Run a module as 'python -m MODULE' would.")
@click.option("--format", "output_format", type=click.Choice(["text", "json"]), default="text", show_default=True,
              help="Report format.")
@click.option("--output", type=click.Path(dir_okay=False, writable=True), default=None,
              help="Write the report to this file instead of standard output.")
@click.option("--threshold", type=click.IntRange(min=2), default=2, show_default=True,
              help="Similar queries from one line that count as an N+1.")
@click.option("--fail-on", type=click.Choice(["n-plus-one", "duplicates", "race-risks", "any", "never"]),
              default="n-plus-one", show_default=True,
              help="Exit 1 on N+1 findings, on N+1 or duplicate findings, on N+1 or race risks, on any finding, or "
                   "never.")
@click.option("--confirm", "confirm_url", metavar="DATABASE_URL", default=None,
              help="Replay each race risk from two sessions in the interleaving that breaks it, on a scratch copy "
                   "beside this database (same engine as the program used), and report what happened. Its schema "
                   "also says which columns are unique.")
@click.option("--statements/--no-statements", "show_statements", default=False,
              help="Also list every statement (text) or include them (JSON always includes them).")
@click.argument("program", nargs=-1, type=click.UNPROCESSED)
def queries_command(module: str | None, output_format: str, output: str | None, threshold: int, fail_on: str,
                    confirm_url: str | None, show_statements: bool, program: tuple[str, ...]) -> None:
    """Run a Python program under query capture and report N+1 patterns, duplicate queries and race risks. The
    PROGRAM (after --) is a command line that starts Python; -m MODULE runs a module instead.

    \b
      integrity-kit queries -- python app.py --port 0
      integrity-kit queries -m myapp.report --format json
      integrity-kit queries --confirm postgresql://localhost/shop -- python checkout_once.py

    The program runs in this process with every SQLAlchemy engine captured. A race risk is a transaction that
    reads a row and then writes what it read (or inserts what it found missing) with nothing to stop a second
    run in between; --confirm proves it by replaying the transaction twice, interleaved. Exit codes: 0 clean,
    1 findings (see --fail-on), 2 usage error or the program failed.
    """
    from integrity_kit.queries import capture

    check_writable(output)
    kind, name, program_argv = _target(module, program)
    confirm_engine = _confirm_engine(confirm_url) if confirm_url is not None else None
    if kind == "module":
        _check_module(name)
    failure: str | None = None
    # JSON on stdout must stay parseable: the program's own prints go to stderr then.
    quiet = contextlib.redirect_stdout(sys.stderr) if output_format == "json" and not output else nullcontext()
    with capture(threshold=threshold) as log, quiet:
        try:
            status = _run(kind, name, program_argv)
        except Exception as error:  # the user's program failed; still report what it sent
            failure = "".join(traceback.format_exception(error))
            status = 1
    if status not in (None, 0) and failure is None:
        failure = f"the program exited with status {status}"
    if confirm_engine is not None:
        try:
            if failure is None:
                _confirm(log, confirm_engine)
        finally:
            confirm_engine.dispose()

    render = renderer("queries", output_format)
    if output_format == "json":
        emit(render(log, command=[*(["-m"] if kind == "module" else []), *program_argv]), output)
    elif output:
        write_file(output, render(log, show_statements=show_statements))
    else:
        render(log, console=terminal(), show_statements=show_statements)

    if failure:
        terminal(stderr=True, soft_wrap=True).print(failure.rstrip(), markup=False)
        raise IntegrityKitError("the program failed; the report above covers what it sent before failing")
    findings = len(log.n_plus_one)
    if fail_on in ("duplicates", "any"):
        findings += len(log.duplicates)
    if fail_on in ("race-risks", "any"):
        findings += sum(1 for risk in log.race_risks if risk.verdict == "risk")
    if fail_on != "never" and findings:
        sys.exit(1)
