"""Migration rehearsal: run the revisions a database has not applied on a scratch copy of it, under a concurrent
workload, and measure what each statement does to the application's sessions.

The target database is only read (its ``alembic_version``, its schema, the rows of the touched tables). The scratch
database (``ik_rehearsal_<hex>`` on the same server, or on ``scratch_url``'s; a temporary file for SQLite) gets the
whole schema, the rows of the tables the pending revisions touch and of the tables those reference, and the
``alembic_version`` row. Each revision's offline SQL then runs there in order, in the transactions of the offline
script (a statement Alembic puts in an ``autocommit_block`` runs outside one), while reader and writer sessions
replay the application's statements. A statement's lock is counted as held from its start until its transaction
commits; the wait it caused a reader or a writer is the longest latency of that session's operations overlapping
that window, next to the same sessions' latency before the migration started (the baseline).
"""

from __future__ import annotations

import signal
import statistics
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError

from integrity_kit.connect import make_engine, parse_url, scrub
from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.migrations.model import Statement
from integrity_kit.migrations.rehearsal_copy import (
    DEFAULT_MAX_ROWS,
    TableCopy,
    copy_schema_and_rows,
    parents_of,
    read_only,
    reflect,
    scratch_database,
)
from integrity_kit.migrations.rehearsal_workload import (
    Captured,
    Operation,
    Session,
    Workload,
    default_sessions,
    load_statements,
    replayed_sessions,
    tables_named,
)
from integrity_kit.migrations.source import read_history
from integrity_kit.migrations.sql import Rendering, render_history, split
from integrity_kit.migrations.target import VERSION_TABLE, pending_revisions, read_target

BASELINE_SECONDS = 1.0
MAX_WORKLOAD_TABLES = 8  # two sessions per table: more would measure the machine's cores, not the locks
_SHOWN_SQL = 160
_DDL = ("CREATE", "ALTER", "DROP", "RENAME", "TRUNCATE")


@dataclass
class StatementRun:
    """One statement of a pending revision, as it went in the rehearsal; times in seconds."""

    revision: str
    sql: str
    transaction: int | None  # the offline script's transaction it ran in; None: outside one (autocommit)
    status: str = "not run"  # "ran", "failed" or "not run" (an earlier statement failed, or the run was stopped)
    duration: float | None = None
    lock_held: float | None = None  # from its start until its transaction committed (or it ended, outside one)
    reader_wait: float | None = None  # longest part of a reader operation inside the lock window; None: no reader
    writer_wait: float | None = None
    error: str | None = None
    may_come_from_sample: bool = False  # it failed while a table it names holds only a sample of its rows
    start: float | None = field(default=None, repr=False)
    lock_end: float | None = field(default=None, repr=False)

    def to_dict(self) -> dict[str, Any]:
        return {"revision": self.revision, "sql": _shortened(self.sql), "transaction": self.transaction,
                "status": self.status, "duration_s": _rounded(self.duration), "lock_held_s": _rounded(self.lock_held),
                "reader_wait_s": _rounded(self.reader_wait), "writer_wait_s": _rounded(self.writer_wait),
                "error": self.error, "may_come_from_sample": self.may_come_from_sample}


@dataclass
class Latency:
    """How one kind of session's operations went over a period."""

    operations: int
    failed: int
    median: float | None
    longest: float | None

    def to_dict(self) -> dict[str, Any]:
        return {"operations": self.operations, "failed": self.failed, "median_s": _rounded(self.median),
                "max_s": _rounded(self.longest)}


@dataclass
class Rehearsal:
    """What the rehearsal ran, on what copy, and what each statement did to the concurrent sessions."""

    target: str  # masked URL
    dialect: str
    scratch: str | None = None  # the scratch database's name (dropped by now)
    revisions: list[str] = field(default_factory=list)  # the pending revisions, base first
    tables: list[TableCopy] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # tables of the target the pending statements name
    sessions: list[str] = field(default_factory=list)  # what each concurrent session replays
    baseline: dict[str, Latency] = field(default_factory=dict)  # "reader"/"writer" before the migration started
    during: dict[str, Latency] = field(default_factory=dict)  # the same while the migration ran
    statements: list[StatementRun] = field(default_factory=list)
    session_errors: dict[str, int] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    not_analysed: list[dict[str, str]] = field(default_factory=list)

    @property
    def failed(self) -> list[StatementRun]:
        return [statement for statement in self.statements if statement.status == "failed"]

    def to_dict(self) -> dict[str, Any]:
        return {"target": self.target, "dialect": self.dialect, "scratch_database": self.scratch,
                "revisions": self.revisions, "touched_tables": self.touched,
                "tables": [table.to_dict() for table in self.tables], "sessions": self.sessions,
                "baseline": {kind: latency.to_dict() for kind, latency in self.baseline.items()},
                "during_migration": {kind: latency.to_dict() for kind, latency in self.during.items()},
                "statements": [statement.to_dict() for statement in self.statements],
                "session_errors": self.session_errors, "notes": self.notes, "not_analysed": self.not_analysed}


