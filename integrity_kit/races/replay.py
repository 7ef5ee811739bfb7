"""``--confirm``: replay a race risk's transaction from two sessions in the dangerous interleaving, on a scratch
copy of the tables it touches, and report what the database did.

Both sessions send the recorded SQL with the recorded parameters (already in the driver's paramstyle, so only a
database of the dialect the capture saw can run them). The schedule is the one that loses an update:

    A: the statements up to the read      B: the same
    A: the rest up to the write           A: the rest, commit
    B: the rest up to the write           B: the rest, commit

The verdict is read from what the database did (the rows each read returned, locks waited on, errors), never from
timings. The user's database is only read: its schema is reflected and its rows are copied (bounded) into a scratch
database beside it, which is dropped however the replay ends.
"""

from __future__ import annotations

import contextlib
import re
import time
from collections import Counter
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, MetaData
from sqlalchemy.engine import URL
from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from integrity_kit.connect import make_engine, mask_url, parse_url, scrub
from integrity_kit.errors import IntegrityKitError, error_code, first_line
from integrity_kit.migrations.rehearsal_copy import (
    ScratchDatabase,
    TableCopy,
    copy_schema_and_rows,
    read_only,
    reflect,
    scratch_database,
)
from integrity_kit.races.engines import real_sqlite_transactions
from integrity_kit.races.interleaving import Interleaving, ScheduleError, SessionContext, Trace, connection_ids

MAX_ROWS = 10_000
ORDER = ("A", "B", "A", "A", "B", "B")
READ, WRITE, COMMIT = "up to the read", "up to the write", "the rest, commit"
_SQLITE_BUSY_MS = 3000

# Errors that mean "the engine stopped this side of the race": safe, given a retry loop.
_ABORTS = {
    "40001": "serialization failure", "40P01": "deadlock detected", "55P03": "lock not available",
    "1213": "deadlock found", "1205": "lock wait timeout", "1020": "record has changed since last read",
    "5": "database is locked (SQLITE_BUSY)", "6": "table is locked (SQLITE_LOCKED)",
    "517": "database is locked (SQLITE_BUSY_SNAPSHOT)",
}
_UNIQUE = {"23505": "unique violation", "1062": "duplicate entry", "1586": "duplicate entry",
           "2067": "UNIQUE constraint failed", "1555": "PRIMARY KEY constraint failed"}
_IDENTIFIER = re.compile(r'"([^"]+)"|`([^`]+)`|\[([^\]]+)\]|([A-Za-z_][A-Za-z0-9_$]*)')
_WRITE_TARGET = re.compile(
    r"^\s*(?:INSERT\s+(?:OR\s+\w+\s+)?(?:IGNORE\s+)?INTO|REPLACE\s+INTO|UPDATE(?:\s+OR\s+\w+)?|DELETE\s+FROM)\s+"
    r"(?:[`\"]?\w+[`\"]?\.)?[`\"]?(\w+)[`\"]?", re.IGNORECASE)
_CREATE_TABLE = re.compile(r"^\s*CREATE\s+(?:TEMP(?:ORARY)?\s+)?TABLE\s+(?:IF\s+NOT\s+EXISTS\s+)?"
                           r"(?:[`\"]?\w+[`\"]?\.)?[`\"]?(\w+)[`\"]?", re.IGNORECASE)
_LOCKING_READ = re.compile(r"\bFOR\s+(?:NO\s+KEY\s+)?UPDATE\b|\bFOR\s+(?:KEY\s+)?SHARE\b|\bLOCK\s+IN\s+SHARE\s+MODE\b",
                           re.IGNORECASE)
_SAVEPOINT_CONTROL = re.compile(r"^\s*(?:SAVEPOINT|RELEASE|ROLLBACK\s+TO)\b", re.IGNORECASE)
_TRANSACTION_END = re.compile(r"^\s*(?:COMMIT|END|ROLLBACK)\s*(?:WORK|TRANSACTION)?\s*;?\s*$", re.IGNORECASE)


