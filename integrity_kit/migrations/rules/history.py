"""History rules: every revision can be undone, and the history has one head."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from integrity_kit.migrations.classify import DDL_KINDS
from integrity_kit.migrations.collect import DDL
from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.migrations.rules._helpers import actions
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
        first = op.arg(0) if op.receiver == "batch" else op.arg(1)
        if isinstance(first, ast.Call) and first.args:
            first = first.args[0]
        return ("column", op.table, literal(first))
    return ("object", None, literal(op.arg(0)))


def _changes_schema(revision) -> bool:
    """Data-only revisions (a backfill, VALIDATE CONSTRAINT) have nothing a downgrade could undo."""
    if any(op.name in DDL for op in revision.upgrade):
        return True
    return any(action.kind in DDL_KINDS and "VALIDATE CONSTRAINT" not in action.detail.upper()
               for _statement, action, _line in actions(revision))


class MissingDowngrade(Rule):
    """A revision without a working `downgrade()`.

    ## What it checks

    No `downgrade()` function, one that raises, or one whose body does nothing (`pass`, a docstring) although
    `upgrade()` changes the schema (a data-only revision has nothing to undo).

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
        if revision.downgrade is None:
            yield self.finding(revision, revision.upgrade_line, "revision has no downgrade()",
                               fix="def downgrade() -> None:\n    ...  # undo upgrade() in reverse order")
        elif revision.downgrade_raises or (not revision.downgrade and _changes_schema(revision)):
            yield self.finding(revision, revision.downgrade_line or 1, "downgrade() does nothing or raises: the "
                               "revision cannot be rolled back",
                               fix="def downgrade() -> None:\n    ...  # undo upgrade() in reverse order")


class NonReversingDowngrade(Rule):
    """A `downgrade()` that does not undo everything `upgrade()` did.

    ## What it checks

    For every table, column, index or named constraint that `upgrade()` creates, adds, renames or drops, the
    `downgrade()` must touch the same object with the inverse operation.

    ## Why it matters

    A downgrade that leaves a column or index behind makes the next upgrade fail ("column already exists"), so the
    rollback path is broken exactly when it is needed.

    ## Example

    ```python
    def upgrade():
        op.add_column("orders", sa.Column("channel", sa.String(20)))
        op.create_index("ix_orders_channel", "orders", ["channel"])

    def downgrade():
        op.drop_column("orders", "channel")   # ix_orders_channel is never dropped
    ```

    ## How to fix

    Undo every step of `upgrade()` in `downgrade()`, in reverse order.

    ```python
    def downgrade():
        op.drop_index("ix_orders_channel", table_name="orders")
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
        for op in revision.upgrade:
            inverse = _INVERSE.get(op.name)
            if inverse is None:
                continue
            key = _key(op)
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
            what = key[2] or key[1] or op.table_text
            yield self.finding(revision, op.line, f"{op.name} {what} is not undone by downgrade()",
                               table=op.table, fix=f"# in downgrade(): op.{inverse}(...) for {what}")


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
