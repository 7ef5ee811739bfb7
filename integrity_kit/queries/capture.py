"""Record every statement an app sends, with its call site and the ORM's reason for sending it.

Only public SQLAlchemy events are used: ``before_cursor_execute``/``after_cursor_execute``/``handle_error`` on the
engine (so Core, ORM, ``text()`` and ``session.get()`` are all seen) and ``do_orm_execute`` on :class:`Session`,
which tags ORM statements through a public execution option so the cursor-level record can say which relationship
or column load it was. Every listener is removed when the block exits, also on exceptions.
"""

from __future__ import annotations

import contextlib
import os
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import sqlalchemy
from sqlalchemy import event
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session

import integrity_kit

from .fingerprint import fingerprint

_ORM_OPTION = "integrity_kit_orm"


@dataclass(frozen=True, slots=True)
class OrmContext:
    """Why the ORM sent a statement.

    ``kind`` is ``"lazy"`` (a relationship loaded for one row on attribute access), ``"batch"`` (SQLAlchemy's own
    eager loaders, e.g. one ``selectinload`` chunk for many rows), ``"column"`` (a deferred or expired column
    loaded for one row) or ``"query"`` (a statement the application executed through the session).
    """

    kind: str
    entity: str | None
    relationship: str | None
    mapper: Any = field(default=None, repr=False, compare=False)
    prop: Any = field(default=None, repr=False, compare=False)
    parent_path: tuple = field(default=(), repr=False, compare=False)


@dataclass(slots=True)
class Statement:
    """One statement sent to the database."""

    sql: str
    parameters: Any
    executemany: bool
    filename: str | None
    lineno: int | None
    function: str | None
    orm: OrmContext | None
    duration: float = 0.0
    rowcount: int = -1

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.sql)

    @property
    def location(self) -> str | None:
        """``path/to/file.py:42`` of the application line, relative to the working directory when inside it."""
        if self.filename is None:
            return None
        return f"{_display_path(self.filename)}:{self.lineno}"

    @property
    def is_select(self) -> bool:
        head = self.sql.lstrip(" \n\t(").upper()
        return head.startswith("SELECT") or head.startswith("WITH")

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


# --- call sites ---------------------------------------------------------------------------------------------------

def _package_dir(module) -> str:
    return os.path.dirname(os.path.abspath(module.__file__)) + os.sep


_INTERNAL_PREFIXES: list[str] = [_package_dir(sqlalchemy), _package_dir(integrity_kit)]
for _name in ("greenlet", "asyncio", "contextlib"):
    try:
        _module = __import__(_name)
        _file = getattr(_module, "__file__", None)
        if _file:
            _INTERNAL_PREFIXES.append(_file if _name == "contextlib" else _package_dir(_module))
    except ImportError:  # pragma: no cover - optional
        pass
_internal_cache: dict[str, bool] = {}


def _is_internal(filename: str) -> bool:
    internal = _internal_cache.get(filename)
    if internal is None:
        path = os.path.abspath(filename) if not filename.startswith("<") else filename
        internal = filename.startswith("<frozen") or any(path.startswith(p) for p in _INTERNAL_PREFIXES)
        _internal_cache[filename] = internal
    return internal


