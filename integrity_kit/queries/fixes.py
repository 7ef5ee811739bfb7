"""Paste-able fixes for an N+1 group: the loader option, the one ``IN`` query, ``undefer`` or the grouped count."""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    from sqlalchemy.orm import RelationshipDirection
except ImportError:  # SQLAlchemy 1.4 keeps the same MANYTOMANY symbol in orm.interfaces
    from sqlalchemy.orm import interfaces as RelationshipDirection  # type: ignore[assignment]

if TYPE_CHECKING:
    from .log import Statement
    from .orm_context import OrmContext

_EQUALS = re.compile(r'WHERE ([\w"]+)\.([\w"]+) = \?')
_SELECT_LIST = re.compile(r"^SELECT (.*?) FROM ", re.DOTALL)
_COUNT = re.compile(r"\bcount\(", re.IGNORECASE)


@dataclass(frozen=True)
class Fix:
    """Code that replaces an N+1 group, what kind of N+1 it is, and a sentence saying why the code helps."""

    code: str
    kind: str
    explanation: str
    relationship: str | None = None
    entity: str | None = None


def _loader(prop: Any) -> str:
    collection = prop.uselist or prop.direction is RelationshipDirection.MANYTOMANY
    return "selectinload" if collection else "joinedload"


def _attr(prop: Any) -> str:
    return f"{prop.parent.class_.__name__}.{prop.key}"


def _column_attr(mapper: Any, table: str, column: str) -> str | None:
    """``Entity.attr`` for ``table.column`` on ``mapper`` (or a mapper that maps that table), else None."""
    if mapper is None:
        return None
    table, column = table.strip('"'), column.strip('"')
    candidates = [mapper]
    with contextlib.suppress(Exception):
        candidates += [m for m in mapper.registry.mappers if m is not mapper]
    for candidate in candidates:
        for prop in candidate.column_attrs:
            for col in prop.columns:
                if getattr(col, "name", None) == column and getattr(getattr(col, "table", None), "name", None) == table:
                    return f"{candidate.class_.__name__}.{prop.key}"
    return None


def _relationship_fix(orm: OrmContext) -> Fix:
    prop = orm.prop
    chain = [p for p in orm.parent_path if p is not prop] + [prop]
    code = _loader(chain[0]) + f"({_attr(chain[0])})"
    for link in chain[1:]:
        code += f".{_loader(link)}({_attr(link)})"
    what = "collection" if _loader(prop) == "selectinload" else "related object"
    how = ("loads every collection in one extra SELECT … IN" if _loader(prop) == "selectinload"
           else "loads it in the same query with a JOIN")
    return Fix(code, "lazy", f"{_attr(prop)} is lazy-loaded once per row; add .options({code}) to the query "
               f"that loads the parents: it {how} instead of one query per {what}.", _attr(prop), orm.entity)


def _column_fix(statement: Statement, orm: OrmContext) -> Fix:
    mapper = orm.mapper
    fp = statement.fingerprint
    match = _SELECT_LIST.match(fp)
    selected = [c.strip() for c in match.group(1).split(",")] if match else []
    attrs = []
    for item in selected:
        parts = item.split(" ")[0].split(".")
        if len(parts) == 2:
            attr = _column_attr(mapper, parts[0], parts[1])
            if attr:
                attrs.append(attr)
    # A refresh of an expired row selects every column that is not deferred; a deferred load selects just those.
    loaded_by_default = [] if mapper is None else [p for p in mapper.column_attrs if not p.deferred]
    all_columns = mapper is not None and len(attrs) >= len(loaded_by_default)
    if attrs and not all_columns:
        code = ", ".join(f"undefer({a})" for a in attrs)
        return Fix(code, "column", f"a deferred column is loaded once per row; add .options({code}) to the query "
                   "that loads the rows.", None, orm.entity)
    return Fix("sessionmaker(..., expire_on_commit=False)", "column",
               "every row is refreshed one by one after its attributes were expired (usually by a commit); keep "
               "them loaded with expire_on_commit=False, or reload the rows in one query after the commit.",
               None, orm.entity)


@dataclass(frozen=True)
class _KeyColumn:
    """The column a statement picks its rows by (``WHERE table.column = ?``) and its mapped attribute, if any."""

    table: str
    column: str
    attr: str | None

    @property
    def sql(self) -> str:
        return f"{self.table}.{self.column}"


def _key_column(statement: Statement) -> _KeyColumn | None:
    match = _EQUALS.search(statement.fingerprint)
    if match is None:
        return None
    orm = statement.orm
    table, column = match.group(1), match.group(2)
    return _KeyColumn(table, column, _column_attr(orm.mapper if orm else None, table, column))


def _count_fix(statement: Statement) -> Fix:
    orm = statement.orm
    key = _key_column(statement)
    if key is None:
        code = "one grouped count: SELECT key, count(*) … GROUP BY key"
    elif key.attr:
        code = f"select({key.attr}, func.count()).group_by({key.attr})"
    else:
        code = f"SELECT {key.sql}, count(*) FROM {key.table} GROUP BY {key.sql}"
    return Fix(code, "count", f"a COUNT query runs once per row; one grouped count gives every row's number: {code}",
               None, orm.entity if orm else None)


def _lookup_fix(statement: Statement) -> Fix:
    orm = statement.orm
    key = _key_column(statement)
    if key is None:
        return Fix("load the rows once before the loop (one query with IN or a JOIN)", "query",
                   "the same query runs once per row of a loop.", None, orm.entity if orm else None)
    if key.attr:
        entity = key.attr.split(".")[0]
        code = f"session.scalars(select({entity}).where({key.attr}.in_(keys))).all()"
    else:
        code = statement.fingerprint.replace(f"{key.sql} = ?", f"{key.sql} IN (?)", 1).replace("IN (?)",
                                                                                              "IN (:keys)", 1)
    return Fix(code, "lookup", f"one row is fetched per loop iteration; fetch them all with one IN query: {code}",
               None, orm.entity if orm else None)


def suggest_fix(statements: list[Statement]) -> Fix:
    """The fix for one N+1 group, read from its first statement (the group shares fingerprint and call site)."""
    sample = statements[0]
    orm = sample.orm
    if orm is not None and orm.kind == "lazy" and orm.prop is not None:
        return _relationship_fix(orm)
    if orm is not None and orm.kind == "column":
        return _column_fix(sample, orm)
    if _COUNT.search(sample.fingerprint.split(" FROM ", 1)[0]):
        return _count_fix(sample)
    return _lookup_fix(sample)
