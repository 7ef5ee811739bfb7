"""Rules about running SQL and data changes from a migration."""

from __future__ import annotations

import ast
from collections.abc import Iterator

from integrity_kit.migrations.classify import DDL_KINDS, Action, classify, empties, inserts_literal_rows
from integrity_kit.migrations.collect import DDL
from integrity_kit.migrations.model import Finding, LintContext, Op, Revision, Rule
from integrity_kit.migrations.rules._helpers import on_created, op_actions, readable_sql, sql_created_tables
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
    revision whose upgrade also changes the schema of an existing table, outside an `autocommit_block()`. SQL is
    judged by what it does: reads, `SET`, `PRAGMA`, DDL, `GRANT`, `COMMENT ON`, `ANALYZE` change no data, an
    `execute()` of SQL that cannot be read is no evidence (a statement passed by a name the module assigns once is
    read there; SQLAlchemy `update()`/`insert()`/`delete()` constructs are data changes), and a `DELETE` without
    `WHERE` empties the table on purpose. Rows written out in the source (`INSERT ... VALUES (...)` with no
    `SELECT`, `op.bulk_insert` of a literal list) are reference data, not a backfill: they take no time. An
    explicit `COMMIT` ends the transaction: a data change after it only counts with DDL after it.

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
    about_locks = True
    summary = "Data backfill in the same transaction as DDL."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        # The Python pass, in source order: an explicit COMMIT ends the transaction the DDL before it ran in.
        ddl_in: set[int] = set()
        changes: list[tuple[int, Op, Action]] = []
        transaction = 0
        for op in revision.upgrade:
            if op.autocommit:
                continue
            if op.name in DDL:
                if not (on_created(op, revision, created)):
                    ddl_in.add(transaction)
                continue
            if op.name == "bulk_insert":
                table = literal(getattr(op.arg(0), "args", [None])[0]) if op.arg(0) is not None else None
                if isinstance(literal(op.arg(1)), list):
                    continue  # rows written out in the source: reference data, no backfill
                if table and table not in created:
                    changes.append((transaction, op, Action("data", table, "INSERT")))
                continue
            # An execute() whose SQL we cannot read is no evidence of a data change; the rendered SQL may show it.
            written_out = inserts_literal_rows(readable_sql(op.arg(0)) or "")
            for action in op_actions(op, revision.module) or []:
                if action.kind == "session" and action.detail in {"COMMIT", "END", "ROLLBACK"}:
                    transaction += 1
                elif action.kind in DDL_KINDS and action.table not in created:
                    ddl_in.add(transaction)
                elif action.kind == "data" and action.table not in created and not empties(action) \
                        and not written_out:
                    changes.append((transaction, op, action))
        creates = bool(created) or any(op.name == "create_table" for op in revision.upgrade)
        rendered = [(statement, action) for statement in revision.statements if statement.origin == "rendered"
                    for action in classify(statement.sql)]
        rendered_ddl = any(action.kind in DDL_KINDS and action.table not in created and statement.in_transaction
                           for statement, action in rendered)
        for transaction, op, action in changes:
            if transaction not in ddl_in or (action.table is None and creates and action.detail.startswith(
                    ("INSERT", "SELECT INTO"))):
                continue  # an insert into a table we cannot name, in a revision that creates tables: the new one
            if op.name == "bulk_insert":
                yield self.finding(revision, op.line, f"bulk insert into {action.table} in the same transaction as "
                                   "DDL on existing tables", table=action.table,
                                   fix="# move the data change to its own revision, or into "
                                       "op.get_context().autocommit_block()")
            elif op.receiver in {"op", "batch"} and readable_sql(op.arg(0)) is not None:
                sql = readable_sql(op.arg(0)) or ""
                yield self.finding(revision, op.line, f"{action.detail.split()[0]} of {action.table or 'a table'} "
                                   "in the same transaction as DDL on existing tables holds the DDL lock for the whole "
                                   "backfill", table=action.table, subject=" ".join(sql.split()),
                                   fix="# move the data change to its own revision, or into "
                                       "op.get_context().autocommit_block()")
            elif op.receiver in {"op", "batch"}:
                yield self.finding(revision, op.line, f"{action.detail} of {action.table or 'a table'} in the same "
                                   "transaction as DDL on existing tables holds the DDL lock for the whole "
                                   "backfill", table=action.table,
                                   fix="# move the data change to its own revision, or into "
                                       "op.get_context().autocommit_block()")
            else:
                yield self.finding(revision, op.line, f"{op.receiver}.{op.name}() changes data in the same "
                                   "transaction as DDL on existing tables", table=action.table,
                                   fix="# move the data change to its own revision")
        if not (ddl_in or rendered_ddl):
            return
        for statement, action in rendered:
            if action.kind == "data" and action.table not in created and statement.in_transaction \
                    and not empties(action) and not inserts_literal_rows(statement.sql):
                yield self.finding(revision, revision.upgrade_line, f"{statement.sql.split()[0].upper()} of "
                                   f"{action.table} in the same transaction as DDL on existing tables holds the DDL "
                                   "lock for the whole backfill", table=action.table, source="sql",
                                   subject=statement.sql,
                                   fix="# move the data change to its own revision, or into "
                                       "op.get_context().autocommit_block()")