def confirm_risks(url: str | URL, risks: Iterable[Any], log: Any, *, timeout: float = 10.0) -> list[dict[str, Any]]:
    """:func:`confirm_risk` for each risk, in order; a URL that cannot be used fails before the first replay."""
    risks = list(risks)
    if risks:
        _check_dialect(parse_url(url), risks[0])
    return [confirm_risk(url, risk, log, timeout=timeout) for risk in risks]


def confirm_risk(url: str | URL, risk: Any, log: Any, *, timeout: float = 10.0) -> dict[str, Any]:
    """Replay ``risk`` (a race risk: pattern, table, columns, read, write, transaction) from two sessions on a
    scratch copy beside ``url`` and return its ``confirmed`` value: ``reproduced``, ``outcome``, ``error``,
    ``detail``, ``trace``, plus what the scratch copy held (``setup``) and the statements the replay skipped.

    Raises :class:`IntegrityKitError` (one line, password masked) when ``url`` is unusable or of another dialect
    than the capture."""
    started = time.monotonic()
    parsed = parse_url(url)
    _check_dialect(parsed, risk)
    source = make_engine(parsed)  # connects once: an unreachable server fails here, in one line
    try:
        try:
            plan = _plan(risk, log)
        except _NotReplayed as why:
            return {**_outcome(False, "not reproduced", str(why)), "trace": [], "skipped": []}
        with _scratch(parsed, source, plan) as setup:
            ready = time.monotonic()
            try:
                result = _replay(setup, risk, plan, timeout)
            except ScheduleError as error:
                result = {**_outcome(False, "not reproduced", f"the replay did not run: {error}"), "trace": [],
                          "skipped": []}
        result["setup"] = setup.to_dict()
        if getattr(risk.transaction, "outcome", "commit") == "rollback":
            result["setup"]["notes"].append("the captured transaction rolled back (a test's own rollback, "
                                            "say); both replayed sessions commit it, as the app would")
        result["duration_s"] = {"setup": round(ready - started, 3), "replay": round(time.monotonic() - ready, 3)}
        return result
    finally:
        source.dispose()


# -- what to replay -------------------------------------------------------------------------------------------


class _NotReplayed(Exception):
    """The risk itself cannot be replayed (not the URL's fault): reported in its result, not raised."""


@dataclass
class _Plan:
    statements: list[Any]  # the risky transaction's, without COMMIT/ROLLBACK text
    read_at: int
    write_at: int
    isolation_level: str | None
    earlier: list[Any]  # statements of transactions committed before it began (candidates for the start state)


def _plan(risk: Any, log: Any) -> _Plan:
    transaction = risk.transaction
    statements = [s for s in transaction.statements if not _TRANSACTION_END.match(s.sql)]
    read_at = _index(statements, risk.read, 0)
    write_at = _index(statements, risk.write, read_at + 1)
    return _Plan(statements, read_at, write_at, transaction.isolation_level, _earlier(log, transaction))


def _index(statements: Sequence[Any], wanted: Any, start: int) -> int:
    for i in range(start, len(statements)):
        if statements[i] is wanted:
            return i
    for i in range(start, len(statements)):  # a copy of the statement (a risk rebuilt from JSON, say)
        if statements[i].sql == wanted.sql and statements[i].parameters == wanted.parameters:
            return i
    raise _NotReplayed(f"not replayed: the statement {_short(wanted.sql)!r} is not in its transaction")


def _earlier(log: Any, transaction: Any) -> list[Any]:
    """Statements sent before the transaction's first one, by transactions that committed (or autocommitted),
    without those of savepoints rolled back."""
    if log is None:
        return []
    first = transaction.statements[0] if transaction.statements else None
    outcomes: dict[Any, tuple[str, str | None]] = {}
    undone: set[int] = set()
    for other in getattr(log, "transactions", []):
        outcomes[other.id] = (other.outcome, other.isolation_level)
        for savepoint in getattr(other, "savepoints", []):
            if savepoint.outcome == "rolled back":
                undone.update(id(statement) for statement in savepoint.statements)
    earlier = []
    for statement in log.statements:
        if statement is first or getattr(statement, "transaction", None) == transaction.id:
            break
        outcome, level = outcomes.get(getattr(statement, "transaction", None), ("commit", None))
        if (outcome == "commit" or level == "AUTOCOMMIT") and id(statement) not in undone:
            earlier.append(statement)
    return earlier


