"""Paste-able fixes for an N+1 group, each selecting what the repeated query selects.

A lazy relationship gets its loader option; a dynamic or write-only collection (which no loader option can batch)
one ``IN`` query over its foreign key; a per-row aggregate (``count``, ``sum``, …) one grouped aggregate; a newest-
or top-N-per-group query (``ORDER BY … LIMIT``) one window-function query; a per-row lookup one ``IN`` query; a
deferred column ``undefer``; rows refreshed one by one after a commit expired them ``expire_on_commit=False``
(written the way the application configures its sessions) or one reload. SQL is written out only when no mapped
attribute names the columns, and then kept short.
"""

from __future__ import annotations

import contextlib
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

try:
    from sqlalchemy.orm import RelationshipDirection
except ImportError:  # SQLAlchemy 1.4 keeps the same MANYTOMANY symbol in orm.interfaces
    from sqlalchemy.orm import interfaces as RelationshipDirection  # type: ignore[assignment]

from .fingerprint import placeholder_roles

if TYPE_CHECKING:
    from .log import Statement
    from .orm_context import OrmContext

_EQUALS = re.compile(r'WHERE ([\w"]+)\.([\w"]+) (?:= \?(?:::\w+)?|IN \(\?\))')
# How SQLAlchemy writes "the children of this parent" (``? = child.fk``, with a cast on PostgreSQL).
_PARENT_CLAUSE = re.compile(r'WHERE \?(?:::\w+)? = ([\w"]+)\.([\w"]+)')
_SELECT_LIST = re.compile(r"^SELECT (.*?) FROM ", re.DOTALL)
_AGGREGATE = re.compile(r"\b(count|sum|avg|min|max|total|group_concat|string_agg|array_agg)\((DISTINCT )?([^()]*)\)",
                        re.IGNORECASE)
_ORDER_BY = re.compile(r"\bORDER BY (.+?)(?: LIMIT | OFFSET |$)")
_LIMIT = re.compile(r"\bLIMIT (\?|\d+)")
_JOIN = re.compile(r'\bJOIN ([\w"]+)')
_FROM_TABLE = re.compile(r'\bFROM ([\w"]+)')
_LONGEST_SQL = 120  # a fix is read in a terminal line, not a query to audit


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


def _mappers(mapper: Any) -> list[Any]:
    """``mapper`` first, then every other mapper of its registry."""
    if mapper is None:
        return []
    candidates = [mapper]
    with contextlib.suppress(Exception):
        candidates += [m for m in mapper.registry.mappers if m is not mapper]
    return candidates


def _class_for_table(mapper: Any, table: str) -> str | None:
    """The mapped class whose table is ``table``, among ``mapper``'s registry."""
    table = table.strip('"')
    for candidate in _mappers(mapper):
        if getattr(candidate.local_table, "name", None) == table:
            return str(candidate.class_.__name__)
    return None


def _uses_flask_sqlalchemy(mapper: Any) -> bool:
    """True when the model derives from Flask-SQLAlchemy's ``db.Model``, whose sessions ``SQLAlchemy()`` configures."""
    cls = getattr(mapper, "class_", None)
    return cls is not None and any(base.__module__.startswith("flask_sqlalchemy") for base in cls.__mro__)


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
    # A deferred load selects only deferred columns; anything else (the primary key, a plain column) in the SELECT
    # means the row's attributes were expired (by a commit, expire() or refresh) and are being reloaded.
    deferred = {f"{p.parent.class_.__name__}.{p.key}" for m in _mappers(mapper) for p in m.column_attrs if p.deferred}
    if attrs and len(attrs) == len(selected) and all(a in deferred for a in attrs):
        code = ", ".join(f"undefer({a})" for a in attrs)
        return Fix(code, "column", f"a deferred column is loaded once per row; add .options({code}) to the query "
                   "that loads the rows.", None, orm.entity)
    if _uses_flask_sqlalchemy(mapper):
        code = 'SQLAlchemy(session_options={"expire_on_commit": False})'
        where = "where the app creates its db = SQLAlchemy(...)"
    else:
        code = "sessionmaker(..., expire_on_commit=False)"
        where = "where the app makes its sessions"
    entity = orm.entity or "Model"
    key = "id"
    with contextlib.suppress(Exception):
        key = mapper.get_property_by_column(mapper.primary_key[0]).key
    reload = f"session.scalars(select({entity}).where({entity}.{key}.in_(ids))).all()"
    return Fix(code, "column",
               "every row is refreshed one by one after a commit expired its attributes (they are not deferred "
               f"columns, so no loader option brings them back); keep them loaded with {code} {where}, or reload "
               f"the rows in one query after the commit: {reload}.", None, orm.entity)