def rehearse(path: str | Path, url: str, *, queries: Sequence[str | Path] = (), max_rows: int = DEFAULT_MAX_ROWS,
             scratch_url: str | None = None, baseline_seconds: float = BASELINE_SECONDS,
             on_progress: Callable[[str], None] | None = None) -> Rehearsal:
    """Rehearse the revisions of the script directory ``path`` that the database at ``url`` has not applied.

    ``queries`` are ``integrity-kit queries --format json`` files whose statements on the touched tables the
    concurrent sessions replay (default: a reader and a writer by primary key per touched table). ``max_rows``
    bounds the rows copied per table; ``scratch_url`` names another server for the scratch database.
    ``on_progress`` is told what is being done, for long runs. Nothing is written to ``url``'s database."""
    if max_rows < 1:
        raise IntegrityKitError(f"--rehearse-rows must be at least 1, got {max_rows}")
    progress = on_progress or (lambda message: None)
    captured = [(str(file), load_statements(Path(file))) for file in queries]  # a bad file is refused before any work
    state = read_target(url)
    history = read_history(path)
    pending = pending_revisions(history, state)
    result = Rehearsal(target=state.url, dialect=state.dialect, revisions=pending)
    if not pending:
        result.notes.append(f"{state.url} has applied every revision of the history: nothing to rehearse")
        return result
    if not state.has_version_table:
        result.notes.append(f"{state.url} has no {VERSION_TABLE} table: every revision is rehearsed from the base, "
                            "so a table the database already has fails where a revision creates it")
    parsed = parse_url(url)
    source_engine = make_engine(parsed)
    try:
        # MariaDB is rendered as MariaDB: MySQL's "DROP CHECK", for one, is a syntax error there.
        mariadb = bool(getattr(source_engine.dialect, "is_mariadb", False))
        rendering = render_history(history.directory, history.files, state.dialect, history.version_locations,
                                   history.ini, url="mariadb+pymysql://" if mariadb else None)
        _plan(result, rendering, {file.revision: file.shown for file in history.files})
        with _terminate_as_interrupt():
            _rehearse(result, source_engine, parsed, None if scratch_url is None else parse_url(scratch_url),
                      split(rendering.preamble, origin="rendered"), captured, max_rows, baseline_seconds, progress)
    finally:
        source_engine.dispose()
    return result


def _plan(result: Rehearsal, rendering: Rendering, shown: dict[str, str]) -> None:
    """The statements to run, revision by revision, up to the first pending revision whose SQL did not render."""
    pending = result.revisions
    for revision in pending:
        if revision not in rendering.statements:
            later = pending[pending.index(revision):]
            why = next((item["reason"] for item in rendering.not_analysed
                        if item["object"] in (f"{shown[revision]} (rendered SQL)", "rendered SQL of every revision")),
                       "it rendered no SQL")
            result.not_analysed.append({
                "object": f"rehearsal of {', '.join(shown[r] for r in later)}",
                "reason": f"the offline SQL of {shown[revision]} did not render ({why}), and the revisions after it "
                          "need it to have run"})
            break
        result.statements.extend(StatementRun(revision, statement.sql, number) for statement, number
                                 in zip(rendering.statements[revision], rendering.transactions[revision],
                                        strict=True))


