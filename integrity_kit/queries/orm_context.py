"""The ORM's reason for sending a statement, read through the public ``do_orm_execute`` event.

The listener notes a few cheap facts (kind, mapper, loader path) about each ORM statement, keyed by the statement
object; the cursor-level capture finds them again through ``context.invoked_statement`` (the same object, on
SQLAlchemy 2.0 and 2.1), and :func:`build_orm_context` turns them into names and relationship properties only when
someone asks. One listener on :class:`Session` serves every running capture.

Not an execution option: ``update_execution_options`` builds a new options dictionary for every ORM statement and
every later merge carries the extra key, which costs more than the rest of the capture. Keyed by the statement
object, a flush the ORM runs between the event and the query (autoflush) cannot pick up the query's facts, and
threads cannot pick up each other's: each execution has its own statement object (the ORM builds one per lazy
load), and two threads running one shared statement note the same facts for it.

A note is taken away when its statement reaches the cursor, and only the last one taken is kept, for the other
captures running at once (nested, or a global one beside an engine's), which read it too: a note holds its
statement alive, and a pile of notes keeping a loop's statements alive makes the garbage collector work harder.
The notes are a module dictionary rather than a ``threading.local``, whose every attribute access costs several
lookups in the hot path.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session

_notes: dict[int, tuple[Any, ...]] = {}  # id(statement) -> (statement, kind, mapper, path, parent path)
_taken: list[tuple[Any, ...] | None] = [None]  # the note taken last
_MOST_NOTES = 64  # statements noted but never sent (an error in between) must not pile up


@dataclass(frozen=True, slots=True)
class OrmContext:
    """Why the ORM sent a statement.

    ``kind`` is ``"lazy"`` (a relationship loaded for one row on attribute access), ``"batch"`` (SQLAlchemy's own
    eager loaders, e.g. one ``selectinload`` chunk for many rows), ``"column"`` (a deferred or expired column
    loaded for one row), ``"query"`` (a statement the application executed through the session) or ``"flush"``
    (a statement executed through a session while it flushes: a flush event hook's, such as a versioning
    extension's).
    """

    kind: str
    entity: str | None
    relationship: str | None
    mapper: Any = field(default=None, repr=False, compare=False)
    prop: Any = field(default=None, repr=False, compare=False)
    parent_path: tuple[Any, ...] = field(default=(), repr=False, compare=False)


def _relationship_props(path: Any) -> tuple[Any, ...]:
    """The relationship properties along a PathRegistry, outermost first."""
    if path is None:
        return ()
    return tuple(item for item in getattr(path, "path", ()) if hasattr(item, "direction"))


def build_orm_context(kind: str, mapper: Any, path: Any, parent_load_path: Any) -> OrmContext:
    """The :class:`OrmContext` for the facts :func:`note_orm_execute` noted about one statement."""
    if kind in ("lazy", "batch"):
        props = _relationship_props(path)
        prop = props[-1] if props else None
        relationship = f"{prop.parent.class_.__name__}.{prop.key}" if prop is not None else None
        if mapper is None and prop is not None:  # a relationship load selects the relationship's target
            mapper = prop.mapper
        entity = mapper.class_.__name__ if mapper is not None else None
        return OrmContext(kind, entity, relationship, mapper, prop, _relationship_props(parent_load_path))
    return OrmContext(kind, mapper.class_.__name__ if mapper is not None else None, None, mapper)


# The public properties' getters, called directly: the same code, without a type lookup per statement. (Read from
# the class dictionary, where they are the property objects; attribute access types them as plain methods.)
_loader_strategy_path = vars(ORMExecuteState)["loader_strategy_path"].fget
_lazy_loaded_from = vars(ORMExecuteState)["lazy_loaded_from"].fget


def note_orm_execute(orm_execute_state: ORMExecuteState) -> None:
    """The ``do_orm_execute`` listener: note why the ORM is about to send this statement."""
    # The hot path: grab the few cheap facts and let the cursor-level record carry them; names, paths and
    # fixes are worked out only when someone reads ``Statement.orm``. (try/except, not contextlib.suppress, and no
    # getattr: this runs once per ORM statement, and the profile of a lazy-load loop shows every call here.)
    try:
        path = _loader_strategy_path(orm_execute_state)
        if path is not None and not path.is_root:
            # The mapper is the relationship's target, found from the path when someone asks.
            mapper = parent_path = None
            lazy_from = _lazy_loaded_from(orm_execute_state)
            if lazy_from is not None:
                kind, parent_path = "lazy", lazy_from.load_path
            else:
                kind = "batch"
        else:
            path = parent_path = None
            # Any session's flush, not only this one's: a versioning extension queries through a session of its own
            # bound to the flushing session's connection.
            kind = "column" if orm_execute_state.is_column_load else "flush" if flushing_sessions else "query"
            mapper = orm_execute_state.bind_mapper
        if len(_notes) >= _MOST_NOTES:
            _notes.clear()
        statement = orm_execute_state.statement
        _notes[id(statement)] = (statement, kind, mapper, path, parent_path)
    except Exception:  # context is a nicety; never break the user's query over it
        pass


def orm_facts(context: Any) -> tuple[Any, ...] | None:
    """``(statement, kind, mapper, path, parent path)`` noted for the statement behind this execution context, or
    None (Core, or not the ORM's)."""
    try:
        invoked = context.invoked_statement
    except AttributeError:  # no context
        return None
    note = _notes.pop(id(invoked), None)
    if note is not None:  # a noted statement is held alive, so its id cannot have been reused
        _taken[0] = note
        return note
    note = _taken[0]
    if note is not None and note[0] is invoked:  # another capture running at once took it first
        return note
    return None


_orm_lock = threading.Lock()
_orm_users = 0
# id() of every session in the middle of a flush, between the public before_flush and after_flush_postexec events
# (after_rollback too: a failed flush never reaches after_flush_postexec).
flushing_sessions: set[int] = set()


def _flush_started(session: Session, _context: Any, _instances: Any) -> None:
    flushing_sessions.add(id(session))


def _flush_ended(session: Session, *_args: Any) -> None:
    flushing_sessions.discard(id(session))


_SESSION_LISTENERS = (("do_orm_execute", note_orm_execute), ("before_flush", _flush_started),
                      ("after_flush_postexec", _flush_ended), ("after_rollback", _flush_ended))


def acquire_orm_listener() -> None:
    """Listen on every Session while at least one capture runs (call :func:`release_orm_listener` after)."""
    global _orm_users
    with _orm_lock:
        if _orm_users == 0:
            for name, fn in _SESSION_LISTENERS:
                event.listen(Session, name, fn)
        _orm_users += 1


def release_orm_listener() -> None:
    global _orm_users
    with _orm_lock:
        _orm_users -= 1
        if _orm_users == 0:
            for name, fn in _SESSION_LISTENERS:
                event.remove(Session, name, fn)
            _notes.clear()
            flushing_sessions.clear()
            _taken[0] = None
