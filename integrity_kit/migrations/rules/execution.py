"""Rules about running SQL and data changes from a migration."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from integrity_kit.migrations.classify import DDL_KINDS
from integrity_kit.migrations.collect import DDL
from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.migrations.rules._helpers import actions, source, sql_created_tables
from integrity_kit.migrations.syntax import ast_text, literal
from integrity_kit.rulebook import Severity


class RawStringExecute(Rule):
    """Passing a plain SQL string to a connection's `execute()`.

    ## What it checks

    `.execute("...")` (a string literal or f-string) on anything other than `op` — typically
    `op.get_bind().execute("UPDATE ...")`.

    ## Why it matters

    SQLAlchemy 2.x refuses plain strings (`ObjectNotExecutableError`), so the migration fails when it runs. Offline
    rendering (`alembic upgrade --sql`) does not execute through the connection, so it never shows the problem.
    (`op.execute("...")` is fine: Alembic wraps the string in `text()` itself.)

    ## Example

    ```python
    op.get_bind().execute("UPDATE orders SET channel = 'web'")
    ```

    ## How to fix

    ```python
    op.execute(sa.text("UPDATE orders SET channel = :channel").bindparams(channel="web"))
    ```
    """

    code = "IK820"
    name = "raw-string-execute"
    severity = Severity.ERROR
    summary = "A raw string passed to execute() fails on SQLAlchemy 2.x."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for op in revision.upgrade + (revision.downgrade or []):
            if op.receiver in {"op", "batch"} or op.name != "execute":
                continue
            first = op.arg(0)
            if isinstance(literal(first), str) or isinstance(first, ast.JoinedStr):
                yield self.finding(revision, op.line, f"{op.receiver}.execute() with a plain string fails on "
                                   "SQLAlchemy 2.x", fix=f"op.execute(sa.text({ast_text(first)}))")


class BackfillInDdlTransaction(Rule):
    """Changing data in the same transaction as schema changes to existing tables.

    ## What it checks

    `UPDATE`/`INSERT`/`DELETE` (from `op.execute`, `op.bulk_insert` or a connection) on an existing table, in a
    revision whose upgrade also changes the schema of an existing table, outside an `autocommit_block()`.

    ## Why it matters

    On PostgreSQL, DDL is transactional: the locks the ALTER took are held until the whole migration commits, so a
    backfill of a million rows keeps the table locked for its whole duration, and the backfill's row locks are
    held just as long. If anything fails, both are rolled back together and the deploy starts over.

    ## Example

    ```python
    op.add_column("orders", sa.Column("channel", sa.String(20), nullable=True))
    op.execute("UPDATE orders SET channel = 'web'")
    ```

    ## How to fix

    Put the backfill in its own revision (no DDL) and run migrations with `transaction_per_migration=True` in
    `env.py` (by default Alembic runs every pending revision in one transaction), in batches if the table is big;
    or run it inside `op.get_context().autocommit_block()` after the DDL has committed.

    ```python
    # revision 1: the schema change only
    op.add_column("orders", sa.Column("channel", sa.String(20), nullable=True))

    # next revision: the backfill only (env.py: context.configure(..., transaction_per_migration=True))
    op.execute(sa.text("UPDATE orders SET channel = :channel WHERE channel IS NULL").bindparams(channel="web"))
    ```
    """

    code = "IK821"
    name = "backfill-in-ddl-transaction"
    severity = Severity.WARNING
    summary = "Data backfill in the same transaction as DDL."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        ddl_on_existing = any(op.name in DDL and op.table not in created and not op.autocommit
                              for op in revision.upgrade)
        ddl_on_existing |= any(action.kind in DDL_KINDS and action.table not in created and statement.in_transaction
                               for statement, action, _line in actions(revision))
        if not ddl_on_existing:
            return
        for op in revision.upgrade:
            if op.autocommit:
                continue
            if op.name == "bulk_insert":
                table = literal(getattr(op.arg(0), "args", [None])[0]) if op.arg(0) is not None else None
                if table and table not in created:
                    yield self.finding(revision, op.line, f"bulk insert into {table} in the same transaction as DDL "
                                       "on existing tables", table=table,
                                       fix="# move the data change to its own revision, or into "
                                           "op.get_context().autocommit_block()")
            elif op.name in {"execute", "exec_driver_sql"} and op.receiver not in {"op", "batch"}:
                yield self.finding(revision, op.line, f"{op.receiver}.{op.name}() changes data in the same "
                                   "transaction as DDL on existing tables",
                                   fix="# move the data change to its own revision")
        for statement, action, line in actions(revision):
            if action.kind == "data" and action.table not in created and statement.in_transaction:
                yield self.finding(revision, line, f"{statement.sql.split()[0].upper()} of {action.table} in the "
                                   "same transaction as DDL on existing tables holds the DDL lock for the whole "
                                   "backfill", table=action.table, source=source(statement), subject=statement.sql,
                                   fix="# move the data change to its own revision, or into "
                                       "op.get_context().autocommit_block()")
