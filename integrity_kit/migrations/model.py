"""Findings, rules and the parsed picture of one revision that rules look at."""

from __future__ import annotations

import ast
import copy
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeGuard

from integrity_kit import rulebook
from integrity_kit.migrations.syntax import ast_text, dotted, kw_literal, literal
from integrity_kit.rulebook import Severity

if TYPE_CHECKING:
    from integrity_kit.migrations.preflight import Preflight

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
    # With --database: what the target's rows say about the operation, and who holds locks on its table now.
    data: dict[str, Any] | None = field(default=None, compare=False)
    blockers: tuple[dict[str, Any], ...] | None = field(default=None, compare=False)

    @property
    def fingerprint(self) -> str:
        """Stable across runs and rewordings: the rule, the revision, the table and the operation, never the message."""
        return rulebook.fingerprint(self.rule, self.revision, self.table, self.source, self.subject)

    def to_dict(self) -> dict[str, Any]:
        return {"code": self.code, "rule": self.rule, "severity": self.severity.value, "revision": self.revision,
                "path": self.path, "line": self.line, "table": self.table, "message": self.message,
                "fix": self.fix, "source": self.source, "fingerprint": self.fingerprint} | (
            {} if self.data is None else {"data": self.data, "blockers": list(self.blockers or ())})


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
    batch_table_node: ast.AST | None = None  # the expression naming the batch table, to describe it when unknown

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

    def param(self, name: str) -> ast.AST | None:
        """The argument Alembic binds to parameter ``name`` (by keyword or by position), else None."""
        if self.receiver == "batch" and name in _TABLE_PARAMS:
            return None
        given = self.kw(name)
        if given is not None:
            return given
        order = (_BATCH_PARAMS if self.receiver == "batch" else _OP_PARAMS).get(self.name, ())
        return self.arg(order.index(name)) if name in order else None

    @property
    def table_node(self) -> ast.AST | None:
        """The expression naming the table the call changes (the batch's table for a batch operation)."""
        if self.receiver == "batch":
            return self.batch_table_node
        return next((node for node in map(self.param, _TABLE_PARAMS) if node is not None), None)

    @property
    def table(self) -> str | None:
        """The table's name when the source gives it as a (resolved) string, else None — never another type."""
        if self.receiver == "batch":
            return self.batch_table
        value = literal(self.table_node)
        return value if isinstance(value, str) else None

    @property
    def table_key(self) -> str | None:
        """The table's name, else the source of the expression naming it (``expr:SqlSpan.__tablename__``), so two
        calls naming a table the same way can be matched without knowing the name."""
        if self.table is not None:
            return self.table
        node = self.table_node
        if node is None or isinstance(node, ast.Constant):
            return None
        return "expr:" + ast.unparse(node)

    @property
    def table_text(self) -> str:
        """The table for a message: its name, or what names it ("a table named by a variable `name`")."""
        if self.receiver == "batch" and self.batch_table is not None:
            return self.batch_table
        return describe(self.table_node, "table")

    @property
    def table_code(self) -> str:
        """The table as Python source for a fix: ``"orders"``, or the expression the revision names it with."""
        return _code(self.table, self.table_node, "<table>")

    @property
    def table_sql(self) -> str:
        """The table inside SQL text of a fix: its name, or a placeholder naming the expression."""
        return self.table or _placeholder(self.table_node, "table")

    @property
    def column_node(self) -> ast.AST | None:
        """The column an add/drop/alter_column names (``add_column`` names it inside its ``sa.Column``)."""
        node = self.param("column")
        if isinstance(node, ast.Call) and dotted(node.func).split(".")[-1] == "Column":
            return node.args[0] if node.args else None
        return node if node is not None else self.param("column_name")

    @property
    def column_text(self) -> str:
        return describe(self.column_node, "column")

    @property
    def column_ref(self) -> str:
        """``orders.status`` for a message, or the parts the pass could not resolve described."""
        if self.table is not None and literal_str(self.column_node) is not None:
            return f"{self.table}.{self.column_text}"
        return f"{self.column_text} of {self.table_text}"

    @property
    def column_code(self) -> str:
        return _code(literal_str(self.column_node), self.column_node, "<column>")

    @property
    def column_sql(self) -> str:
        return literal_str(self.column_node) or _placeholder(self.column_node, "column")

    def names(self, param: str) -> list[str] | None:
        """A list-of-names argument (columns), when every name is known."""
        value = literal(self.param(param))
        if isinstance(value, str):
            return [value]
        if isinstance(value, (list, tuple)) and all(isinstance(item, str) for item in value):
            return list(value)
        return None

    @property
    def object_name(self) -> str | None:
        """The literal name of the index or constraint the call creates or drops, else None."""
        return literal_str(self.param(_NAME_PARAMS.get(self.name, "")))

    @property
    def object_text(self) -> str:
        """The index or constraint for a message: its name, or what it is built on when it has none
        ("the foreign key orders(customer_id) -> customers(id)")."""
        kind = _KINDS.get(self.name, "constraint")
        if self.name == "drop_constraint":
            kind = {"foreignkey": "foreign key", "unique": "unique constraint", "check": "CHECK constraint",
                    "primary": "primary key"}.get(literal_str(self.param("type_")) or "", "constraint")
        if self.object_name is not None:
            return f"{kind} {self.object_name}"
        node = self.param(_NAME_PARAMS.get(self.name, ""))
        if node is not None and not (isinstance(node, ast.Constant) and node.value is None):
            return describe(node, kind)
        # Named by what it is built on; an unresolved table is left out here, the message names it anyway.
        table = self.table or ""
        if self.name == "create_foreign_key":
            local, remote = self.names("local_cols"), self.names("remote_cols")
            referent = literal_str(self.param("referent_table")) or ""
            return (f"the {kind} {table}({', '.join(local or ['...'])}) -> "
                    f"{referent}({', '.join(remote or ['...'])})")
        columns = self.names("columns")
        if columns:
            return f"the {kind} {table}({', '.join(columns)})"
        return f"an unnamed {kind}" + (f" on {table}" if table else "")

    @property
    def object_sql(self) -> str:
        """The index or constraint's name for SQL in a fix: its name, or the conventional name to give it."""
        if self.object_name is not None:
            return self.object_name
        prefix = {"create_foreign_key": "fk", "create_unique_constraint": "uq", "create_check_constraint": "ck",
                  "create_index": "ix", "create_primary_key": "pk"}.get(self.name, "constraint")
        columns = self.names("local_cols" if self.name == "create_foreign_key" else "columns") or []
        referent = literal_str(self.param("referent_table")) if self.name == "create_foreign_key" else None
        parts = [prefix, self.table or "<table>", *columns, *([referent] if referent else [])]
        return "_".join(parts) if self.table and (columns or self.name == "create_check_constraint") \
            else f"<{prefix} name>"

    @property
    def named_call(self) -> str:
        """The call's source with an unnamed (``None``) index or constraint given the name ``object_sql``."""
        node = copy.deepcopy(self.call)
        name = _NAME_PARAMS.get(self.name)
        if name is not None and self.object_name is None and self.param(name) is not None \
                and literal(self.param(name)) is None and isinstance(self.param(name), ast.Constant):
            replacement = ast.Constant(self.object_sql)
            if self.kw(name) is not None:
                node.keywords = [ast.keyword(k.arg, replacement) if k.arg == name else k for k in node.keywords]
            else:
                node.args = [replacement, *node.args[1:]]
        return ast.unparse(node)

    @property
    def signature(self) -> tuple:
        """What change the call makes, to tell a fallback that repeats it from a different one."""
        what = self.object_name or literal_str(self.column_node) or sql_text(self.arg(0))
        return (self.name, self.table, what)


