"""Shared helpers for the migration rules."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import replace

from integrity_kit.migrations.classify import Action, classify
from integrity_kit.migrations.collect import sql_of
from integrity_kit.migrations.model import Op, Revision, Statement
from integrity_kit.migrations.syntax import dotted, literal


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


HOLE = "ik_hole"  # what fills the holes of an SQL template: a name the classifier reads as an identifier


def readable_sql(node: ast.AST | None) -> str | None:
    """The SQL a call passes, as far as we can read it: a literal or ``text()``, or an f-string / ``%`` /
    ``.format()`` template whose holes are filled with a placeholder name (enough to know the statement's kind)."""
    sql = sql_of(node)
    if sql is not None:
        return sql
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        if name.split(".")[-1] == "text" and node.args:
            return readable_sql(node.args[0])
        if name.endswith("bindparams") and isinstance(node.func, ast.Attribute):
            return readable_sql(node.func.value)
        if isinstance(node.func, ast.Attribute) and node.func.attr == "format" \
                and isinstance(literal(node.func.value), str):
            return re.sub(r"\{[^}]*\}", HOLE, literal(node.func.value))
    if isinstance(node, ast.JoinedStr):
        return "".join(str(part.value) if isinstance(part, ast.Constant) else HOLE for part in node.values)
    if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Mod) and isinstance(literal(node.left), str):
        return re.sub(r"%(\([^)]*\))?[sdr]", HOLE, literal(node.left))
    return None


def orm_data_change(node: ast.AST | None) -> Action | None:
    """``table.update()...``, ``sa.insert(t).values(...)``, ``sa.delete(t)``: a SQLAlchemy statement that changes
    rows, however it is chained."""
    while isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in {"update", "insert", "delete"}:
            target = node.args[0] if node.args else func.value if isinstance(func, ast.Attribute) else None
            table = literal(target.args[0]) if isinstance(target, ast.Call) and target.args else None
            return Action("data", table if isinstance(table, str) else None, name.upper())
        node = func.value if isinstance(func, ast.Attribute) else None
    return None


def op_actions(op: Op) -> list[Action] | None:
    """What an execute() call does: its SQL classified, an ORM data change, or None when it cannot be read."""
    if op.name not in {"execute", "exec_driver_sql"}:
        return None
    sql = readable_sql(op.arg(0))
    if sql is not None:
        # a table named by a hole of the template is not known
        return [replace(a, table=None) if a.table == HOLE else a for a in classify(sql)]
    orm = orm_data_change(op.arg(0))
    return [orm] if orm else None
