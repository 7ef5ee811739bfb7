"""N+1 and duplicate-query detection over captured statements.

N+1 (the rule Prosopite uses): at least ``threshold`` SELECTs with the same fingerprint from the same application
call site, on behalf of different rows. Not an N+1: SQLAlchemy's own batch loads (``selectinload`` chunks),
identity-map hits (they send no SQL), a single 1+1 load, LIMIT/OFFSET or keyset pagination loops, the same
row read again (that is a duplicate, reported separately), and the database's own catalogs (schema reflection).

The call site is the whole application part of the stack (the way Prosopite keys on the backtrace): the same line
reached through the same application lines, within one Flask request. A helper that each of two requests calls once
is two call sites, not a loop. Rows are told apart by the parameters that name them (the values compared with ``=``
or listed in ``IN``), so a ``now()`` cutoff that differs on every call does not make one row look like many.
"""

from __future__ import annotations

import re
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from .callsite import display_path
from .fingerprint import fingerprint as statement_fingerprint
from .fingerprint import placeholder_roles
from .fixes import suggest_fix
from .parameters import freeze, is_time, jsonable

if TYPE_CHECKING:
    from .log import Statement


@dataclass(frozen=True)
class NPlusOne:
    """One N+1 pattern: ``count`` similar queries from one ``location``, and the code that replaces them."""

    fingerprint: str
    count: int
    location: str | None
    sample_sql: str
    fix: str
    relationship: str | None = None
    entity: str | None = None
    kind: str = "query"  # lazy | dynamic | column | count | top-per-group | lookup | query
    explanation: str = ""
    statements: tuple[Statement, ...] = field(default=(), repr=False, compare=False)
    callers: tuple[str, ...] = ()  # "file:line" of the application frames that led to ``location``, innermost first

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "relationship": self.relationship, "entity": self.entity, "count": self.count,
                "location": self.location, "sample_sql": self.sample_sql, "fingerprint": self.fingerprint,
                "fix": self.fix, "explanation": self.explanation, "callers": list(self.callers)}


@dataclass(frozen=True)
class Duplicate:
    """The same SQL with the same parameters, sent ``count`` times."""

    sql: str
    parameters: Any
    count: int
    locations: tuple[str, ...]
    statements: tuple[Statement, ...] = field(default=(), repr=False, compare=False)

    @property
    def location(self) -> str | None:
        return self.locations[0] if self.locations else None

    def to_dict(self) -> dict[str, Any]:
        return {"sql": self.sql, "parameters": jsonable(self.parameters), "count": self.count,
                "locations": list(self.locations)}


_LIMIT = re.compile(r"\bLIMIT\b")
_OFFSET = re.compile(r"\bOFFSET\b")
_ORDER_BY = re.compile(r"\bORDER BY\b")
_RANGE = re.compile(r"(?<![<>!])(?:<|>|<=|>=) \?")


def _shape_is_pagination(fp: str) -> bool:
    """A page of an ordered result: ORDER BY … LIMIT with OFFSET, or keyset (``WHERE id > ? ORDER BY id LIMIT ?``)."""
    if not (_LIMIT.search(fp) and _ORDER_BY.search(fp)):
        return False
    if _OFFSET.search(fp):
        return True
    where = fp.split(" WHERE ", 1)[1] if " WHERE " in fp else ""
    return bool(_RANGE.search(where))


def _parameter(parameters: Any, key: int | str) -> Any:
    try:
        return parameters[key]
    except (KeyError, IndexError, TypeError):
        return _MISSING


_MISSING = object()
# Fix kinds for statements whose SQL the caller wrote (not a relationship or column the ORM loads for it).
_BUILT_BY_CALLER = frozenset({"query", "lookup", "count", "top-per-group"})

# The database's own catalogs: what reflection (``create_all``, ``Table(autoload_with=…)``, Alembic) reads at
# start-up, table by table; it describes the schema, not rows of the application's data.
_CATALOG = re.compile(r"\b(?:pg_catalog|information_schema)\s*\.|\bpragma_\w+\(|"
                      r"\bFROM\s+(?:pg_\w+|sqlite_(?:master|schema|temp_master|temp_schema))\b", re.IGNORECASE)


def is_catalog_query(fp: str) -> bool:
    """True for a statement that reads the database's catalog (schema reflection) rather than application tables."""
    return _CATALOG.search(fp) is not None