def _short(sql: str, width: int = 70) -> str:
    flat = " ".join(sql.split())
    return flat if len(flat) <= width else flat[:width - 1] + "…"


def _family(dialect: str) -> str:
    return "mysql" if dialect in ("mysql", "mariadb") else dialect


def _check_dialect(url: URL, risk: Any) -> None:
    captured = risk.transaction.dialect
    target = url.get_backend_name()
    if _family(captured) != _family(target):
        raise IntegrityKitError(f"not replayed: captured on {captured}, --confirm URL is {target}")


# -- the scratch copy -----------------------------------------------------------------------------------------


@dataclass
class _Setup:
    scratch: ScratchDatabase
    dialect: str
    tables: list[str]
    state: str  # where the rows came from
    copies: list[TableCopy] = field(default_factory=list)
    replayed: int = 0
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"scratch": self.scratch.name, "dialect": self.dialect, "tables": list(self.tables),
                "state": self.state, "copied": [copy.to_dict() for copy in self.copies],
                "sampled": [copy.name for copy in self.copies if copy.sampled],
                "replayed_statements": self.replayed, "skipped_setup_statements": list(self.skipped),
                "notes": list(self.notes)}


def _named_tables(sql: str, known: Iterable[str]) -> set[str]:
    names = set(known)
    found = set()
    for match in _IDENTIFIER.finditer(sql):
        word = next(group for group in match.groups() if group is not None)
        if word in names:
            found.add(word)
    return found


def _written_table(sql: str) -> str | None:
    match = _WRITE_TARGET.match(sql)
    return match.group(1) if match else None


def _created_table(sql: str) -> str | None:
    match = _CREATE_TABLE.match(sql)
    return match.group(1) if match else None


@contextmanager
def _scratch(url: URL, source: Engine, plan: _Plan) -> Iterator[_Setup]:
    try:
        with read_only(source) as connection:
            metadata = reflect(connection)
    except SQLAlchemyError as error:
        raise IntegrityKitError(f"cannot read the schema of {mask_url(url)}: {scrub(first_line(error), url)}") \
            from None
    created = {name for s in plan.earlier if (name := _created_table(s.sql)) is not None}
    known = set(metadata.tables) | created
    touched: set[str] = set()
    for statement in plan.statements:
        touched |= _named_tables(statement.sql, known)
    writes = [s for s in plan.earlier if _written_table(s.sql) is not None or _created_table(s.sql) is not None]
    written = {_written_table(s.sql) for s in writes} - {None}
    from_capture = bool(touched & (written | created))
    if from_capture:
        touched |= {name for name in written if name in known}
    tables = _with_parents(metadata, sorted(touched & set(metadata.tables)))
    missing = sorted(touched - set(metadata.tables) - created)
    if missing:
        raise IntegrityKitError(f"not replayed: {mask_url(url)} has no table {', '.join(missing)}")
    subset = MetaData()
    for name in tables:
        metadata.tables[name].to_metadata(subset)
    # Rows come from the capture for the tables it filled itself, from the URL for the others.
    rows_of = {name: "touched" for name in tables if not (from_capture and name in written | created)}
    state = "replayed from the capture" if from_capture else "copied from the URL"
    with scratch_database(url) as scratch:
        engine = make_engine(scratch.url, check=False)
        try:
            setup = _Setup(scratch, engine.dialect.name, sorted(set(tables) | (created & touched)), state)
            with read_only(source) as connection:
                setup.copies, setup.notes = copy_schema_and_rows(connection, subset, engine, rows_of, MAX_ROWS,
                                                                 lambda _message: None)
            if from_capture:
                # A table the URL has is created from its schema above, not by the capture's own CREATE TABLE.
                _replay_setup(engine, [s for s in writes if _created_table(s.sql) not in metadata.tables], setup)
        finally:
            engine.dispose()
        yield setup