def _rehearse(result: Rehearsal, source_engine: Engine, target: URL, server: URL | None, preamble: list[Statement],
              captured: Captured, max_rows: int, baseline_seconds: float,
              progress: Callable[[str], None]) -> None:
    with scratch_database(target, server) as scratch:
        result.scratch = scratch.name
        progress(f"created the scratch database {scratch.name}")
        if scratch.dialect != source_engine.dialect.name:
            raise IntegrityKitError(f"--scratch-url is a {scratch.dialect} server and the target a "
                                    f"{source_engine.dialect.name} one: the rehearsal needs the same engine")
        loader = make_engine(scratch.url, check=False)
        try:
            with _copying(target), read_only(source_engine) as source:
                metadata = reflect(source)
                known = [name for name in metadata.tables if name != VERSION_TABLE]
                for run in result.statements:
                    result.touched.extend(name for name in tables_named(run.sql, known)
                                          if name not in result.touched)
                rows_of = dict.fromkeys(result.touched, "touched")
                rows_of.update(dict.fromkeys(parents_of(metadata, result.touched), "referenced by a touched table"))
                if VERSION_TABLE in metadata.tables:
                    rows_of[VERSION_TABLE] = VERSION_TABLE
                result.tables, notes = copy_schema_and_rows(source, metadata, loader, rows_of, max_rows, progress)
                result.notes.extend(notes)
        finally:
            loader.dispose()
        sampled = [table for table in result.tables if table.sampled and table.why != "schema only"]
        if sampled:
            result.notes.append("the scratch copy holds a sample of " + ", ".join(
                f"{table.name} (first {table.copied:,} of {table.rows:,} rows by primary key)"
                for table in sampled) + ": durations are of the sample (raise --rehearse-rows up to the "
                "table's size to measure the whole table), and a statement that passes on it may still fail on "
                "the rows it left out")
        _run_under_load(result, scratch.url, metadata, preamble, captured, baseline_seconds, progress)
        progress(f"dropping the scratch database {scratch.name}")


def _run_under_load(result: Rehearsal, url: URL, metadata: Any, preamble: list[Statement], captured: Captured,
                    baseline_seconds: float, progress: Callable[[str], None]) -> None:
    tables = [name for name in result.touched if name in metadata.tables]
    if len(tables) > MAX_WORKLOAD_TABLES:
        result.notes.append(f"{len(tables)} tables are touched: sessions run on the first {MAX_WORKLOAD_TABLES} "
                            f"({', '.join(tables[:MAX_WORKLOAD_TABLES])})")
        tables = tables[:MAX_WORKLOAD_TABLES]
    # SQLite sessions wait for its lock; psycopg's prepared statements would fail after a column is added.
    backend = url.get_backend_name()
    waits = {"timeout": 60} if backend == "sqlite" else {"prepare_threshold": None} if backend == "postgresql" else {}
    engine = make_engine(url, check=False, isolation_level="AUTOCOMMIT", pool_size=2 * len(tables) + 2,
                         connect_args=waits)
    workload: Workload | None = None
    try:
        if captured:
            sessions = replayed_sessions(captured, tables, result.notes)
        else:
            with engine.connect() as connection:
                sessions = default_sessions(connection, metadata, tables, result.notes)
        if not sessions:
            result.notes.append("no concurrent session could run: the statements are timed without a workload")
        result.sessions = [session.label for session in sessions]
        workload = Workload(engine, sessions)
        progress(f"measuring the baseline of {len(sessions)} concurrent session(s) for {baseline_seconds:g} s")
        workload.start()
        time.sleep(baseline_seconds)
        started = time.perf_counter()
        _run_statements(engine, result, preamble, progress)
        ended = time.perf_counter()
        time.sleep(min(0.2, baseline_seconds))  # the operations the last commit released finish
        workload.stop()
        _measure(result, sessions, started, ended)
    finally:
        if workload is not None:
            workload.stop()
        engine.dispose()