def row_key(statement: Statement) -> Any:
    """What tells this statement's rows apart: the parameters that name rows (``= ?`` and ``IN (…)``), without
    dates and times; every parameter but dates and times when the statement compares no key."""
    parameters = statement.parameters
    roles = placeholder_roles(statement.sql)
    keys = [key for key, role in roles if role == "key"]
    if keys:
        values = [_parameter(parameters, key) for key in keys]
        named = tuple(freeze(v) for v in values if v is not _MISSING and not is_time(v))
        if named:
            return named
    if isinstance(parameters, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in parameters.items() if not is_time(v)))
    if isinstance(parameters, list | tuple):
        return tuple(freeze(v) for v in parameters if not is_time(v))
    return freeze(parameters)


def is_pagination(statements: list[Statement]) -> bool:
    """True when the statements page through one result: only LIMIT/OFFSET or keyset bounds change between them.

    A per-row lookup that happens to carry a LIMIT (``Query.first()`` renders ``LIMIT ? OFFSET ?``) changes a row
    key in its WHERE clause, so it stays an N+1.
    """
    sample = statements[0]
    if not _shape_is_pagination(sample.fingerprint):
        return False
    roles = placeholder_roles(sample.sql)
    if not roles:
        return True  # bounds rendered as literals: the shape is all we have
    keyset = any(role == "range" for _key, role in roles)
    for key, role in roles:
        if role in ("limit", "offset") or (role == "range" and keyset):
            continue
        first = freeze(_parameter(sample.parameters, key))
        if any(freeze(_parameter(s.parameters, key)) != first for s in statements[1:]):
            return False  # a row key changes: one query per row, not one page per query
    return True


def find_n_plus_one(statements: Iterable[Statement], *, threshold: int = 2) -> list[NPlusOne]:
    """Every N+1 pattern among ``statements``, the largest first."""
    groups: dict[tuple[str, Any], list[Statement]] = defaultdict(list)
    for statement in statements:
        orm = statement.orm
        if orm is not None and orm.kind == "batch":
            continue  # selectinload/subqueryload: SQLAlchemy already batches these
        if statement.executemany or not statement.is_select:
            continue
        groups[(statement.fingerprint, statement.call_path)].append(statement)
    findings = []
    for (fp, _path), items in groups.items():
        if len(items) < max(threshold, 2) or is_catalog_query(fp):
            continue
        location = items[0].location
        rows = {row_key(s) for s in items}
        if len(rows) < max(threshold, 2):
            continue  # the same row again: a duplicate, not N+1
        if is_pagination(items):
            continue
        fix = suggest_fix(items)
        if fix.kind in _BUILT_BY_CALLER and (len({s.activation for s in items}) == 1
                                             or all(s.orm is not None and s.orm.kind == "flush" for s in items)):
            # One call from the application line sent them all, or flush hooks did (say a versioning extension's,
            # once per autoflush): the loop is not the application's, and what is queried is the hook's choice,
            # unlike a relationship load, which the application triggers and can batch.
            continue
        callers = tuple(f"{display_path(f)}:{n}" for f, n in items[0].callers)
        findings.append(NPlusOne(fingerprint=fp, count=len(items), location=location, sample_sql=items[0].sql,
                                 fix=fix.code, relationship=fix.relationship, entity=fix.entity, kind=fix.kind,
                                 explanation=fix.explanation, statements=tuple(items), callers=callers))
    findings.sort(key=lambda f: (-f.count, f.location or ""))
    return findings


def find_duplicates(statements: Iterable[Statement]) -> list[Duplicate]:
    """Every SELECT sent more than once with the same parameters, the most repeated first."""
    groups: dict[tuple[str, Any, int], list[Statement]] = defaultdict(list)
    for statement in statements:
        if statement.executemany or not statement.is_select:
            continue
        if statement.orm is not None and statement.orm.kind == "column":
            continue  # re-reading an expired row after a commit is the point of expiring it
        # Each request loads what it needs (the current user, say) again; only a repeat within one request is waste.
        groups[(statement.sql, freeze(statement.parameters), statement.scope)].append(statement)
    duplicates = []
    for (sql, _key, _scope), items in groups.items():
        if len(items) > 1 and not is_catalog_query(statement_fingerprint(sql)):
            locations = tuple(dict.fromkeys(s.location for s in items if s.location))
            duplicates.append(Duplicate(sql=sql, parameters=items[0].parameters, count=len(items),
                                        locations=locations, statements=tuple(items)))
    duplicates.sort(key=lambda d: -d.count)
    return duplicates
