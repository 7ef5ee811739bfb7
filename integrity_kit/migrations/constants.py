"""Constant propagation for the Python pass: what a revision's expressions evaluate to without running them.

Values are plain Python data (str, numbers, bools, None, lists/tuples/dicts of them) or one of the markers below
for the objects migrations ask the dialect from. Anything else is ``UNKNOWN``, and a call whose argument stays
unknown keeps the original expression, so the rules can describe it instead of guessing.
"""

from __future__ import annotations

import ast
import operator
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from integrity_kit.migrations.syntax import dotted


class _Unknown:
    def __repr__(self) -> str:
        return "UNKNOWN"


UNKNOWN: Any = _Unknown()


@dataclass(frozen=True)
class Marker:
    """A runtime object the pass can still reason about: the connection, the migration context, the dialect."""

    kind: str  # "bind", "context" or "dialect"


BIND, CONTEXT, DIALECT, ENGINE = Marker("bind"), Marker("context"), Marker("dialect"), Marker("engine")


@dataclass(frozen=True)
class TableRef:
    """A table the module defines as a model class (``__tablename__``) or a ``sa.Table(...)``: its name, and what
    ``Model.__table__.create()`` or ``metadata.create_all()`` creates."""

    name: str


class DialectName(str):
    """The name of the dialect being linted, as ``bind.dialect.name`` returns it online."""


_DIALECT_CLASSES = (("mysql", ("MySQL", "MariaDB")), ("postgresql", ("PG", "PostgreSQL", "Postgres")),
                    ("sqlite", ("SQLite",)), ("mssql", ("MS", "MSSQL")), ("oracle", ("Oracle",)))


def dialect_of_class(name: str) -> str | None:
    """The dialect a SQLAlchemy dialect class is for (``MySQLDialect_pymysql`` -> "mysql"), or None."""
    if "Dialect" not in name:
        return None
    stem = name.split("Dialect")[0]
    for dialect, prefixes in _DIALECT_CLASSES:
        if stem in prefixes:
            return dialect
    return None


class SqlText(str):
    """The SQL of a ``text("...")`` construct: it stays a ``text()`` where it is folded back into a call."""


# Callables on `op` / `context` whose result is a known marker or a known value for an online run.
_MARKER_CALLS = {"op.get_bind": BIND, "context.get_bind": BIND, "op.get_context": CONTEXT,
                 "context.get_context": CONTEXT}
# Linting is about the online run (the one that changes a database): the offline branch does not run there.
_OFFLINE_CALLS = {"context.is_offline_mode", "op.is_offline_mode"}
# Builtins a loop header applies to a known sequence (`for name in reversed(COLUMNS)`).
_SEQUENCE_BUILTINS: dict[str, Callable[[Any], Any]] = {"reversed": lambda v: list(reversed(v)), "sorted": sorted,
                                                       "list": list, "tuple": tuple}
_STR_METHODS = {"lower", "upper", "strip", "startswith", "endswith", "replace", "format", "join", "split",
                "removeprefix", "removesuffix"}
_BINARY: dict[type, Callable[[Any, Any], Any]] = {ast.Add: operator.add, ast.Mod: operator.mod,
                                                  ast.Mult: operator.mul, ast.Sub: operator.sub}
_COMPARE: dict[type, Callable[[Any, Any], Any]] = {
    ast.Eq: operator.eq, ast.NotEq: operator.ne, ast.In: lambda a, b: a in b, ast.NotIn: lambda a, b: a not in b,
    ast.Is: operator.is_, ast.IsNot: operator.is_not, ast.Lt: operator.lt, ast.LtE: operator.le,
    ast.Gt: operator.gt, ast.GtE: operator.ge}


def is_data(value: Any) -> bool:
    """Whether ``value`` is plain literal data that can stand in for an expression in a call."""
    if value is None or isinstance(value, (str, int, float, bytes)):
        return True
    if isinstance(value, (list, tuple)):
        return all(is_data(item) for item in value)
    if isinstance(value, dict):
        return all(is_data(key) and is_data(item) for key, item in value.items())
    return False


def as_node(value: Any, like: ast.AST) -> ast.expr:
    """An AST node for literal data, at the position of ``like``."""
    node: ast.expr
    if isinstance(value, list):
        node = ast.List([as_node(item, like) for item in value], ast.Load())
    elif isinstance(value, tuple):
        node = ast.Tuple([as_node(item, like) for item in value], ast.Load())
    elif isinstance(value, dict):
        node = ast.Dict([as_node(key, like) for key in value], [as_node(item, like) for item in value.values()])
    elif isinstance(value, SqlText):
        node = ast.Call(ast.Attribute(ast.Name("sa", ast.Load()), "text", ast.Load()), [ast.Constant(str(value))], [])
    else:
        node = ast.Constant(str(value) if isinstance(value, DialectName) else value)
    return ast.fix_missing_locations(ast.copy_location(node, like))


