"""Shared helpers for the migration rules."""

from __future__ import annotations

import re
from collections.abc import Iterator

from integrity_kit.migrations.classify import Action, classify
from integrity_kit.migrations.model import Revision, Statement


def actions(revision: Revision) -> Iterator[tuple[Statement, Action, int]]:
    """Every classified SQL action of the revision's upgrade, with the best line we know for it."""
    for statement in revision.statements:
        for action in classify(statement.sql):
            yield statement, action, statement.line or revision.upgrade_line


def sql_created_tables(revision: Revision) -> set[str]:
    created = set(revision.created_tables())
    for _statement, action, _line in actions(revision):
        if action.kind == "create_table" and action.table:
            created.add(action.table)
    return created


def source(statement: Statement) -> str:
    return "sql" if statement.origin == "rendered" else "python"


def execute(sql: str, *, autocommit: bool = False) -> str:
    """The op.* code that runs ``sql``; inside an autocommit block when PostgreSQL refuses it in a transaction."""
    call = f"op.execute({_quote(sql)})"
    return f"with op.get_context().autocommit_block():\n    {call}" if autocommit else call


def _quote(sql: str) -> str:
    return '"' + sql.replace("\\", "\\\\").replace('"', '\\"') + '"'


def constraint_name(clause: str) -> str:
    match = re.search(r"ADD CONSTRAINT\s+[`\"]?(\w+)", clause, re.I)
    return match.group(1) if match else "<constraint>"