def _with_parents(metadata: MetaData, names: list[str]) -> list[str]:
    """``names`` and every table they reach by foreign key, so the copy can be created with its constraints."""
    found = list(names)
    for name in found:  # grows while it is walked
        for constraint in metadata.tables[name].foreign_key_constraints:
            parent = constraint.referred_table.name
            if parent in metadata.tables and parent not in found:
                found.append(parent)
    return found


def _replay_setup(engine: Engine, statements: list[Any], setup: _Setup) -> None:
    """The statements that built the transaction's start state, in one session; one that fails is skipped."""
    with engine.connect() as connection:
        for statement in statements:
            error = _send_or_skip(connection, statement)
            if error is None:
                setup.replayed += 1
            else:
                setup.skipped.append(f"{_short(statement.sql)}: {error}")
        connection.commit()


# -- the two sessions -----------------------------------------------------------------------------------------


@dataclass
class _Session:
    name: str
    read_rows: list[dict[str, Any]] | None = None
    wrote_rows: list[dict[str, Any]] | None = None  # the read sent again after the write, in the same transaction
    committed: bool = False
    error: str | None = None  # "40001 serialization failure: ..." when the engine stopped this side
    error_code: str | None = None
    error_at: str | None = None
    failed: str | None = None  # a statement that failed for another reason before the write
    skipped: list[str] = field(default_factory=list)
    unshared: list[str] = field(default_factory=list)  # tables whose locks B did not take (see _shared_only_by_replay)
    failed_after: list[str] = field(default_factory=list)  # error codes of the statements after the write it skipped


def _send(connection: Connection, statement: Any) -> Any:
    parameters = statement.parameters
    if statement.executemany:
        return connection.exec_driver_sql(statement.sql, list(parameters))
    if parameters is None or (isinstance(parameters, (tuple, list, dict)) and not parameters):
        return connection.exec_driver_sql(statement.sql)
    return connection.exec_driver_sql(statement.sql, parameters)


def _rows(result: Any) -> list[dict[str, Any]] | None:
    if not result.returns_rows:
        return None
    return [dict(row) for row in result.mappings().all()]


def _message(error: BaseException) -> str:
    """The driver's own message: PyMySQL's is the second of its (errno, message) arguments."""
    args: tuple[Any, ...] = tuple(getattr(getattr(error, "orig", None) or error, "args", ()))
    if len(args) == 2 and isinstance(args[0], int) and isinstance(args[1], str):
        return args[1]
    return first_line(error)


def _error_text(error: BaseException) -> str:
    """``40001 serialization failure: could not serialize access ...``: the code, its name, the driver's words."""
    code = error_code(error)
    name = _ABORTS.get(code) or _UNIQUE.get(code)
    said = _message(error)
    if name is None:
        return f"{code}: {said}"
    return f"{code} {name}" if said.lower() in name.lower() else f"{code} {name}: {said}"


def _send_or_skip(connection: Connection, statement: Any, *, autocommit: bool = False) -> str | None:
    """Send ``statement``; if it fails, undo only it (a savepoint on PostgreSQL, where an error would otherwise end
    the transaction) and return the error, unless the engine aborted the transaction itself (re-raised)."""
    # The app's own SAVEPOINT/RELEASE cannot sit inside ours: a RELEASE of the app's would release ours too.
    savepoint = connection.dialect.name == "postgresql" and not autocommit and \
        not _SAVEPOINT_CONTROL.match(statement.sql)
    if savepoint:
        connection.exec_driver_sql("SAVEPOINT ik_replay")
    try:
        _send(connection, statement)
    except DBAPIError as error:
        if error_code(error) in _ABORTS:
            raise
        if savepoint:
            connection.exec_driver_sql("ROLLBACK TO SAVEPOINT ik_replay")
        return _error_text(error)
    if savepoint:
        connection.exec_driver_sql("RELEASE SAVEPOINT ik_replay")
    return None


