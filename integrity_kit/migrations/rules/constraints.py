"""Constraint rules: add foreign keys and checks without validating in the same step; unique via an index."""

from __future__ import annotations

import re
from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.migrations.rules._helpers import (
    actions,
    constraint_name,
    execute,
    on_created,
    repeats_an_op,
    source,
    sql_created_tables,
)
from integrity_kit.migrations.syntax import ast_text, literal
from integrity_kit.rulebook import Severity


class ConstraintValidatedInOneStep(Rule):
    """Adding a foreign key or CHECK constraint to an existing table and validating it in the same step.

    ## What it checks

    `op.create_foreign_key()` and `op.create_check_constraint()` without `postgresql_not_valid=True` on a table
    this revision did not create, and `ALTER TABLE ... ADD CONSTRAINT ... FOREIGN KEY | CHECK` without `NOT VALID`
    in SQL.

    ## Why it matters

    Validation reads every row while PostgreSQL holds a lock that blocks writes (SHARE ROW EXCLUSIVE on both tables
    for a foreign key, ACCESS EXCLUSIVE for a CHECK). `NOT VALID` makes the constraint enforce new rows at once;
    `VALIDATE CONSTRAINT` later checks old rows under a lock that lets reads and writes go on.

    ## Example

    ```python
    op.create_foreign_key("fk_orders_user_id_users", "orders", "users", ["user_id"], ["id"])
    ```

    ## How to fix

    ```python
    op.create_foreign_key("fk_orders_user_id_users", "orders", "users", ["user_id"], ["id"],
                          postgresql_not_valid=True)
    # next revision:
    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT fk_orders_user_id_users")
    ```
    """

    code = "IK815"
    name = "constraint-validated-in-one-step"
    severity = Severity.WARNING
    about_locks = True
    summary = "Foreign key or CHECK added and validated in one step."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        for op in revision.upgrade:
            if op.name not in {"create_foreign_key", "create_check_constraint"} or on_created(op, revision, created):
                continue
            if literal(op.kw("postgresql_not_valid")) is True:
                continue
            name = op.object_sql
            yield self.finding(revision, op.line, f"{op.object_text} on existing table {op.table_text} is "
                               "validated while writes are blocked", table=op.table,
                               fix=f"{op.named_call[:-1]}, postgresql_not_valid=True)\n# next revision:\n"
                                   f'op.execute("ALTER TABLE {op.table_sql} VALIDATE CONSTRAINT {name}")')
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind == "add_fk_or_check" and action.table not in created:
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail[:60]}: validated "
                                   "while writes are blocked; add NOT VALID, then VALIDATE CONSTRAINT",
                                   table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(f"ALTER TABLE {action.table} {action.detail} NOT VALID")
                                   + "\n# next revision:\n" + execute(f"ALTER TABLE {action.table} VALIDATE "
                                                                       f"CONSTRAINT {constraint_name(action.detail)}"))


class UniqueConstraintWithoutIndex(Rule):
    """Adding a unique constraint to an existing table without building its index concurrently first.

    ## What it checks

    `op.create_unique_constraint()` on a table this revision did not create, and `ADD CONSTRAINT ... UNIQUE`
    without `USING INDEX` in SQL.

    ## Why it matters

    The constraint builds its unique index while holding a lock that blocks every write to the table, for as long
    as the build takes.

    ## Example

    ```python
    op.create_unique_constraint("uq_users_email", "users", ["email"])
    ```

    ## How to fix

    ```python
    with op.get_context().autocommit_block():
        op.create_index("uq_users_email", "users", ["email"], unique=True, postgresql_concurrently=True)
    op.execute("ALTER TABLE users ADD CONSTRAINT uq_users_email UNIQUE USING INDEX uq_users_email")
    ```
    """

    code = "IK812"
    name = "unique-constraint-without-index"
    severity = Severity.WARNING
    about_locks = True
    summary = "Unique constraint added without a prior concurrent unique index."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        for op in revision.upgrade:
            if op.name != "create_unique_constraint" or on_created(op, revision, created):
                continue
            name, listed = op.object_sql, ast_text(op.param("columns")) or "[<columns>]"
            yield self.finding(revision, op.line, f"{op.object_text} on existing table {op.table_text} builds its "
                               "index while writes are blocked", table=op.table,
                               fix="with op.get_context().autocommit_block():\n"
                                   f'    op.create_index("{name}", {op.table_code}, {listed}, unique=True, '
                                   "postgresql_concurrently=True)\n"
                                   f'op.execute("ALTER TABLE {op.table_sql} ADD CONSTRAINT {name} UNIQUE USING INDEX '
                                   f'{name}")')
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind == "add_unique" and action.table not in created:
                name = constraint_name(action.detail)
                columns = re.search(r"UNIQUE\s*(\([^)]*\))", action.detail, re.I)
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail[:60]}: builds the "
                                   "index while writes are blocked", table=action.table, source=source(statement),
                                   subject=statement.sql,
                                   fix=execute(f"CREATE UNIQUE INDEX CONCURRENTLY {name} ON {action.table} "
                                               f"{columns.group(1) if columns else '(<columns>)'}", autocommit=True)
                                   + "\n" + execute(f"ALTER TABLE {action.table} ADD CONSTRAINT {name} UNIQUE USING "
                                                    f"INDEX {name}"))
