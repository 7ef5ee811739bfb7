"""Record every statement an app sends, with its call site and the ORM's reason for sending it.

Only public SQLAlchemy events are used: ``before_cursor_execute``/``after_cursor_execute``/``handle_error`` on the
engine (so Core, ORM, ``text()`` and ``session.get()`` are all seen) and ``do_orm_execute`` on :class:`Session`,
which tags ORM statements through a public execution option so the cursor-level record can say which relationship
or column load it was. Every listener is removed when the block exits, also on exceptions.
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


class Statement:
    """One statement sent to the database.

    A thin view over the list the capture's hot path fills in (a list, because ``after_cursor_execute`` completes
    it in place); everything derived, such as the ORM context, the fingerprint and the location, is worked out
    on first access rather than while the application waits.
    """

    __slots__ = ("_r", "_orm")

    def __init__(self, raw: list) -> None:
        self._r = raw
        self._orm: Any = False

    sql = property(lambda self: self._r[0], doc="The SQL exactly as the driver received it.")
    parameters = property(lambda self: self._r[1], doc="The parameters exactly as the driver received them.")
    executemany = property(lambda self: self._r[2], doc="True for an executemany() batch.")
    filename = property(lambda self: self._r[3], doc="The application file that sent it (None if unknown).")
    lineno = property(lambda self: self._r[4], doc="The line in ``filename``.")
    function = property(lambda self: self._r[5], doc="The function containing that line.")

    @property
    def duration(self) -> float:
        """Seconds the cursor spent executing (0.0 while the statement is still running)."""
        return 0.0 if self._r[8] is None else self._r[7]

    @property
    def rowcount(self) -> int:
        """The cursor's rowcount (-1 when the driver does not know, e.g. SELECT on SQLite)."""
        return -1 if self._r[8] is None else self._r[8]

    @property
    def orm(self) -> OrmContext | None:
        """Why the ORM sent this statement (None for Core and ``text()``)."""
        if self._orm is False:
            raw = self._r[6]
            self._orm = None if raw is None else _build_orm_context(*raw)
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

class QueryLog:
    """What one capture saw. ``n_plus_one`` and ``duplicates`` are computed from ``statements`` on access."""

    def __init__(self, threshold: int = 2) -> None:
        self._raw: list[list] = []  # appended to by the capture's hot path
        self._statements: list[Statement] = []
        self.threshold = threshold

    @property
    def statements(self) -> list[Statement]:
        """Every statement sent so far, in order."""
        raw, done = self._raw, self._statements
        if len(done) < len(raw):
            done.extend(Statement(r) for r in raw[len(done):])
        return done

    def clear(self) -> None:
        """Forget what was recorded so far (the capture keeps running)."""
        del self._raw[:]
        del self._statements[:]

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
        self._pending: dict[int, list] = {}
        self._raw = self.log._raw
        self._depth = 0  # stack depth of the last application frame found, tried first next time
        self._frame = None  # that frame (a loop's frame stays the same object across iterations)
        self._active = False

    # Listeners are bound methods so every capture removes exactly its own. ``_before``/``_after`` run for every
    # statement, so they are written for speed: one helper call, no per-call allocations beyond the record itself
    # (benchmarks/query_overhead.py measures them).
    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        try:
            record = self._record(statement, parameters, executemany, context)
        except Exception:  # bookkeeping must never fail the application's query: keep the statement, lose its site
            record = [statement, parameters, executemany, None, None, None, None, 0.0, None]
        self._raw.append(record)
        self._pending[id(cursor)] = record
        record[7] = perf_counter()  # the start time until _after turns it into a duration

    def _record(self, statement, parameters, executemany, context) -> list:
        orm_raw = orm_facts(context)
        cache = _internal_cache
        # A loop sends its statements from the same depth again and again. Python builds frame objects lazily, so
        # trying last time's depth first (two frames) is much cheaper than walking every SQLAlchemy frame.
        depth = self._depth
        if depth:
            try:
                frame = _getframe(depth)
                # Same live application frame at the same depth, called through library code: same call site.
                if frame is self._frame and cache.get(_getframe(depth - 1).f_code.co_filename):
                    code = frame.f_code
                    return [statement, parameters, executemany, code.co_filename, frame.f_lineno, code.co_name,
                            orm_raw, 0.0, None]
            except ValueError:  # the stack is shallower this time
                pass
        frame = _getframe(1)
        depth = 1
        while frame is not None:
            code = frame.f_code
            internal = cache.get(code.co_filename)
            if internal is None:
                internal = _is_internal(code.co_filename)
            if not internal:
                self._depth = depth
                self._frame = frame
                return [statement, parameters, executemany, code.co_filename, frame.f_lineno, code.co_name,
                        orm_raw, 0.0, None]
            frame = frame.f_back
            depth += 1
        site = call_site(3) if _getcurrent is not None else None  # maybe across a greenlet boundary
        filename, lineno, function = site if site is not None else (None, None, None)
        return [statement, parameters, executemany, filename, lineno, function, orm_raw, 0.0, None]

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        record = self._pending.pop(id(cursor), None)
        if record is not None:
            record[7] = perf_counter() - record[7]
            try:
                record[8] = cursor.rowcount
            except Exception:  # a driver without rowcount: record "unknown"
                record[8] = -1

    def _error(self, exception_context) -> None:
        try:
            cursor = getattr(exception_context.execution_context, "cursor", None)
            record = self._pending.pop(id(cursor), None) if cursor is not None else None
            if record is not None:
                record[7] = perf_counter() - record[7]
                record[8] = -1
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
                event.listen(self.target, name, fn)
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
            self._frame = None  # do not keep the application's locals alive

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
