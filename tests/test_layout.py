"""DESIGN.md §2: the reference app depends on the toolkit, never the reverse; the toolkit reaches it by import
path, when a command asks for it."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parents[1] / "integrity_kit"


def test_the_toolkit_never_imports_the_reference_app_at_module_level() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:  # top-level statements only
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}" for name in names
                          if name == "examples" or name.startswith("examples.")]
    assert offenders == []


# The reference app's tables, and the SQL keywords after which a word is a table name. Upper-case keywords only:
# this project writes SQL keywords in capitals, so "read from products" in a help text is prose, not SQL.
APP_TABLES = ("categories", "products", "cart_items", "orders", "order_items", "carts", "users")
_TABLE = "|".join(APP_TABLES)
SQL_NAMING_A_TABLE = re.compile(
    rf"\b(?:FROM|JOIN|INTO|UPDATE|TABLE|REFERENCES|ON)\s+[\"`]?(?:{_TABLE})[\"`]?(?![\w.])")
APP_MODULE = re.compile(r"^examples(?:\.|$)|\bexamples\.ecommerce\b")
# The one constant per default that names the reference app by import path (DESIGN.md §2).
DEFAULT_IMPORT_PATHS = {"DEFAULT_WORKLOAD", "DEFAULT_SHOP"}


def _docstrings(tree: ast.AST) -> set[int]:
    """ids of the docstring nodes: rule pages and module docs show the reference app's tables as examples."""
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Module | ast.ClassDef | ast.FunctionDef | ast.AsyncFunctionDef) and node.body:
            first = node.body[0]
            if isinstance(first, ast.Expr) and isinstance(first.value, ast.Constant):
                found.add(id(first.value))
    return found


def _allowed_defaults(tree: ast.Module) -> dict[int, str]:
    """ids of the string constants assigned at module level to an allow-listed default name."""
    allowed = {}
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else [node.target] if isinstance(
            node, ast.AnnAssign) else []
        value = getattr(node, "value", None)
        for target in targets:
            if isinstance(target, ast.Name) and target.id in DEFAULT_IMPORT_PATHS and isinstance(value, ast.Constant):
                allowed[id(value)] = target.id
    return allowed


def _table_name_uses(tree: ast.AST) -> set[int]:
    """ids of constants that are exactly an app table's name and used as one: a subscript key (``tables["x"]``), a
    call argument (``Table("x", ...)``, ``op.add_column("x", ...)``) or a comparison operand (``name == "x"``)."""
    used = set()
    for node in ast.walk(tree):
        candidates: list[ast.expr] = []
        if isinstance(node, ast.Subscript):
            candidates = [node.slice]
        elif isinstance(node, ast.Call):
            candidates = [*node.args, *(keyword.value for keyword in node.keywords)]
        elif isinstance(node, ast.Compare):
            candidates = [node.left, *node.comparators]
        used.update(id(c) for c in candidates if isinstance(c, ast.Constant) and c.value in APP_TABLES)
    return used


def reference_app_literals(source: str, filename: str) -> list[tuple[int, str]]:
    """(line, text) of every string constant in ``source`` that names the reference app's tables or modules."""
    tree = ast.parse(source, filename)
    skip = _docstrings(tree) | set(_allowed_defaults(tree))
    table_names = _table_name_uses(tree)
    found = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Constant) or not isinstance(node.value, str) or id(node) in skip:
            continue
        if id(node) in table_names or SQL_NAMING_A_TABLE.search(node.value) or APP_MODULE.search(node.value):
            found.append((node.lineno, node.value))
    return found


def test_the_toolkit_names_neither_the_reference_apps_tables_nor_its_modules() -> None:
    offenders = [f"{path.relative_to(PACKAGE.parent)}:{line} {text!r}" for path in sorted(PACKAGE.rglob("*.py"))
                 for line, text in reference_app_literals(path.read_text(), str(path))]
    assert offenders == []


def test_each_allow_listed_default_is_declared_once() -> None:
    declared = [name for path in sorted(PACKAGE.rglob("*.py"))
                for name in _allowed_defaults(ast.parse(path.read_text(), str(path))).values()]
    assert sorted(declared) == sorted(DEFAULT_IMPORT_PATHS)


@pytest.mark.parametrize(("source", "flagged"), [
    ('connection.execute(text("SELECT stock FROM products WHERE id = 1"))', True),
    ('sql = "INSERT INTO cart_items (cart_id) VALUES (1)"', True),
    ('sql = \'DELETE FROM "orders" WHERE id = 1\'', True),
    ("connection.execute(insert(tables['categories']))", True),
    ('Table("users", metadata)', True),
    ('if table.name == "order_items": pass', True),
    ('WORKLOAD = "examples.ecommerce.checkout:checkout"', True),
    ('importlib.import_module("examples.ecommerce.models")', True),
    ('DEFAULT_WORKLOAD = "examples.ecommerce.race_workload:workload"', False),
    ('HELP = "read the products a shop sells from products and users"', False),
    ('columns = [("orders", lambda r: r.orders_placed)]', False),
    ('sql = "SELECT * FROM products_archive"', False),
    ('sql = "SELECT * FROM ik_race_products"', False),
    ('def f():\n    """INSERT INTO cart_items (cart_id, product_id) VALUES (7, 42)"""', False),
    ('message = f"{count} orders placed"', False),
])
def test_the_reference_app_rule_is_precise(source: str, flagged: bool) -> None:
    assert bool(reference_app_literals(source, "<case>")) is flagged
