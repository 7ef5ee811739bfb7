"""Record every statement an app sends, with its call site and the ORM's reason for sending it.

Only public SQLAlchemy events are used: ``before_cursor_execute``/``after_cursor_execute``/``handle_error`` on the
engine (so Core, ORM, ``text()`` and ``session.get()`` are all seen) and ``do_orm_execute`` on :class:`Session`,
whose notes (see ``orm_context``) let the cursor-level record say which relationship or column load an ORM statement
was. Every listener is removed when the block exits, also on exceptions.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator
from time import perf_counter
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine

from .callsite import _display_path, _getcurrent, _internal_cache, _is_internal, call_site
from .fingerprint import fingerprint
from .orm_context import (
    OrmContext,
    _build_orm_context,
    _orm_listener_acquire,
    _orm_listener_release,
    orm_facts,
)

_getframe = sys._getframe
# No remembered site: its "frame" is never one _getframe returns, and _getframe(0) always succeeds.
_NO_SITE = (object(), 0, -1, (None, None, None))


class Statement:
    """One statement sent to the database.

    A view over what the capture's hot path recorded; everything derived, such as the ORM context, the
    fingerprint and the location, is worked out on first access rather than while the application waits.
    """

    __slots__ = ("_r", "_log", "_outcome", "_orm")

    def __init__(self, fields: tuple, log: QueryLog) -> None:
        self._r = fields  # see _FIELDS
        self._log = log
        self._outcome: tuple[float, int] | None = None  # (end time, rowcount) once the cursor has finished
        self._orm: Any = False

    sql = property(lambda self: self._r[0], doc="The SQL exactly as the driver received it.")
    parameters = property(lambda self: self._r[1], doc="The parameters exactly as the driver received them.")
    executemany = property(lambda self: self._r[2], doc="True for an executemany() batch.")
    filename = property(lambda self: self._r[3], doc="The application file that sent it (None if unknown).")
    lineno = property(lambda self: self._r[4], doc="The line in ``filename``.")
    function = property(lambda self: self._r[5], doc="The function containing that line.")

    def _finished(self) -> tuple[float, int] | None:
        if self._outcome is None:
            self._outcome = self._log._outcome(self._r[_START])
        return self._outcome

    @property
    def duration(self) -> float:
        """Seconds the cursor spent executing (0.0 while the statement is still running)."""
        outcome = self._finished()
        return 0.0 if outcome is None else outcome[0] - self._r[_START]

    @property
    def rowcount(self) -> int:
        """The cursor's rowcount (-1 when the driver does not know, e.g. SELECT on SQLite)."""
        outcome = self._finished()
        return -1 if outcome is None else outcome[1]

    @property
    def orm(self) -> OrmContext | None:
        """Why the ORM sent this statement (None for Core and ``text()``)."""
        if self._orm is False:
            kind = self._r[6]
            self._orm = None if kind is None else _build_orm_context(*self._r[6:10])
        return self._orm

    @property
    def fingerprint(self) -> str:
        return fingerprint(self._r[0])

    @property
    def location(self) -> str | None:
        """``path/to/file.py:42`` of the application line, relative to the working directory when inside it."""
        if self._r[3] is None:
            return None
        return f"{_display_path(self._r[3])}:{self._r[4]}"

    @property
    def is_select(self) -> bool:
        head = self._r[0].lstrip(" \n\t(").upper()
        return head.startswith("SELECT") or head.startswith("WITH")

    def __repr__(self) -> str:
        return f"Statement({' '.join(self.sql.split())[:80]!r} at {self.location})"

    def to_dict(self) -> dict[str, Any]:
        orm = self.orm
        return {
            "sql": self.sql,
            "parameters": _jsonable(self.parameters),
            "location": self.location,
            "duration_ms": round(self.duration * 1000, 3),
            "rowcount": self.rowcount,
            "orm": None if orm is None else {"kind": orm.kind, "entity": orm.entity, "relationship": orm.relationship},
        }


def _jsonable(value: Any) -> Any:
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


# --- the capture --------------------------------------------------------------------------------------------------

# What the hot path records per statement, one after another in one flat list: statement, parameters, executemany,
# filename, lineno, function, then the ORM note's kind, mapper, path and parent path (None for Core), then the start
# time. That float object is also the statement's token: the outcome names it, and while the log holds it no other
# statement's start can have its id. Flat, because a list or tuple per statement that outlives the statement makes
# the garbage collector run more often and look at more.
_FIELDS = 11
_START = 10