def _shared_only_by_replay(statement: Any, table: str, known: set[str]) -> bool:
    """A lock on another table's rows taken before the read: both sessions replay the same parameters, so they
    would queue on a row (A's cart, say) that two real callers would not share."""
    sql = statement.sql
    if _LOCKING_READ.search(sql) is None and (_written_table(sql) is None or sql.lstrip()[:6].upper() == "INSERT"):
        return False
    return table not in _named_tables(sql, known | {table})


def _program(engine: Engine, plan: _Plan, risk: Any, session: _Session, known: set[str]):
    before = plan.statements[:plan.read_at + 1]
    middle = plan.statements[plan.read_at + 1:plan.write_at + 1]
    after = plan.statements[plan.write_at + 1:]
    read = plan.statements[plan.read_at]

    def program(ctx: SessionContext) -> _Session:
        label = READ
        with engine.connect() as connection:
            ctx.step(READ)
            try:
                for statement in before:
                    if session.name == "B" and statement is not read and \
                            _shared_only_by_replay(statement, risk.table, known):
                        session.unshared.extend(sorted(_named_tables(statement.sql, known)))
                        session.skipped.append(f"{_short(statement.sql)}: a lock on a row of another table that "
                                               f"only replaying A's own parameters makes B share")
                        continue
                    result = _send(connection, statement)
                    if statement is read:
                        session.read_rows = _rows(result)
                        ctx.note(f"read {_values(session.read_rows, risk)}")
                label = WRITE
                ctx.step(WRITE)
                for statement in middle:
                    _send(connection, statement)
                if risk.pattern == "read-modify-write":
                    session.wrote_rows = _rows(_send(connection, read))
                    ctx.note(f"then its read sees {_values(session.wrote_rows, risk)}")
                label = COMMIT
                ctx.step(COMMIT)
                for statement in after:
                    error = _send_or_skip(connection, statement, autocommit=plan.isolation_level == "AUTOCOMMIT")
                    if error is not None:
                        session.failed_after.append(error.split(":")[0])
                        session.skipped.append(f"{_short(statement.sql)}: {error}")
                connection.commit()
                session.committed = True
                ctx.note("committed")
            except DBAPIError as error:
                code = error_code(error)
                ctx.fail(code)
                session.error_at = label
                session.error_code = code
                if code in _ABORTS or code in _UNIQUE:
                    session.error = _error_text(error)
                else:
                    session.failed = f"{_short(str(getattr(error, 'statement', '') or ''))}: {_error_text(error)}"
                with contextlib.suppress(SQLAlchemyError):
                    connection.rollback()
        return session

    return program


def _session_engine(setup: _Setup, level: str | None) -> Engine:
    url = setup.scratch.url
    if setup.dialect == "sqlite":
        engine = make_engine(url, check=False)
        # Replay as the app ran: a deferred BEGIN at the first statement (BEGIN IMMEDIATE when it was recorded).
        real_sqlite_transactions(engine, busy_timeout_ms=_SQLITE_BUSY_MS)
        return engine
    levels = {"isolation_level": level} if level else {}
    engine = make_engine(url, check=False, pool_size=4, max_overflow=2, **levels)
    connection_ids(engine)
    return engine


def _replay(setup: _Setup, risk: Any, plan: _Plan, timeout: float) -> dict[str, Any]:
    engine = _session_engine(setup, plan.isolation_level if setup.dialect != "sqlite" else None)
    try:
        known = set(setup.tables)
        before = _duplicates(engine, risk) if risk.pattern == "check-then-insert" else None
        sessions = {name: _Session(name) for name in ("A", "B")}
        programs = {name: _program(engine, plan, risk, session, known) for name, session in sessions.items()}
        trace = Interleaving(engine, timeout=timeout).run(programs, ORDER)
        after = _duplicates(engine, risk) if risk.pattern == "check-then-insert" else None
        final = _final(engine, plan, risk) if risk.pattern == "read-modify-write" else None
    finally:
        engine.dispose()
    verdict = _judge(risk, sessions["A"], sessions["B"], trace, before, after, final)
    skipped = [f"{name}: {why}" for name, session in sessions.items() for why in session.skipped]
    summary = _skip_summary(sessions.values())
    if summary:
        verdict["detail"] += f" (skipped in the replay: {summary})"
    verdict["trace"] = trace.lines()
    verdict["skipped"] = skipped
    verdict["isolation_level"] = plan.isolation_level
    return verdict


