"""What one SQL statement does, as far as the rules care: the one classifier for rendered and literal SQL.

Kinds: ``data`` (changes rows: UPDATE, INSERT, DELETE, MERGE, REPLACE, COPY ... FROM, SELECT ... INTO, and a WITH
whose body is one of them), ``select`` (reads only), ``session`` (SET, PRAGMA, COMMIT and other statements about the
session or transaction), ``truncate``, the table DDL kinds listed in ``DDL_KINDS``, ``create_table``,
``create_index[_concurrently]`` / ``drop_index[_concurrently]``, ``ddl_other`` (DDL on objects other than tables:
extensions, types, sequences, functions, views, COMMENT ON, GRANT), ``maintenance`` (ANALYZE, VACUUM, REINDEX) and
``other`` (anything we cannot read).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache

import sqlparse

_IDENT = r'[`"\[]?([A-Za-z_][\w$]*)[`"\]]?'
_QUALIFIED = rf'(?:{_IDENT}\.)?{_IDENT}'


@dataclass(frozen=True)
class Action:
    """What one statement does, as far as the rules care."""

    kind: str
    table: str | None = None
    detail: str = ""
    name: str = ""  # the index a CREATE/DROP INDEX is about; the new name of a RENAME


_SESSION = re.compile(r"(SET|RESET|PRAGMA|COMMIT|END|BEGIN|ROLLBACK|SAVEPOINT|RELEASE|START TRANSACTION|USE|"
                      r"DISCARD|LISTEN|NOTIFY|UNLISTEN|DO\s+'?SELECT|LOAD|DEALLOCATE|PREPARE TRANSACTION|"
                      r"LOCK|FLUSH)\b", re.I)
_READ = re.compile(r"(SELECT|VALUES|SHOW|EXPLAIN|DESCRIBE|DESC|TABLE)\b", re.I)
_MAINTENANCE = re.compile(r"(ANALYZE|ANALYSE|VACUUM|REINDEX|CLUSTER|CHECKPOINT|REFRESH MATERIALIZED VIEW|"
                          r"OPTIMIZE TABLE|CHECK TABLE|REPAIR TABLE)\b", re.I)
_OTHER_DDL = re.compile(r"(COMMENT\s+ON|GRANT|REVOKE|SECURITY LABEL|IMPORT FOREIGN SCHEMA|"
                        r"(CREATE|ALTER|DROP)\s+(OR\s+REPLACE\s+)?(?!TABLE\b|INDEX\b|UNIQUE\b)"
                        r"(TEMP(ORARY)?\s+|MATERIALIZED\s+|RECURSIVE\s+|TRUSTED\s+|PROCEDURAL\s+|UNLOGGED\s+|"
                        r"DEFINER\s*=\s*\S+\s+)*\w+)", re.I)
_INTEGER_AUTO = re.compile(r"\b(SMALL|BIG)?SERIAL\d?\b|\bGENERATED\b.*\bAS\s+IDENTITY\b|\bAUTO_?INCREMENT\b|"
                           r"\bGENERATED\s+ALWAYS\s+AS\b|\bAS\s*\(.*\)\s*(STORED|VIRTUAL|PERSISTENT)\b", re.I)


def classify(sql: str) -> list[Action]:
    """The actions of every statement in ``sql`` (a string may hold several, separated by semicolons)."""
    return list(_classified(sql))


@lru_cache(maxsize=8192)
def _classified(sql: str) -> tuple[Action, ...]:
    # Every rule walks the revision's statements: without the cache each statement was classified once per rule.
    return tuple(_classify(sql))


def _classify(sql: str) -> list[Action]:
    text = sqlparse.format(sql, strip_comments=True) if ("--" in sql or "/*" in sql) else sql
    pieces = sqlparse.split(text) if ";" in text else [text]
    out: list[Action] = []
    for piece in pieces:
        s = " ".join(piece.split()).rstrip(";").strip()
        if s:
            out.extend(_statement(s))
    return out or [Action("other")]


def _statement(s: str) -> list[Action]:  # noqa: C901 - one branch per statement shape
    m = re.match(rf"CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_IDENT} )?ON (?:ONLY )?{_QUALIFIED}",
                 s, re.I)
    if m:
        return [Action("create_index_concurrently" if m.group(2) else "create_index", m.group(5),
                       "unique" if m.group(1) else "", name=m.group(3) or "")]
    m = re.match(rf"CREATE (?:UNIQUE |FULLTEXT |SPATIAL )INDEX {_IDENT} (?:USING \w+ )?ON {_QUALIFIED}", s, re.I)
    if m:  # MySQL's CREATE UNIQUE/FULLTEXT INDEX name ON t
        return [Action("create_index", m.group(3), "unique" if s[7:13].upper() == "UNIQUE" else "",
                       name=m.group(1))]
    m = re.match(rf"DROP INDEX (CONCURRENTLY )?(?:IF EXISTS )?{_QUALIFIED}(?: ON {_QUALIFIED})?", s, re.I)
    if m:
        return [Action("drop_index_concurrently" if m.group(1) else "drop_index", m.group(5), m.group(3),
                       name=m.group(3))]
    m = re.match(rf"CREATE (?:(?:GLOBAL |LOCAL )?(TEMP|TEMPORARY) |UNLOGGED )?TABLE (?:IF NOT EXISTS )?{_QUALIFIED}",
                 s, re.I)
    if m:
        return [Action("create_table", m.group(3), "temporary" if m.group(1) else "")]
    m = re.match(r"DROP TABLE (?:IF EXISTS )?(.*?)(?: CASCADE| RESTRICT)?$", s, re.I)
    if m:
        names = [_unquote(part.strip().split(".")[-1]) for part in m.group(1).split(",")]
        return [Action("drop_table", name) for name in names if name]
    m = re.match(rf"RENAME TABLE {_QUALIFIED} TO {_QUALIFIED}", s, re.I)
    if m:  # MySQL
        return [Action("rename", m.group(2), f"RENAME TO {m.group(4)}", name=m.group(4))]
    m = re.match(r"TRUNCATE (?:TABLE )?(?:ONLY )?(.*?)(?: RESTART IDENTITY| CONTINUE IDENTITY)?"
                 r"(?: CASCADE| RESTRICT)?$", s, re.I)
    if m:
        names = [_unquote(part.strip().split(".")[-1]) for part in m.group(1).split(",")]
        return [Action("truncate", name, "TRUNCATE") for name in names if name]
    data = _data(s)
    if data:
        return data
    m = re.match(rf"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_QUALIFIED} (.*)$", s, re.I | re.S)
    if m:
        return _alter_table(m.group(2), m.group(3))
    if _SESSION.match(s):
        return [Action("session", None, s.split()[0].upper())]
    if _READ.match(s) or re.match(r"WITH\b", s, re.I):
        return [Action("select")]
    if _MAINTENANCE.match(s):
        return [Action("maintenance", None, s.split()[0].upper())]
    if _OTHER_DDL.match(s):
        return [Action("ddl_other", None, " ".join(s.split()[:3]))]
    return [Action("other")]


def _unquote(name: str) -> str:
    return name.strip('`"[] ')


def _data(s: str) -> list[Action]:
    """UPDATE / INSERT / DELETE / MERGE / REPLACE / COPY FROM / SELECT INTO, also behind a WITH."""
    body = s
    if re.match(r"WITH\b", s, re.I):
        # the statement after the CTEs: the first top-level data verb after a closing parenthesis
        m = re.search(r"\)\s*(UPDATE|INSERT|DELETE|MERGE)\b", s, re.I)
        if not m:
            return []
        body = s[m.start(1):]
    m = re.match(rf"(UPDATE|DELETE FROM|DELETE|INSERT (?:IGNORE |OR \w+ )?INTO|INSERT|REPLACE(?: INTO)?|"
                 rf"MERGE INTO|COPY) (?:ONLY )?{_QUALIFIED}", body, re.I)
    if m:
        verb = m.group(1).split()[0].upper()
        if verb == "COPY" and not re.search(r"\bFROM\b", body, re.I):
            return [Action("select", m.group(3))]  # COPY ... TO reads
        if verb == "DELETE" and not re.search(r"\bWHERE\b", body, re.I):
            verb = "DELETE ALL"  # the table is left empty
        return [Action("data", m.group(3), verb)]
    m = re.match(rf"SELECT .*? INTO (?:TEMP(?:ORARY)? |UNLOGGED )?(?:TABLE )?{_QUALIFIED}(?: FROM|$)", body, re.I)
    if m and not re.match(r"SELECT .*? INTO @", body, re.I):
        return [Action("data", m.group(2), "SELECT INTO")]
    return []


def _alter_table(table: str, rest: str) -> list[Action]:  # noqa: C901 - one branch per clause shape
    actions = []
    for clause in _clauses(rest):
        c = clause.upper()
        if re.match(r"RENAME (INDEX|KEY|CONSTRAINT) ", c):
            actions.append(Action("rename_index", table, clause))
        elif c.startswith("RENAME"):
            new = re.search(rf"\bTO {_IDENT}\s*$", clause, re.I) or re.search(rf"^RENAME (?:AS )?{_IDENT}\s*$",
                                                                              clause, re.I)
            actions.append(Action("rename", table, clause, name=new.group(1) if new else ""))
        elif re.match(r"CHANGE (COLUMN )?", c):
            # MySQL: CHANGE old new type; a rename when the names differ, and a type change in any case
            m = re.match(rf"CHANGE (?:COLUMN )?{_IDENT} {_IDENT}", clause, re.I)
            if m and m.group(1).lower() != m.group(2).lower():
                actions.append(Action("rename", table, f"RENAME COLUMN {m.group(1)} TO {m.group(2)}",
                                      name=m.group(2)))
            actions.append(Action("set_not_null" if "NOT NULL" in c else "alter_type", table, clause))
        elif c.startswith("MODIFY"):
            actions.append(Action("set_not_null" if "NOT NULL" in c else "alter_type", table, clause))
        elif re.match(r"DROP (INDEX|KEY) ", c):
            m = re.match(rf"DROP (?:INDEX|KEY) (?:IF EXISTS )?{_IDENT}", clause, re.I)
            actions.append(Action("drop_index", table, m.group(1) if m else "", name=m.group(1) if m else ""))
        elif re.match(r"DROP (CONSTRAINT|PRIMARY|FOREIGN|CHECK|DEFAULT|PARTITION)", c):
            actions.append(Action("alter_other", table, clause))
        elif c.startswith("DROP"):
            actions.append(Action("drop_column", table, clause))
        elif re.match(r"ADD (UNIQUE |FULLTEXT |SPATIAL )?(INDEX|KEY)\b", c):
            m = re.match(rf"ADD (?:UNIQUE |FULLTEXT |SPATIAL )?(?:INDEX|KEY) (?:IF NOT EXISTS )?{_IDENT}", clause, re.I)
            actions.append(Action("create_index", table, "unique" if " UNIQUE " in f" {c[:11]} " else "",
                                  name=m.group(1) if m and m.group(1).upper() != "USING" else ""))
        elif re.match(r"ADD (CONSTRAINT \S+ )?PRIMARY KEY", c):
            actions.append(Action("add_primary_key", table, clause))
        elif c.startswith(("ADD CONSTRAINT", "ADD FOREIGN KEY", "ADD CHECK", "ADD UNIQUE", "ADD EXCLUDE")):
            if "FOREIGN KEY" in c or " CHECK" in c or c.startswith("ADD CHECK"):
                kind = "add_fk_or_check_not_valid" if "NOT VALID" in c else "add_fk_or_check"
                actions.append(Action(kind, table, clause))
            elif " UNIQUE" in c and "USING INDEX" not in c:
                actions.append(Action("add_unique", table, clause))
            else:
                actions.append(Action("alter_other", table, clause))
        elif c.startswith("ADD"):
            not_null = "NOT NULL" in c or "PRIMARY KEY" in c
            # serial, identity, auto-increment and generated columns fill existing rows themselves
            implicit = bool(_INTEGER_AUTO.search(clause))
            actions.append(Action("add_column_not_null_no_default" if not_null and not implicit
                                  and " DEFAULT " not in f" {c} " else "add_column", table, clause))
        elif re.match(r"ALTER (COLUMN )?\S+ SET NOT NULL", c):
            actions.append(Action("set_not_null", table, clause))
        elif re.match(r"ALTER (COLUMN )?\S+ (SET DATA )?TYPE ", c):
            actions.append(Action("alter_type", table, clause))
        else:
            actions.append(Action("alter_other", table, clause))
    return actions or [Action("alter_other", table)]


def _clauses(rest: str) -> list[str]:
    """Split the body of an ALTER TABLE on top-level commas."""
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    quote: str | None = None
    for ch in rest:
        if quote:
            current.append(ch)
            if ch == quote:
                quote = None
            continue
        if ch in "'\"`":
            quote = ch
        elif ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        elif ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
            continue
        current.append(ch)
    parts.append("".join(current).strip())
    return [p for p in parts if p]


DDL_KINDS = {"create_index", "drop_index", "drop_table", "rename", "drop_column", "add_fk_or_check",
             "add_fk_or_check_not_valid", "add_unique", "add_column", "add_column_not_null_no_default",
             "set_not_null", "alter_type", "alter_other", "add_primary_key", "rename_index"}
"""Kinds that change an existing table's schema (and lock it)."""

SCHEMA_KINDS = DDL_KINDS | {"create_table", "create_index_concurrently", "drop_index_concurrently", "ddl_other"}
"""Kinds that change the schema at all: what a downgrade would have to undo."""


_LITERAL_INSERT = re.compile(r"\s*INSERT\s+(?:INTO\s+)?[\w.`\"\[\]]+\s*(?:\([^()]*\))?\s*VALUES\s*\(", re.I)


def inserts_literal_rows(sql: str) -> bool:
    """``INSERT INTO t (a) VALUES ('x'), ('y')``: reference rows written out, no read of other rows (a seed, not a
    backfill: it takes no time whatever the size of the tables)."""
    return bool(_LITERAL_INSERT.match(sql)) and not re.search(r"\bSELECT\b", sql, re.I)


def empties(action: Action) -> bool:
    """The statement leaves its table without rows (TRUNCATE, DELETE without WHERE)."""
    return action.kind == "truncate" or (action.kind == "data" and action.detail == "DELETE ALL")
