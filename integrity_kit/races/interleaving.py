"""The interleaving engine: named sessions, each on its own connection in its own thread, advanced one step at a
time in an exact order, so an anomaly that needs one particular interleaving happens every time.

A session is a *program*: a function that calls ``ctx.step(label)`` at every point where the schedule may stop it.
:meth:`Interleaving.run` takes the order in which sessions are advanced (``["T1", "T2", "T1", ...]``); advancing a
session lets it run from its current point to the next one (or to its end). A step that does not get there because
the database made it wait for a lock is *blocked*: the engine asks the server (``pg_stat_activity`` on PostgreSQL,
``information_schema.innodb_trx`` on MySQL/MariaDB; SQLite has no such view, so there a step that makes no progress
for ``sqlite_block_after`` seconds counts as blocked), records it, and moves on with the next session, as Hermitage
does by hand. A wait counts only while every other running session waits too: a wait that a running session is
about to end (one committing after a deadlock victim let it go) is a moment, not a step of the schedule.
Later steps of a blocked session wait for it; when a step of another session releases the lock, the blocked step
finishes and the trace says after which step it resumed. A step that neither finishes nor blocks
within ``timeout`` is cancelled on the server and reported, so a schedule can never hang.

The trace is built from what each step did, never from timings, so the same schedule prints the same trace every
run.
"""

from __future__ import annotations

import queue
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine, event, text

from integrity_kit.errors import first_line

_POLL = 0.005
_SETTLE = 0.15  # how long a blocked session must still be waiting after a step before we call it "still blocked"


class ScheduleError(Exception):
    """The schedule itself is wrong (unknown session, a step that hung past the timeout)."""


class ScheduleAborted(Exception):
    """Raised inside a session's program when the schedule ended without letting it continue."""


@dataclass
class StepRecord:
    index: int
    session: str
    label: str
    blocked: bool = False
    resumed_after: int | None = None  # index of the step after which a blocked step finished
    error: str | None = None  # the error code that ended the session's transaction in this step
    notes: list[str] = field(default_factory=list)
    timed_out: bool = False

    def describe(self) -> str:
        text_ = f"{self.index:>2}. {self.session}: {self.label}"
        if self.blocked:
            text_ += " -- blocked on a lock"
            if self.resumed_after is not None:
                text_ += f", resumed after step {self.resumed_after}"
        if self.timed_out:
            text_ += " -- still waiting at the timeout, cancelled"
        if self.notes:
            text_ += " -> " + "; ".join(self.notes)
        if self.error:
            text_ += f" -> error {self.error}"
        return text_

    def to_dict(self) -> dict[str, Any]:
        return {"index": self.index, "session": self.session, "label": self.label, "blocked": self.blocked,
                "resumed_after": self.resumed_after, "error": self.error, "notes": list(self.notes),
                "timed_out": self.timed_out}


@dataclass
class Trace:
    steps: list[StepRecord]
    results: dict[str, Any]  # what each session's program returned (or the exception it ended with)

    def lines(self) -> list[str]:
        return [step.describe() for step in self.steps]

    def blocked(self, session: str) -> list[StepRecord]:
        return [step for step in self.steps if step.session == session and step.blocked]


class SessionContext:
    """What a session's program sees: ``step()`` to yield to the schedule, ``note()`` to describe what it saw."""

    def __init__(self, name: str) -> None:
        self.name = name
        self.server_id: Any = None  # backend pid / connection id, for lock-wait detection
        self._go = threading.Semaphore(0)
        self.events: queue.Queue = queue.Queue()
        self.current: StepRecord | None = None
        self.aborted = False

    def step(self, label: str) -> None:
        self.events.put(("at", label))
        self._go.acquire()
        if self.aborted:  # the schedule is over: do not run steps nobody asked for
            raise ScheduleAborted(self.name)

    def note(self, text_: str) -> None:
        if self.current is not None:
            self.current.notes.append(text_)

    def fail(self, code: str) -> None:
        if self.current is not None:
            self.current.error = code


Program = Callable[[SessionContext], Any]


class _Session:
    def __init__(self, name: str, program: Program) -> None:
        self.ctx = SessionContext(name)
        self.program = program
        self.at: str | None = None
        self.finished = False
        self.result: Any = None
        self.pending: StepRecord | None = None  # a blocked step not finished yet
        self.running = False  # released and not yet at its next point
        self.thread = threading.Thread(target=self._run, name=f"ik-schedule-{name}", daemon=True)
        self.thread.ik_session = self.ctx  # type: ignore[attr-defined]

    def _run(self) -> None:
        try:
            self.ctx.events.put(("done", self.program(self.ctx)))
        except BaseException as error:  # the trace reports it; the coordinator re-raises nothing
            self.ctx.events.put(("done", error))

    def release(self) -> None:
        self.ctx._go.release()


