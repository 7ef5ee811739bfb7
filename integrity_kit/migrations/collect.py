"""The Python pass: walk a revision's upgrade()/downgrade() and list its op.* (and connection) calls, in order.

The walk follows what runs online for the dialect being linted: names are resolved by constant propagation
(``constants.py``), ``if`` tests on the dialect or on offline mode are decided, an early ``return`` ends the
function, module helpers run with their parameters bound, and an ``except`` fallback that repeats its ``try`` body
is not counted twice. What cannot be decided is walked on every path, as if it could run.
"""

from __future__ import annotations

import ast
import copy
from typing import Any, cast

from integrity_kit.migrations.constants import UNKNOWN, Evaluator, Fold, Marker, TableRef, is_data
from integrity_kit.migrations.model import Op, Statement
from integrity_kit.migrations.syntax import dotted, literal

# Calls on `op` (or a batch object) that change schema or data; anything else on `op` (op.f, op.get_bind,
# op.get_context) is plumbing.
DDL = {"add_column", "drop_column", "alter_column", "create_table", "drop_table", "rename_table", "create_index",
       "drop_index", "create_foreign_key", "create_check_constraint", "create_unique_constraint",
       "create_primary_key", "drop_constraint", "create_table_comment", "create_exclude_constraint"}
DATA = {"execute", "bulk_insert"}
RUNS_SQL = {"execute", "exec_driver_sql"}
_TRY: tuple[type, ...] = tuple(getattr(ast, name) for name in ("Try", "TryStar") if hasattr(ast, name))


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


def statements_of(ops: list[Op]) -> list[Statement]:
    """The SQL the revision executes with a known text: ``op.execute``, ``conn.execute(text(...))``,
    ``op.get_bind().exec_driver_sql(...)``, in order and at their lines, for the SQL classifier and rules."""
    statements = []
    for op in ops:
        if op.name in RUNS_SQL and op.receiver != "batch":
            sql = sql_of(op.arg(0))
            if sql is not None:
                statements.append(Statement(sql=sql, line=op.line, in_transaction=not op.autocommit,
                                            origin="execute"))
    return statements


def module_constants(module: ast.Module, dialect: str) -> dict[str, Any]:
    """Module-level names bound to literal data (in order, so one constant can build on another)."""
    env: dict[str, Any] = {}
    evaluate = Evaluator(dialect, env)
    for node in module.body:
        if isinstance(node, ast.ClassDef) and (name := _tablename(node, evaluate)) is not None:
            env[node.name] = TableRef(name)
        elif isinstance(node, ast.Assign) and (name := _table_call_name(node.value, evaluate)) is not None:
            for target in node.targets:
                if isinstance(target, ast.Name):
                    env[target.id] = TableRef(name)
        elif isinstance(node, (ast.Assign, ast.AnnAssign)) and (tables := _table_list(node.value, evaluate)):
            for target in node.targets if isinstance(node, ast.Assign) else [node.target]:
                if isinstance(target, ast.Name):
                    env[target.id] = tables  # `new_tables = [Model.__table__, ...]` for create_all(tables=...)
        elif isinstance(node, ast.Assign):
            value = evaluate(node.value)
            for target in node.targets:
                _bind(env, target, value, data_only=True)
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            _bind(env, node.target, evaluate(node.value), data_only=True)
    return env


def _tablename(node: ast.ClassDef, evaluate: Evaluator) -> str | None:
    """The ``__tablename__`` a model class of the module gives as a constant, else None."""
    for statement in node.body:
        if isinstance(statement, ast.Assign) and any(isinstance(t, ast.Name) and t.id == "__tablename__"
                                                     for t in statement.targets):
            value = evaluate(statement.value)
            return value if isinstance(value, str) else None
    return None


def _table_list(node: ast.AST | None, evaluate: Evaluator) -> list[TableRef]:
    """The module's tables a literal list names (``[Model.__table__, association_table]``); unknown items are left
    out, so fewer tables count as created rather than more."""
    if not isinstance(node, (ast.List, ast.Tuple)):
        return []
    return [value for value in map(evaluate, node.elts) if isinstance(value, TableRef)]


