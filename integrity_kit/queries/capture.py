"""Record every statement an app sends, with its call site and the ORM's reason for sending it.

Only public SQLAlchemy events are used: ``before_cursor_execute``/``after_cursor_execute``/``handle_error`` on the
engine (so Core, ORM, ``text()`` and ``session.get()`` are all seen) and ``do_orm_execute`` on :class:`Session`,
whose notes (see ``orm_context``) let the cursor-level record say which relationship or column load an ORM statement
was. The ``begin``/``commit``/``rollback`` events mark where each transaction starts and ends (see
``transactions``). Every listener is removed when the block exits, also on exceptions.
"""

from __future__ import annotations

import sys
import weakref
from time import perf_counter
from types import FrameType
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine, ExceptionContext

from . import scopes
from .callsite import HAS_GREENLET, call_site, frame_line, is_library_file, library_files, outer_app_lines
from .log import FIELDS, QueryLog
from .orm_context import acquire_orm_listener, flushing_sessions, orm_facts, release_orm_listener
from .transactions import dialect_name, isolation_level_of

_getframe = sys._getframe
# No remembered site: its "frame" is never one _getframe returns, and _getframe(0) always succeeds.
_NO_SITE = (object(), 0, -1, (None, None, None, None))
_scope = scopes.current


