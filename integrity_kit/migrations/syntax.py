"""Reading values out of a revision's Python syntax tree: the one home of the AST helpers the rules share."""

from __future__ import annotations

import ast
from typing import Any


def literal(node: ast.AST | None) -> Any:
    """The Python value of a constant node (``op.f("x")`` and ``batch_op.f("x")`` count as ``"x"``), else None."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Call) and _is_f(node.func) and node.args:
        return literal(node.args[0])
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [literal(item) for item in node.elts]
        return values if all(value is not None for value in values) else None
    return None


def _is_f(func: ast.AST) -> bool:
    """``op.f`` or ``batch_op.f`` (any receiver's ``.f``): a naming-convention marker around a literal name."""
    name = dotted(func)
    return name == "f" or name.endswith(".f")


def dotted(node: ast.AST) -> str:
    """``op.create_index`` for an attribute chain of names, "" for anything else."""
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{dotted(node.value)}.{node.attr}"
    return ""


def kw_literal(call: ast.Call, name: str) -> Any:
    """The literal value of the keyword argument ``name`` of ``call``, else None."""
    for keyword in call.keywords:
        if keyword.arg == name:
            return literal(keyword.value)
    return None


def ast_text(node: ast.AST | None) -> str:
    """The source text of a node as the rules quote it in a fix ("" for no node)."""
    return ast.unparse(node) if node is not None else ""
