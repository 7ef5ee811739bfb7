"""The second analysis: the SQL each revision renders in offline mode, split with sqlparse.

The script directory is loaded once and the whole history rendered once (``alembic upgrade heads --sql``); the output
is cut at the ``-- Running upgrade a -> b`` comment Alembic writes before each step, so each revision gets its own
statements, with the transaction state they run in. Each revision is still judged on its own: rendered together,
every table looks created in the same script, which is why squawk stays silent on ``alembic upgrade head --sql``.
"""

from __future__ import annotations

import functools
import io
import logging
import os
import re
import sys
import types
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager, redirect_stderr, redirect_stdout
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.environment import EnvironmentContext
from alembic.script import Script, ScriptDirectory
from alembic.util import load_python_file

from integrity_kit.migrations.model import Revision, Statement
from integrity_kit.migrations.source import RevisionFile

DIALECT_URLS = {"postgresql": "postgresql://", "mysql": "mysql+pymysql://", "sqlite": "sqlite://"}
# The dialect names SQLAlchemy reports for each dialect we lint (MariaDB URLs report "mariadb").
DIALECT_NAMES = {"postgresql": {"postgresql"}, "mysql": {"mysql", "mariadb"}, "sqlite": {"sqlite"}}
_STEP = re.compile(r"^-- Running upgrade (?P<down>.*?) -> (?P<revision>\S+)\s*$")


