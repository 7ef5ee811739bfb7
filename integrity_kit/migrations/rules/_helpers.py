"""Shared helpers for the migration rules."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import replace

from integrity_kit.migrations.classify import Action, classify
from integrity_kit.migrations.collect import sql_of
from integrity_kit.migrations.model import LintContext, Op, Revision, Statement
from integrity_kit.migrations.syntax import ast_text, dotted, literal


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


def on_created(op: Op, revision: Revision, created: set[str]) -> bool:
    """Whether ``op`` changes a table this revision creates: named in ``created`` or, when its name is not
    resolved, named by the same expression as a ``create_table`` of the revision."""
    if op.table is not None:
        return op.table in created
    return op.table_key is not None and op.table_key in revision.created_keys()


def added_column_statements(revision: Revision) -> Iterator[tuple[Statement, Action, int]]:
    """Each column an upgrade's SQL adds to a table the revision did not create, as :func:`actions` gives it."""
    created = sql_created_tables(revision)
    for statement, action, line in actions(revision):
        if action.kind in {"add_column", "add_column_not_null_no_default"} and action.table not in created:
            yield statement, action, line


def added_columns(revision: Revision) -> Iterator[tuple[Op, ast.AST | None]]:
    """Each ``add_column`` of the upgrade on a table the revision did not create, with its ``sa.Column`` node."""
    created = sql_created_tables(revision)
    for op in revision.upgrade:
        if op.name == "add_column" and not on_created(op, revision, created):
            yield op, op.param("column")


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


def orm_data_change(node: ast.AST | None, module: ast.Module | None = None) -> Action | None:
    """``table.update()...``, ``sa.insert(t).values(...)``, ``sa.delete(t)``: a SQLAlchemy statement that changes
    rows, however it is chained; the table is named when it is ``sa.table("name", ...)``, inline or assigned once."""
    while isinstance(node, ast.Call):
        func = node.func
        name = func.attr if isinstance(func, ast.Attribute) else func.id if isinstance(func, ast.Name) else ""
        if name in {"update", "insert", "delete"}:
            target: ast.AST | None = node.args[0] if node.args else \
                func.value if isinstance(func, ast.Attribute) else None
            if module is not None and isinstance(target, ast.Name):
                target = _assigned(target, module)
            table = literal(target.args[0]) if isinstance(target, ast.Call) and target.args else None
            return Action("data", table if isinstance(table, str) else None, name.upper())
        node = func.value if isinstance(func, ast.Attribute) else None
    return None


def op_actions(op: Op, module: ast.Module | None = None) -> list[Action] | None:
    """What an execute() call does: its SQL classified, an ORM data change, or None when it cannot be read. With the
    revision's module, a statement passed by a name the module assigns exactly once is read from that assignment."""
    if op.name not in {"execute", "exec_driver_sql"}:
        return None
    argument = op.arg(0)
    if module is not None:
        argument = _assigned(argument, module)
    sql = readable_sql(argument)
    if sql is not None:
        # a table named by a hole of the template is not known
        return [replace(a, table=None) if a.table == HOLE else a for a in classify(sql)]
    orm = orm_data_change(argument, module)
    return [orm] if orm else None


def _assigned(node: ast.AST | None, module: ast.Module) -> ast.AST | None:
    """``stmt`` (or ``stmt.bindparams(...)``) -> the value of the one ``stmt = ...`` in the module, if only one."""
    name = node
    if isinstance(name, ast.Call) and isinstance(name.func, ast.Attribute) and name.func.attr == "bindparams":
        name = name.func.value
    if not isinstance(name, ast.Name):
        return node
    values = [n.value for n in ast.walk(module) if isinstance(n, ast.Assign) and len(n.targets) == 1
              and isinstance(n.targets[0], ast.Name) and n.targets[0].id == name.id]
    return values[0] if len(values) == 1 else node


# SQL action kind -> the op.* calls that make the same change
_SAME_CHANGE = {"add_column": {"add_column"}, "add_column_not_null_no_default": {"add_column"},
                "set_not_null": {"alter_column"}, "alter_type": {"alter_column"}, "drop_column": {"drop_column"},
                "rename": {"alter_column", "rename_table"}, "create_index": {"create_index"},
                "drop_index": {"drop_index"}, "add_fk_or_check": {"create_foreign_key", "create_check_constraint"},
                "add_unique": {"create_unique_constraint"}, "drop_table": {"drop_table"}}