def _first_app_frame(frame):
    while frame is not None:
        if not _is_internal(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


try:  # AsyncSession runs the ORM in a greenlet; the awaiting application frames live in its parent.
    from greenlet import getcurrent as _getcurrent
except ImportError:  # pragma: no cover - greenlet is optional for SQLAlchemy
    _getcurrent = None


def call_site(depth: int = 1):
    """(filename, lineno, function) of the first frame outside SQLAlchemy and integrity-kit, or None."""
    frame = _first_app_frame(sys._getframe(depth))
    if frame is None and _getcurrent is not None:
        glet = _getcurrent().parent
        while frame is None and glet is not None:
            frame = _first_app_frame(glet.gr_frame)
            glet = glet.parent
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name


_location_cache: dict[tuple[str, str], str] = {}


def _display_path(filename: str) -> str:
    cwd = os.getcwd()
    shown = _location_cache.get((cwd, filename))
    if shown is None:
        try:
            relative = os.path.relpath(filename, cwd)
        except ValueError:  # another drive on Windows
            relative = filename
        shown = filename if relative.startswith("..") else relative
        _location_cache[(cwd, filename)] = shown
    return shown


# --- ORM context --------------------------------------------------------------------------------------------------

def _relationship_props(path) -> tuple:
    """The relationship properties along a PathRegistry, outermost first."""
    if path is None:
        return ()
    return tuple(item for item in getattr(path, "path", ()) if hasattr(item, "direction"))


def _orm_context(state) -> OrmContext:
    mapper = state.bind_mapper
    entity = mapper.class_.__name__ if mapper is not None else None
    lazy_from = state.lazy_loaded_from
    if state.is_relationship_load:
        props = _relationship_props(state.loader_strategy_path)
        prop = props[-1] if props else None
        relationship = f"{prop.parent.class_.__name__}.{prop.key}" if prop is not None else None
        if lazy_from is not None:
            parent_path = _relationship_props(getattr(lazy_from, "load_path", None))
            return OrmContext("lazy", entity, relationship, mapper, prop, parent_path)
        return OrmContext("batch", entity, relationship, mapper, prop)
    if state.is_column_load:
        return OrmContext("column", entity, None, mapper)
    return OrmContext("query", entity, None, mapper)


def _on_orm_execute(orm_execute_state) -> None:
    with contextlib.suppress(Exception):  # context is a nicety; never break the user's query over it
        orm_execute_state.update_execution_options(**{_ORM_OPTION: _orm_context(orm_execute_state)})


_orm_lock = threading.Lock()
_orm_users = 0


def _orm_listener_acquire() -> None:
    global _orm_users
    with _orm_lock:
        if _orm_users == 0:
            event.listen(Session, "do_orm_execute", _on_orm_execute)
        _orm_users += 1


def _orm_listener_release() -> None:
    global _orm_users
    with _orm_lock:
        _orm_users -= 1
        if _orm_users == 0:
            event.remove(Session, "do_orm_execute", _on_orm_execute)


# --- the capture --------------------------------------------------------------------------------------------------

class QueryLog:
    """What one capture saw. ``n_plus_one`` and ``duplicates`` are computed from ``statements`` on access."""

    def __init__(self, threshold: int = 2) -> None:
        self.statements: list[Statement] = []
        self.threshold = threshold

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
        self._pending: dict[int, tuple[Statement, float]] = {}
        self._active = False

    # listeners are bound methods so every capture removes exactly its own
    def _before(self, conn, cursor, statement, parameters, context, executemany) -> None:
        orm = context.execution_options.get(_ORM_OPTION) if context is not None else None
        site = call_site(2)
        filename, lineno, function = site if site is not None else (None, None, None)
        record = Statement(statement, parameters, executemany, filename, lineno, function, orm)
        self.log.statements.append(record)
        self._pending[id(cursor)] = (record, time.perf_counter())

    def _after(self, conn, cursor, statement, parameters, context, executemany) -> None:
        pending = self._pending.pop(id(cursor), None)
        if pending is not None:
            record, started = pending
            record.duration = time.perf_counter() - started
            with contextlib.suppress(Exception):
                record.rowcount = cursor.rowcount

    def _error(self, exception_context) -> None:
        cursor = getattr(exception_context.execution_context, "cursor", None)
        pending = self._pending.pop(id(cursor), None) if cursor is not None else None
        if pending is not None:
            record, started = pending
            record.duration = time.perf_counter() - started

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

    def __enter__(self) -> QueryLog:
        return self.start()

    def __exit__(self, *exc_info) -> None:
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

    >>> with capture(engine) as log:  # doctest: +SKIP
    ...     for product in session.scalars(select(Product)):
    ...         product.category.name
    >>> log.n_plus_one[0].fix  # doctest: +SKIP
    'joinedload(Product.category)'
    """
    return QueryCapture(engine, threshold=threshold)
