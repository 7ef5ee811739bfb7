"""The shape of one SQL statement, as race-risk detection needs it: which table, which rows, which columns.

:func:`shape` reads the SQL exactly as the driver received it (every paramstyle the drivers use: ``?``, ``%s``,
``%(name)s``, ``:name``, ``$1``) with sqlparse's lexer and a small scanner, and is cached per SQL text because an
application sends the same few texts over and over. Parameters are not looked at here: a :class:`Ref` names the
parameter (position or key) or holds the literal, and :func:`values` resolves refs against one statement's
parameters, so a read of product 1 and a write of product 2 can be told apart.

Identifiers come out unqualified and lower-case with their quotes stripped (``"Order"``, ```order```,
``products_1.stock``); the schema is kept apart. Whatever the scanner cannot follow (a subquery in FROM, a CTE, a
multi-table UPDATE) yields a shape with fewer facts rather than a wrong one: detection treats missing facts as
"not known", never as "different".
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from functools import lru_cache
from typing import Any

from sqlparse import lexer
from sqlparse import tokens as T

AGGREGATES = frozenset({"count", "sum", "max", "min", "avg"})
# Words that end a FROM or WHERE clause at the top level.
_CLAUSE_END = frozenset({"GROUP BY", "ORDER BY", "HAVING", "LIMIT", "OFFSET", "FETCH", "FOR", "UNION", "UNION ALL",
                         "EXCEPT", "INTERSECT", "RETURNING", "LOCK", "WINDOW", "WHERE", "ON CONFLICT", "ON"})
_STRUCTURAL = frozenset({"SELECT", "FROM", "WHERE", "AND", "OR", "NOT", "IN", "IS", "NULL", "AS", "ON", "SET",
                         "INTO", "VALUES", "CASE", "WHEN", "THEN", "ELSE", "END", "DISTINCT", "EXISTS", "BETWEEN",
                         "LIKE", "ILIKE", "TRUE", "FALSE", "DEFAULT", "CURRENT_TIMESTAMP", "CURRENT_DATE",
                         "CURRENT_TIME", "LOCALTIMESTAMP", "NOW", "INTERVAL", "ALL", "ANY", "SOME", "ESCAPE",
                         "COLLATE", "ASC", "DESC"})


@dataclass(frozen=True, slots=True)
class Ref:
    """Where a value comes from: parameter ``key`` (a position or a name) or the literal ``literal``."""

    key: int | str | None = None
    literal: Any = None

    @property
    def is_parameter(self) -> bool:
        return self.key is not None


@dataclass(frozen=True, slots=True)
class Key:
    """An equality filter ``table.column = value`` (``IN (...)`` gives several refs; no refs: value not known)."""

    table: str | None
    column: str
    refs: tuple[Ref, ...]


@dataclass(frozen=True, slots=True)
class Assignment:
    """One ``SET column = ...`` of an UPDATE: ``"bound"`` (a parameter or a constant, computed by the caller) or
    ``"relative"`` (an expression over columns, computed by the database from the row it locks)."""

    column: str
    kind: str
    refs: tuple[Ref, ...] = ()


@dataclass(frozen=True, slots=True)
class Shape:
    """What :func:`shape` found. ``kind`` is select/insert/update/delete, or begin/savepoint/release/rollback_to/
    set_isolation/lock/other for the statements that steer a transaction."""

    kind: str
    table: str | None = None
    schema: str | None = None
    tables: tuple[tuple[str, str], ...] = ()  # (name or alias as written, table) of every table the FROM names
    keys: tuple[Key, ...] = ()
    guards: tuple[tuple[str, ...], ...] = ()  # the columns each other WHERE predicate mentions
    locks: bool = False
    aggregates: tuple[str, ...] = ()
    selected: tuple[tuple[str | None, str], ...] = ()  # (table, column); column "*" for a star
    assignments: tuple[Assignment, ...] = ()
    columns: tuple[str, ...] = ()  # an INSERT's columns
    rows: tuple[tuple[Ref | None, ...], ...] = ()  # an INSERT's values per row, aligned with columns
    upsert: str | None = None  # "ON CONFLICT", "ON DUPLICATE KEY UPDATE", "OR IGNORE", "OR REPLACE", ...
    mode: str | None = None  # BEGIN's IMMEDIATE/EXCLUSIVE/DEFERRED; the level of SET TRANSACTION; a savepoint name
    where_unparsed: bool = False  # the WHERE held an OR or something else the scanner could not split

    def key_columns(self, table: str) -> dict[str, tuple[Ref, ...]]:
        """Equality-filtered columns of ``table`` and their refs."""
        found: dict[str, tuple[Ref, ...]] = {}
        for key in self.keys:
            if key.table in (table, None):
                found[key.column] = found.get(key.column, ()) + key.refs
        return found

    def selected_columns(self, table: str) -> set[str]:
        """Columns of ``table`` this SELECT returns (``"*"`` among them for a star)."""
        return {column for owner, column in self.selected if owner in (table, None)}

    def reads_table(self, table: str) -> bool:
        return any(name == table for _, name in self.tables)


@dataclass(frozen=True, slots=True)
class _Tok:
    kind: str  # word, quoted, ph, num, str, op, punct, other
    value: str  # upper-cased for words, the identifier without quotes for quoted ones, raw otherwise
    raw: str
    depth: int
    key: int | str | None = None  # placeholders only


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] in "\"`[" and value[-1] in "\"`]":
        value = value[1:-1]
    return value.lower()


def _tokens(sql: str) -> list[_Tok]:
    out: list[_Tok] = []
    depth = 0
    position = 0
    for ttype, value in lexer.tokenize(sql):
        if ttype in T.Whitespace or ttype in T.Newline or ttype in T.Comment or ttype in T.Text.Whitespace:
            continue
        if value.isspace():
            continue
        if ttype in T.Name.Placeholder:
            if value in ("?", "%s"):
                key: int | str = position
                position += 1
            elif value.startswith("$") and value[1:].isdigit():
                key = int(value[1:]) - 1
            elif value.startswith("%(") and value.endswith(")s"):
                key = value[2:-2]
            else:
                key = value[1:]
            out.append(_Tok("ph", value, value, depth, key))
        elif value == "(":
            out.append(_Tok("punct", "(", value, depth))
            depth += 1
        elif value == ")":
            depth -= 1
            out.append(_Tok("punct", ")", value, depth))
        elif ttype in T.Literal.String.Symbol:
            out.append(_Tok("quoted", _unquote(value), value, depth))
        elif ttype in T.Literal.Number:
            out.append(_Tok("num", value, value, depth))
        elif ttype in T.Literal.String:
            out.append(_Tok("str", value, value, depth))
        elif ttype in T.Name or ttype in T.Keyword:
            if value.startswith("`") or value.startswith("["):
                out.append(_Tok("quoted", _unquote(value), value, depth))
            else:
                out.append(_Tok("word", " ".join(value.upper().split()), value, depth))
        elif ttype in T.Operator or ttype in T.Operator.Comparison:
            out.append(_Tok("op", value, value, depth))
        elif ttype in T.Wildcard:
            out.append(_Tok("op", "*", value, depth))
        elif ttype in T.Punctuation:
            out.append(_Tok("punct", value, value, depth))
        else:
            out.append(_Tok("other", value, value, depth))
    return out


def _literal(tok: _Tok) -> Any:
    if tok.kind == "num":
        try:
            return Decimal(tok.value)
        except InvalidOperation:
            return tok.value
    if tok.kind == "str":
        text = tok.raw
        if len(text) >= 2 and text[0] == text[-1] and text[0] in "'\"":
            text = text[1:-1].replace(text[0] * 2, text[0])
        return text
    if tok.kind == "word" and tok.value in ("NULL", "TRUE", "FALSE"):
        return {"NULL": None, "TRUE": True, "FALSE": False}[tok.value]
    raise ValueError(tok)


def _is_ident(tok: _Tok) -> bool:
    return tok.kind == "quoted" or (tok.kind == "word" and tok.value not in _STRUCTURAL)


def _name_at(toks: list[_Tok], i: int) -> tuple[list[str], int] | None:
    """The dotted name starting at ``toks[i]`` (``schema.table.column``) and the index after it."""
    if i >= len(toks) or not _is_ident(toks[i]):
        return None
    parts = [_ident(toks[i])]
    i += 1
    while i + 1 < len(toks) and toks[i].value == "." and (_is_ident(toks[i + 1]) or toks[i + 1].value == "*"):
        parts.append("*" if toks[i + 1].value == "*" else _ident(toks[i + 1]))
        i += 2
    return parts, i


def _ident(tok: _Tok) -> str:
    return tok.value if tok.kind == "quoted" else tok.raw.lower()


def _split(toks: list[_Tok], separator: str, depth: int) -> list[list[_Tok]]:
    parts: list[list[_Tok]] = [[]]
    for tok in toks:
        if tok.depth == depth and tok.value == separator and tok.kind in ("punct", "word"):
            parts.append([])
        else:
            parts[-1].append(tok)
    return [part for part in parts if part]


def _strip_parens(toks: list[_Tok]) -> list[_Tok]:
    while len(toks) >= 2 and toks[0].value == "(" and toks[-1].value == ")" and toks[-1].depth == toks[0].depth:
        inner = toks[1:-1]
        if any(t.depth == toks[0].depth and t.value in ("(", ")") for t in inner):
            break  # "(a) = (b)": the parentheses do not wrap the whole predicate
        toks = inner
    return toks


def _value_ref(toks: list[_Tok]) -> Ref | None:
    """The ref of an expression that is one placeholder or literal (optionally cast), else None."""
    toks = _strip_parens(toks)
    if not toks:
        return None
    if len(toks) >= 3 and toks[0].kind == "word" and toks[0].value == "CAST" and toks[1].value == "(":
        inner = toks[2:-1]
        cut = next((i for i, t in enumerate(inner) if t.kind == "word" and t.value == "AS"), len(inner))
        return _value_ref(inner[:cut])
    head = toks[0]
    rest = toks[1:]
    if rest and rest[0].value == "::":  # a PostgreSQL cast
        rest = []
    if rest:
        return None
    if head.kind == "ph":
        return Ref(key=head.key)
    if head.kind in ("num", "str") or (head.kind == "word" and head.value in ("NULL", "TRUE", "FALSE")):
        return Ref(literal=_literal(head))
    return None


def _column_of(toks: list[_Tok], aliases: dict[str, str], default: str | None) -> tuple[str | None, str] | None:
    toks = _strip_parens(toks)
    found = _name_at(toks, 0)
    if found is None or found[1] != len(toks):
        return None
    parts = found[0]
    if len(parts) == 1:
        return default, parts[0]
    return aliases.get(parts[-2], parts[-2]), parts[-1]


def _mentioned(toks: Iterable[_Tok], aliases: dict[str, str], default: str | None) -> list[tuple[str | None, str]]:
    """Every column reference in an expression (function names excluded)."""
    toks = list(toks)
    found: list[tuple[str | None, str]] = []
    i = 0
    while i < len(toks):
        name = _name_at(toks, i)
        if name is None:
            i += 1
            continue
        parts, after = name
        is_function = after < len(toks) and toks[after].value == "("
        is_cast_type = i > 0 and toks[i - 1].value in ("::", "AS")
        if not is_function and not is_cast_type and parts[-1] != "*":
            owner = aliases.get(parts[-2], parts[-2]) if len(parts) > 1 else default
            found.append((owner, parts[-1]))
        i = after
    return found


def _where(toks: list[_Tok], aliases: dict[str, str], default: str | None,
           depth: int) -> tuple[tuple[Key, ...], tuple[tuple[str, ...], ...], bool]:
    """Equality keys, the columns of every other predicate, and whether the WHERE could not be split."""
    if any(t.depth == depth and t.kind == "word" and t.value == "OR" for t in toks):
        columns = tuple(sorted({c for _, c in _mentioned(toks, aliases, default)}))
        return (), ((columns,) if columns else ()), True
    conjuncts: list[list[_Tok]] = [[]]
    pending_between = False
    for tok in toks:
        if tok.depth == depth and tok.kind == "word" and tok.value == "BETWEEN":
            pending_between = True
        if tok.depth == depth and tok.kind == "word" and tok.value == "AND":
            if pending_between:
                pending_between = False
            else:
                conjuncts.append([])
                continue
        conjuncts[-1].append(tok)
    keys: list[Key] = []
    guards: list[tuple[str, ...]] = []
    unparsed = False
    for conjunct in conjuncts:
        conjunct = _strip_parens(conjunct)
        if not conjunct:
            continue
        inner_depth = conjunct[0].depth
        if inner_depth != depth and any(t.kind == "word" and t.value in ("AND", "OR") for t in conjunct):
            sub_keys, sub_guards, sub_unparsed = _where(conjunct, aliases, default, inner_depth)
            keys.extend(sub_keys)
            guards.extend(sub_guards)
            unparsed = unparsed or sub_unparsed
            continue
        key = _key(conjunct, aliases, default)
        if key is not None:
            keys.append(key)
        else:
            columns = tuple(sorted({c for _, c in _mentioned(conjunct, aliases, default)}))
            if columns:
                guards.append(columns)
    return tuple(keys), tuple(guards), unparsed


def _key(toks: list[_Tok], aliases: dict[str, str], default: str | None) -> Key | None:
    level = toks[0].depth
    for i, tok in enumerate(toks):
        if tok.depth != level:
            continue
        if tok.kind == "op" and tok.value in ("=", "=="):
            left, right = toks[:i], toks[i + 1:]
            column, ref = _column_of(left, aliases, default), _value_ref(right)
            if column is None or ref is None:
                column, ref = _column_of(right, aliases, default), _value_ref(left)
            if column is not None and ref is not None:
                return Key(column[0], column[1], (ref,))
            return None
        if tok.kind == "word" and tok.value == "IN" and i + 1 < len(toks) and toks[i + 1].value == "(":
            column = _column_of(toks[:i], aliases, default)
            body = toks[i + 2:-1] if toks[-1].value == ")" else []
            if column is None:
                return None
            if any(t.kind == "word" and t.value == "SELECT" for t in body):
                return None
            refs = [_value_ref(part) for part in _split(body, ",", level + 1)]
            if any(ref is None for ref in refs):
                return Key(column[0], column[1], ())  # e.g. an unexpanded POSTCOMPILE marker: values not known
            return Key(column[0], column[1], tuple(ref for ref in refs if ref is not None))
        if tok.kind == "word" and tok.value in ("IS", "IS NOT", "NOT", "LIKE", "BETWEEN", "IS NULL"):
            if tok.value in ("IS", "IS NULL") and i + 1 <= len(toks):
                rest = toks[i + 1:]
                if (tok.value == "IS NULL" and not rest) or (len(rest) == 1 and rest[0].value == "NULL"):
                    column = _column_of(toks[:i], aliases, default)
                    if column is not None:
                        return Key(column[0], column[1], (Ref(literal=None),))
            return None
        if tok.kind == "op" and tok.value not in (".", "::"):
            return None
    return None


def _tables(toks: list[_Tok], depth: int) -> tuple[list[tuple[str, str]], str | None, str | None]:
    """(written name or alias, table) pairs of a FROM/UPDATE/DELETE table list, the first table and its schema."""
    pairs: list[tuple[str, str]] = []
    first: str | None = None
    schema: str | None = None
    expect = True
    i = 0
    while i < len(toks):
        tok = toks[i]
        if tok.depth != depth:
            i += 1
            continue
        if tok.value == "," or (tok.kind == "word" and tok.value.endswith("JOIN")):
            expect = True
            i += 1
            continue
        if tok.kind == "word" and tok.value in ("ON", "USING"):
            expect = False
            i += 1
            continue
        if expect:
            expect = False
            if tok.value == "(":
                i += 1
                continue  # a subquery: its table is not this statement's
            found = _name_at(toks, i)
            if found is None:
                i += 1
                continue
            parts, i = found
            table = parts[-1]
            if first is None:
                first = table
                schema = parts[-2] if len(parts) > 1 else None
            pairs.append((table, table))
            if i < len(toks) and toks[i].kind == "word" and toks[i].value == "AS":
                i += 1
            if i < len(toks) and _is_ident(toks[i]) and toks[i].depth == depth and not (
                    toks[i].kind == "word" and (toks[i].value.endswith("JOIN") or toks[i].value in _CLAUSE_END
                                                or toks[i].value in ("SET", "USING", "NATURAL"))):
                pairs.append((_ident(toks[i]), table))
                i += 1
            continue
        i += 1
    return pairs, first, schema


def _find(toks: list[_Tok], words: Iterable[str], depth: int, start: int = 0) -> int:
    wanted = set(words)
    for i in range(start, len(toks)):
        tok = toks[i]
        if tok.depth == depth and tok.kind == "word" and tok.value in wanted:
            return i
    return len(toks)


def _has_lock(toks: list[_Tok], depth: int) -> bool:
    words = [t.value for t in toks if t.depth == depth and t.kind == "word"]
    for i, word in enumerate(words):
        if word == "FOR" and i + 1 < len(words) and words[i + 1] in ("UPDATE", "SHARE", "NO KEY", "NO", "KEY"):
            return True
        if word == "LOCK" and words[i + 1:i + 2] in (["IN SHARE MODE"], ["IN"]):
            return True
        if word == "LOCK IN SHARE MODE":
            return True
    return False


def _select(toks: list[_Tok], start: int, depth: int) -> Shape:
    from_at = _find(toks, ("FROM",), depth, start)
    if from_at == len(toks):
        inner = next((i for i in range(start, len(toks)) if toks[i].depth > depth and toks[i].kind == "word"
                      and toks[i].value == "SELECT" and toks[i - 1].value == "("), None)
        if inner is not None:  # SELECT EXISTS (SELECT ... FROM t WHERE ...): the inner query is the check
            return _select(toks, inner + 1, toks[inner].depth)
        return Shape("select")
    end = len(toks)
    for i in range(from_at + 1, len(toks)):
        tok = toks[i]
        if tok.depth < depth:
            end = i
            break
    body = toks[:end]
    where_at = _find(body, ("WHERE",), depth, from_at + 1)
    from_end = min(_find(body, _CLAUSE_END - {"ON"}, depth, from_at + 1), where_at)
    pairs, first, schema = _tables(body[from_at + 1:from_end], depth)
    aliases = dict(pairs)
    default = first if len({t for _, t in pairs}) == 1 else None
    selected: list[tuple[str | None, str]] = []
    aggregates: list[str] = []
    for item in _split(body[start:from_at], ",", depth):
        words = [t for t in item if t.kind == "word"]
        if words and words[0].value == "DISTINCT":
            item = item[1:]
        for j, tok in enumerate(item):
            if (tok.kind == "word" and tok.raw.lower() in AGGREGATES and j + 1 < len(item)
                    and item[j + 1].value == "("):
                aggregates.append(tok.raw.lower())
        if item and item[0].value == "*":
            selected.append((None, "*"))
            continue
        name = _name_at(item, 0)
        if name is not None and name[0][-1] == "*":
            owner = aliases.get(name[0][-2], name[0][-2])
            selected.append((owner, "*"))
            continue
        cut = next((j for j, t in enumerate(item) if t.depth == depth and t.kind == "word" and t.value == "AS"),
                   len(item))
        selected.extend(_mentioned(item[:cut], aliases, default))
    keys: tuple[Key, ...] = ()
    guards: tuple[tuple[str, ...], ...] = ()
    unparsed = False
    if where_at < len(body):
        where_end = _find(body, _CLAUSE_END - {"WHERE", "ON", "ON CONFLICT"}, depth, where_at + 1)
        keys, guards, unparsed = _where(body[where_at + 1:where_end], aliases, default, depth)
    return Shape("select", table=first, schema=schema, tables=tuple(pairs), keys=keys, guards=guards,
                 locks=_has_lock(body[from_at:], depth), aggregates=tuple(aggregates), selected=tuple(selected),
                 where_unparsed=unparsed)


def _update(toks: list[_Tok]) -> Shape:
    set_at = _find(toks, ("SET",), 0)
    pairs, first, schema = _tables(toks[1:set_at], 0)
    where_at = _find(toks, ("WHERE",), 0, set_at)
    from_at = _find(toks, ("FROM",), 0, set_at)
    set_end = min(where_at, from_at, _find(toks, ("RETURNING",), 0, set_at))
    if from_at < where_at:  # UPDATE ... FROM other tables (PostgreSQL)
        more, _, _ = _tables(toks[from_at + 1:where_at], 0)
        pairs += more
    aliases = dict(pairs)
    default = first
    assignments: list[Assignment] = []
    for item in _split(toks[set_at + 1:set_end], ",", 0):
        eq = next((j for j, t in enumerate(item) if t.depth == 0 and t.value == "="), None)
        if eq is None:
            continue
        column = _column_of(item[:eq], aliases, default)
        if column is None:
            continue
        value = item[eq + 1:]
        if _mentioned(value, aliases, default) or any(t.kind == "word" and t.value == "SELECT" for t in value):
            assignments.append(Assignment(column[1], "relative"))
        else:
            ref = _value_ref(value)
            assignments.append(Assignment(column[1], "bound", () if ref is None else (ref,)))
    keys: tuple[Key, ...] = ()
    guards: tuple[tuple[str, ...], ...] = ()
    unparsed = False
    if where_at < len(toks):
        where_end = _find(toks, ("RETURNING", "ORDER BY", "LIMIT"), 0, where_at + 1)
        keys, guards, unparsed = _where(toks[where_at + 1:where_end], aliases, default, 0)
    return Shape("update", table=first, schema=schema, tables=tuple(pairs), keys=keys, guards=guards,
                 assignments=tuple(assignments), where_unparsed=unparsed)


def _delete(toks: list[_Tok]) -> Shape:
    from_at = _find(toks, ("FROM",), 0)
    where_at = _find(toks, ("WHERE",), 0, from_at)
    pairs, first, schema = _tables(toks[from_at + 1:where_at], 0)
    aliases = dict(pairs)
    keys: tuple[Key, ...] = ()
    guards: tuple[tuple[str, ...], ...] = ()
    unparsed = False
    if where_at < len(toks):
        where_end = _find(toks, ("RETURNING", "ORDER BY", "LIMIT"), 0, where_at + 1)
        keys, guards, unparsed = _where(toks[where_at + 1:where_end], aliases, first, 0)
    return Shape("delete", table=first, schema=schema, tables=tuple(pairs), keys=keys, guards=guards,
                 where_unparsed=unparsed)


def _insert(toks: list[_Tok]) -> Shape:
    head_words = [t.value for t in toks[:4] if t.kind == "word"]
    upsert: str | None = None
    if toks[0].value == "REPLACE":
        upsert = "REPLACE"
    elif len(head_words) > 1 and head_words[1] in ("OR", "IGNORE", "OR IGNORE", "OR REPLACE"):
        upsert = "IGNORE" if head_words[1] == "IGNORE" else " ".join(head_words[1:3]).replace("INTO", "").strip()
    into = _find(toks, ("INTO",), 0)
    found = _name_at(toks, into + 1)
    if found is None:
        return Shape("insert", upsert=upsert)
    parts, i = found
    table, schema = parts[-1], (parts[-2] if len(parts) > 1 else None)
    columns: list[str] = []
    if i < len(toks) and toks[i].value == "(":
        close = next(j for j in range(i + 1, len(toks)) if toks[j].depth == 0 and toks[j].value == ")")
        columns = [_ident(t) for t in toks[i + 1:close] if _is_ident(t)]
        i = close + 1
    for j in range(i, len(toks)):
        tok = toks[j]
        if tok.depth == 0 and tok.kind == "word":
            if tok.value in ("ON CONFLICT",) or (tok.value == "ON" and j + 1 < len(toks)
                                                 and toks[j + 1].value in ("CONFLICT", "DUPLICATE KEY UPDATE",
                                                                           "DUPLICATE")):
                upsert = "ON CONFLICT" if "CONFLICT" in (tok.value + toks[j + 1].value) else \
                    "ON DUPLICATE KEY UPDATE"
                break
            if tok.value.startswith("ON DUPLICATE"):
                upsert = "ON DUPLICATE KEY UPDATE"
                break
    rows: list[tuple[Ref | None, ...]] = []
    if i < len(toks) and toks[i].kind == "word" and toks[i].value == "VALUES":
        j = i + 1
        while j < len(toks) and toks[j].value == "(" and toks[j].depth == 0:
            close = next(k for k in range(j + 1, len(toks)) if toks[k].depth == 0 and toks[k].value == ")")
            rows.append(tuple(_value_ref(part) for part in _split(toks[j + 1:close], ",", 1)))
            j = close + 1
            if j < len(toks) and toks[j].value == ",":
                j += 1
    elif i < len(toks) and toks[i].kind == "word" and toks[i].value == "SELECT":
        rows = _sentinel_rows(toks[i:], len(columns))
    return Shape("insert", table=table, schema=schema, tables=((table, table),), columns=tuple(columns),
                 rows=tuple(rows), upsert=upsert)


def _sentinel_rows(toks: list[_Tok], width: int) -> list[tuple[Ref | None, ...]]:
    """The rows of SQLAlchemy's ``INSERT ... SELECT p0::T, ... FROM (VALUES (...), ...) AS imp_sen(p0, ...)``
    (insertmanyvalues with ordered RETURNING on PostgreSQL), aligned with the INSERT's columns."""
    from_at = _find(toks, ("FROM",), 0)
    names = [toks[k].raw.lower() for k in range(1, from_at) if toks[k].depth == 0 and toks[k].kind == "word"
             and toks[k - 1].value in ("SELECT", ",")]
    values_at = next((k for k in range(from_at, len(toks)) if toks[k].kind == "word" and toks[k].value == "VALUES"),
                     None)
    if values_at is None:
        return []
    depth = toks[values_at].depth
    rows: list[list[Ref | None]] = []
    k = values_at + 1
    while k < len(toks) and toks[k].value == "(" and toks[k].depth == depth:
        close = next(m for m in range(k + 1, len(toks)) if toks[m].depth == depth and toks[m].value == ")")
        rows.append([_value_ref(part) for part in _split(toks[k + 1:close], ",", depth + 1)])
        k = close + 1
        if k < len(toks) and toks[k].value == ",":
            k += 1
    while k < len(toks) and toks[k].value != "(":
        k += 1
    alias_close = next((m for m in range(k + 1, len(toks)) if toks[m].value == ")"), len(toks))
    alias_columns = [t.raw.lower() for t in toks[k + 1:alias_close] if _is_ident(t)]
    index = [alias_columns.index(name) if name in alias_columns else None for name in names[:width]]
    return [tuple(row[i] if i is not None and i < len(row) else None for i in index) for row in rows]


