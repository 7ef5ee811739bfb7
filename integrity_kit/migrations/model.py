"""Findings, rules and the parsed picture of one revision that rules look at."""

from __future__ import annotations

import ast
import hashlib
from dataclasses import dataclass, field
from typing import ClassVar

DIALECTS = ("postgresql", "mysql", "sqlite")


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    severity: str
    revision: str
    path: str
    line: int
    message: str
    table: str | None = None
    fix: str | None = None  # the safe sequence, as op.* code
    source: str = "python"  # "python" (AST of the revision) or "sql" (statements the revision renders)

    @property
    def fingerprint(self) -> str:
        key = "|".join([self.code, self.revision, self.table or "", self.message])
        return hashlib.sha256(key.encode()).hexdigest()[:16]

    def to_dict(self) -> dict:
        return {"code": self.code, "rule": self.rule, "severity": self.severity, "revision": self.revision,
                "path": self.path, "line": self.line, "table": self.table, "message": self.message,
                "fix": self.fix, "source": self.source, "fingerprint": self.fingerprint}


def literal(node: ast.AST | None):
    """The Python value of a constant node (``op.f("x")`` counts as ``"x"``), else None."""
    if node is None:
        return None
    if isinstance(node, ast.Constant):
        return node.value
    if isinstance(node, ast.Call) and _dotted(node.func) in {"op.f", "f"} and node.args:
        return literal(node.args[0])
    if isinstance(node, (ast.List, ast.Tuple)):
        values = [literal(item) for item in node.elts]
        return values if all(value is not None for value in values) else None
    return None


def _dotted(node: ast.AST) -> str:
    if isinstance(node, ast.Name):
        return node.id
    if isinstance(node, ast.Attribute):
        return f"{_dotted(node.value)}.{node.attr}"
    return ""


dotted = _dotted


@dataclass
class Op:
    """One ``op.*`` (or ``batch.*``, or ``connection.execute``) call inside upgrade() or downgrade()."""

    name: str
    call: ast.Call
    function: str
    receiver: str  # "op", "batch" or the dotted name of anything else that has .execute()
    batch_table: str | None = None
    batch_recreate: str = "auto"
    autocommit: bool = False

    @property
    def line(self) -> int:
        return self.call.lineno

    @property
    def lines(self) -> range:
        return range(self.call.lineno, (self.call.end_lineno or self.call.lineno) + 1)

    def kw(self, name: str) -> ast.AST | None:
        for keyword in self.call.keywords:
            if keyword.arg == name:
                return keyword.value
        return None

    def has_kw(self, name: str) -> bool:
        return self.kw(name) is not None

    def arg(self, index: int) -> ast.AST | None:
        return self.call.args[index] if len(self.call.args) > index else None

    @property
    def table(self) -> str | None:
        if self.batch_table is not None:
            return self.batch_table
        position = {"create_index": 1, "drop_index": None, "create_foreign_key": 1, "create_unique_constraint": 1,
                    "create_check_constraint": 1, "drop_constraint": 1, "create_primary_key": 1}.get(self.name, 0)
        if self.name == "drop_index":
            return literal(self.kw("table_name")) or literal(self.arg(1))
        return literal(self.kw("table_name")) or literal(self.arg(position))


@dataclass
class Column:
    name: str | None
    nullable: bool
    server_default: bool
    primary_key: bool
    type_source: str
    fk_ondelete: str | None = None
    fk_target: str | None = None


def parse_column(node: ast.AST | None) -> Column | None:
    if not (isinstance(node, ast.Call) and _dotted(node.func).split(".")[-1] == "Column"):
        return None
    kwargs = {k.arg: k.value for k in node.keywords if k.arg}
    name = literal(node.args[0]) if node.args and isinstance(literal(node.args[0]), str) else None
    primary_key = literal(kwargs.get("primary_key")) is True
    nullable_value = literal(kwargs.get("nullable"))
    nullable = (not primary_key) if nullable_value is None else bool(nullable_value)
    type_node = next((a for a in node.args[1:] if not _is_foreign_key(a)), None)
    column = Column(name=name, nullable=nullable, server_default="server_default" in kwargs
                    and literal(kwargs["server_default"]) is not None or _is_call(kwargs.get("server_default")),
                    primary_key=primary_key, type_source=ast.unparse(type_node) if type_node is not None else "")
    for arg in node.args:
        if _is_foreign_key(arg):
            column.fk_target = literal(arg.args[0]) if arg.args else None
            column.fk_ondelete = _kw_literal(arg, "ondelete")
    return column


def _is_call(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Call)


def _is_foreign_key(node: ast.AST) -> bool:
    return isinstance(node, ast.Call) and _dotted(node.func).split(".")[-1] == "ForeignKey"


def _kw_literal(call: ast.Call, name: str):
    for keyword in call.keywords:
        if keyword.arg == name:
            return literal(keyword.value)
    return None


kw_literal = _kw_literal


@dataclass
class Statement:
    """One SQL statement: from an ``op.execute("...")`` literal (with its line) or from the offline rendering."""

    sql: str
    line: int | None
    in_transaction: bool
    origin: str  # "execute" or "rendered"


@dataclass
class Revision:
    revision: str
    down_revision: str | tuple | None
    path: str
    module: ast.Module
    source_lines: list[str]
    upgrade: list[Op] = field(default_factory=list)
    downgrade: list[Op] | None = None  # None: no downgrade() at all
    downgrade_line: int | None = None
    downgrade_raises: bool = False
    upgrade_line: int = 1
    revision_line: int = 1  # the `revision = "..."` assignment: where history-level findings point
    statements: list[Statement] = field(default_factory=list)  # op.execute literals, then rendered SQL

    def created_tables(self) -> set[str]:
        """Tables this revision's upgrade creates: they hold no rows yet, so locks and scans on them are free."""
        return {op.table for op in self.upgrade if op.name == "create_table" and op.table}

    def is_existing(self, table: str | None, before_line: int | None = None) -> bool:
        return table is not None and table not in self.created_tables()


@dataclass
class LintContext:
    dialect: str
    # referenced table -> [(child table, ondelete)] for every FK declared anywhere in the history
    fks: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    heads: tuple[str, ...] = ()


class Rule:
    """Base class: one subclass per rule, documented in its docstring (What it checks / Why it matters / Example /
    How to fix)."""

    code: ClassVar[str]
    name: ClassVar[str]
    severity: ClassVar[str]
    summary: ClassVar[str]
    dialects: ClassVar[tuple[str, ...]] = DIALECTS

    def check(self, revision: Revision, context: LintContext):  # pragma: no cover - interface
        raise NotImplementedError

    def finding(self, revision: Revision, line: int, message: str, *, table: str | None = None,
                fix: str | None = None, source: str = "python") -> Finding:
        return Finding(code=self.code, rule=self.name, severity=self.severity, revision=revision.revision,
                       path=revision.path, line=line, message=message, table=table, fix=fix, source=source)