class QueryLog:
    """What one capture saw. ``n_plus_one`` and ``duplicates`` are computed from ``statements`` on access."""

    def __init__(self, threshold: int = 2) -> None:
        self._started: list = []  # _FIELDS per statement, extended by the capture's hot path
        self._ended: list = []  # (start time object, end time, rowcount) per finished statement, likewise
        self._outcomes: dict[int, tuple[float, int]] = {}
        self._statements: list[Statement] = []
        self.threshold = threshold

    @property
    def statements(self) -> list[Statement]:
        """Every statement sent so far, in order."""
        started, done = self._started, self._statements
        first, last = len(done) * _FIELDS, len(started) - len(started) % _FIELDS
        if first < last:
            done.extend(Statement(tuple(started[i:i + _FIELDS]), self) for i in range(first, last, _FIELDS))
        return done

    def _outcome(self, start: float) -> tuple[float, int] | None:
        ended, outcomes = self._ended, self._outcomes
        for i in range(len(outcomes) * 3, len(ended) - len(ended) % 3, 3):  # the outcomes not read yet
            outcomes[id(ended[i])] = (ended[i + 1], ended[i + 2])
        return outcomes.get(id(start))

    def clear(self) -> None:
        """Forget what was recorded so far (the capture keeps running)."""
        for statement in self._statements:  # views handed out earlier keep their duration and rowcount
            statement._finished()
        self._statements = []
        del self._started[:]  # in place: the capture appends to these very lists
        del self._ended[:]
        self._outcomes = {}

    def __len__(self) -> int:
        return len(self.statements)

    def __iter__(self) -> Iterator[Statement]:
        return iter(self.statements)

    @property
    def count(self) -> int:
        return len(self.statements)

    @property
    def n_plus_one(self):
        from .detection import find_n_plus_one

        return find_n_plus_one(self.statements, threshold=self.threshold)

    @property
    def duplicates(self):
        from .detection import find_duplicates

        return find_duplicates(self.statements)

    def to_dict(self) -> dict[str, Any]:
        return {
            "statements": [s.to_dict() for s in self.statements],
            "n_plus_one": [f.to_dict() for f in self.n_plus_one],
            "duplicates": [d.to_dict() for d in self.duplicates],
        }