@lru_cache(maxsize=8192)
def shape(sql: str) -> Shape:
    """The shape of ``sql`` (one statement, as the driver received it)."""
    toks = _tokens(sql)
    if not toks:
        return Shape("other")
    head = toks[0]
    words = [t.value for t in toks if t.kind == "word"]
    first = head.value if head.kind == "word" else ""
    try:
        if first == "SELECT":
            return _select(toks, 1, 0)
        if first == "UPDATE":
            return _update(toks)
        if first == "DELETE":
            return _delete(toks)
        if first in ("INSERT", "REPLACE"):
            return _insert(toks)
    except (StopIteration, IndexError):
        return Shape(first.lower() if first in ("SELECT", "UPDATE", "DELETE", "INSERT") else "other")
    if first in ("BEGIN", "START TRANSACTION", "START"):
        mode = next((w for w in words[1:] if w in ("IMMEDIATE", "EXCLUSIVE", "DEFERRED")), None)
        return Shape("begin", mode=mode)
    if first == "SAVEPOINT" and len(toks) > 1:
        return Shape("savepoint", mode=_ident(toks[1]))
    if first == "RELEASE":
        return Shape("release", mode=_ident(toks[-1]))
    if first == "ROLLBACK" and "TO" in words:
        return Shape("rollback_to", mode=_ident(toks[-1]))
    if first == "SET" and "ISOLATION" in words:
        level = " ".join(words[words.index("LEVEL") + 1:]) if "LEVEL" in words else None
        return Shape("set_isolation", mode=level)
    if first in ("LOCK", "LOCK TABLE", "LOCK TABLES"):
        found = _name_at(toks, 1) if first != "LOCK" or len(toks) < 2 or toks[1].value not in (
            "TABLE", "TABLES") else _name_at(toks, 2)
        table = found[0][-1] if found else None
        return Shape("lock", table=table, tables=((table, table),) if table else ())
    return Shape("other")