def connection_ids(engine: Engine) -> None:
    """Tag each session's pooled connections with their server id, so lock waits can be attributed."""
    query = _ID_QUERIES.get(engine.dialect.name)
    if query is None or getattr(engine, "_ik_tagged", False):
        return
    engine._ik_tagged = True  # type: ignore[attr-defined]

    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection, record) -> None:
        cursor = dbapi_connection.cursor()
        cursor.execute(query)
        record.info["ik_server_id"] = cursor.fetchone()[0]
        cursor.close()
        # End the driver's implicit transaction: an isolation level cannot be set inside one.
        dbapi_connection.rollback()

    @event.listens_for(engine, "checkout")
    def _checkout(_dbapi_connection, record, _proxy) -> None:
        ctx = getattr(threading.current_thread(), "ik_session", None)
        if ctx is not None:
            ctx.server_id = record.info.get("ik_server_id")


_ID_QUERIES = {"postgresql": "SELECT pg_backend_pid()", "mysql": "SELECT CONNECTION_ID()",
               "mariadb": "SELECT CONNECTION_ID()"}
_WAITING = {
    "postgresql": "SELECT pid FROM pg_stat_activity WHERE wait_event_type = 'Lock'",
    "mysql": "SELECT trx_mysql_thread_id FROM information_schema.innodb_trx WHERE trx_state = 'LOCK WAIT'",
}
_CANCEL = {"postgresql": "SELECT pg_cancel_backend({id})", "mysql": "KILL QUERY {id}"}