def _skip_summary(sessions: Iterable[_Session]) -> str:
    """What the replay left out, in one clause: the locks B did not take, the statements after the write that
    failed (an INSERT reusing the id A's run generated, say)."""
    parts = []
    for session in sessions:
        if session.unshared:
            parts.append(f"{session.name}'s lock on {', '.join(dict.fromkeys(session.unshared))}, a row only A's "
                         f"own parameters make both share")
        if session.failed_after:
            codes = ", ".join(f"{code} x{n}" if n > 1 else code
                              for code, n in Counter(session.failed_after).items())
            parts.append(f"{len(session.failed_after)} of {session.name}'s statements after the write that "
                         f"failed ({codes})")
    return "; ".join(parts)


def _final(engine: Engine, plan: _Plan, risk: Any) -> list[dict[str, Any]] | None:
    """The rows the read selects once both sessions are done (sent without its lock clause)."""
    read = plan.statements[plan.read_at]
    try:
        with engine.connect() as connection:
            rows = _rows(_send(connection, _Unlocked(read)))
            connection.rollback()
            return rows
    except SQLAlchemyError:
        return None


@dataclass
class _Unlocked:
    statement: Any

    @property
    def sql(self) -> str:
        return _LOCKING_READ.sub("", self.statement.sql)

    @property
    def parameters(self) -> Any:
        return self.statement.parameters

    @property
    def executemany(self) -> bool:
        return False


def _duplicates(engine: Engine, risk: Any) -> dict[tuple[Any, ...], int]:
    """Groups of rows of the risk's table that share the looked-up columns' values, with their sizes."""
    quote = engine.dialect.identifier_preparer.quote
    columns = ", ".join(quote(column) for column in risk.columns)
    sql = (f"SELECT {columns}, COUNT(*) FROM {quote(risk.table)} GROUP BY {columns} HAVING COUNT(*) > 1")
    with engine.connect() as connection:
        found = {tuple(row[:-1]): int(row[-1]) for row in connection.exec_driver_sql(sql)}
        connection.rollback()
    return found


# -- the verdict ----------------------------------------------------------------------------------------------


def _pick(rows: list[dict[str, Any]] | None, risk: Any) -> dict[str, Any]:
    """The written (or looked-up) columns' values in the first row a read returned, found under the labels the
    ORM gives them (``products_reserved``) too."""
    if not rows:
        return {}
    row = rows[0]
    picked: dict[str, Any] = {}
    for column in risk.columns:
        for key in (column, f"{risk.table}_{column}", f"{risk.table}.{column}"):
            if key in row:
                picked[column] = row[key]
                break
        else:
            matches = [key for key in row if str(key).lower().endswith(f"_{column}".lower())]
            if len(matches) == 1:
                picked[column] = row[matches[0]]
    return picked or row


def _values(rows: list[dict[str, Any]] | None, risk: Any) -> str:
    if rows is None:
        return "nothing"
    if not rows:
        return "no row"
    return ", ".join(f"{key}={value}" for key, value in _pick(rows, risk).items())


def _outcome(reproduced: bool, outcome: str, detail: str, error: str | None = None) -> dict[str, Any]:
    return {"reproduced": reproduced, "outcome": outcome, "error": error, "detail": detail}


def _blocked(trace: Trace) -> list[str]:
    said = []
    for step in trace.steps:
        if step.blocked or step.timed_out:
            how = f"{step.session}'s step '{step.label}' waited for a lock"
            if step.resumed_after is not None:
                how += f" until step {step.resumed_after}"
            if step.timed_out:
                how += " and was cancelled at the timeout"
            said.append(how)
    return said


