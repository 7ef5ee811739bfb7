"""The ORM's reason for sending a statement, read through the public ``do_orm_execute`` event.

The listener notes a few cheap facts (kind, mapper, loader path) about each ORM statement, keyed by the statement
object; the cursor-level capture finds them again through ``context.invoked_statement`` (the same object, on
SQLAlchemy 2.0 and 2.1), and ``_build_orm_context`` turns them into names and relationship properties only when
someone asks. One listener on :class:`Session` serves every running capture.

Why not an execution option: ``update_execution_options`` builds a new options dictionary for every ORM statement
and every later merge carries the extra key, which measured as a third of the capture's overhead on a lazy-load
loop. Keyed by the statement object, a flush the ORM runs between the event and the query (autoflush) cannot pick
up the query's facts, and the notes are per thread, so concurrent threads cannot see each other's.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

_notes = threading.local()
_MOST_NOTES = 64  # statements noted but never sent (an error in between) must not pile up


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


def _relationship_props(path) -> tuple:
    """The relationship properties along a PathRegistry, outermost first."""
    if path is None:
        return ()
    return tuple(item for item in getattr(path, "path", ()) if hasattr(item, "direction"))


def _build_orm_context(kind: str, mapper, path, parent_load_path) -> OrmContext:
    entity = mapper.class_.__name__ if mapper is not None else None
    if kind in ("lazy", "batch"):
        props = _relationship_props(path)
        prop = props[-1] if props else None
        relationship = f"{prop.parent.class_.__name__}.{prop.key}" if prop is not None else None
        return OrmContext(kind, entity, relationship, mapper, prop, _relationship_props(parent_load_path))
    return OrmContext(kind, entity, None, mapper)


def _on_orm_execute(orm_execute_state) -> None:
    # The hot path: grab the few cheap facts and let the cursor-level record carry them; names, paths and
    # fixes are worked out only when someone reads ``Statement.orm``. (try/except, not contextlib.suppress, and no
    # getattr: this runs once per ORM statement, and the profile of a lazy-load loop shows every call here.)
    try:
        path = orm_execute_state.loader_strategy_path
        if path is not None and not path.is_root:
            lazy_from = orm_execute_state.lazy_loaded_from
            if lazy_from is not None:
                raw = ("lazy", orm_execute_state.bind_mapper, path, lazy_from.load_path)
            else:
                raw = ("batch", orm_execute_state.bind_mapper, path, None)
        elif orm_execute_state.is_column_load:
            raw = ("column", orm_execute_state.bind_mapper, None, None)
        else:
            raw = ("query", orm_execute_state.bind_mapper, None, None)
        statement = orm_execute_state.statement
        try:
            noted = _notes.by_id
        except AttributeError:
            noted = _notes.by_id = {}
        if len(noted) >= _MOST_NOTES:
            noted.clear()
        noted[id(statement)] = (statement, raw)
    except Exception:  # context is a nicety; never break the user's query over it
        pass


def orm_facts(context):
    """The facts noted for the statement behind this execution context, or None (Core, or not the ORM's)."""
    try:
        invoked = context.invoked_statement
        note = _notes.by_id.get(id(invoked))
    except AttributeError:  # no context, or nothing noted on this thread yet
        return None
    if note is not None and note[0] is invoked:
        return note[1]
    return None


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
            _notes.__dict__.pop("by_id", None)  # this thread's; other threads' go when they do
