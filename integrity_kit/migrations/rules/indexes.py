"""Index rules (PostgreSQL): build and drop indexes concurrently, and never inside a transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.migrations.rules._helpers import actions, execute, source, sql_created_tables
from integrity_kit.migrations.syntax import ast_text, literal
from integrity_kit.rulebook import Severity


def _concurrently(op) -> bool:
    return literal(op.kw("postgresql_concurrently")) is True


class IndexWithoutConcurrently(Rule):
    """Creating or dropping an index on an existing table without CONCURRENTLY.

    ## What it checks

    `op.create_index()` / `op.drop_index()` without `postgresql_concurrently=True` on a table this revision did not
    create, and `CREATE INDEX` / `DROP INDEX` without `CONCURRENTLY` in the SQL the revision executes or renders.

    ## Why it matters

    A plain `CREATE INDEX` holds a SHARE lock that blocks every INSERT, UPDATE and DELETE on the table until the
    index is built — minutes on a big table. `DROP INDEX` takes an ACCESS EXCLUSIVE lock.

    ## Example

    ```python
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    ```

    ## How to fix

    ```python
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_created_at", "orders", ["created_at"], postgresql_concurrently=True)
    ```
    """

    code = "IK810"
    name = "index-without-concurrently"
    severity = Severity.WARNING
    summary = "Index created or dropped without CONCURRENTLY on an existing table."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        new_indexes = {op.object_name for op in revision.upgrade if op.name == "create_index"}
        for op in revision.upgrade:
            if op.name not in {"create_index", "drop_index"} or _concurrently(op):
                continue
            if op.name == "create_index" and op.table in created:
                continue
            if op.name == "drop_index" and (op.table in created or op.object_name in new_indexes):
                continue
            verb = "created" if op.name == "create_index" else "dropped"
            args = ", ".join(ast_text(a) for a in op.call.args)
            yield self.finding(revision, op.line, f"{op.object_text} {verb} on {op.table_text} "
                               "without CONCURRENTLY blocks writes to the table", table=op.table,
                               fix="with op.get_context().autocommit_block():\n"
                                   f"    op.{op.name}({args}, postgresql_concurrently=True)")
        for statement, action, line in actions(revision):
            if action.kind == "create_index" and action.table not in created:
                yield self.finding(revision, line, f"CREATE INDEX on {action.table} without CONCURRENTLY blocks "
                                   "writes", table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(re.sub(r"^(CREATE (?:UNIQUE )?INDEX) ", r"\1 CONCURRENTLY ",
                                                      statement.sql, flags=re.I), autocommit=True))
            elif action.kind == "drop_index" and action.detail not in new_indexes:
                yield self.finding(revision, line, f"DROP INDEX {action.detail} without CONCURRENTLY takes an "
                                   "exclusive lock", table=None, source=source(statement), subject=statement.sql,
                                   fix=execute(re.sub(r"^DROP INDEX ", "DROP INDEX CONCURRENTLY ", statement.sql,
                                                      flags=re.I), autocommit=True))


class ConcurrentlyInTransaction(Rule):
    """Using CONCURRENTLY inside the migration's transaction.

    ## What it checks

    `postgresql_concurrently=True` (or `CREATE/DROP INDEX CONCURRENTLY` in SQL) outside an
    `op.get_context().autocommit_block()`.

    ## Why it matters

    Alembic runs each migration in a transaction on PostgreSQL, and PostgreSQL refuses `CREATE INDEX
    CONCURRENTLY` inside one: the deploy fails with "cannot run inside a transaction block".

    ## Example

    ```python
    op.create_index("ix_orders_created_at", "orders", ["created_at"], postgresql_concurrently=True)
    ```

    ## How to fix

    ```python
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_created_at", "orders", ["created_at"], postgresql_concurrently=True)
    ```
    """

    code = "IK811"
    name = "concurrently-in-transaction"
    severity = Severity.ERROR
    summary = "CONCURRENTLY used inside a transaction."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for op in revision.upgrade:
            if op.name in {"create_index", "drop_index"} and _concurrently(op) and not op.autocommit:
                yield self.finding(revision, op.line, f"{op.name} {op.object_name or op.object_text} with CONCURRENTLY "
                                   "inside the migration transaction: PostgreSQL refuses it", table=op.table,
                                   fix=f"with op.get_context().autocommit_block():\n    {ast_text(op.call)}")
        for statement, action, line in actions(revision):
            if action.kind.endswith("_concurrently") and statement.in_transaction:
                yield self.finding(revision, line, f"{statement.sql[:60]} inside a transaction: PostgreSQL "
                                   "refuses it", table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(statement.sql, autocommit=True))