class QueryCapture:
    """Context manager behind :func:`capture`; ``start()``/``stop()`` for callers that cannot use ``with``."""

    def __init__(self, engine: Any = None, *, threshold: int = 2) -> None:
        self.target = _event_target(engine)
        # The flat lists the hot path appends to, shared with the log that reads them (see log.FIELDS).
        self._started: list[Any] = []
        self._ended: list[Any] = []
        self._boundaries: list[tuple[Any, ...]] = []  # transaction boundaries, see transactions.build_transactions
        self._engines: weakref.WeakSet[Engine] = weakref.WeakSet()  # weak: a capture must not keep a pool alive
        self.log = QueryLog(threshold=threshold, started=self._started, ended=self._ended,
                            boundaries=self._boundaries, dialect=_dialect_of(self.target), engines=self._engines)
        self._pending: dict[int, float] = {}  # id(cursor) -> start time (object) of the statement it is running
        # The application frame of the last statement (a loop's frame is the same object), its stack depth as seen
        # from _before, the instruction it was at, and the (filename, lineno, function, outer application lines)
        # found there (a frame suspended at the same instruction has the same callers): one tuple,
        # replaced whole, so a thread never reads one statement's frame with another's site.
        self._last: tuple = _NO_SITE
        # The library frame the application frame called (held, so ``is`` stays meaningful) and a counter that moves
        # on whenever it changes: statements with one activation came from one call into a library.
        self._callee: Any = None
        self._activation = 0
        self._active = False

    # Listeners are bound methods so every capture removes exactly its own. ``_before``/``_after`` run for every
    # statement, so they are written for speed (benchmarks/query_overhead.py measures them): nothing they allocate
    # outlives the statement except what the log keeps, and that goes into flat lists (see log.FIELDS). A flat list
    # is extended in one step, which threads cannot interleave; the start time object, not a position, pairs a
    # statement with its outcome for the same reason. ``_before`` is registered with ``retval=True``, so SQLAlchemy
    # calls it directly instead of through a wrapper that returns the statement for it.
    def _before(self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
                executemany: bool) -> tuple[str, Any]:
        try:
            # A loop sends its statements from the same frame, depth and instruction again and again; Python builds
            # frame objects lazily, so looking at that one frame is much cheaper than walking every library frame.
            last_frame, last_depth, last_lasti, last_site = self._last
            try:
                frame: FrameType | None = _getframe(last_depth)
            except ValueError:  # the stack is shallower this time
                frame = None
            filename, lineno, function, callers = (last_site if frame is last_frame and frame.f_lasti == last_lasti
                                                   else self._find_site())
            depth = self._last[1]
            if depth > 1:
                callee = _getframe(depth - 1)
                if callee is not self._callee:
                    self._callee = callee
                    self._activation += 1
            else:  # found across a greenlet (AsyncSession): no frame to compare, so every statement is its own call
                self._activation += 1
            note = orm_facts(context)
        except Exception:  # bookkeeping must never fail the application's query: keep the statement, lose its site
            filename = lineno = function = callers = note = None
        # Plain tuples in the order of log.FIELDS, not star-unpacking, which builds a list first.
        if note is None and flushing_sessions and statement.lstrip(" (\n")[:6].upper().startswith(("SELECT", "WITH")):
            # A Core statement while a session flushes is a flush hook's (say a versioning extension's); another
            # thread's flush can mislabel one here, which only matters for a flush-hook loop in that instant.
            self._started += (statement, parameters, executemany, filename, lineno, function, callers, _scope[0],
                              self._activation, "flush", None, None, None, start := perf_counter(), id(conn))
        elif note is None:
            self._started += (statement, parameters, executemany, filename, lineno, function, callers, _scope[0],
                              self._activation, None, None, None, None, start := perf_counter(), id(conn))
        else:
            _, kind, mapper, path, parent_path = note
            self._started += (statement, parameters, executemany, filename, lineno, function, callers, _scope[0],
                              self._activation, kind, mapper, path, parent_path, start := perf_counter(), id(conn))
        self._pending[id(cursor)] = start
        return statement, parameters

    def _find_site(self) -> tuple:
        """(filename, lineno, function, outer application lines) of the first application frame, remembered for the
        next statement."""
        cache = library_files
        frame: FrameType | None = _getframe(2)
        depth = 1  # as seen from _before, whose caller is depth 1
        while frame is not None:
            filename = frame.f_code.co_filename
            internal = cache.get(filename)
            if internal is None:
                internal = is_library_file(filename)
            if not internal:
                filename, lineno = frame_line(frame)
                site = (filename, lineno, frame.f_code.co_name, outer_app_lines(frame.f_back))
                self._last = (frame, depth, frame.f_lasti, site)
                return site
            frame = frame.f_back
            depth += 1
        self._last = _NO_SITE
        found = call_site(3) if HAS_GREENLET else None  # maybe across a greenlet boundary
        return found if found is not None else (None, None, None, None)

    def _after(self, conn: Connection, cursor: Any, statement: str, parameters: Any, context: Any,
               executemany: bool) -> None:
        end = perf_counter()
        start = self._pending.pop(id(cursor), None)
        if start is not None:
            try:
                rowcount = cursor.rowcount
            except Exception:  # a driver without rowcount: record "unknown"
                rowcount = -1
            self._ended += (start, end, rowcount)

    def _error(self, exception_context: ExceptionContext) -> None:
        try:
            cursor = getattr(exception_context.execution_context, "cursor", None)
            start = self._pending.pop(id(cursor), None) if cursor is not None else None
            if start is not None:
                self._ended += (start, perf_counter(), -1)
        except Exception:  # the application's own error is what must surface, not ours
            pass

    # Transaction boundaries: once per transaction, not per statement, so plain code is fast enough.
    def _begin(self, conn: Connection) -> None:
        try:
            fairy = conn.connection
            dbapi = getattr(fairy, "dbapi_connection", None) or getattr(fairy, "connection", fairy)
            detail = (id(dbapi), dialect_name(conn.dialect), isolation_level_of(conn))
            self._engines.add(conn.engine)
        except Exception:  # an invalidated or closed connection: the transaction is still one
            detail = (id(conn), "unknown", None)
        self._boundaries.append(("begin", id(conn), len(self._started) // FIELDS, detail))

    def _commit(self, conn: Connection) -> None:
        self._boundaries.append(("commit", id(conn), len(self._started) // FIELDS, None))

    def _rollback(self, conn: Connection) -> None:
        self._boundaries.append(("rollback", id(conn), len(self._started) // FIELDS, None))

    def _target_of(self, name: str) -> Any:
        # SQLAlchemy 2.0 takes handle_error only on an Engine: a Connection's errors are heard on its engine.
        if name == "handle_error" and isinstance(self.target, Connection):
            return self.target.engine
        return self.target

    def _listeners(self) -> tuple[tuple[str, Any], ...]:
        return (("before_cursor_execute", self._before), ("after_cursor_execute", self._after),
                ("handle_error", self._error), ("begin", self._begin), ("commit", self._commit),
                ("rollback", self._rollback))

    def start(self) -> QueryLog:
        if self._active:
            raise RuntimeError("this capture is already running")
        acquire_orm_listener()
        scopes.acquire()
        installed: list[tuple[str, Any]] = []
        try:
            for name, fn in self._listeners():
                event.listen(self._target_of(name), name, fn, retval=name == "before_cursor_execute")
                installed.append((name, fn))
        except BaseException:
            for name, fn in installed:
                event.remove(self._target_of(name), name, fn)
            release_orm_listener()
            scopes.release()
            raise
        self._active = True
        return self.log

    def stop(self) -> None:
        if not self._active:
            return
        self._active = False
        try:
            for name, fn in self._listeners():
                if event.contains(self._target_of(name), name, fn):
                    event.remove(self._target_of(name), name, fn)
        finally:
            release_orm_listener()
            scopes.release()
            self._pending.clear()
            self._last = _NO_SITE  # do not keep the application's locals alive
            self._callee = None

    def __enter__(self) -> QueryLog:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    # ``async with capture(async_engine)`` reads naturally in a coroutine; starting and stopping never block.
    async def __aenter__(self) -> QueryLog:
        return self.start()

    async def __aexit__(self, *exc_info: object) -> None:
        self.stop()


def _event_target(engine: Any) -> type[Engine] | Engine | Connection:
    if engine is None:
        return Engine
    engine = getattr(engine, "sync_engine", engine)  # AsyncEngine / AsyncConnection
    if isinstance(engine, Engine | Connection):
        return engine
    bind = getattr(engine, "engine", None)  # e.g. Flask-SQLAlchemy's extension object
    if isinstance(bind, Engine):
        return bind
    raise TypeError(f"capture() needs an Engine, AsyncEngine or Connection, not {type(engine).__name__}")


def _dialect_of(target: Any) -> str | None:
    dialect = getattr(target, "dialect", None)
    return None if dialect is None or isinstance(target, type) else dialect_name(dialect)


def capture(engine: Any = None, *, threshold: int = 2) -> QueryCapture:
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
