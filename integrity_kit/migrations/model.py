"""Findings, rules and the parsed picture of one revision that rules look at."""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar, TypeGuard

from integrity_kit import rulebook
from integrity_kit.migrations.syntax import ast_text, dotted, kw_literal, literal
from integrity_kit.rulebook import Severity

DIALECTS = ("postgresql", "mysql", "sqlite")


@dataclass(frozen=True)
class Finding:
    code: str
    rule: str
    severity: Severity
    revision: str
    path: str
    line: int
    message: str
    table: str | None = None
    fix: str | None = None  # the safe sequence, as op.* code
    source: str = "python"  # "python" (AST of the revision) or "sql" (statements the revision renders)
    # What the finding is about inside the revision: the op.* call's source or the SQL statement's text.
    subject: str | None = field(default=None, compare=False)

    @property
    def fingerprint(self) -> str:
        """Stable across runs and rewordings: the rule, the revision, the table and the operation, never the message."""
        return rulebook.fingerprint(self.rule, self.revision, self.table, self.source, self.subject)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "rule": self.rule, "severity": self.severity.value, "revision": self.revision,
                "path": self.path, "line": self.line, "table": self.table, "message": self.message,
                "fix": self.fix, "source": self.source, "fingerprint": self.fingerprint}


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
        if self.name == "drop_index":
            return literal(self.kw("table_name")) or literal(self.arg(1))
        position = {"create_index": 1, "create_foreign_key": 1, "create_unique_constraint": 1,
                    "create_check_constraint": 1, "drop_constraint": 1, "create_primary_key": 1}.get(self.name, 0)
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
    if not (isinstance(node, ast.Call) and dotted(node.func).split(".")[-1] == "Column"):
        return None
    kwargs = {k.arg: k.value for k in node.keywords if k.arg}
    name = literal(node.args[0]) if node.args and isinstance(literal(node.args[0]), str) else None
    primary_key = literal(kwargs.get("primary_key")) is True
    nullable_value = literal(kwargs.get("nullable"))
    nullable = (not primary_key) if nullable_value is None else bool(nullable_value)
    type_node = next((a for a in node.args[1:] if not _is_foreign_key(a)), None)
    column = Column(name=name, nullable=nullable, server_default="server_default" in kwargs
                    and literal(kwargs["server_default"]) is not None or _is_call(kwargs.get("server_default")),
                    primary_key=primary_key, type_source=ast_text(type_node))
    for arg in node.args:
        if _is_foreign_key(arg):
            column.fk_target = literal(arg.args[0]) if arg.args else None
            column.fk_ondelete = kw_literal(arg, "ondelete")
    return column


def _is_call(node: ast.AST | None) -> bool:
    return isinstance(node, ast.Call)


def _is_foreign_key(node: ast.AST) -> TypeGuard[ast.Call]:
    return isinstance(node, ast.Call) and dotted(node.func).split(".")[-1] == "ForeignKey"


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

    def call_source(self, line: int) -> str:
        """The source of the op.* call that starts on ``line`` (upgrade first), else ``line:<n>``."""
        for op in self.upgrade + (self.downgrade or []):
            if op.line == line:
                return ast.unparse(op.call)
        return f"line:{line}"

    def is_existing(self, table: str | None, before_line: int | None = None) -> bool:
        return table is not None and table not in self.created_tables()


@dataclass
class LintContext:
    dialect: str
    # referenced table -> [(child table, ondelete)] for every FK declared anywhere in the history
    fks: dict[str, list[tuple[str, str | None]]] = field(default_factory=dict)
    heads: tuple[str, ...] = ()
    server_version: str | None = None  # --server-version, e.g. "mysql-8.0.35": the MySQL online-DDL rules read it


IGNORE_HOW = ("When the step is safe in your case, say why on the line of the call (or the line above it):\n"
              "`# integrity-kit: ignore[{name}] <reason>` (or the code `{code}`).\n"
              "An ignore without a reason ignores nothing and is reported.")


class Rule(rulebook.Rule):
    """Base class: one subclass per rule, documented in its docstring (What it checks / Why it matters / Example /
    How to fix); the "How to ignore" section is generated from the code and name."""

    dialects: ClassVar[tuple[str, ...]] = DIALECTS
    # Said after the generated ignore paragraph, for a rule whose findings point somewhere other than a call.
    ignore_where: ClassVar[str] = ""

    @classmethod
    def generated_sections(cls) -> dict[str, str]:
        how = IGNORE_HOW.format(name=cls.name, code=cls.code)
        return {"How to ignore": f"{how} {cls.ignore_where}" if cls.ignore_where else how}

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:  # pragma: no cover
        raise NotImplementedError

    def finding(self, revision: Revision, line: int, message: str, *, table: str | None = None,
                fix: str | None = None, source: str = "python", subject: str | None = None) -> Finding:
        """A finding at ``line``; ``subject`` (the SQL statement, for SQL findings) defaults to the source of the
        op.* call on that line, so the fingerprint names the operation and not the wording."""
        return Finding(code=self.code, rule=self.name, severity=self.severity, revision=revision.revision,
                       path=revision.path, line=line, message=message, table=table, fix=fix, source=source,
                       subject=subject if subject is not None else revision.call_source(line))