class Interleaving:
    """Run programs in an exact interleaving on ``monitor_engine``'s server (see the module docstring)."""

    def __init__(self, monitor_engine: Engine, *, timeout: float = 10.0, sqlite_block_after: float = 0.3) -> None:
        self.monitor_engine = monitor_engine
        self.dialect = "mysql" if monitor_engine.dialect.name in ("mysql", "mariadb") else monitor_engine.dialect.name
        self.timeout = timeout
        self.sqlite_block_after = sqlite_block_after
        # InnoDB refreshes its INNODB_TRX cache only when nobody read it for 0.1 s: polling faster would keep
        # reading the same stale picture forever.
        self._check_every = 0.12 if self.dialect == "mysql" else 0.02
        self._last_check = 0.0
        self._sessions: dict[str, _Session] = {}
        self._steps: list[StepRecord] = []
        self._monitor: Connection | None = None

    def run(self, programs: dict[str, Program], order: Sequence[str]) -> Trace:
        unknown = set(order) - set(programs)
        if unknown:
            raise ScheduleError(f"the order names sessions that do not exist: {sorted(unknown)}")
        self._sessions = sessions = {name: _Session(name, program) for name, program in programs.items()}
        steps: list[StepRecord] = []
        self._steps = steps
        self._monitor = self.monitor_engine.connect() if self.dialect in _WAITING else None
        deferred: dict[str, int] = {name: 0 for name in sessions}
        try:
            for session in sessions.values():
                session.thread.start()
            for session in sessions.values():  # every program runs to its first step point (connect, setup)
                self._await(session, None)
            for name in order:
                session = sessions[name]
                if session.pending is not None or deferred[name]:
                    deferred[name] += 1  # waits behind its blocked step, as in a Hermitage session
                    continue
                self._advance(session)
                self._settle(deferred)
            # Whatever the order left unfinished runs to its end (retries after an abort, deferred commits).
            for _ in range(100):
                open_ = [s for s in sessions.values() if not s.finished]
                if not open_:
                    break
                runnable = [s for s in open_ if s.pending is None]
                if runnable:
                    self._advance(runnable[0])
                else:
                    self._wait_or_cancel(open_)
                self._settle(deferred)
            return Trace(steps, {name: session.result for name, session in sessions.items()})
        finally:
            for session in sessions.values():
                if not session.finished:
                    session.ctx.aborted = True
                    self._cancel(session)
                    session.release()
                session.thread.join(timeout=self.timeout)
            if self._monitor is not None:
                self._monitor.close()

    # -- one step ---------------------------------------------------------------------------------------------

    def _advance(self, session: _Session) -> None:
        if session.finished:
            self._steps.append(StepRecord(len(self._steps) + 1, session.ctx.name,
                                          "(nothing left: its transaction already ended)"))
            return
        # The server's view must postdate the step's start: never judge a step by a picture taken before it.
        self._last_check = time.monotonic()
        record = StepRecord(len(self._steps) + 1, session.ctx.name, session.at or "(end)")
        self._steps.append(record)
        session.ctx.current = record
        session.running = True
        session.release()
        self._await(session, record)

    def _await(self, session: _Session, record: StepRecord | None) -> None:
        """Wait for the session to reach its next point or end; if it waits on a lock, leave it pending."""
        started = time.monotonic()
        while True:
            if self._take_event(session):
                return
            for other in self._sessions.values():  # a blocked session may be released meanwhile
                if other is not session and other.pending is not None:
                    self._take_event(other)
            now = time.monotonic()
            if record is not None and now - self._last_check >= self._check_every:
                self._last_check = now
                if self._is_blocked(session, now - started):
                    record.blocked = True
                    session.pending = record
                    return
            if now - started > self.timeout:
                if record is None:
                    raise ScheduleError(f"session {session.ctx.name} did not reach its first step")
                record.timed_out = True
                self._cancel(session)
                self._drain_after_cancel(session)
                return
            time.sleep(_POLL)

    def _take_event(self, session: _Session) -> bool:
        try:
            kind, value = session.ctx.events.get_nowait()
        except queue.Empty:
            return False
        session.running = False
        if kind == "at":
            session.at = value
        else:
            session.finished = True
            session.at = None
            session.result = value
            if isinstance(value, BaseException) and not isinstance(value, ScheduleAborted):
                if session.ctx.current is None:
                    raise ScheduleError(f"session {session.ctx.name} failed before its first step: "
                                        f"{type(value).__name__}: {first_line(value)}")
                session.ctx.current.notes.append(f"failed: {type(value).__name__}: {first_line(value)}")
        if session.pending is not None:
            # Released by whatever ran since it blocked: the latest step (deterministic, unlike the clock).
            latest = self._steps[-1]
            session.pending.resumed_after = latest.index if latest is not session.pending else None
            session.pending = None
        return True

    def _settle(self, deferred: dict[str, int]) -> None:
        """After a step: which blocked sessions did it release? Those finish their step, then their deferred ones."""
        progressed = True
        while progressed:
            progressed = False
            for session in self._sessions.values():
                if session.pending is not None:
                    self._settle_pending(session)
                if session.pending is None and deferred[session.ctx.name]:
                    progressed = True
                    # Its deferred steps run now, in order, until one blocks in turn (the rest wait behind it).
                    while deferred[session.ctx.name] and session.pending is None:
                        deferred[session.ctx.name] -= 1
                        self._advance(session)

    def _settle_pending(self, session: _Session) -> None:
        """Let a blocked session finish the step it was blocked in if the step just run released it.

        Released or not is read from the server, not from the clock: under load a released session can take longer
        than any fixed pause to finish, and its release must still be credited to the step that caused it."""
        deadline = time.monotonic() + _SETTLE
        while time.monotonic() < deadline:
            if self._take_event(session):
                return
            time.sleep(_POLL)
        if self._monitor is None or session.ctx.server_id is None:
            return
        seen_waiting = 0
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._take_event(session):
                return
            now = time.monotonic()
            if now - self._last_check >= self._check_every:
                self._last_check = now
                # Two readings in a row: InnoDB's lock-wait picture can be one refresh stale.
                seen_waiting = seen_waiting + 1 if session.ctx.server_id in self._waiting() else 0
                if seen_waiting >= 2:
                    return
            time.sleep(_POLL)

    def _waiting(self) -> set[Any]:
        """Server ids of the sessions waiting on a lock now."""
        assert self._monitor is not None
        waiting = {row[0] for row in self._monitor.execute(text(_WAITING[self.dialect]))}
        self._monitor.commit()  # a fresh snapshot of the server's activity each time
        return waiting

    def _wait_or_cancel(self, blocked: list[_Session]) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if any(self._take_event(session) for session in blocked):
                return
            time.sleep(_POLL)
        session = blocked[0]  # every remaining session waits for another: cancel the first, report it
        if session.pending is not None:
            session.pending.timed_out = True
        self._cancel(session)
        self._drain_after_cancel(session)

    def _drain_after_cancel(self, session: _Session) -> None:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self._take_event(session):
                session.pending = None
                return
            time.sleep(_POLL)
        raise ScheduleError(f"session {session.ctx.name} did not stop after its step was cancelled")

    # -- the server's view ------------------------------------------------------------------------------------

    def _is_blocked(self, session: _Session, elapsed: float) -> bool:
        """Blocked means waiting on a lock *while nothing else runs*: a wait that another running session is about
        to end (say, one committing after a deadlock victim let it go) is transient, not part of the schedule."""
        if self._monitor is None:
            return elapsed >= self.sqlite_block_after
        if session.ctx.server_id is None:
            return False
        waiting = self._waiting()
        others_running = [other for other in self._sessions.values()
                          if other is not session and other.running and not other.finished]
        return session.ctx.server_id in waiting and all(other.ctx.server_id in waiting for other in others_running)

    def _cancel(self, session: _Session) -> None:
        if self._monitor is None or session.ctx.server_id is None:
            return
        try:
            self._monitor.execute(text(_CANCEL[self.dialect].format(id=int(session.ctx.server_id))))
            self._monitor.commit()
        except Exception:  # the query may have ended by itself in the meantime
            self._monitor.rollback()