@dataclass(frozen=True)
class _KeyColumn:
    """The column a statement picks its rows by (``WHERE table.column = ?``) and its mapped attribute, if any."""

    table: str
    column: str
    attr: str | None

    @property
    def sql(self) -> str:
        return f"{self.table}.{self.column}"


_PLACEHOLDER = r"(?:\?|%s|%\((\w+)\)s|(?<![:\w]):(\w+)|\$(\d+))"
_EQUALS_PARAMETER = re.compile(r'([\w"]+)\.([\w"]+) = ' + _PLACEHOLDER)
_ANY_PLACEHOLDER = re.compile(_PLACEHOLDER)


def _parameter_of(statement: Statement, match: re.Match[str]) -> Any:
    """The value bound to the placeholder ``match`` found in ``statement.sql``."""
    name = match.group(3) or match.group(4)
    key: Any = name if name else int(match.group(5)) - 1 if match.group(5) else None
    if key is None:  # positional: the placeholders before this one give its index
        key = len(_ANY_PLACEHOLDER.findall(statement.sql[:match.end() - 1]))
    try:
        return statement.parameters[key]
    except (KeyError, IndexError, TypeError):
        return None


def _key_column(statement: Statement, group: list[Statement] | None = None) -> _KeyColumn | None:
    """The column the statement picks its rows by: of its ``column = ?`` tests, the first whose value changes from
    one statement of the group to the next (``WHERE info.token_id = ? AND info.key = ?`` in a loop over keys is
    keyed by ``info.key``), else the first."""
    orm = statement.orm
    mapper = orm.mapper if orm else None
    candidates = list(_EQUALS_PARAMETER.finditer(statement.sql))
    chosen = None
    if candidates and group and len(group) > 1:
        for candidate in candidates:
            values = set()
            for other in group[:20]:
                match = next((m for m in _EQUALS_PARAMETER.finditer(other.sql)
                              if m.group(1, 2) == candidate.group(1, 2)), None)
                values.add(repr(_parameter_of(other, match)) if match else None)
            if len(values) > 1:
                chosen = candidate
                break
    if chosen is None:
        first_in_where = _EQUALS.search(statement.fingerprint)
        if first_in_where is not None:
            table, column = first_in_where.group(1), first_in_where.group(2)
            return _KeyColumn(table, column, _column_attr(mapper, table, column))
        if not candidates:
            return None
        chosen = candidates[0]
    table, column = chosen.group(1), chosen.group(2)
    return _KeyColumn(table, column, _column_attr(mapper, table, column))


def _aggregate_code(match: re.Match[str], mapper: Any) -> tuple[str, str]:
    """(SQLAlchemy expression, SQL) for one aggregate of the select list, e.g. ``func.sum(Post.amount)``."""
    name, distinct, argument = match.group(1).lower(), match.group(2), match.group(3).strip()
    sql = match.group(0)
    if argument in ("*", "", "?"):
        return "func.count()" if name == "count" else f"func.{name}()", sql
    parts = argument.split(".")
    attr = _column_attr(mapper, parts[0], parts[1]) if len(parts) == 2 else None
    if attr is None:
        return "", sql
    inner = f"{attr}.distinct()" if distinct else attr
    return f"func.{name}({inner})", sql