@dataclass
class Rendering:
    """The SQL of each revision that rendered, and what could not be rendered and why."""

    statements: dict[str, list[Statement]] = field(default_factory=dict)  # revision id -> its statements
    not_analysed: list[dict[str, str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)  # how the SQL was rendered, when it is not the project's env.py
    preamble: str = ""  # what env.py emitted before the first revision (SET statements, for instance)
    # revision id -> for each of its statements, the number of the script's transaction it runs in (None: outside
    # one); two statements share a transaction exactly when they have the same number
    transactions: dict[str, list[int | None]] = field(default_factory=dict)


def render_history(directory: Path, files: Sequence[RevisionFile], dialect: str,
                   version_locations: Sequence[Path] = (), ini: Path | None = None, *,
                   url: str | None = None) -> Rendering:
    """Render every revision's offline SQL once, through the project's env.py when it renders ``dialect``, else
    through a generic offline environment of ours; ``url`` is the offline URL given to env.py (default: the
    dialect's own, ``mariadb+pymysql://`` renders MariaDB's variant of MySQL's SQL)."""
    rendering = Rendering()
    import_failures: dict[str, str] = {}
    url = url or DIALECT_URLS[dialect]
    with captured_output(), _database_url(url):
        config = _config(directory, dialect, version_locations, ini, url=url)
        try:
            script = _ShippedScripts(directory, files, import_failures, version_locations)
            guards = _guard_upgrades(script)
        except Exception as error:  # a graph Alembic refuses (a cycle, a missing parent): nothing can render
            rendering.not_analysed.append({"object": "rendered SQL of every revision",
                                           "reason": f"the history cannot be loaded by Alembic: {_first_line(error)}"})
            return rendering
        sql, problem = _render_with(script, config, dialect, generic=False, guards=guards, url=url)
        if problem is not None:
            rendering.notes.append(f"{problem}; rendered with a generic offline environment instead")
            sql, problem = _render_with(script, config, dialect, generic=True, guards=guards, url=url)
            if problem is not None:
                rendering.not_analysed.append({"object": "rendered SQL of every revision", "reason": problem})
                return rendering
    failures = {**import_failures, **guards.failures}
    for file in files:
        # A file that does not parse is already reported by the Python pass, for both passes.
        if file.revision in failures and file.syntax_error is None:
            rendering.not_analysed.append({"object": f"{file.shown} (rendered SQL)", "reason": failures[file.revision]})
    rendering.preamble, chunks = _chunks(sql)
    _, numbers, state, number = _split_numbered(rendering.preamble, origin="rendered", in_transaction=True,
                                                number=0)
    for revision, text in chunks:
        statements, numbers, state, number = _split_numbered(text, origin="rendered", in_transaction=state,
                                                             number=number)
        if revision not in failures:
            rendering.statements[revision] = statements
            rendering.transactions[revision] = numbers
    return rendering


def _config(directory: Path, dialect: str, version_locations: Sequence[Path], ini: Path | None = None, *,
            url: str | None = None) -> Config:
    """The project's alembic.ini when it has one (env.py often reads it, for logging at least), with the script
    location and the URL of the dialect being linted."""
    config = Config(str(ini)) if ini is not None else Config()
    config.set_main_option("script_location", str(directory))
    config.set_main_option("sqlalchemy.url", url or DIALECT_URLS[dialect])
    config.set_main_option("path_separator", "os")
    if version_locations:
        config.set_main_option("version_locations", os.pathsep.join(str(path) for path in version_locations))
    return config


class _ShippedScripts(ScriptDirectory):
    """A script directory whose revisions are the files read from source: a module that cannot be imported (or
    does not parse) stands in as an empty revision with the same place in the graph, so the others still render."""

    def __init__(self, directory: Path, files: Sequence[RevisionFile], import_failures: dict[str, str],
                 version_locations: Sequence[Path] = ()):
        self._files = list(files)
        self._import_failures = import_failures
        super().__init__(str(directory), version_locations=[str(path) for path in version_locations] or None)
        self.get_heads()  # load every module now, while the output is captured

    def _load_revisions(self) -> Iterator[Script]:
        present = {file.revision for file in self._files}
        for file in self._files:
            module: types.ModuleType | None = None
            if file.syntax_error is not None:
                self._import_failures[file.revision] = file.syntax_error
            else:
                try:
                    module = load_python_file(str(file.path.parent), file.path.name)
                except (Exception, SystemExit) as error:  # the project's imports are not ours to provide
                    self._import_failures[file.revision] = _import_reason(error)
            if module is None or getattr(module, "revision", None) != file.revision:
                module = _stand_in(file)
            # Only parents that exist: the source pass already reported a missing one, Alembic would refuse them all.
            parents = tuple(parent for parent in file.parents if parent in present)
            if parents != file.parents:
                vars(module)["down_revision"] = parents[0] if len(parents) == 1 else parents or None
            yield Script(module, file.revision, file.path)


def _stand_in(file: RevisionFile) -> types.ModuleType:
    module = types.ModuleType(f"integrity_kit_stand_in_{file.revision}")
    module.revision = file.revision  # type: ignore[attr-defined]
    module.down_revision = file.down_revision  # type: ignore[attr-defined]
    module.branch_labels = file.branch_labels or None  # type: ignore[attr-defined]
    module.depends_on = file.depends_on or None  # type: ignore[attr-defined]
    module.upgrade = module.downgrade = _stand_in_step  # type: ignore[attr-defined]
    return module


def _import_reason(error: BaseException) -> str:
    if isinstance(error, ImportError):
        return f"cannot import it: {_first_line(error)}"
    return f"importing it raised {type(error).__name__}: {_first_line(error)}"


def _first_line(error: BaseException) -> str:
    text = str(error).strip().splitlines()
    return (text[0] if text else type(error).__name__)[:200]


def _described(error: BaseException, path: str | Path | None = None) -> str:
    """``TypeError at line 13: the message`` with the line of ``path`` (a file of the project) it was raised at."""
    line = None
    trace = error.__traceback__
    while trace is not None:
        if path is not None and Path(trace.tb_frame.f_code.co_filename).name == Path(path).name:
            line = trace.tb_lineno
        trace = trace.tb_next
    text = str(error).strip().splitlines()
    where = f" at line {line}" if line else ""
    return f"{type(error).__name__}{where}" + (f": {text[0][:200].rstrip('.')}" if text else "")


@dataclass
class _Guards:
    failures: dict[str, str] = field(default_factory=dict)  # revision -> why its rendering is not analysed
    missing: dict[str, str] = field(default_factory=dict)  # revision -> why it has nothing to render


def _stand_in_step(*args: Any, **kwargs: Any) -> None:
    """The upgrade() of a revision that cannot be imported: it renders nothing."""


def _guard_upgrades(script: ScriptDirectory) -> _Guards:
    """Each revision's upgrade() wrapped so one that raises loses only its own SQL."""
    guards = _Guards()
    for revision in script.walk_revisions():
        upgrade = vars(revision.module).get("upgrade")
        if not callable(upgrade):  # Alembic would stop the whole rendering at this revision
            guards.missing[revision.revision] = "it has no upgrade() function"
            upgrade = _stand_in_step
        vars(revision.module)["upgrade"] = _guarded(revision.revision, upgrade, guards, revision.path)
    return guards


def _guarded(revision: str, upgrade: Callable[..., Any], guards: _Guards, path: str) -> Callable[..., None]:
    @functools.wraps(upgrade)
    def run(*args: Any, **kwargs: Any) -> None:
        try:
            upgrade(*args, **kwargs)
        except (Exception, SystemExit) as error:  # the rest of the history still renders
            guards.failures[revision] = f"rendering its upgrade() raised {_described(error, path)}"
    run.__name__ = "upgrade"  # Alembic names the step after the function: "-- Running upgrade a -> b"
    return run


def _render_with(script: ScriptDirectory, config: Config, dialect: str, *, generic: bool,
                 guards: _Guards, url: str | None = None) -> tuple[str, str | None]:
    """The whole history's offline SQL, and why it cannot be used (None when it can)."""
    buffer = io.StringIO()
    config.output_buffer = buffer
    guards.failures.clear()
    guards.failures.update(guards.missing)

    def upgrade(rev: Any, context: Any) -> Any:
        return script._upgrade_revs("heads", rev)

    environment = EnvironmentContext(config, script, fn=upgrade, as_sql=True, starting_rev=None,
                                     destination_rev="heads")
    used: str | None = None
    try:
        with environment:
            if generic:
                environment.configure(url=url or DIALECT_URLS[dialect], literal_binds=True, as_sql=True,
                                      transaction_per_migration=True, output_buffer=buffer)
                with environment.begin_transaction():
                    environment.run_migrations()
            else:
                script.run_env()
            context = environment._migration_context
            used = context.dialect.name if context is not None else None
    except (Exception, SystemExit) as error:  # the project's env.py may need an app, settings or a server
        where = "the generic offline environment" if generic else "env.py"
        return "", f"{where} cannot run offline here: {_described(error, None if generic else 'env.py')}"
    if generic:
        return buffer.getvalue(), None
    if used is None or "-- Running upgrade" not in buffer.getvalue():
        return "", "env.py rendered no migration in offline mode"
    if used not in DIALECT_NAMES[dialect]:
        return "", f"env.py rendered {used} SQL for --dialect {dialect}"
    return buffer.getvalue(), None


def _chunks(sql: str) -> tuple[str, list[tuple[str, str]]]:
    """What comes before the first step, then (revision, its SQL) for each step in order."""
    preamble: list[str] = []
    chunks: list[tuple[str, list[str]]] = []
    for line in sql.splitlines():
        match = _STEP.match(line)
        if match:
            chunks.append((match.group("revision"), []))
        elif chunks:
            chunks[-1][1].append(line)
        else:
            preamble.append(line)
    return "\n".join(preamble), [(revision, "\n".join(lines)) for revision, lines in chunks]


@contextmanager
def captured_output() -> Iterator[io.StringIO]:
    """Whatever revisions and env.py print or log goes to a buffer, never into our report; logging is put back
    as it was, since env.py's ``fileConfig`` replaces handlers and disables existing loggers."""
    sink = io.StringIO()
    manager = logging.Logger.manager
    saved = {name: _logger_state(logger) for name, logger in manager.loggerDict.items()
             if isinstance(logger, logging.Logger)}
    saved_root, saved_disable, saved_path = _logger_state(logging.root), manager.disable, list(sys.path)
    try:
        with redirect_stdout(sink), redirect_stderr(sink):
            yield sink
    finally:
        for name, logger in list(manager.loggerDict.items()):
            if isinstance(logger, logging.Logger):
                _restore(logger, saved.get(name, ([], logging.NOTSET, True, False)))
        _restore(logging.root, saved_root)
        logging.disable(saved_disable)
        sys.path[:] = saved_path


def _logger_state(logger: logging.Logger) -> tuple[list[logging.Handler], int, bool, bool]:
    return list(logger.handlers), logger.level, logger.propagate, logger.disabled


def _restore(logger: logging.Logger, state: tuple[list[logging.Handler], int, bool, bool]) -> None:
    logger.handlers[:] = state[0]
    logger.setLevel(state[1])
    logger.propagate, logger.disabled = state[2], state[3]


def render_revision(directory: Path, revision: Revision, dialect: str) -> list[Statement]:
    """Offline SQL of one revision rendered on its own (``prev:rev``): the reference the one-pass rendering is
    checked against."""
    down = revision.down_revision
    if isinstance(down, (tuple, list)):
        raise ValueError(f"{revision.revision} is a merge revision: its SQL cannot be rendered on its own")
    target = revision.revision if down is None else f"{down}:{revision.revision}"
    return split(offline_sql(directory, target, dialect), origin="rendered")


def offline_sql(directory: str | Path, target: str, dialect: str) -> str:
    """What ``alembic upgrade TARGET --sql`` prints for ``dialect`` (``prev:rev`` for one revision)."""
    config = _config(Path(directory), dialect, ())
    buffer = io.StringIO()
    config.output_buffer = buffer
    with captured_output(), _database_url(DIALECT_URLS[dialect]):
        command.upgrade(config, target, sql=True)
    return buffer.getvalue()


@contextmanager
def _database_url(url: str) -> Iterator[None]:
    """Many env.py files (the reference app's among them) prefer $DATABASE_URL over the configured URL in offline
    mode; point it at the dialect being linted so a developer's own DATABASE_URL cannot change what is rendered."""
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def split(sql: str, *, origin: str, line: int | None = None, in_transaction: bool = True) -> list[Statement]:
    return _split_tracking(sql, origin=origin, line=line, in_transaction=in_transaction)[0]


# The pieces a statement is made of, as sqlparse's lexer reads them: quoted strings and identifiers (with
# backslash or doubled-quote escapes), PostgreSQL dollar-quoted bodies, comments, and the ";" that ends a statement.
_PIECE = re.compile(r"""
    (?P<quoted> '(?:''|\\.|[^'\\])*'? | "(?:""|[^"])*"? | `(?:``|[^`])*`? )
  | (?P<dollar> \$(?P<tag>(?:[A-Za-z_]\w*)?)\$ .*? (?:\$(?P=tag)\$|\Z) )
  | (?P<comment> --[^\n]* | /\*.*?(?:\*/|\Z) )
  | (?P<end> ; )
  | (?P<other> [^'"`$;/-]+ | . )
""", re.X | re.S)


def statements_of(sql: str) -> list[str]:
    """Each statement of ``sql``, comments removed and whitespace collapsed, ``;`` left out."""
    statements: list[str] = []
    current: list[str] = []
    for match in _PIECE.finditer(sql):
        kind = match.lastgroup if match.lastgroup != "tag" else "dollar"
        if kind == "end":
            statements.append(" ".join("".join(current).split()))
            current = []
        elif kind == "comment":
            current.append(" ")
        else:
            current.append(match.group())
    statements.append(" ".join("".join(current).split()))
    return [statement for statement in statements if statement]


def _split_tracking(sql: str, *, origin: str, line: int | None = None,
                    in_transaction: bool = True) -> tuple[list[Statement], bool]:
    """The statements of ``sql`` and whether a transaction is still open after them."""
    statements, _, depth, _ = _split_numbered(sql, origin=origin, line=line, in_transaction=in_transaction, number=0)
    return statements, depth


def _split_numbered(sql: str, *, origin: str, line: int | None = None, in_transaction: bool,
                    number: int) -> tuple[list[Statement], list[int | None], bool, int]:
    """The statements of ``sql``, the transaction number of each (counted by BEGINs from ``number``), whether a
    transaction is still open after them, and the last transaction number."""
    statements: list[Statement] = []
    numbers: list[int | None] = []
    depth = in_transaction
    for text in statements_of(sql):
        upper = text.upper()
        if upper in {"BEGIN", "BEGIN TRANSACTION", "START TRANSACTION"}:
            depth = True
            number += 1
            continue
        if upper in {"COMMIT", "END", "ROLLBACK"}:
            depth = False
            continue
        if "ALEMBIC_VERSION" in upper:
            continue
        statements.append(Statement(sql=text, line=line, in_transaction=depth, origin=origin))
        numbers.append(number if depth else None)
    return statements, numbers, depth, number
