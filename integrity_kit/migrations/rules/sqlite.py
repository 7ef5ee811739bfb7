"""SQLite rules: batch mode rebuilds tables, and a rebuild fires ON DELETE CASCADE."""

from __future__ import annotations

from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.rulebook import Severity

# Batch operations SQLite can run as a plain ALTER TABLE; anything else makes Alembic copy and drop the table.
_NO_RECREATE = {"add_column", "create_index", "drop_index", "rename_table", "execute"}


class BatchRecreateCascade(Rule):
    """`batch_alter_table` on SQLite over a table that other tables reference with ON DELETE CASCADE.

    ## What it checks

    A `with op.batch_alter_table(table)` block that makes Alembic rebuild the table (anything but `add_column` and
    index changes, or `recreate="always"`), when some table declares a foreign key to it with `ON DELETE CASCADE`
    anywhere in the migration history.

    ## Why it matters

    The rebuild copies the table and then runs `DROP TABLE` on the original. With `PRAGMA foreign_keys=ON` (which
    every app that wants its foreign keys enforced sets) SQLite performs an implicit `DELETE FROM` first, and the
    cascade deletes every referencing row. The migration succeeds and the child table is empty. The pragma cannot be
    changed inside the migration's transaction.

    ## Example

    ```python
    with op.batch_alter_table("products") as batch:  # cart_items.product_id ... ON DELETE CASCADE
        batch.alter_column("name", existing_type=sa.String(200), nullable=False)
    ```

    ## How to fix

    Run the migration on a connection with `PRAGMA foreign_keys=OFF` (set before the transaction starts, e.g. in
    `env.py` for SQLite) and check `PRAGMA foreign_key_check` afterwards; or make the change without a rebuild.

    ```python
    # env.py, SQLite only: foreign keys off around the migrations (the pragma is ignored inside a transaction)
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    context.configure(connection=connection, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()
        assert not connection.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
    connection.exec_driver_sql("PRAGMA foreign_keys = ON")
    ```
    """

    code = "IK830"
    name = "batch-recreate-cascade"
    severity = Severity.ERROR
    summary = "A batch_alter_table on SQLite rebuilds a table that ON DELETE CASCADE foreign keys refer to."
    dialects = ("sqlite",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        reported: set[int] = set()
        for op in revision.upgrade:
            if op.receiver != "batch" or op.batch_recreate == "never":
                continue
            if op.name in _NO_RECREATE and op.batch_recreate != "always":
                continue
            children = sorted({child for child, ondelete in context.fks.get(op.batch_table or "", [])
                               if (ondelete or "").upper() == "CASCADE" and child != op.batch_table})
            if not children or op.line in reported:
                continue
            reported.add(op.line)
            yield self.finding(revision, op.line, f"{op.name} rebuilds {op.table_text} on SQLite; dropping the old "
                               f"table cascades deletes into {', '.join(children)} when foreign keys are on",
                               table=op.batch_table,
                               fix="# run this revision with PRAGMA foreign_keys=OFF (set before BEGIN in env.py), "
                                   "then PRAGMA foreign_key_check")
            break  # one finding per batch is enough: the whole block is one rebuild