def _judge(risk: Any, a: _Session, b: _Session, trace: Trace, before: dict | None, after: dict | None,
           final: list[dict[str, Any]] | None) -> dict[str, Any]:
    blocked = _blocked(trace)
    waited = f" ({'; '.join(blocked)})" if blocked else ""
    for session in (b, a):
        if session.error is not None and session.error_code in _UNIQUE and risk.pattern == "check-then-insert":
            return _outcome(False, "not reproduced",
                            f"not reproduced (a unique constraint stopped it): {session.name}'s insert failed with "
                            f"{session.error}{waited}", session.error)
    for session in (b, a):
        if session.error is not None:
            return _outcome(False, "aborted",
                            f"the engine aborted {session.name} at '{session.error_at}' with {session.error}"
                            f"{waited}: no data lost, safe with a retry loop", session.error)
    timed_out = [step for step in trace.steps if step.timed_out]
    if timed_out:
        return _outcome(False, "blocked", "; ".join(blocked) + ": the schedule could not go on, nothing was lost")
    for session in (a, b):
        if session.failed is not None:
            return _outcome(False, "not reproduced",
                            f"the replay could not run {session.name}'s transaction: {session.failed}")
    if not (a.committed and b.committed):
        return _outcome(False, "not reproduced", f"A committed: {a.committed}, B committed: {b.committed}{waited}")
    if risk.pattern == "read-modify-write":
        return _judge_rmw(risk, a, b, blocked, final)
    if risk.pattern == "check-then-insert":
        grown = {key: n for key, n in (after or {}).items() if n > (before or {}).get(key, 1)}
        if grown:
            key, n = next(iter(grown.items()))
            shown = ", ".join(f"{column}={value}" for column, value in zip(risk.columns, key, strict=False))
            return _outcome(True, "duplicate rows",
                            f"both looked for {risk.table} with {shown}, found none, and both inserted: {n} rows "
                            f"with {shown} now")
        if blocked:
            return _outcome(False, "blocked", "; ".join(blocked) + ": no duplicate row")
        return _outcome(False, "not reproduced", "both committed, but no two rows share the looked-up values")
    # check-then-act: each read an aggregate, then wrote what the aggregate allowed.
    if a.read_rows == b.read_rows and not blocked:
        return _outcome(True, "write skew",
                        f"both committed though each read the same aggregate ({_values(a.read_rows, risk)}) before "
                        f"the other's write")
    if blocked:
        return _outcome(False, "blocked", "; ".join(blocked) + ": B read the aggregate after A's write")
    return _outcome(False, "not reproduced",
                    f"B read {_values(b.read_rows, risk)}, A read {_values(a.read_rows, risk)}: B saw A's write")


def _judge_rmw(risk: Any, a: _Session, b: _Session, blocked: list[str],
               final: list[dict[str, Any]] | None) -> dict[str, Any]:
    a_read, b_read = _pick(a.read_rows, risk), _pick(b.read_rows, risk)
    a_wrote = _pick(a.wrote_rows, risk)
    if blocked:
        return _outcome(False, "blocked", f"{'; '.join(blocked)}; B read {_values(b.read_rows, risk)} after A "
                                          f"committed {_values(a.wrote_rows, risk)}: no update lost")
    if b_read != a_read:
        return _outcome(False, "not reproduced",
                        f"B read {_values(b.read_rows, risk)} where A read {_values(a.read_rows, risk)} and wrote "
                        f"{_values(a.wrote_rows, risk)}: B did not read what A had overwritten")
    detail = (f"B read {_values(b.read_rows, risk)} before A committed {_values(a.wrote_rows, risk)}, then wrote "
              f"{_values(final, risk) if final is not None else _values(b.wrote_rows, risk)} over it")
    if a_wrote == a_read:
        detail += (" (A's recorded write leaves these values as they were in the scratch copy, so the loss shows "
                   "in the schedule, not in the values)")
    return _outcome(True, "lost update", detail)


__all__ = ["MAX_ROWS", "confirm_risk", "confirm_risks"]
