"""History rules: every revision can be undone, and the history has one head."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass, field

from integrity_kit.migrations.classify import DDL_KINDS
from integrity_kit.migrations.collect import DDL
from integrity_kit.migrations.model import Finding, LintContext, Op, Revision, Rule
from integrity_kit.migrations.rules._helpers import actions, op_actions
from integrity_kit.migrations.syntax import literal
from integrity_kit.rulebook import Severity

# upgrade op -> the downgrade op that undoes it
_INVERSE = {"create_table": "drop_table", "add_column": "drop_column", "create_index": "drop_index",
            "create_foreign_key": "drop_constraint", "create_check_constraint": "drop_constraint",
            "create_unique_constraint": "drop_constraint", "rename_table": "rename_table",
            "drop_column": "add_column", "drop_table": "create_table", "alter_column": "alter_column"}


def _key(op) -> tuple[str, str | None, str | None]:
    """What object an op touches: (table, object name) so upgrade and downgrade ops can be matched."""
    if op.name in {"create_table", "drop_table"}:
        return ("table", op.table, None)
    if op.name == "rename_table":
        return ("table", None, None)
    if op.name in {"add_column", "drop_column", "alter_column"}:
        return ("column", op.table, literal(op.column_node))
    return ("object", None, literal(op.arg(0)))


def _changes_schema(revision) -> bool:
    """Data-only revisions (a backfill, VALIDATE CONSTRAINT) have nothing a downgrade could undo."""
    if revision.created_by_metadata or any(op.name in DDL for op in revision.upgrade):
        return True
    return any(action.kind in DDL_KINDS and "VALIDATE CONSTRAINT" not in action.detail.upper()
               for _statement, action, _line in actions(revision))


class MissingDowngrade(Rule):
    """A revision without a working `downgrade()`.

    ## What it checks

    No `downgrade()` function, one that raises, or one whose body does nothing (`pass`, a docstring) although
    `upgrade()` changes the schema (a data-only revision has nothing to undo). When no revision of the whole
    history has a working downgrade (a project whose policy is to roll forward only), that is one finding, on
    the first revision, rather than one per revision.

    ## Why it matters

    A bad deploy is rolled back by downgrading. Without a downgrade the only way back is restoring a backup, in the
    middle of an incident.

    ## Example

    ```python
    def upgrade() -> None:
        op.add_column("users", sa.Column("nickname", sa.String(50), nullable=True))


    def downgrade() -> None:
        pass
    ```

    ## How to fix

    Undo every step of `upgrade()` in reverse order. If the change cannot be undone (data was destroyed), say so
    with an inline ignore and a reason on the `def downgrade` line.

    ```python
    def upgrade() -> None:
        op.add_column("users", sa.Column("nickname", sa.String(50), nullable=True))


    def downgrade() -> None:
        op.drop_column("users", "nickname")
    ```
    """

    ignore_where = "Put it on the line the finding points at (`def downgrade`, or `def upgrade` when there is none)."
    code = "IK840"
    name = "missing-downgrade"
    severity = Severity.WARNING
    summary = "The downgrade() is missing, empty or raises."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        problem = cannot_roll_back(revision)
        if problem is None:
            return
        fix = "def downgrade() -> None:\n    ...  # undo upgrade() in reverse order"
        line = revision.upgrade_line if revision.downgrade is None else (revision.downgrade_line or 1)
        if context.no_downgrades:
            # A history that never writes downgrades has a policy, not N oversights: said once, on its first one.
            if revision.revision == context.no_downgrades_reported_on:
                yield self.finding(revision, line, f"none of the {len(context.no_downgrades)} revisions of this "
                                   "history can be rolled back (no working downgrade() anywhere): a bad release is "
                                   "undone only by restoring a backup", fix=fix)
            return
        yield self.finding(revision, line, problem, fix=fix)


def cannot_roll_back(revision: Revision) -> str | None:
    """Why the revision's downgrade() cannot undo it, or None when it has a working one."""
    if revision.downgrade is None:
        return "revision has no downgrade()"
    if revision.downgrade_raises or (not revision.downgrade and not revision.dropped_by_metadata
                                     and _changes_schema(revision)):
        return "downgrade() does nothing or raises: the revision cannot be rolled back"
    return None


def without_any_downgrade(revisions: list[Revision]) -> tuple[str, ...]:
    """The revisions (history order) when not one of at least two has a working downgrade(), else ()."""
    missing = tuple(revision.revision for revision in revisions if cannot_roll_back(revision) is not None)
    return missing if len(missing) >= 2 and len(missing) == len(revisions) else ()