def _table_call_name(node: ast.AST, evaluate: Evaluator) -> str | None:
    """The name of a module-level ``sa.Table("name", metadata, ...)``, else None."""
    if isinstance(node, ast.Call) and dotted(node.func).split(".")[-1] == "Table" and node.args:
        value = evaluate(node.args[0])
        return value if isinstance(value, str) else None
    return None


def _bind(env: dict[str, Any], target: ast.AST, value: Any, *, data_only: bool = False) -> None:
    """Bind an assignment target; names whose value is not known are forgotten (they may shadow a constant)."""
    if isinstance(target, ast.Name):
        if value is UNKNOWN or (data_only and not is_data(value)) or not (is_data(value) or
                                                                          isinstance(value, Marker)):
            env.pop(target.id, None)
        else:
            env[target.id] = value
    elif isinstance(target, (ast.Tuple, ast.List)):
        items = list(value) if isinstance(value, (list, tuple)) and len(value) == len(target.elts) else None
        for index, element in enumerate(target.elts):
            _bind(env, element, items[index] if items is not None else UNKNOWN, data_only=data_only)
    elif isinstance(target, ast.Starred):
        _bind(env, target.value, UNKNOWN)


def _assigned_names(nodes: list[ast.stmt]) -> set[str]:
    return {n.id for statement in nodes for n in ast.walk(statement)
            if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Store)}