def _normal(value: Any) -> Any:
    """One form per value, so ``Decimal("1")``, ``1`` and ``1.0`` compare equal and unhashable values still hash."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float, Decimal)):
        try:
            return Decimal(str(value)).normalize()
        except InvalidOperation:
            return str(value)
    if isinstance(value, (bytes, str, type(None))):
        return value
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def parameter_sets(parameters: Any, executemany: bool) -> list[Any]:
    """One parameter set per row the statement ran for."""
    if executemany:
        return list(parameters or ())
    return [parameters]


def resolve(ref: Ref, parameters: Any) -> tuple[bool, Any]:
    """(known, value) of ``ref`` under one parameter set."""
    if not ref.is_parameter:
        return True, _normal(ref.literal)
    key = ref.key
    try:
        if isinstance(parameters, dict):
            return (True, _normal(parameters[key])) if key in parameters else (False, None)
        if isinstance(key, int) and parameters is not None:
            return True, _normal(parameters[key])
    except (IndexError, KeyError, TypeError):
        pass
    return False, None


def values(refs: Iterable[Ref], parameters: Any, executemany: bool = False) -> set[Any] | None:
    """Every value ``refs`` stand for under the statement's parameters; None when one of them is not known."""
    found: set[Any] = set()
    refs = tuple(refs)
    if not refs:
        return None
    for parameter_set in parameter_sets(parameters, executemany):
        for ref in refs:
            known, value = resolve(ref, parameter_set)
            if not known:
                return None
            found.add(value)
    return found


def iter_keys(shape_: Shape, table: str) -> Iterator[tuple[str, tuple[Ref, ...]]]:
    yield from shape_.key_columns(table).items()
