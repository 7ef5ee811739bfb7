"""Rules for renames and drops that break the version of the app still running during the deploy."""

from __future__ import annotations

from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Op, Revision, Rule, code_of, describe
from integrity_kit.migrations.rules._helpers import actions, on_created, repeats_an_op, source, sql_created_tables
from integrity_kit.migrations.syntax import literal
from integrity_kit.rulebook import Severity


class RenameColumnOrTable(Rule):
    """Renaming a column or a table the running app uses.

    ## What it checks

    `op.rename_table()`, `op.alter_column(..., new_column_name=...)` and `ALTER TABLE ... RENAME` on a table this
    revision did not create (a column this revision added is no name the running app knows), unless the same
    upgrade creates the old name again (a column moved aside as `tmp_x` while a new `x` of another type is filled).

    ## Why it matters

    Migrations run before (or while) the new code rolls out. Every process still running the old code queries the
    old name and fails until it is replaced: errors for the whole length of the deploy.

    ## Example

    ```python
    op.alter_column("users", "full_name", new_column_name="display_name")
    ```

    ## How to fix

    Expand and contract: add the new column, write both, backfill, move reads, and drop the old one in a later
    release (or, for a table, create a view under the old name while both versions run).

    ```python
    op.add_column("users", sa.Column("display_name", sa.String(120), nullable=True))
    ```
    """

    code = "IK805"
    name = "rename-column-or-table"
    severity = Severity.ERROR
    summary = "Column or table renamed while the running app still uses the old name."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        added: set[tuple[str | None, object]] = set()  # columns this upgrade added: the running app never used them
        for index, op in enumerate(revision.upgrade):
            if op.name == "add_column" and isinstance(op.table, str) and isinstance(_column(op), str):
                added.add((op.table, _column(op)))
            if _put_back(op, revision.upgrade[index + 1:]):
                continue  # moved aside under a scratch name and the old name re-created: the running app finds it
            if op.name == "rename_table" and not on_created(op, revision, created):
                new = describe(op.param("new_table_name"), "table")
                yield self.finding(revision, op.line, f"table {op.table_text} renamed to {new}: the running app still "
                                   f"queries {op.table_text}", table=op.table,
                                   fix=f'op.create_table({code_of(op.param("new_table_name"), "<table>")}, '
                                       f"...)  # expand; drop {op.table_code} in a later release")
            elif op.name == "alter_column" and op.has_kw("new_column_name") and not on_created(op, revision, created) \
                    and (op.table, _column(op)) not in added:
                old = op.column_text
                new = describe(op.kw("new_column_name"), "column")
                yield self.finding(revision, op.line, f"column {op.column_ref} renamed to {new}: the running app "
                                   f"still reads and writes {old}", table=op.table,
                                   fix=f'op.add_column({op.table_code}, sa.Column('
                                       f'{code_of(op.kw("new_column_name"), "<column>")}, <type>, nullable=True))  '
                                       "# write both, backfill, switch reads, drop the old column later")
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind == "rename" and statement.origin == "execute" and action.table not in created:
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: the running app "
                                   "still uses the old name", table=action.table, source=source(statement),
                                   subject=statement.sql,
                                   fix="# expand and contract: add the new column (or a view under the new name), "
                                       "write both, backfill, switch reads, drop the old one in a later release")


def _column(op: Op) -> object:
    return literal(op.column_node)


def _put_back(op: Op, later: list[Op]) -> bool:
    """A renamed table or column whose old name a later op of this upgrade creates again."""
    if op.name == "rename_table":
        return any(o.name == "create_table" and o.table == op.table for o in later)
    if op.name == "alter_column" and op.has_kw("new_column_name"):
        return any((o.name == "add_column" and o.table == op.table and _column(o) == _column(op))
                   or (o.name == "alter_column" and o.table == op.table
                       and literal(o.kw("new_column_name")) == _column(op)) for o in later)
    return False


def _scratch(op: Op, earlier: list[Op]) -> bool:
    """A dropped table or column that an earlier rename of this upgrade named: the running app never used it."""
    if op.name == "drop_table":
        return any(o.name == "rename_table" and literal(o.param("new_table_name")) == op.table for o in earlier)
    if op.name == "drop_column":
        return any(o.name == "alter_column" and o.table == op.table
                   and literal(o.kw("new_column_name")) == _column(op) for o in earlier)
    return False


def _replaced(op: Op, later: list[Op]) -> bool:
    """A dropped table or column that a later rename of this upgrade puts back under the same name."""
    if op.name == "drop_table":
        return any(o.name == "rename_table" and literal(o.arg(1)) == op.table for o in later)
    if op.name == "drop_column":
        return any(o.name == "alter_column" and o.table == op.table
                   and literal(o.kw("new_column_name")) == _column(op) for o in later)
    return False


class DropColumnOrTable(Rule):
    """Dropping a column or a table the running app may still use.

    ## What it checks

    `op.drop_column()`, `op.drop_table()` and `ALTER TABLE ... DROP COLUMN` / `DROP TABLE` in `upgrade()` on a
    table this revision did not create, unless a later rename of the same upgrade puts a table or column back under
    the dropped name (a table rebuild, a column swap), or an earlier rename of the same upgrade gave it the dropped
    name (the scratch copy of such a rebuild).

    ## Why it matters

    Processes running the previous release still select the column (SQLAlchemy names every mapped column in its
    SELECTs) and fail until they are replaced. The data is gone for good, and `downgrade()` cannot bring it back.

    ## Example

    ```python
    op.drop_column("users", "legacy_notes")
    ```

    ## How to fix

    First ship a release whose models no longer use the column (`deferred`, then removed), then drop it, and say
    so with an inline ignore: `# integrity-kit: ignore[drop-column-or-table] unused since release 4.2`.

    ```python
    # release N: the models stop mapping the column (or mark it deferred) — no migration
    # next revision, in release N+1:
    op.drop_column("users", "legacy_notes")  # integrity-kit: ignore[drop-column-or-table] unmapped since release N
    ```
    """

    code = "IK806"
    name = "drop-column-or-table"
    severity = Severity.WARNING
    summary = "Column or table dropped while the running app may still use it."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        for index, op in enumerate(revision.upgrade):
            if _replaced(op, revision.upgrade[index + 1:]):
                continue  # a table rebuild or a column swap: the name is back, with the rows copied into it
            if _scratch(op, revision.upgrade[:index]):
                continue  # the scratch copy of a rebuild: no release ever read that name
            if op.name == "drop_table" and not on_created(op, revision, created):
                yield self.finding(revision, op.line, f"table {op.table_text} dropped: the running release may "
                                   "still use it and its data cannot come back", table=op.table,
                                   fix="# ship a release that no longer uses the table, then drop it")
            elif op.name == "drop_column" and not on_created(op, revision, created):
                yield self.finding(revision, op.line, f"column {op.column_ref} dropped: the running "
                                   "release still selects it", table=op.table,
                                   fix="# remove the column from the models and deploy first, then drop it")
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind in {"drop_column", "drop_table"} and statement.origin == "execute" \
                    and action.table not in created:
                yield self.finding(revision, line, f"{statement.sql[:80]}: the running release may still use it",
                                   table=action.table, source=source(statement), subject=statement.sql,
                                   fix="# ship a release that no longer uses it, then drop it")