class Collector:
    """Walks a function body in source order, remembering the `with` blocks each call sits in."""

    def __init__(self, function: str, helpers: dict[str, ast.FunctionDef], *, dialect: str = "postgresql",
                 module: ast.Module | None = None):
        self.function = function
        self.dialect = dialect  # the dialect being linted: branches for other dialects never run
        self.helpers = dict(helpers)
        self.module_env = module_constants(module, dialect) if module is not None else {}
        self.env: dict[str, Any] = dict(self.module_env)
        self.ops: list[Op] = []
        self.created: set[str] = set()  # tables created by metadata.create_all() or Model.__table__.create()
        self.dropped: set[str] = set()  # likewise by metadata.drop_all() or Model.__table__.drop()
        self.batch: dict[str, tuple[str | None, str, ast.AST | None]] = {}  # alias -> (table, recreate, node)
        self.autocommit = False
        self._seen_helpers: set[str] = set()
        self._stopped = False  # a `return` (or `raise`) on the path being walked: the rest does not run

    @property
    def evaluate(self) -> Evaluator:
        return Evaluator(self.dialect, self.env, self._helper_value)

    def run(self, node: ast.FunctionDef) -> list[Op]:
        self._block(node.body)
        return self.ops

    # statements

    def _block(self, body: list[ast.stmt]) -> None:
        for statement in body:
            if self._stopped:
                return
            self._statement(statement)

    def _statement(self, node: ast.stmt) -> None:
        if isinstance(node, ast.If):
            self._if(node)
        elif isinstance(node, (ast.For, ast.AsyncFor)):
            self._for(node)
        elif isinstance(node, ast.While):
            for name in _assigned_names([node]):
                self.env.pop(name, None)  # the test and the body see the values of every iteration
            self._expr(node.test)
            self._branches(node.body, node.orelse)
        elif isinstance(node, (ast.With, ast.AsyncWith)):
            self._with(node)
        elif isinstance(node, _TRY):
            self._try(cast(ast.Try, node))  # ast.TryStar (3.11+) has the same fields
        elif isinstance(node, (ast.Return, ast.Raise)):
            self._expr(node)
            self._stopped = True
        elif isinstance(node, ast.Assign):
            self._expr(node.value)
            value = self.evaluate(node.value)
            for target in node.targets:
                _bind(self.env, target, value)
        elif isinstance(node, ast.AnnAssign):
            if node.value is not None:
                self._expr(node.value)
                _bind(self.env, node.target, self.evaluate(node.value))
        elif isinstance(node, ast.AugAssign):
            self._expr(node.value)
            if isinstance(node.target, ast.Name):
                combined = ast.BinOp(ast.Name(node.target.id, ast.Load()), node.op, node.value)
                _bind(self.env, node.target, self.evaluate(combined))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            # A function defined inside upgrade() is a helper like a module-level one: it runs when called.
            self.helpers[node.name] = node  # type: ignore[assignment]
        elif isinstance(node, ast.ClassDef):
            return
        else:
            self._expr(node)

    def _if(self, node: ast.If) -> None:
        test = self.evaluate(node.test)
        if test is UNKNOWN or isinstance(test, Marker):
            self._expr(node.test)
            self._branches(node.body, node.orelse)
        else:
            # A test decided for the dialect being linted (or for the online run): only that branch runs.
            self._block(node.body if test else node.orelse)

    def _branches(self, *bodies: list[ast.stmt]) -> None:
        """Walk alternative bodies whose test is unknown: each may run; names they bind differently are unknown
        afterwards, and the rest of the function runs unless every body stops."""
        before, stopped_all = dict(self.env), True
        results = []
        for body in bodies:
            self.env, self._stopped = dict(before), False
            self._block(body)
            stopped_all &= self._stopped
            results.append(self.env)
        self.env = {name: value for name, value in results[0].items()
                    if all(name in other and other[name] == value for other in results[1:])}
        self._stopped = stopped_all

    def _for(self, node: ast.For | ast.AsyncFor) -> None:
        values = self.evaluate(node.iter)
        if isinstance(values, dict):
            values = list(values)
        if isinstance(values, (list, tuple)) and is_data(values):
            # `for table, column in PAIRS: op.drop_column(table, column)` counts as one call per value.
            for value in values:
                if self._stopped:
                    return
                _bind(self.env, node.target, value)
                self._block(node.body)
            self._block(node.orelse)
            return
        self._expr(node.iter)
        _bind(self.env, node.target, UNKNOWN)
        for name in _assigned_names(node.body):
            self.env.pop(name, None)  # values that change from one iteration to the next are not constants
        self._branches(node.body, [])
        self._block(node.orelse)

    def _with(self, node: ast.With | ast.AsyncWith) -> None:
        saved_batch, saved_autocommit = dict(self.batch), self.autocommit
        for item in node.items:
            expr = item.context_expr
            if isinstance(expr, ast.Call) and dotted(expr.func).endswith("batch_alter_table"):
                table_node = expr.args[0] if expr.args else next(
                    (k.value for k in expr.keywords if k.arg == "table_name"), None)
                table = self.evaluate(table_node)
                recreate = self.evaluate(next((k.value for k in expr.keywords if k.arg == "recreate"), None))
                alias = item.optional_vars.id if isinstance(item.optional_vars, ast.Name) else "batch"
                self.batch[alias] = (table if isinstance(table, str) else None,
                                     recreate if isinstance(recreate, str) else "auto", table_node)
            elif isinstance(expr, ast.Call) and dotted(expr.func).endswith("autocommit_block"):
                self.autocommit = True
            else:
                self._expr(expr)
                if item.optional_vars is not None:
                    _bind(self.env, item.optional_vars, self.evaluate(expr))
        self._block(node.body)
        self.batch, self.autocommit = saved_batch, saved_autocommit

    def _try(self, node: ast.Try) -> None:
        start = len(self.ops)
        self._block(node.body)
        stopped = self._stopped
        tried = {op.signature for op in self.ops[start:]}
        for handler in node.handlers:
            # A fallback that repeats what the try body does is the same change, not a second one.
            self._stopped = False
            begin = len(self.ops)
            self._block(handler.body)
            self.ops[begin:] = [op for op in self.ops[begin:] if op.signature not in tried]
            stopped &= self._stopped  # the rest runs after a handler that does not return
        self._stopped = stopped
        self._block(node.orelse)
        self._stopped = False
        self._block(node.finalbody)
        self._stopped = stopped

    # expressions

    def _expr(self, node: ast.AST) -> None:
        if isinstance(node, (ast.Lambda, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            return
        if isinstance(node, ast.IfExp):
            test = self.evaluate(node.test)
            if test is UNKNOWN or isinstance(test, Marker):
                for part in (node.test, node.body, node.orelse):
                    self._expr(part)
            else:
                self._expr(node.body if test else node.orelse)
            return
        if isinstance(node, ast.Call) and self._call(node):
            return
        if isinstance(node, (ast.ListComp, ast.SetComp, ast.GeneratorExp)) and self._comprehension(node):
            return
        for child in ast.iter_child_nodes(node):
            self._expr(child)
        if isinstance(node, ast.NamedExpr):
            _bind(self.env, node.target, self.evaluate(node.value))

    def _comprehension(self, node: ast.ListComp | ast.SetComp | ast.GeneratorExp) -> bool:
        """``[op.drop_table(t) for t in TABLES]`` over known values: one call per value, like a for loop."""
        if len(node.generators) != 1 or node.generators[0].ifs or node.generators[0].is_async:
            return False
        generator = node.generators[0]
        values = self.evaluate(generator.iter)
        if not (isinstance(values, (list, tuple)) and is_data(values)):
            return False
        saved = dict(self.env)
        for value in values:
            _bind(self.env, generator.target, value)
            self._expr(node.elt)
        self.env = saved  # a comprehension's variable does not leak into the function
        return True

    def _call(self, node: ast.Call) -> bool:
        """Record ``node`` if it is an operation; True when its arguments were handled (a helper's body ran)."""
        func = node.func
        if isinstance(func, ast.Name) and func.id in self.helpers and func.id not in self._seen_helpers:
            for argument in [*node.args, *(k.value for k in node.keywords)]:
                self._expr(argument)
            self._inline(func.id, node)
            return True
        if dotted(func).split(".")[-1] == "create_table" and not dotted(func).startswith("op."):
            # a project's own create_table() helper, imported (so not inlined): the table it names is new here
            table = self.evaluate(node.args[0]) if node.args else UNKNOWN
            if isinstance(table, str):
                self.created.add(table)
        if not isinstance(func, ast.Attribute):
            return False
        # `op.get_bind().execute(...)` has a call as its receiver: name it "op.get_bind()" so it is not lost
        receiver = dotted(func.value.func) + "()" if isinstance(func.value, ast.Call) else dotted(func.value)
        name = func.attr
        if name in {"create_all", "create", "drop_all", "drop"} and receiver not in {"op", ""}:
            self._created_by(node, name)
        if receiver == "op" and name in DDL | DATA:
            self.ops.append(Op(name, self._fold(node), self.function, "op", autocommit=self.autocommit))
        elif receiver in self.batch and name in DDL | DATA:
            table, recreate, table_node = self.batch[receiver]
            self.ops.append(Op(name, self._fold(node), self.function, "batch", batch_table=table,
                               batch_recreate=recreate, autocommit=self.autocommit, batch_table_node=table_node))
        elif name in RUNS_SQL and receiver not in {"op", ""}:
            self.ops.append(Op(name, self._fold(node), self.function, receiver, autocommit=self.autocommit))
        return False

    def _created_by(self, node: ast.Call, name: str) -> None:
        """Remember the module's tables that ``metadata.create_all(...)`` or ``Model.__table__.create(...)``
        creates (or the ``drop`` counterparts drop): DDL as real as that of ``op.create_table``."""
        assert isinstance(node.func, ast.Attribute)
        into = self.created if name.startswith("create") else self.dropped
        if name in {"create", "drop"}:
            table = self.evaluate(node.func.value)
            if isinstance(table, TableRef):
                into.add(table.name)
            return
        listed = next((k.value for k in node.keywords if k.arg == "tables"), None)
        if listed is None:  # every table of the metadata: the module's own models and tables
            into |= {value.name for value in self.module_env.values() if isinstance(value, TableRef)}
            return
        tables = _table_list(listed, self.evaluate) or self.evaluate(listed)  # written out, or a module name
        if isinstance(tables, (list, tuple)):
            into |= {table.name for table in tables if isinstance(table, TableRef)}

    def _fold(self, node: ast.Call) -> ast.Call:
        """A copy of the call with every argument the pass can resolve replaced by its value."""
        # Only the arguments are folded (in place, so on copies): the callee is kept as written, shared.
        folded = copy.copy(node)
        folded.args = [self._construct(arg) or Fold(self.evaluate).visit(copy.deepcopy(arg)) for arg in node.args]
        folded.keywords = [Fold(self.evaluate).visit(copy.deepcopy(keyword)) for keyword in node.keywords]
        try:
            ast.unparse(folded)  # rules quote the call in fixes: a fold that cannot be written back is not used
        except Exception:
            return copy.deepcopy(node)
        return folded

    # helpers

    def _arguments(self, helper: ast.FunctionDef, call: ast.Call) -> dict[str, Any]:
        """The helper's parameters bound to the call's arguments (unknown ones left out)."""
        params = helper.args
        positional = [*params.posonlyargs, *params.args]
        bound: dict[str, Any] = {}
        defaults = params.defaults
        for param, default in zip(positional[len(positional) - len(defaults):], defaults, strict=True):
            bound[param.arg] = self.evaluate(default)
        for param, kw_default in zip(params.kwonlyargs, params.kw_defaults, strict=True):
            bound[param.arg] = self.evaluate(kw_default) if kw_default is not None else UNKNOWN
        if any(isinstance(arg, ast.Starred) for arg in call.args):
            return {}
        for param, arg in zip(positional, call.args, strict=False):
            bound[param.arg] = self.evaluate(arg)
        for keyword in call.keywords:
            if keyword.arg is not None:
                bound[keyword.arg] = self.evaluate(keyword.value)
        return {name: value for name, value in bound.items() if value is not UNKNOWN}

    def _inline(self, name: str, call: ast.Call) -> None:
        """Run a helper's body at its own lines, its parameters bound to this call's arguments."""
        helper = self.helpers[name]
        saved = self.env, self._stopped, self.batch
        # Parameters shadow module constants; the caller's own local names are not visible in the helper.
        self.env = {**self.module_env, **self._arguments(helper, call)}
        for param in [*helper.args.posonlyargs, *helper.args.args, *helper.args.kwonlyargs]:
            if param.arg not in self._arguments(helper, call):
                self.env.pop(param.arg, None)
        self._stopped, self.batch = False, {}
        self._seen_helpers.add(name)
        try:
            self._block(helper.body)
        finally:
            self._seen_helpers.discard(name)
            self.env, self._stopped, self.batch = saved

    def _construct(self, node: ast.AST) -> ast.expr | None:
        """``add_column("t", _workspace_column())``: the construct a module helper whose body is one
        ``return sa.Column(...)`` builds, with its arguments folded, so the rules see the column it adds."""
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)):
            return None
        helper = self.helpers.get(node.func.id)
        if helper is None or node.func.id in self._seen_helpers:
            return None
        body = [s for s in helper.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], ast.Return) or not isinstance(body[0].value, ast.Call):
            return None
        env = {**self.module_env, **self._arguments(helper, node)}
        built = Fold(Evaluator(self.dialect, env)).visit(copy.deepcopy(body[0].value))
        return ast.fix_missing_locations(ast.copy_location(built, node))

    def _helper_value(self, call: ast.Call) -> Any:
        """The value of ``helper(...)`` when the helper's body is one ``return <expression>``."""
        assert isinstance(call.func, ast.Name)
        helper = self.helpers.get(call.func.id)
        if helper is None or call.func.id in self._seen_helpers:
            return UNKNOWN
        body = [s for s in helper.body if not (isinstance(s, ast.Expr) and isinstance(s.value, ast.Constant))]
        if len(body) != 1 or not isinstance(body[0], ast.Return) or body[0].value is None:
            return UNKNOWN
        env = {**self.module_env, **self._arguments(helper, call)}
        return Evaluator(self.dialect, env)(body[0].value)
