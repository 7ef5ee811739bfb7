"""Index rules (PostgreSQL): build and drop indexes concurrently, and never inside a transaction."""

from __future__ import annotations

import re
from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Op, Revision, Rule
from integrity_kit.migrations.rules._helpers import (
    actions,
    execute,
    on_created,
    repeats_an_op,
    source,
    sql_created_tables,
)
from integrity_kit.migrations.syntax import ast_text, literal
from integrity_kit.rulebook import Severity


def _concurrently(op) -> bool:
    return literal(op.kw("postgresql_concurrently")) is True


class IndexWithoutConcurrently(Rule):
    """Creating or dropping an index on an existing table without CONCURRENTLY.

    ## What it checks

    `op.create_index()` / `op.drop_index()` without `postgresql_concurrently=True` on a table this revision did not
    create, and `CREATE INDEX` / `DROP INDEX` without `CONCURRENTLY` in the SQL the revision executes or renders.
    An index dropped and re-created under the same name in one revision is one finding, on the drop: a rebuild in
    place.

    ## Why it matters

    A plain `CREATE INDEX` holds a SHARE lock that blocks every INSERT, UPDATE and DELETE on the table until the
    index is built — minutes on a big table. `DROP INDEX` takes an ACCESS EXCLUSIVE lock. Rebuilding an index in
    place adds a window with no index at all (and, for a unique one, no uniqueness) between the drop and the build.

    ## Example

    ```python
    op.create_index("ix_orders_created_at", "orders", ["created_at"])
    ```

    ## How to fix

    ```python
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_created_at", "orders", ["created_at"], postgresql_concurrently=True)
    ```

    To rebuild an index, build the new one under a new name first, then swap:

    ```python
    with op.get_context().autocommit_block():
        op.create_index("ix_orders_created_at_new", "orders", ["created_at", "id"], postgresql_concurrently=True)
        op.drop_index("ix_orders_created_at", table_name="orders", postgresql_concurrently=True)
    op.execute("ALTER INDEX ix_orders_created_at_new RENAME TO ix_orders_created_at")
    ```
    """

    code = "IK810"
    name = "index-without-concurrently"
    severity = Severity.WARNING
    about_locks = True
    summary = "Index created or dropped without CONCURRENTLY on an existing table."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        new_indexes = {op.object_name for op in revision.upgrade if op.name == "create_index"}
        rebuilt: set[int] = set()  # lines of create_index calls already reported as half of a rebuild
        for index, op in enumerate(revision.upgrade):
            if op.name not in {"create_index", "drop_index"} or _concurrently(op) or op.line in rebuilt:
                continue
            if op.name == "create_index" and on_created(op, revision, created):
                continue
            name = op.object_name
            again = next((later for later in revision.upgrade[index + 1:] if later.name == "create_index"
                          and later.object_name == name), None) \
                if op.name == "drop_index" and isinstance(name, str) else None
            if again is not None and again.table not in created:
                if not _concurrently(again):
                    rebuilt.add(again.line)
                table = op.table or again.table
                yield self.finding(revision, op.line, f"index {name} is dropped and re-created under the same name "
                                   f"on {table or 'a table'}: a blocking rebuild, and queries run without the index "
                                   "in between", table=table, fix=_rebuild_fix(again, str(name)))
                continue
            if op.name == "drop_index" and (on_created(op, revision, created) or name in new_indexes):
                continue
            verb = "created" if op.name == "create_index" else "dropped"
            args = ", ".join(ast_text(a) for a in op.call.args)
            yield self.finding(revision, op.line, f"{op.object_text} {verb} on {op.table_text} "
                               "without CONCURRENTLY blocks writes to the table", table=op.table,
                               fix="with op.get_context().autocommit_block():\n"
                                   f"    op.{op.name}({args}, postgresql_concurrently=True)")
        sql = list(actions(revision))
        sql_rebuilt: set[int] = set()  # positions of CREATE INDEX statements reported as half of a rebuild
        for position, (statement, action, line) in enumerate(sql):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind == "drop_index" and action.name:
                again_at = next((p for p, (s, a, _l) in enumerate(sql) if p > position and s.origin == statement.origin
                                 and a.kind.startswith("create_index") and a.name == action.name), None)
                if again_at is not None and sql[again_at][1].table not in created:
                    if sql[again_at][1].kind == "create_index":
                        sql_rebuilt.add(again_at)
                    table = sql[again_at][1].table
                    yield self.finding(revision, line, f"DROP INDEX {action.name} then CREATE INDEX {action.name} "
                                       f"on {table}: a blocking rebuild, and queries run without the index in "
                                       "between", table=table, source=source(statement), subject=statement.sql,
                                       fix=execute(f"CREATE INDEX CONCURRENTLY {action.name}_new ON {table} "
                                                   "(<columns>)", autocommit=True) + "\n"
                                       + execute(f"DROP INDEX CONCURRENTLY {action.name}", autocommit=True) + "\n"
                                       + execute(f"ALTER INDEX {action.name}_new RENAME TO {action.name}"))
                    continue
            if action.kind == "create_index" and action.table not in created and position not in sql_rebuilt:
                yield self.finding(revision, line, f"CREATE INDEX on {action.table} without CONCURRENTLY blocks "
                                   "writes", table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(re.sub(r"^(CREATE (?:UNIQUE )?INDEX) ", r"\1 CONCURRENTLY ",
                                                      statement.sql, flags=re.I), autocommit=True))
            elif action.kind == "drop_index" and action.detail not in new_indexes:
                yield self.finding(revision, line, f"DROP INDEX {action.detail} without CONCURRENTLY takes an "
                                   "exclusive lock", table=None, source=source(statement), subject=statement.sql,
                                   fix=execute(re.sub(r"^DROP INDEX ", "DROP INDEX CONCURRENTLY ", statement.sql,
                                                      flags=re.I), autocommit=True))


def _rebuild_fix(create: Op, name: str) -> str:
    """Build the new index under a new name without blocking, then swap the names."""
    args = [ast_text(a) for a in create.call.args]
    keywords = [ast_text(k) for k in create.call.keywords if k.arg != "postgresql_concurrently"]
    args[0] = repr(f"{name}_new")
    call = ", ".join(args + keywords + ["postgresql_concurrently=True"])
    return ("with op.get_context().autocommit_block():\n"
            f"    op.create_index({call})\n"
            f"    op.drop_index({name!r}, table_name={create.table!r}, postgresql_concurrently=True)\n"
            f'op.execute("ALTER INDEX {name}_new RENAME TO {name}")')


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
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind.endswith("_concurrently") and statement.in_transaction:
                yield self.finding(revision, line, f"{statement.sql[:60]} inside a transaction: PostgreSQL "
                                   "refuses it", table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(statement.sql, autocommit=True))
