"""What one SQL statement does, as far as the rules care: the one classifier for rendered and literal SQL."""

from __future__ import annotations

import re
from dataclasses import dataclass

_IDENT = r'[`"\[]?([A-Za-z_][\w$]*)[`"\]]?'
_QUALIFIED = rf'(?:{_IDENT}\.)?{_IDENT}'


@dataclass(frozen=True)
class Action:
    """What one statement does, as far as the rules care."""

    kind: str
    table: str | None = None
    detail: str = ""


def classify(sql: str) -> list[Action]:  # noqa: C901 - one branch per statement shape
    s = " ".join(sql.split())
    m = re.match(rf"CREATE (UNIQUE )?INDEX (CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_IDENT} )?ON (?:ONLY )?{_QUALIFIED}",
                 s, re.I)
    if m:
        return [Action("create_index_concurrently" if m.group(2) else "create_index", m.group(5),
                       "unique" if m.group(1) else "")]
    m = re.match(rf"DROP INDEX (CONCURRENTLY )?(?:IF EXISTS )?{_QUALIFIED}", s, re.I)
    if m:
        return [Action("drop_index_concurrently" if m.group(1) else "drop_index", None, m.group(3))]
    m = re.match(rf"CREATE TABLE (?:IF NOT EXISTS )?{_QUALIFIED}", s, re.I)
    if m:
        return [Action("create_table", m.group(2))]
    m = re.match(rf"DROP TABLE (?:IF EXISTS )?{_QUALIFIED}", s, re.I)
    if m:
        return [Action("drop_table", m.group(2))]
    m = re.match(rf"(?:UPDATE|DELETE FROM|INSERT INTO) (?:ONLY )?{_QUALIFIED}", s, re.I)
    if m:
        return [Action("data", m.group(2))]
    m = re.match(rf"ALTER TABLE (?:IF EXISTS )?(?:ONLY )?{_QUALIFIED} (.*)$", s, re.I | re.S)
    if not m:
        return [Action("other")]
    table, rest = m.group(2), m.group(3)
    actions = []
    for clause in _clauses(rest):
        c = clause.upper()
        if c.startswith("RENAME"):
            actions.append(Action("rename", table, clause))
        elif re.match(r"DROP (COLUMN )?(?!CONSTRAINT|INDEX|PRIMARY|FOREIGN|CHECK|DEFAULT)", c):
            actions.append(Action("drop_column", table, clause))
        elif c.startswith("ADD CONSTRAINT") or c.startswith(("ADD FOREIGN KEY", "ADD CHECK", "ADD UNIQUE")):
            if "FOREIGN KEY" in c or " CHECK" in c or c.startswith("ADD CHECK"):
                kind = "add_fk_or_check_not_valid" if "NOT VALID" in c else "add_fk_or_check"
                actions.append(Action(kind, table, clause))
            elif " UNIQUE" in c and "USING INDEX" not in c:
                actions.append(Action("add_unique", table, clause))
        elif c.startswith("ADD"):
            not_null = "NOT NULL" in c or "PRIMARY KEY" in c
            actions.append(Action("add_column_not_null_no_default" if not_null and " DEFAULT " not in f" {c} "
                                  else "add_column", table, clause))
        elif re.match(r"ALTER (COLUMN )?\S+ SET NOT NULL", c) or (c.startswith(("MODIFY", "CHANGE"))
                                                                    and "NOT NULL" in c):
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
        if ch in "'\"":
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
             "set_not_null", "alter_type", "alter_other"}