def _run_statements(engine: Engine, result: Rehearsal, preamble: list[Statement],
                    progress: Callable[[str], None]) -> None:
    """Run every statement in the offline script's transactions, timing it and the lock window it opens."""
    dialect = engine.dialect.name
    sampled = {table.name for table in result.tables if table.sampled}
    with engine.connect() as connection:
        for statement in preamble:  # env.py's session settings (a lock_timeout, a search_path)
            _execute(connection, statement.sql)
        open_transaction: int | None = None
        in_window: list[StatementRun] = []
        revision = None
        try:
            for run in result.statements:
                if run.revision != revision:
                    revision = run.revision
                    progress(f"running revision {revision} ({result.revisions.index(revision) + 1} of "
                             f"{len(result.revisions)})")
                if run.transaction != open_transaction:
                    _commit(connection, in_window, open_transaction)
                    open_transaction = None
                    if run.transaction is not None:
                        connection.exec_driver_sql("BEGIN")
                        open_transaction = run.transaction
                run.start = time.perf_counter()
                try:
                    _execute(connection, run.sql)
                except SQLAlchemyError as error:
                    run.status, run.duration = "failed", time.perf_counter() - run.start
                    run.lock_end = time.perf_counter()
                    run.error = scrub(_error_line(error), engine.url)
                    run.may_come_from_sample = bool(set(tables_named(run.sql, list(sampled))))
                    if open_transaction is not None:
                        connection.exec_driver_sql("ROLLBACK")
                        for earlier in in_window:
                            earlier.lock_end = run.lock_end
                    return
                end = time.perf_counter()
                run.status, run.duration = "ran", end - run.start
                # MySQL and MariaDB commit before and after each DDL statement, whatever transaction it is in.
                if run.transaction is None or (dialect in ("mysql", "mariadb") and run.sql.upper().startswith(_DDL)):
                    run.lock_end = end
                else:
                    in_window.append(run)
            _commit(connection, in_window, open_transaction)
        finally:
            for run in result.statements:
                if run.lock_end is None and run.start is not None:
                    run.lock_end = time.perf_counter()
                if run.lock_end is not None and run.start is not None:
                    run.lock_held = run.lock_end - run.start


def _error_line(error: SQLAlchemyError) -> str:
    """The driver's message; PyMySQL's ``(1071, 'Specified key was too long')`` reads as the message and its code."""
    args: tuple[Any, ...] = tuple(getattr(getattr(error, "orig", None), "args", ()))
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return f"{args[1].splitlines()[0] if args[1] else ''} (error {args[0]})"
    return first_line(error)


def _execute(connection: Connection, sql: str) -> None:
    # Sent with (empty) parameters, as Alembic sends it online: the offline script doubles each "%" for drivers
    # whose placeholders start with one (psycopg, PyMySQL), and those drivers turn "%%" back into "%".
    connection.exec_driver_sql(sql)


def _commit(connection: Connection, in_window: list[StatementRun], open_transaction: int | None) -> None:
    if open_transaction is not None:
        connection.exec_driver_sql("COMMIT")
    committed = time.perf_counter()
    for run in in_window:
        run.lock_end = committed
    in_window.clear()


def _measure(result: Rehearsal, sessions: Sequence[Session], started: float, ended: float) -> None:
    operations = [operation for session in sessions for operation in session.operations[1:]]  # 1st: connecting
    for session in sessions:
        for message, count in session.errors.items():
            result.session_errors[message] = result.session_errors.get(message, 0) + count
    for kind in ("reader", "writer"):
        mine = [operation for operation in operations if operation.kind == kind]
        if not mine:
            continue
        result.baseline[kind] = _latency([operation for operation in mine if operation.end <= started])
        result.during[kind] = _latency([operation for operation in mine
                                        if operation.start < ended and operation.end > started])
        for run in result.statements:
            if run.start is None or run.lock_end is None:
                continue
            # The part of each operation inside the window: a wait that began under an earlier statement's lock
            # is that statement's.
            overlapping = [min(operation.end, run.lock_end) - max(operation.start, run.start) for operation in mine
                           if operation.start < run.lock_end and operation.end > run.start]
            wait = max(overlapping, default=0.0)  # no operation in the window: none waited
            if kind == "reader":
                run.reader_wait = wait
            else:
                run.writer_wait = wait


def _latency(operations: list[Operation]) -> Latency:
    latencies = [operation.latency for operation in operations]
    return Latency(len(latencies), sum(1 for operation in operations if not operation.ok),
                   statistics.median(latencies) if latencies else None, max(latencies, default=None))


@contextmanager
def _copying(target: URL) -> Iterator[None]:
    """A database error while the target is read or the copy is made is one line: the rehearsal cannot start."""
    try:
        yield
    except SQLAlchemyError as error:
        raise IntegrityKitError(f"rehearsal: cannot copy the schema and rows of the target into the scratch "
                                f"database: {scrub(first_line(error), target)}") from None


@contextmanager
def _terminate_as_interrupt() -> Iterator[None]:
    """SIGTERM ends the rehearsal the way Ctrl-C does, so the scratch database is dropped either way."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def interrupt(_signum: int, _frame: Any) -> None:
        raise KeyboardInterrupt

    previous = signal.signal(signal.SIGTERM, interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _shortened(sql: str) -> str:
    return sql if len(sql) <= _SHOWN_SQL else sql[:_SHOWN_SQL - 1] + "…"


def _rounded(value: float | None) -> float | None:
    return None if value is None else round(value, 4)
