"""SQL fingerprints: the shape of a statement with every value taken out, so one loop's queries compare equal.

Literals and every DB-API placeholder style (``?``, ``%s``, ``%(name)s``, ``:name``, ``$1``) become ``?``, ``IN``
lists of any length collapse to ``IN (?)``, comments go and whitespace shrinks to single spaces. Identifiers
(quoted or not) are left exactly as written: ``"Order"`` and ``order`` are different tables on PostgreSQL.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Any

import sqlparse
from sqlparse import tokens as T

_IN_LIST = re.compile(r"\bIN \((?:\?, )*\?\)", re.IGNORECASE)
_VALUES_ROWS = re.compile(r"\bVALUES \((?:\?, )*\?\)(?:, \((?:\?, )*\?\))+", re.IGNORECASE)
_SPACE_BEFORE = re.compile(r" ([,)])")
_SPACE_AFTER = re.compile(r"\( ")
# Only words that can never be a column name are upper-cased; sqlparse also tags names like ``name`` as keywords.
_RESERVED = frozenset({
    "SELECT", "INSERT", "UPDATE", "DELETE", "INTO", "VALUES", "SET", "FROM", "WHERE", "AND", "OR", "NOT", "IN",
    "IS", "NULL", "LIKE", "BETWEEN", "EXISTS", "JOIN", "INNER", "LEFT", "RIGHT", "OUTER", "FULL", "CROSS", "ON",
    "USING", "GROUP", "ORDER", "BY", "HAVING", "LIMIT", "OFFSET", "FETCH", "UNION", "ALL", "DISTINCT", "AS", "ASC",
    "DESC", "CASE", "WHEN", "THEN", "ELSE", "END", "WITH", "RETURNING", "FOR",
})


def _is_value(ttype: Any) -> bool:
    if ttype in T.Name.Placeholder:
        return True
    if ttype in T.Literal.String.Symbol:  # a quoted identifier, not a value
        return False
    return ttype in T.Literal.Number or ttype in T.Literal.String


@lru_cache(maxsize=8192)
def fingerprint(sql: str) -> str:
    """The normalised shape of ``sql``; cached per statement text because the ORM re-sends the same texts."""
    parts: list[str] = []
    for statement in sqlparse.parse(sql):
        for token in statement.flatten():
            ttype = token.ttype
            if ttype in T.Comment or ttype in T.Whitespace or ttype in T.Newline:
                parts.append(" ")
            elif _is_value(ttype):
                parts.append("?")
            elif ttype in T.Keyword and _RESERVED.issuperset(token.value.upper().split()):
                parts.append(" ".join(token.value.upper().split()))
            else:
                parts.append(token.value)
    text = " ".join("".join(parts).split())
    text = _SPACE_AFTER.sub("(", _SPACE_BEFORE.sub(r"\1", text))
    text = text.replace(",", ", ").replace(",  ", ", ")
    text = " ".join(text.split())
    text = _IN_LIST.sub("IN (?)", text)
    text = _VALUES_ROWS.sub(lambda m: m.group(0).split("),", 1)[0] + ")", text)
    return text.rstrip(" ;")


_COMPARISON_ROLES = {"<": "range", ">": "range", "<=": "range", ">=": "range", "=": "key"}


@lru_cache(maxsize=4096)
def placeholder_roles(sql: str) -> tuple[tuple[int | str, str], ...]:
    """For every placeholder in ``sql``: its parameter key (position or name) and what it feeds.

    The role is ``"limit"``/``"offset"`` after LIMIT/OFFSET, ``"range"`` after ``<``, ``>``, ``<=``, ``>=``,
    ``"key"`` on either side of ``=`` and inside ``IN (…)`` (the values that name rows), and ``"value"`` otherwise.
    Detection uses it to tell a pagination loop (only page bounds change) from an N+1 (a row key changes), and
    to tell rows apart by their keys rather than by a timestamp that changes on every call.
    """
    roles: list[tuple[int | str, str]] = []
    position = 0
    previous = ""
    in_list = False  # between "IN (" and its ")"
    for statement in sqlparse.parse(sql):
        for token in statement.flatten():
            ttype = token.ttype
            if ttype in T.Whitespace or ttype in T.Newline or ttype in T.Comment:
                continue
            value = token.value
            if ttype in T.Name.Placeholder:
                if value in ("?", "%s"):
                    key: int | str = position
                    position += 1
                elif value.startswith("$") and value[1:].isdigit():
                    key = int(value[1:]) - 1
                elif value.startswith("%("):
                    key = value[2:-2]
                else:
                    key = value[1:]
                if in_list:
                    role = "key"
                elif previous in ("LIMIT", "OFFSET"):
                    role = previous.lower()
                else:
                    role = _COMPARISON_ROLES.get(previous, "value")
                roles.append((key, role))
            elif value == "=" and roles and previous == "\0placeholder" and roles[-1][1] == "value":
                roles[-1] = (roles[-1][0], "key")  # "? = table.column", the way SQLAlchemy writes a lazy load
            elif previous == "\0placeholder" and (value == "::" or ttype in T.Name.Builtin):
                continue  # a PostgreSQL cast (``%(p)s::INTEGER``) still stands for the placeholder
            elif value == "(" and previous == "IN":
                in_list = True
            elif value == ")":
                in_list = False
            previous = "\0placeholder" if ttype in T.Name.Placeholder else value.upper()
    return tuple(roles)