class QueryCapture:
    """Context manager behind :func:`capture`; ``start()``/``stop()`` for callers that cannot use ``with``."""

    def __init__(self, engine=None, *, threshold: int = 2) -> None:
        self.target = _event_target(engine)
        self.log = QueryLog(threshold=threshold)
        self._started, self._ended = self.log._started, self.log._ended
        self._pending: dict[int, float] = {}  # id(cursor) -> start time (object) of the statement it is running
        # The application frame of the last statement (a loop's frame is the same object), its stack depth as seen
        # from _before, the instruction it was at, and the (filename, lineno, function) found there: one tuple,
        # replaced whole, so a thread never reads one statement's frame with another's site.
        self._last: tuple = _NO_SITE
        self._active = False

    # Listeners are bound methods so every capture removes exactly its own. ``_before``/``_after`` run for every
    # statement, so they are written for speed (benchmarks/query_overhead.py measures them): nothing they allocate
    # outlives the statement except what the log keeps, and that goes into flat lists (see _FIELDS). A flat list
    # is extended in one step, which threads cannot interleave; the start time object, not a position, pairs a
    # statement with its outcome for the same reason. ``_before`` is registered with ``retval=True``, so SQLAlchemy
    # calls it directly instead of through a wrapper that returns the statement for it.
    def _before(self, conn, cursor, statement, parameters, context, executemany):
        try:
            # A loop sends its statements from the same frame, depth and instruction again and again; Python builds
            # frame objects lazily, so looking at that one frame is much cheaper than walking every library frame.
            last = self._last
            try:
                frame = _getframe(last[1])
            except ValueError:  # the stack is shallower this time
                frame = None
            filename, lineno, function = (last[3] if frame is last[0] and frame.f_lasti == last[2]
                                          else self._find_site())
            note = orm_facts(context)
        except Exception:  # bookkeeping must never fail the application's query: keep the statement, lose its site
            filename = lineno = function = note = None
        # Plain tuples, not star-unpacking, which builds a list first.
        if note is None:
            self._started += (statement, parameters, executemany, filename, lineno, function, None, None, None, None,
                              start := perf_counter())
        else:
            _, kind, mapper, path, parent_path = note
            self._started += (statement, parameters, executemany, filename, lineno, function, kind, mapper, path,
                              parent_path, start := perf_counter())
        self._pending[id(cursor)] = start
        return statement, parameters

    def _find_site(self) -> tuple:
        """(filename, lineno, function) of the first application frame, remembered for the next statement."""
        cache = _internal_cache
        frame = _getframe(2)
        depth = 1  # as seen from _before, whose caller is depth 1
        while frame is not None:
            filename = frame.f_code.co_filename
            internal = cache.get(filename)
            if internal is None:
                internal = _is_internal(filename)
            if not internal:
                site = (filename, frame.f_lineno, frame.f_code.co_name)
                self._last = (frame, depth, frame.f_lasti, site)
                return site
            frame = frame.f_back
            depth += 1
        self._last = _NO_SITE
        site = call_site(3) if _getcurrent is not None else None  # maybe across a greenlet boundary
        return site if site is not None else (None, None, None)

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        end = perf_counter()
        start = self._pending.pop(id(cursor), None)
        if start is not None:
            try:
                rowcount = cursor.rowcount
            except Exception:  # a driver without rowcount: record "unknown"
                rowcount = -1
            self._ended += (start, end, rowcount)

    def _error(self, exception_context) -> None:
        try:
            cursor = getattr(exception_context.execution_context, "cursor", None)
            start = self._pending.pop(id(cursor), None) if cursor is not None else None
            if start is not None:
                self._ended += (start, perf_counter(), -1)
        except Exception:  # the application's own error is what must surface, not ours
            pass

    def start(self) -> QueryLog:
        if self._active:
            raise RuntimeError("this capture is already running")
        _orm_listener_acquire()
        installed: list[tuple[str, Any]] = []
        try:
            for name, fn in (("before_cursor_execute", self._before), ("after_cursor_execute", self._after),
                             ("handle_error", self._error)):
                event.listen(self.target, name, fn, retval=name == "before_cursor_execute")
                installed.append((name, fn))
        except BaseException:
            for name, fn in installed:
                event.remove(self.target, name, fn)
            _orm_listener_release()
            raise
        self._active = True
        return self.log

    def stop(self) -> None:
        if not self._active:
            return
        self._active = False
        try:
            for name, fn in (("before_cursor_execute", self._before), ("after_cursor_execute", self._after),
                             ("handle_error", self._error)):
                if event.contains(self.target, name, fn):
                    event.remove(self.target, name, fn)
        finally:
            _orm_listener_release()
            self._pending.clear()
            self._last = _NO_SITE  # do not keep the application's locals alive

    def __enter__(self) -> QueryLog:
        return self.start()

    def __exit__(self, *exc_info) -> None:
        self.stop()

    # ``async with capture(async_engine)`` reads naturally in a coroutine; starting and stopping never block.
    async def __aenter__(self) -> QueryLog:
        return self.start()

    async def __aexit__(self, *exc_info) -> None:
        self.stop()


def _event_target(engine):
    if engine is None:
        return Engine
    engine = getattr(engine, "sync_engine", engine)  # AsyncEngine / AsyncConnection
    if isinstance(engine, Engine | Connection):
        return engine
    bind = getattr(engine, "engine", None)  # e.g. Flask-SQLAlchemy's extension object
    if isinstance(bind, Engine):
        return bind
    raise TypeError(f"capture() needs an Engine, AsyncEngine or Connection, not {type(engine).__name__}")


def capture(engine=None, *, threshold: int = 2) -> QueryCapture:
    """Record every statement sent through ``engine`` (every engine when None) inside a ``with`` block.

    ``engine`` may be an Engine or Connection, an AsyncEngine or AsyncConnection (``async with`` works too; call
    sites are found in the awaiting coroutine), or anything with an ``.engine`` such as Flask-SQLAlchemy's ``db``.

    >>> with capture(engine) as log:  # doctest: +SKIP
    ...     for product in session.scalars(select(Product)):
    ...         product.category.name
    >>> log.n_plus_one[0].fix  # doctest: +SKIP
    'joinedload(Product.category)'
    """
    return QueryCapture(engine, threshold=threshold)