# Alembic's parameter order for each operation, on `op` and on a batch (which has no table parameter).
_OP_PARAMS: dict[str, tuple[str, ...]] = {
    "add_column": ("table_name", "column"), "drop_column": ("table_name", "column_name"),
    "alter_column": ("table_name", "column_name"), "create_table": ("table_name",),
    "drop_table": ("table_name",), "rename_table": ("old_table_name", "new_table_name"),
    "create_index": ("index_name", "table_name", "columns"), "drop_index": ("index_name", "table_name"),
    "create_foreign_key": ("constraint_name", "source_table", "referent_table", "local_cols", "remote_cols"),
    "create_check_constraint": ("constraint_name", "table_name", "condition"),
    "create_unique_constraint": ("constraint_name", "table_name", "columns"),
    "create_primary_key": ("constraint_name", "table_name", "columns"),
    "drop_constraint": ("constraint_name", "table_name", "type_"),
    "create_table_comment": ("table_name", "comment"), "create_exclude_constraint": ("constraint_name", "table_name"),
    "execute": ("sqltext",), "bulk_insert": ("table", "rows"),
}
_BATCH_PARAMS: dict[str, tuple[str, ...]] = {
    "add_column": ("column",), "drop_column": ("column_name",), "alter_column": ("column_name",),
    "create_index": ("index_name", "columns"), "drop_index": ("index_name",),
    "create_foreign_key": ("constraint_name", "referent_table", "local_cols", "remote_cols"),
    "create_check_constraint": ("constraint_name", "condition"), "create_unique_constraint": ("constraint_name",
                                                                                              "columns"),
    "create_primary_key": ("constraint_name", "columns"), "drop_constraint": ("constraint_name", "type_"),
    "execute": ("sqltext",),
}
_TABLE_PARAMS = ("table_name", "source_table", "old_table_name")
_NAME_PARAMS = {"create_index": "index_name", "drop_index": "index_name", "create_foreign_key": "constraint_name",
                "create_check_constraint": "constraint_name", "create_unique_constraint": "constraint_name",
                "create_primary_key": "constraint_name", "drop_constraint": "constraint_name",
                "create_exclude_constraint": "constraint_name"}