def _count_fix(statement: Statement, group: list[Statement]) -> Fix:
    orm = statement.orm
    mapper = orm.mapper if orm else None
    key = _key_column(statement, group)
    select_list = statement.fingerprint.split(" FROM ", 1)[0]
    aggregates = [_aggregate_code(m, mapper) for m in _AGGREGATE.finditer(select_list)]
    names = ", ".join(sorted({m.group(1).upper() for m in _AGGREGATE.finditer(select_list)})) or "aggregate"
    orm_exprs = [expr for expr, _sql in aggregates]
    if key is None:
        code = f"one grouped query: SELECT key, {aggregates[0][1] if aggregates else 'count(*)'} … GROUP BY key"
    elif key.attr and orm_exprs and all(orm_exprs):
        code = f"select({key.attr}, {', '.join(orm_exprs)}).group_by({key.attr}).where({key.attr}.in_(keys))"
    else:
        sql_list = ", ".join(sql for _expr, sql in aggregates) or "count(*)"
        code = f"SELECT {key.sql}, {sql_list} FROM {key.table} WHERE {key.sql} IN (:keys) GROUP BY {key.sql}"
    return Fix(code, "count", f"a {names} query runs once per row; one grouped query gives every row's value at once "
               f"(keep the loop query's other conditions): {code}", None, orm.entity if orm else None)


def _order_attrs(order_by: str, mapper: Any) -> list[str] | None:
    """``Post.created.desc()``-style terms for an ORDER BY list, or None when a term is not a mapped column."""
    terms = []
    for term in order_by.split(", "):
        words = term.split()
        parts = words[0].split(".") if words else []
        attr = _column_attr(mapper, parts[0], parts[1]) if len(parts) == 2 else None
        if attr is None:
            return None
        desc = len(words) > 1 and words[1] == "DESC"
        terms.append(f"{attr}.desc()" if desc else attr)
    return terms


def _top_per_group_fix(statement: Statement, key: _KeyColumn, order_by: str, limit: Any) -> Fix:
    orm = statement.orm
    mapper = orm.mapper if orm else None
    entity = orm.entity if orm else None
    keep = "ranked.c.rn == 1" if limit == 1 else "ranked.c.rn <= n"
    terms = _order_attrs(order_by, mapper)
    if entity and key.attr and terms:
        joins = "".join(f".join({cls})" for t in _JOIN.findall(statement.fingerprint)
                        if (cls := _class_for_table(mapper, t)) and cls != entity)
        order = terms[0] if len(terms) == 1 else f"({', '.join(terms)})"
        code = (f"ranked = select({entity}, func.row_number().over(partition_by={key.attr}, order_by={order})"
                f'.label("rn")){joins}.where({key.attr}.in_(keys)).subquery()\n'
                f"rows = session.scalars(select(aliased({entity}, ranked)).where({keep})).all()")
    else:
        table = _FROM_TABLE.search(statement.fingerprint)
        name = table.group(1) if table else key.table
        code = (f"SELECT * FROM (SELECT {name}.*, row_number() OVER (PARTITION BY {key.sql} ORDER BY {order_by}) "
                f"AS rn FROM {name} WHERE {key.sql} IN (:keys)) AS ranked WHERE rn {'= 1' if limit == 1 else '<= :n'}")
    first = "the first row" if limit == 1 else "the first rows"
    return Fix(code, "top-per-group",
               f"{first} of each group (ORDER BY … LIMIT) is fetched once per row; one query with row_number() "
               "OVER (PARTITION BY …) fetches them for every group (on PostgreSQL, DISTINCT ON (key) with the same "
               f"ORDER BY does too): {code}", None, entity)


def _limit_value(statement: Statement) -> Any:
    """The LIMIT of ``statement`` (a literal or its parameter), or None without one."""
    match = _LIMIT.search(statement.fingerprint)
    if match is None:
        return None
    if match.group(1) != "?":
        return int(match.group(1))
    for key, role in placeholder_roles(statement.sql):
        if role == "limit":
            with contextlib.suppress(KeyError, IndexError, TypeError):
                return statement.parameters[key]
    return "?"