_CLAUSE_OBJECT = re.compile(r"^(?:ADD|DROP|ALTER|MODIFY|CHANGE|RENAME)\s+(?:COLUMN\s+|CONSTRAINT\s+)?"
                            r"(?:IF\s+(?:NOT\s+)?EXISTS\s+)?[`\"\[]?(\w+)", re.I)


def repeats_an_op(revision: Revision, statement: Statement, action: Action) -> bool:
    """An executed SQL string that makes the same change as an op.* call of the upgrade (a try/except fallback
    written the other way): the change is judged once, by the call."""
    if statement.origin == "rendered" or action.kind not in _SAME_CHANGE:
        return False
    if action.kind in {"create_index", "drop_index"}:
        target = action.name
    elif action.kind == "drop_table":
        target = None
    else:
        match = _CLAUSE_OBJECT.match(action.detail)
        target = match.group(1) if match else None
    for op in revision.upgrade:
        if op.name not in _SAME_CHANGE[action.kind] or (op.table is not None and op.table != action.table
                                                        and action.kind != "drop_index"):
            continue
        if action.kind == "drop_table" or _op_object(op) == target:
            return True
    return False


def _op_object(op: Op) -> object:
    """The name of what an op.* call changes inside its table: the column, index or constraint."""
    if op.name in {"add_column", "drop_column", "alter_column"}:
        return literal(op.column_node)
    if op.name == "rename_table":
        return None
    return literal(op.arg(0))


# SQLAlchemy and dialect spellings of one type, as written in migrations.
_ALIASES = {"string": "varchar", "unicode": "varchar", "nvarchar": "varchar", "charactervarying": "varchar",
            "text": "text", "unicodetext": "text", "integer": "integer", "int": "integer", "int4": "integer",
            "biginteger": "bigint", "int8": "bigint", "smallinteger": "smallint", "int2": "smallint",
            "boolean": "boolean", "bool": "boolean", "float": "float", "double_precision": "double",
            "double": "double", "float8": "double", "real": "real", "float4": "real", "numeric": "numeric",
            "decimal": "numeric",
            "datetime": "timestamp", "date": "date", "json": "json", "jsonb": "jsonb", "uuid": "uuid",
            "largebinary": "bytea", "binary": "bytea"}
_TYPE = re.compile(r"(?:[A-Za-z_]\w*\.)*(\w+)\s*(?:\((.*)\))?", re.S)


def normal_type(source: str) -> tuple[str, str] | None:
    """("varchar", "200") for ``sa.String(length=200)``; None for what is not one plain type."""
    match = _TYPE.fullmatch(source.strip())
    if not match:
        return None
    name = _ALIASES.get(match.group(1).lower(), match.group(1).lower())
    arguments = re.sub(r"\s+|length=", "", match.group(2) or "")
    return name, arguments


def type_before(revision: Revision, op: Op, context: LintContext | None = None) -> str | None:
    """The type an ``alter_column`` changes from, as source: its ``existing_type``, else the type the
    ``downgrade()`` gives the same column back (autogenerate writes one or the other; a renamed column is matched
    by its new name), else the type the earlier revisions of the history left the column with."""
    given = op.kw("existing_type")
    if given is not None:
        return ast_text(given)
    column = literal(op.column_node)
    renamed = literal(op.kw("new_column_name"))
    for other in revision.downgrade or []:
        if other.name != "alter_column" or other.table != op.table or not other.has_kw("type_"):
            continue
        if literal(other.column_node) in {column, renamed} - {None}:
            return ast_text(other.kw("type_"))
    if context is not None and isinstance(op.table, str) and isinstance(column, str):
        return context.types_before.get(revision.revision, {}).get(_name_before(revision, op, op.table, column))
    return None


def _name_before(revision: Revision, op: Op, table: str, column: str) -> tuple[str, str]:
    """(table, column) as the revision found them: undoes the renames the upgrade made before ``op``."""
    position = next((index for index, other in enumerate(revision.upgrade) if other is op), 0)
    for earlier in reversed(revision.upgrade[:position]):
        if earlier.name == "rename_table" and literal(earlier.param("new_table_name")) == table \
                and isinstance(earlier.table, str):
            table = earlier.table
        elif earlier.name == "alter_column" and earlier.table == table \
                and literal(earlier.kw("new_column_name")) == column and isinstance(literal(earlier.column_node), str):
            column = str(literal(earlier.column_node))
    return table, column
