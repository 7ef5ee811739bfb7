"""The Python pass: walk a revision's upgrade()/downgrade() and list its op.* (and connection) calls, in order."""

from __future__ import annotations

import ast
import copy

from integrity_kit.migrations.model import Op
from integrity_kit.migrations.syntax import dotted, literal

# Calls on `op` (or a batch object) that change schema or data; anything else on `op` (op.f, op.get_bind,
# op.get_context) is plumbing.
DDL = {"add_column", "drop_column", "alter_column", "create_table", "drop_table", "rename_table", "create_index",
       "drop_index", "create_foreign_key", "create_check_constraint", "create_unique_constraint",
       "create_primary_key", "drop_constraint", "create_table_comment", "create_exclude_constraint"}
DATA = {"execute", "bulk_insert"}


def sql_of(node: ast.AST | None) -> str | None:
    """The SQL text of ``"..."`` or ``sa.text("...")`` (with or without ``.bindparams``)."""
    value = literal(node)
    if isinstance(value, str):
        return value
    if isinstance(node, ast.Call):
        name = dotted(node.func)
        if name.endswith("bindparams") and isinstance(node.func, ast.Attribute):
            return sql_of(node.func.value)
        if name.split(".")[-1] == "text" and node.args:
            return sql_of(node.args[0])
    return None


class Collector:
    """Walks a function body in source order, remembering the `with` blocks each call sits in."""

    def __init__(self, function: str, helpers: dict[str, ast.FunctionDef], *, dialect: str = "postgresql"):
        self.function = function
        self.dialect = dialect  # the dialect being linted: branches for other dialects never run
        self.helpers = helpers
        self.ops: list[Op] = []
        self.batch: dict[str, tuple[str | None, str]] = {}  # alias -> (table, recreate)
        self.autocommit = False
        self._seen_helpers: set[str] = set()

    def run(self, node: ast.FunctionDef) -> list[Op]:
        for statement in node.body:
            self.visit(statement)
        return self.ops

    def visit(self, node: ast.AST) -> None:
        if isinstance(node, ast.For) and isinstance(node.target, ast.Name):
            values = literal(node.iter)
            if isinstance(values, list):
                # `for table in ("a", "b"): op.drop_table(table)` counts as one call per value.
                for value in values:
                    for statement in node.body:
                        self.visit(_Substitute(node.target.id, value).visit(copy.deepcopy(statement)))
                return
        if isinstance(node, (ast.With, ast.AsyncWith)):
            saved_batch, saved_autocommit = dict(self.batch), self.autocommit
            for item in node.items:
                expr = item.context_expr
                if isinstance(expr, ast.Call) and dotted(expr.func).endswith("batch_alter_table"):
                    table = literal(expr.args[0]) if expr.args else None
                    recreate = next((literal(k.value) for k in expr.keywords if k.arg == "recreate"), "auto")
                    alias = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else "batch"
                    self.batch[alias] = (table, recreate or "auto")
                elif isinstance(expr, ast.Call) and dotted(expr.func).endswith("autocommit_block"):
                    self.autocommit = True
                else:
                    self.visit(expr)
            for statement in node.body:
                self.visit(statement)
            self.batch, self.autocommit = saved_batch, saved_autocommit
            return
        if isinstance(node, ast.Call):
            self._call(node)
        for child in ast.iter_child_nodes(node):
            self.visit(child)

    def _call(self, node: ast.Call) -> None:
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.helpers and func.id not in self._seen_helpers:
            # A module-level helper called from upgrade(): its op.* calls count, at their own lines.
            self._seen_helpers.add(func.id)
            for statement in self.helpers[func.id].body:
                self.visit(statement)
            self._seen_helpers.discard(func.id)
            return
        if not isinstance(func, ast.Attribute):
            return
        # `op.get_bind().execute(...)` has a call as its receiver: name it "op.get_bind()" so it is not lost
        receiver = dotted(func.value.func) + "()" if isinstance(func.value, ast.Call) else dotted(func.value)
        name = func.attr
        if receiver == "op" and name in DDL | DATA:
            self.ops.append(Op(name, node, self.function, "op", autocommit=self.autocommit))
        elif receiver in self.batch and name in DDL | DATA:
            table, recreate = self.batch[receiver]
            self.ops.append(Op(name, node, self.function, "batch", batch_table=table, batch_recreate=recreate,
                               autocommit=self.autocommit))
        elif name in {"execute", "exec_driver_sql"} and receiver not in {"op", ""}:
            self.ops.append(Op(name, node, self.function, receiver, autocommit=self.autocommit))


class _Substitute(ast.NodeTransformer):
    def __init__(self, name: str, value):
        self.name, self.value = name, value

    def visit_Name(self, node: ast.Name) -> ast.AST:
        if node.id == self.name and isinstance(node.ctx, ast.Load):
            return ast.copy_location(ast.Constant(self.value), node)
        return node