class NonReversingDowngrade(Rule):
    """A `downgrade()` that does not undo everything `upgrade()` did.

    ## What it checks

    For every table, column, index or named constraint that `upgrade()` creates, adds, renames or drops, the
    `downgrade()` must touch the same object with the inverse operation. A downgrade step whose object is named by
    a value the linter cannot resolve (a name read from the database) may be the inverse of any object of its kind:
    those are not reported.

    ## Why it matters

    A downgrade that leaves a column or index behind makes the next upgrade fail ("column already exists"), so the
    rollback path is broken exactly when it is needed.

    ## Example

    ```python
    def upgrade():
        op.add_column("orders", sa.Column("channel", sa.String(20)))
        op.add_column("orders", sa.Column("region", sa.String(20)))

    def downgrade():
        op.drop_column("orders", "channel")   # region is never dropped
    ```

    ## How to fix

    Undo every step of `upgrade()` in `downgrade()`, in reverse order. Renames may be undone by renaming back or by
    rebuilding the table under its old name, and a column's indexes go with it when it is dropped (except with a
    plain `drop_column` on SQLite, which refuses to drop an indexed column).

    ```python
    def downgrade():
        op.drop_column("orders", "region")
        op.drop_column("orders", "channel")
    ```
    """

    code = "IK841"
    name = "non-reversing-downgrade"
    severity = Severity.WARNING
    summary = "The downgrade() does not undo every step of upgrade()."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        if not revision.downgrade or revision.downgrade_raises:
            return  # missing-downgrade reports it
        down = {(op.name, _key(op)) for op in revision.downgrade}
        down_tables = {key[1] for name, key in down if name == "drop_table"}
        # Undone by upgrade() itself: a helper CHECK created NOT VALID, validated, then dropped once SET NOT NULL
        # has taken over; there is nothing left for downgrade() to undo.
        undone_in_upgrade = {(op.name, _key(op)) for op in revision.upgrade}
        up_steps, down_steps = _steps(revision.upgrade), _steps(revision.downgrade)
        rebuilt, reported = _rebuilt(up_steps), set[str]()
        # downgrade steps naming their object by a value the pass cannot resolve: any object of that kind (on that
        # table, for columns) may be the one they undo, so none of those is reported as left behind
        unresolved = {(name, key[0], key[1] if key[0] == "column" else None) for name, key in down
                      if key[0] != "table" and key[2] is None}
        for op in revision.upgrade:
            inverse = _INVERSE.get(op.name)
            if inverse is None:
                continue
            key = _key(op)
            if (inverse, key[0], key[1] if key[0] == "column" else None) in unresolved:
                continue
            if key[0] == "object" and (inverse, key) in undone_in_upgrade:
                continue
            if key[0] != "table" and op.table in revision.created_tables() | down_tables:
                continue  # created with the table, dropped with it
            if op.name == "create_table" and op.table in down_tables:
                continue
            if (inverse, key) in down or (op.name == "rename_table" and any(n == "rename_table" for n, _ in down)):
                continue
            if key[0] == "column" and op.name == "alter_column" and ("drop_column", key) in down:
                continue  # the downgrade drops the column (added by this revision), which undoes any change to it
            if key[0] == "object" and any(k == key for _n, k in down):
                continue  # e.g. a unique index promoted to a constraint, dropped as the constraint
            if op.name == "alter_column" and op.has_kw("new_column_name") and any(
                    o.name == "alter_column" and literal(o.kw("new_column_name")) == key[2]
                    for o in revision.downgrade):
                continue
            step = next((s for s in up_steps if s.op is op), None)
            if step is not None and _reversed(step, up_steps, down_steps, context.dialect):
                continue
            rebuild = step.tables & rebuilt if step is not None and step.name in _TABLE_STEPS else set()
            if rebuild:
                # one finding per rebuilt table, not one per step of the rebuild
                if rebuild <= reported:
                    continue
                reported |= rebuild
                table = sorted(rebuild)[0]
                yield self.finding(revision, op.line, f"the rebuild of table {table} (create, copy, drop, rename) "
                                   "is not undone by downgrade()", table=table,
                                   fix=f"# in downgrade(): rebuild {table} back, or undo the change with "
                                       f"op.batch_alter_table({table!r})")
                continue
            what = key[2] or key[1] or op.table_text
            yield self.finding(revision, op.line, f"{op.name} {what} is not undone by downgrade()",
                               table=op.table, fix=f"# in downgrade(): op.{inverse}(...) for {what}")


@dataclass
class _Step:
    """One schema change of a function, from an op.* call or from the SQL an execute() runs, with the names the
    objects it touches carry when it runs and once the function has finished (renames later in the function)."""

    name: str  # an op.* name; renames are rename_table / rename_column
    table: str | None
    object: str | None  # the column, index or constraint
    new: str | None = None  # the new name of a rename
    columns: tuple[str, ...] = ()  # the columns an index or constraint covers
    kind: str | None = None  # a constraint's type_
    op: Op | None = None
    tables: set[str] = field(default_factory=set)  # the table's names: when the step runs, then at the end
    objects: set[tuple[str | None, str | None]] = field(default_factory=set)  # (table, object) likewise