class Evaluator:
    """Evaluates expressions against an environment of known names, for the dialect being linted."""

    def __init__(self, dialect: str, env: Mapping[str, Any],
                 call_helper: Callable[[ast.Call], Any] | None = None):
        self.dialect = dialect
        self.env = env
        self.call_helper = call_helper  # evaluates a call to a module helper that returns a value

    def __call__(self, node: ast.AST | None) -> Any:
        if node is None:
            return UNKNOWN
        try:
            return self._eval(node)
        except Exception:  # an operation on known values that raises (a bad format, a missing key) is unknown
            return UNKNOWN

    def _eval(self, node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Name):
            return self.env.get(node.id, UNKNOWN)
        if isinstance(node, (ast.List, ast.Tuple, ast.Set)):
            items: list[Any] = []
            for element in node.elts:
                if isinstance(element, ast.Starred):  # (*A, *B): spliced when A and B are known sequences
                    spliced = self._eval(element.value)
                    if not isinstance(spliced, (list, tuple)):
                        return UNKNOWN
                    items.extend(spliced)
                else:
                    items.append(self._eval(element))
            if any(item is UNKNOWN for item in items):
                return UNKNOWN
            return tuple(items) if isinstance(node, ast.Tuple) else items
        if isinstance(node, ast.Dict):
            keys = [self._eval(key) if key is not None else UNKNOWN for key in node.keys]
            values = [self._eval(value) for value in node.values]
            if UNKNOWN in keys or any(value is UNKNOWN for value in values):
                return UNKNOWN
            return dict(zip(keys, values, strict=True))
        if isinstance(node, ast.JoinedStr):
            parts = []
            for part in node.values:
                value = self._eval(part)
                if value is UNKNOWN:
                    return UNKNOWN
                parts.append(value)
            return "".join(parts)
        if isinstance(node, ast.FormattedValue):
            value = self._eval(node.value)
            spec = self._eval(node.format_spec) if node.format_spec is not None else ""
            if value is UNKNOWN or spec is UNKNOWN or not is_data(value):
                return UNKNOWN
            converters: dict[int, Callable[[Any], str]] = {ord("r"): repr, ord("a"): ascii, ord("s"): str}
            if node.conversion in converters:
                value = converters[node.conversion](value)
            return format(value, spec)
        if isinstance(node, ast.BinOp) and type(node.op) in _BINARY:
            left, right = self._eval(node.left), self._eval(node.right)
            if left is UNKNOWN or right is UNKNOWN or not (is_data(left) and is_data(right)):
                return UNKNOWN
            result = _BINARY[type(node.op)](left, right)
            return str(result) if isinstance(result, str) else result
        if isinstance(node, ast.BoolOp):
            return self._bool_op(node)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            value = self._eval(node.operand)
            return UNKNOWN if value is UNKNOWN or isinstance(value, Marker) else not value
        if isinstance(node, ast.Compare):
            return self._compare(node)
        if isinstance(node, ast.IfExp):
            test = self._eval(node.test)
            if test is UNKNOWN or isinstance(test, Marker):
                return UNKNOWN
            return self._eval(node.body if test else node.orelse)
        if isinstance(node, ast.Subscript):
            container, key = self._eval(node.value), self._eval(node.slice)
            if container is UNKNOWN or key is UNKNOWN or not is_data(container):
                return UNKNOWN
            return container[key]
        if isinstance(node, ast.Attribute):
            return self._attribute(node)
        if isinstance(node, ast.Call):
            return self._call(node)
        return UNKNOWN

    def _bool_op(self, node: ast.BoolOp) -> Any:
        # Three-valued: `x and <unknown>` is False when x is False, unknown otherwise (and the dual for `or`).
        decided = isinstance(node.op, ast.Or)
        result: Any = not decided
        for item in node.values:
            value = self._eval(item)
            if value is UNKNOWN or isinstance(value, Marker):
                result = UNKNOWN
            elif bool(value) == decided:
                return value
            elif result is not UNKNOWN:
                result = value
        return result

    def _compare(self, node: ast.Compare) -> Any:
        left = self._eval(node.left)
        for op, comparator in zip(node.ops, node.comparators, strict=True):
            right = self._eval(comparator)
            if left is UNKNOWN or right is UNKNOWN or isinstance(left, Marker) or isinstance(right, Marker):
                return UNKNOWN
            if self._ambiguous(left) or self._ambiguous(right):
                return UNKNOWN
            if not _COMPARE[type(op)](left, right):
                return False
            left = right
        return True

    def _ambiguous(self, value: Any) -> bool:
        """MariaDB reports "mariadb" or "mysql" depending on the driver URL: a test for it is unknown on mysql."""
        if self.dialect != "mysql" or isinstance(value, DialectName):
            return False
        values = value if isinstance(value, (list, tuple, set)) else [value]
        return any(v == "mariadb" for v in values) and not any(v == "mysql" for v in values)

    def _attribute(self, node: ast.Attribute) -> Any:
        base = self._eval(node.value)
        if base is UNKNOWN:
            # Whatever object a migration asks for its dialect (a project's own engine facade, a helper's
            # connection), it is the database being migrated.
            return DIALECT if node.attr == "dialect" else UNKNOWN
        if base in (BIND, CONTEXT, ENGINE):
            if node.attr == "dialect":
                return DIALECT
            if node.attr == "engine":
                return ENGINE
            if node.attr in {"bind", "connection"}:
                return BIND
            if node.attr == "name" and base == ENGINE:
                return DialectName(self.dialect)
            if node.attr == "as_sql" and base == CONTEXT:
                return False
            return UNKNOWN
        if base == DIALECT and node.attr == "name":
            return DialectName(self.dialect)
        if isinstance(base, TableRef):
            if node.attr in {"__tablename__", "name", "fullname"}:
                return base.name
            if node.attr == "__table__":
                return base
        return UNKNOWN

    def _call(self, node: ast.Call) -> Any:
        name = dotted(node.func)
        if name in _MARKER_CALLS:
            return _MARKER_CALLS[name]
        if name in _OFFLINE_CALLS:
            return False
        if (name == "f" or name.endswith(".f")) and len(node.args) == 1 and not node.keywords:
            return self._eval(node.args[0])
        if name.split(".")[-1] == "text" and len(node.args) == 1 and not node.keywords:
            sql = self._eval(node.args[0])
            return SqlText(sql) if isinstance(sql, str) else UNKNOWN
        if isinstance(node.func, ast.Attribute) and node.func.attr == "items" and not node.args:
            mapping = self._eval(node.func.value)
            return list(mapping.items()) if isinstance(mapping, dict) else UNKNOWN
        if isinstance(node.func, ast.Attribute) and node.func.attr in _STR_METHODS:
            receiver = self._eval(node.func.value)
            if isinstance(receiver, str):
                args = [self._eval(arg) for arg in node.args]
                kwargs = {k.arg: self._eval(k.value) for k in node.keywords if k.arg}
                if UNKNOWN in args or UNKNOWN in kwargs.values() or len(kwargs) != len(node.keywords) \
                        or not all(is_data(v) for v in [*args, *kwargs.values()]):
                    return UNKNOWN
                result = getattr(str(receiver), node.func.attr)(*args, **kwargs)
                if isinstance(receiver, DialectName) and isinstance(result, str) and node.func.attr in \
                        {"lower", "upper", "strip"}:
                    return DialectName(result)
                return result
            return UNKNOWN
        if name in _SEQUENCE_BUILTINS and len(node.args) == 1 and not node.keywords:
            value = self._eval(node.args[0])
            if isinstance(value, (list, tuple)) and is_data(value):
                return _SEQUENCE_BUILTINS[name](value)
            return UNKNOWN
        if name == "isinstance" and len(node.args) == 2 and self._eval(node.args[0]) == DIALECT:
            return self._dialect_class_test(node.args[1])
        if isinstance(node.func, ast.Name) and self.call_helper is not None:
            return self.call_helper(node)
        return UNKNOWN

    def _dialect_class_test(self, classes: ast.AST) -> Any:
        """``isinstance(bind.dialect, MySQLDialect)``: decided by the dialect the class is named for."""
        nodes = classes.elts if isinstance(classes, (ast.Tuple, ast.List)) else [classes]
        names = [dialect_of_class(dotted(item).split(".")[-1]) for item in nodes]
        if not names or None in names:
            return UNKNOWN
        return self.dialect in names


class Fold(ast.NodeTransformer):
    """Replaces every sub-expression whose value is known literal data by that constant (in a copy of a call)."""

    def __init__(self, evaluate: Evaluator):
        self.evaluate = evaluate

    def generic_visit(self, node: ast.AST) -> ast.AST:
        if isinstance(node, (ast.Name, ast.JoinedStr, ast.BinOp, ast.Subscript, ast.IfExp, ast.BoolOp,
                             ast.Compare, ast.Attribute)) and not isinstance(getattr(node, "ctx", None), ast.Store):
            value = self.evaluate(node)
            if value is not UNKNOWN and is_data(value):
                return as_node(value, node)
            if isinstance(node, ast.JoinedStr):
                return node  # a constant put back inside an f-string may not unparse (a backslash, a quote)
        if isinstance(node, ast.Call) and isinstance(node.func, (ast.Attribute, ast.Name)):
            value = self.evaluate(node)
            if value is not UNKNOWN and is_data(value) and not dotted(node.func).endswith(("text", ".f")):
                return as_node(value, node)
        return super().generic_visit(node)
