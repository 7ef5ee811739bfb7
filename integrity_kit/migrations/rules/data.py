"""Rules that read the target database's rows (``lint-migrations --database``): the preflight's verdicts."""

from __future__ import annotations

from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.rulebook import Severity


class FailsOnExistingRows(Rule):
    """An operation the rows of the target database make fail: duplicates, orphans, NULLs, values out of range.

    ## What it checks

    With `lint-migrations PATH --database URL`, every unique constraint or index, foreign key, CHECK constraint,
    `alter_column(nullable=False)`, NOT NULL `add_column` without a default and type change of a pending revision
    is probed against the live rows, read-only, with the audit's probes: duplicate groups, orphan rows, rows that
    break the condition, NULLs, values that do not fit the new type. A finding means the statement fails on that
    database today, and it names the keys in the way. A constraint created `NOT VALID` on PostgreSQL fails at the
    pending `VALIDATE CONSTRAINT` that checks it. When a pending revision writes the table's rows before the
    operation (a backfill), the verdict is not conclusive and no finding is made; the probe's count is still shown.

    ## Why it matters

    A linter that reads only the code says "this may fail depending on the data". The deploy then stops halfway in
    production, on eleven old rows nobody knew about, with the release half out. Knowing it before the deploy
    turns an outage into a clean-up ticket.

    ## Example

    ```python
    op.create_unique_constraint("uq_cart_items_line", "cart_items", ["cart_id", "product_id"])
    # the target holds two lines for cart 2 and product 43: the ALTER TABLE fails
    ```

    ## How to fix

    Clean the rows first, in their own revision or by hand (merge the duplicates, delete or re-point the orphans,
    backfill the NULLs), then run the migration; `integrity-kit audit URL --fix-migration` writes the clean-up
    statements as comments for review. Or create the constraint `NOT VALID` and validate it once the rows are fixed.

    ```python
    op.execute("DELETE FROM cart_items AS newer USING cart_items AS older WHERE newer.cart_id = older.cart_id "
               "AND newer.product_id = older.product_id AND newer.id > older.id")
    # next revision:
    op.create_unique_constraint("uq_cart_items_line", "cart_items", ["cart_id", "product_id"])
    ```
    """

    code = "IK860"
    name = "fails-on-existing-rows"
    severity = Severity.ERROR
    summary = "The target database's rows make the operation fail (duplicates, orphans, NULLs, values that don't fit)."
    ignore_where = "The finding points at the operation (or at the VALIDATE CONSTRAINT that fails)."
    needs_database = True

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        if context.preflight is None:
            return
        for check in context.preflight.for_revision(revision.revision):
            if check.would_fail:
                line = check.fails_at or check.line
                yield self.finding(revision, line, check.reason, table=check.table,
                                   subject=revision.call_source(check.line))