_ADD_DROP_COLUMN = re.compile(r"(ADD|DROP)\s+(?:COLUMN\s+)?(?:IF\s+(?:NOT\s+)?EXISTS\s+)?[`\"\[]?(\w+)", re.I)
_RENAME_COLUMN = re.compile(r"RENAME\s+(?:COLUMN\s+)?[`\"\[]?(\w+)[`\"\]]?\s+TO\s+[`\"\[]?(\w+)", re.I)


def _steps(ops: list[Op]) -> list[_Step]:
    steps: list[_Step] = []
    for op in ops:
        if op.name == "execute" or op.name == "exec_driver_sql":
            steps.extend(_sql_steps(op))
            continue
        target = op.arg(0) if op.receiver == "batch" else op.arg(1)
        if isinstance(target, ast.Call) and target.args:  # add_column's sa.Column("name", ...)
            target = target.args[0]
        if op.name == "rename_table":
            steps.append(_Step("rename_table", literal(op.arg(0)), None, new=literal(op.arg(1)), op=op))
        elif op.name == "alter_column" and op.has_kw("new_column_name"):
            steps.append(_Step("rename_column", op.table, literal(target), new=literal(op.kw("new_column_name")),
                               op=op))
        elif op.name in {"add_column", "drop_column", "alter_column"}:
            steps.append(_Step(op.name, op.table, literal(target), op=op))
        elif op.name in {"create_table", "drop_table"}:
            steps.append(_Step(op.name, op.table, None, op=op))
        else:
            name = literal(op.kw("constraint_name") or op.kw("index_name") or op.arg(0))
            steps.append(_Step(op.name, op.table, name if isinstance(name, str) else None,
                               columns=_columns(op), kind=literal(op.kw("type_")), op=op))
    _name_everything(steps)
    return steps


def _columns(op: Op) -> tuple[str, ...]:
    position = {"create_index": 2, "create_unique_constraint": 2, "create_primary_key": 2,
                "create_foreign_key": 3}.get(op.name)
    if position is None:
        return ()
    value = literal(op.arg(position - 1 if op.receiver == "batch" else position))
    return tuple(v for v in value if isinstance(v, str)) if isinstance(value, list) else ()


def _sql_steps(op: Op) -> list[_Step]:
    """ALTER TABLE ... RENAME / ADD / DROP COLUMN, CREATE / DROP TABLE and INDEX written as SQL."""
    steps = []
    for action in op_actions(op) or []:
        if action.kind == "rename" and _RENAME_COLUMN.match(action.detail):
            match = _RENAME_COLUMN.match(action.detail)
            assert match is not None
            steps.append(_Step("rename_column", action.table, match.group(1), new=match.group(2), op=op))
        elif action.kind == "rename":
            steps.append(_Step("rename_table", action.table, None, new=action.name or None, op=op))
        elif action.kind in {"add_column", "add_column_not_null_no_default", "drop_column"}:
            match = _ADD_DROP_COLUMN.match(action.detail)
            if match:
                steps.append(_Step("add_column" if match.group(1).upper() == "ADD" else "drop_column",
                                   action.table, match.group(2), op=op))
        elif action.kind in {"create_table", "drop_table"}:
            steps.append(_Step(action.kind, action.table, None, op=op))
        elif action.kind.startswith(("create_index", "drop_index")):
            steps.append(_Step(action.kind.replace("_concurrently", ""), action.table, action.name or None, op=op))
    return steps


def _name(value: object) -> str | None:
    """A name read from the source, or None when it is not a plain string (a list from an unexpected call shape)."""
    return value if isinstance(value, str) else None


def _name_everything(steps: list[_Step]) -> None:
    """Give each step the names its objects have when it runs and once every later rename has run."""
    for step in steps:
        step.table, step.object, step.new = _name(step.table), _name(step.object), _name(step.new)
    for index, step in enumerate(steps):
        table, obj = step.table, step.object
        if step.name == "rename_table":
            table = step.new
        elif step.name == "rename_column":
            obj = step.new
        for later in steps[index + 1:]:
            if later.name == "rename_table" and later.table == table:
                table = later.new
            elif later.name == "rename_column" and later.table == table and later.object == obj and obj:
                obj = later.new
        step.tables = {t for t in (step.table, table) if t}
        step.objects = {(step.table, step.object), (table, obj)} if step.object else set()
        if step.name == "rename_table":
            step.tables.add(step.new or "")
        elif step.name == "rename_column":
            step.objects.add((step.table, step.new))


def _touches_table(step: _Step, tables: set[str]) -> bool:
    return bool(step.tables & tables)