def _collection_relationship(statement: Statement) -> Any:
    """The dynamic or write-only relationship whose children this statement loads (``WHERE ? = child.fk``)."""
    match = _PARENT_CLAUSE.search(statement.fingerprint)
    orm = statement.orm
    if match is None or orm is None:
        return None
    table, column = match.group(1).strip('"'), match.group(2).strip('"')
    for candidate in _mappers(orm.mapper):
        for prop in candidate.relationships:
            if prop.lazy not in ("dynamic", "write_only"):
                continue
            if any(getattr(c, "name", None) == column and getattr(getattr(c, "table", None), "name", None) == table
                   for c in prop.remote_side):
                return prop
    return None


def _collection_fix(statement: Statement, prop: Any) -> Fix:
    target = prop.mapper.class_.__name__
    fk = [c for c in prop.remote_side if getattr(getattr(c, "table", None), "name", None) == prop.target.name]
    attr = _column_attr(prop.mapper, prop.target.name, fk[0].name) if fk else None
    if attr:
        code = f"session.scalars(select({target}).where({attr}.in_(parent_ids))).all()"
    else:
        code = f"session.scalars(select({target}).join({_attr(prop)}.of_type({target}))).all()"
    return Fix(code, "dynamic",
               f"{_attr(prop)} is a lazy=\"{prop.lazy}\" collection: every access runs its own query and no loader "
               f"option can batch it; load the children of every parent in one query and group them in Python: "
               f"{code} (or map a plain relationship with lazy=\"selectin\" for reading).", _attr(prop), target)


def _constant_conditions(statement: Statement, group: list[Statement], key: _KeyColumn) -> list[str]:
    """``Entity.attr == value`` for the other ``column = ?`` tests of the key's entity whose value is the same for
    the whole loop (``token_id`` in a loop over one token's info keys): the one query must keep them."""
    orm = statement.orm
    entity = key.attr.split(".")[0] if key.attr else None
    conditions = []
    for match in _EQUALS_PARAMETER.finditer(statement.sql):
        if match.group(1, 2) == (key.table, key.column):
            continue
        attr = _column_attr(orm.mapper if orm else None, match.group(1), match.group(2))
        if attr is None or attr.split(".")[0] != entity:
            continue
        values = set()
        for other in group[:20]:
            same = next((m for m in _EQUALS_PARAMETER.finditer(other.sql) if m.group(1, 2) == match.group(1, 2)), None)
            values.add(repr(_parameter_of(other, same)) if same else None)
        value = _parameter_of(statement, match)
        if len(values) == 1 and isinstance(value, int | str) and len(repr(value)) <= 40:
            conditions.append(f"{attr} == {value!r}")
    return conditions


def _lookup_fix(statement: Statement, group: list[Statement]) -> Fix:
    orm = statement.orm
    key = _key_column(statement, group)
    if key is None:
        return Fix("load the rows once before the loop (one query with IN or a JOIN)", "query",
                   "the same query runs once per row of a loop.", None, orm.entity if orm else None)
    if key.attr:
        entity = key.attr.split(".")[0]
        where = ", ".join([*_constant_conditions(statement, group, key), f"{key.attr}.in_(keys)"])
        code = f"session.scalars(select({entity}).where({where})).all()"
    else:
        code = statement.fingerprint.replace(f"{key.sql} = ?", f"{key.sql} IN (?)", 1).replace("IN (?)",
                                                                                              "IN (:keys)", 1)
        if len(code) > _LONGEST_SQL:
            # An alias (``FROM billowers_version AS billowers_version_1``) is no table to select from on its own.
            aliased_from = re.search(rf'\b([\w"]+) AS {re.escape(key.table)}\b', statement.fingerprint)
            source = f"{aliased_from.group(1)} AS {key.table}" if aliased_from else key.table
            code = f"SELECT … FROM {source} WHERE {key.sql} IN (:keys)"
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
    collection = _collection_relationship(sample)
    if collection is not None:
        return _collection_fix(sample, collection)
    if _AGGREGATE.search(sample.fingerprint.split(" FROM ", 1)[0]):
        return _count_fix(sample, statements)
    key = _key_column(sample, statements)
    order_by = _ORDER_BY.search(sample.fingerprint)
    if key is not None and order_by is not None:
        limit = _limit_value(sample)
        if limit is not None:
            return _top_per_group_fix(sample, key, order_by.group(1), limit)
    return _lookup_fix(sample, statements)