_KINDS = {"create_index": "index", "drop_index": "index", "create_foreign_key": "foreign key",
          "create_check_constraint": "CHECK constraint", "create_unique_constraint": "unique constraint",
          "create_primary_key": "primary key", "create_exclude_constraint": "exclusion constraint"}


def literal_str(node: ast.AST | None) -> str | None:
    """The literal string a node stands for, else None (a list or a number is not a name)."""
    value = literal(node)
    return value if isinstance(value, str) else None


def sql_text(node: ast.AST | None) -> str | None:
    if isinstance(node, ast.Call) and node.args and dotted(node.func).split(".")[-1] == "text":
        return literal_str(node.args[0])
    return literal_str(node)


def describe(node: ast.AST | None, kind: str) -> str:
    """A name for a message: the literal, or what names it when the pass could not resolve it."""
    value = literal_str(node)
    if value is not None:
        return value
    article = "an" if kind[:1].lower() in "aeio" else "a"  # "a unique constraint", "an index"
    if node is None or (isinstance(node, ast.Constant) and node.value is None):
        return f"an unnamed {kind}"
    if isinstance(node, ast.Name):
        return f"{article} {kind} named by a variable `{node.id}`"
    return f"{article} {kind} named by an expression `{_short(node)}`"


def _short(node: ast.AST) -> str:
    text = ast.unparse(node)
    return text if len(text) <= 40 else text[:37] + "..."


def code_of(node: ast.AST | None, missing: str) -> str:
    """A name as Python source for a fix: ``"orders"`` for a literal, else the expression that gives it."""
    return _code(literal_str(node), node, missing)


def _code(value: str | None, node: ast.AST | None, missing: str) -> str:
    if value is not None:
        return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'
    return ast.unparse(node) if node is not None and not isinstance(node, ast.Constant) else missing


def _placeholder(node: ast.AST | None, kind: str) -> str:
    if node is not None and not isinstance(node, ast.Constant):
        return f"<{_short(node)}>"
    return f"<{kind}>"


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
    created_by_metadata: set[str] = field(default_factory=set)  # by metadata.create_all() / Model.__table__.create()
    dropped_by_metadata: set[str] = field(default_factory=set)  # by the downgrade's metadata.drop_all() / .drop()
    upgrade_line: int = 1
    revision_line: int = 1  # the `revision = "..."` assignment: where history-level findings point
    statements: list[Statement] = field(default_factory=list)  # op.execute literals, then rendered SQL

    def created_tables(self) -> set[str]:
        """Tables this revision's upgrade creates: they hold no rows yet, so locks and scans on them are free."""
        return {op.table for op in self.upgrade if op.name == "create_table" and op.table} | self.created_by_metadata

    def created_keys(self) -> set[str]:
        """:meth:`created_tables`, plus the expressions naming tables whose name the pass could not resolve."""
        return {key for op in self.upgrade if op.name == "create_table" and (key := op.table_key) is not None} \
            | self.created_by_metadata

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
    # revision -> {(table, column): type source} as the revisions before it left the columns
    types_before: dict[str, dict[tuple[str, str], str]] = field(default_factory=dict)
    # revision -> the (table, column) pairs the revisions before it declared NOT NULL
    not_null_before: dict[str, frozenset[tuple[str, str]]] = field(default_factory=dict)
    # every revision, in history order, when none of them has a working downgrade() (a roll-forward-only project)
    no_downgrades: tuple[str, ...] = ()
    no_downgrades_reported_on: str | None = None  # the first of them that is linted (--since may skip the base)
    preflight: Preflight | None = None  # with --database: the pending operations judged against the live rows


IGNORE_HOW = ("When the step is safe in your case, say why on the line of the call (or the line above it):\n"
              "`# integrity-kit: ignore[{name}] <reason>` (or the code `{code}`).\n"
              "An ignore without a reason ignores nothing and is reported.")


class Rule(rulebook.Rule):
    """Base class: one subclass per rule, documented in its docstring (What it checks / Why it matters / Example /
    How to fix); the "How to ignore" section is generated from the code and name."""

    dialects: ClassVar[tuple[str, ...]] = DIALECTS
    # Said after the generated ignore paragraph, for a rule whose findings point somewhere other than a call.
    ignore_where: ClassVar[str] = ""
    # Judges the target's rows (lint-migrations --database): without a database it finds nothing.
    needs_database: ClassVar[bool] = False
    # Its finding is about how long a lock blocks others: with --database its severity follows the table's size and
    # whether other sessions are in its way now.
    about_locks: ClassVar[bool] = False

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