def _touches(step: _Step, objects: set[tuple[str | None, str | None]]) -> bool:
    return any(t1 == t2 and o1 == o2 or (o1 == o2 and None in (t1, t2))
               for t1, o1 in step.objects for t2, o2 in objects if o1)


_TABLE_STEPS = {"create_table", "drop_table", "rename_table"}


def _rebuilt(up: list[_Step]) -> set[str]:
    """Tables that exist under their name before and after the upgrade, rebuilt: create tmp, copy, drop old, rename
    tmp -> old."""
    dropped = {s.table for s in up if s.name == "drop_table" and s.table}
    return {t for s in up if s.name in {"create_table", "rename_table"} for t in s.tables} & dropped


def _reversed(step: _Step, up: list[_Step], down: list[_Step], dialect: str) -> bool:  # noqa: C901 - one branch per step kind
    """Whether the downgrade undoes ``step``, following renames on both sides, table rebuilds, implicit drops (a
    column's indexes go with it) and constraints the database named."""
    # any downgrade step on a rebuilt table is taken as the reversal of the rebuild
    rebuilt = _rebuilt(up)
    if step.name in _TABLE_STEPS and step.tables & rebuilt:
        return any(_touches_table(d, step.tables & rebuilt) for d in down)
    if step.name == "create_table":
        return any(d.name == "drop_table" and _touches_table(d, step.tables) for d in down)
    if step.name == "drop_table":
        return any(d.name in {"create_table", "rename_table"} and _touches_table(d, step.tables) for d in down)
    if step.name == "rename_table":
        return any(d.name == "rename_table" and (d.new == step.table or d.table == step.new) for d in down)
    if step.name == "rename_column":
        if any(d.name == "rename_column" and _touches_table(d, step.tables)
               and (d.new == step.object or d.object == step.new) for d in down):
            return True
        # a column the upgrade added and then renamed into place is undone by dropping it under its new name
        added = any(u.name == "add_column" and _touches(u, step.objects) for u in up)
        return added and any(d.name == "drop_column" and _touches(d, step.objects) for d in down)
    if step.name == "add_column":
        return any(d.name == "drop_column" and _touches(d, step.objects) for d in down) or any(
            d.name == "drop_table" and _touches_table(d, step.tables) for d in down)
    if step.name == "drop_column":
        return any(d.name in {"add_column", "rename_column"} and _touches(d, step.objects) for d in down)
    if step.name == "alter_column":
        added = any(u.name == "add_column" and _touches(u, step.objects) for u in up)
        return added or any(_touches(d, step.objects) for d in down)
    if step.name.startswith("create_"):
        if step.object is None:  # named by the database: any drop of that kind on the table undoes it
            return any(d.name == "drop_constraint" and _touches_table(d, step.tables)
                       and (step.kind is None or d.kind in {None, step.kind}) for d in down)
        if any(d.name.startswith("drop_") and d.object == step.object for d in down):
            return True
        # dropping a column drops its indexes; SQLite's own DROP COLUMN refuses an indexed column instead
        dropped_columns = {(t, d.object) for d in down if d.name == "drop_column"
                           and (dialect != "sqlite" or d.op is None or d.op.receiver == "batch") for t in d.tables}
        return bool(step.columns) and all((t, c) in dropped_columns for c in step.columns for t in step.tables
                                          if t == step.table)
    return False


class MultipleHeads(Rule):
    """More than one head in the revision history.

    ## What it checks

    `ScriptDirectory.get_heads()` returns more than one revision.

    ## Why it matters

    `alembic upgrade head` refuses to run ("Multiple head revisions are present"), so the deploy stops. It happens
    when two branches each add a migration on top of the same parent.

    ## Example

    Two revisions with the same `down_revision`.

    ## How to fix

    `alembic merge heads -m "merge"` creates a revision whose `down_revision` lists both heads; or rebase one
    branch's revision onto the other.

    ```python
    # versions/xxxx_merge_heads.py, as `alembic merge heads` writes it
    revision = "c3d4e5f6a7b8"
    down_revision = ("a1b2c3d4e5f6", "b2c3d4e5f6a7")


    def upgrade() -> None:
        pass


    def downgrade() -> None:
        pass
    ```
    """

    ignore_where = "Put it on the head's `revision = ...` line."
    code = "IK842"
    name = "multiple-heads"
    severity = Severity.ERROR
    summary = "The history has more than one head."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        if len(context.heads) > 1 and revision.revision in context.heads:
            others = ", ".join(h for h in context.heads if h != revision.revision)
            yield self.finding(revision, revision.revision_line, f"{revision.revision} is one of "
                               f"{len(context.heads)} heads (also: {others}); alembic upgrade head will refuse to run",
                               fix=f"# alembic merge -m 'merge heads' {' '.join(context.heads)}")
