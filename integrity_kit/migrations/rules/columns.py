"""Column rules: adding NOT NULL columns, tightening to NOT NULL, type changes that rewrite the table."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from integrity_kit.migrations.classify import empties
from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule, parse_column
from integrity_kit.migrations.rules._helpers import (
    actions,
    execute,
    normal_type,
    on_created,
    op_actions,
    repeats_an_op,
    source,
    sql_created_tables,
    type_before,
)
from integrity_kit.migrations.syntax import ast_text, dotted, literal
from integrity_kit.rulebook import Severity


class AddNotNullColumnWithoutDefault(Rule):
    """Adding a NOT NULL column without a server default to a table that already exists.

    ## What it checks

    `op.add_column()` (or `batch.add_column()`) of a column with `nullable=False` (or `primary_key=True`) and no
    `server_default`, on a table this revision did not create; and `ALTER TABLE ... ADD ... NOT NULL` without
    `DEFAULT` in the SQL the revision renders or executes.

    ## Why it matters

    Every existing row needs a value for the new column. Without a default the statement fails on any table that
    has rows, so the deploy breaks in production although it passed on the empty test database.

    ## Example

    ```python
    op.add_column("orders", sa.Column("channel", sa.String(20), nullable=False))
    ```

    ## How to fix

    Give the column a constant `server_default` (PostgreSQL 11+ and MySQL 8 add it without rewriting the table),
    or add it nullable, backfill in its own revision, then tighten it to NOT NULL.

    ```python
    op.add_column("orders", sa.Column("channel", sa.String(20), nullable=False, server_default="web"))
    ```
    """

    code = "IK801"
    name = "add-not-null-column-without-default"
    severity = Severity.ERROR
    summary = "NOT NULL column added without a server default to an existing table."

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        emptied: set[str | None] = set()  # tables this upgrade has emptied so far: no row needs a value
        for op in revision.upgrade:
            emptied |= {action.table for action in op_actions(op) or [] if empties(action)}
            if op.name != "add_column" or on_created(op, revision, created) or op.table in emptied:
                continue
            node = op.param("column")
            column = parse_column(node)
            if column and not column.nullable and not column.server_default and \
                    not _fills_itself(node, context.dialect):
                yield self.finding(
                    revision, op.line, f"column {op.column_ref} is added NOT NULL without a server "
                    "default: the statement fails on a table that has rows", table=op.table,
                    fix=f'op.add_column({op.table_code}, sa.Column({op.column_code}, {column.type_source}, '
                        'nullable=False, server_default=<constant>))')
        emptied_sql: set[str | None] = set()
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if empties(action):
                emptied_sql.add(action.table)
            if action.kind == "add_column_not_null_no_default" and action.table not in created | emptied_sql:
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: NOT NULL without "
                                   "DEFAULT fails on a table that has rows", table=action.table,
                                   source=source(statement), subject=statement.sql,
                                   fix=execute(f"ALTER TABLE {action.table} {action.detail} DEFAULT <constant>")
                                   + "\n# or add it NULL, backfill in its own revision, then SET NOT NULL")


_INTEGER = re.compile(r"(?:sa\.|sqlalchemy\.|types\.|mysql\.|postgresql\.)?(?:Integer|BigInteger|SmallInteger|"
                      r"INTEGER|BIGINT|SMALLINT|INT)(?:\(\))?")


def _fills_itself(node: ast.AST | None, dialect: str) -> bool:
    """The column gets a value for every existing row without a server default: an autoincrement integer primary key
    (SERIAL / AUTO_INCREMENT), an ``Identity()`` (PostgreSQL: MySQL and SQLite render it as a plain column) or a
    computed column."""
    if not isinstance(node, ast.Call):
        return False
    kinds = {dotted(arg.func).split(".")[-1] for arg in node.args if isinstance(arg, ast.Call)}
    if "Computed" in kinds or ("Identity" in kinds and dialect == "postgresql"):
        return True
    if dialect == "sqlite":
        return False
    keywords = {k.arg: literal(k.value) for k in node.keywords if k.arg}
    type_node = node.args[1] if len(node.args) > 1 else None
    integer = type_node is not None and bool(_INTEGER.fullmatch(ast_text(type_node)))
    return integer and keywords.get("primary_key") is True and keywords.get("autoincrement") not in {False, "False"}


class SetNotNullInOneStep(Rule):
    """Setting NOT NULL on an existing column in one step.

    ## What it checks

    `op.alter_column(..., nullable=False)` on a table this revision did not create (unless the column is NOT NULL
    already: `existing_nullable=False` says so, or the earlier revisions of the history declared it so), and
    `ALTER COLUMN ... SET NOT NULL` / `MODIFY ... NOT NULL` in the SQL.

    ## Why it matters

    PostgreSQL scans the whole table to prove there is no NULL while holding an ACCESS EXCLUSIVE lock: no reads, no
    writes for the length of the scan. MySQL rebuilds the table.

    ## Example

    ```python
    op.alter_column("orders", "channel", existing_type=sa.String(20), nullable=False)
    ```

    ## How to fix

    On PostgreSQL 12+, prove it with a CHECK constraint first, without the lock, then let `SET NOT NULL` reuse the
    proof:

    ```python
    op.create_check_constraint("ck_orders_channel_not_null", "orders", "channel IS NOT NULL",
                               postgresql_not_valid=True)
    # next revision:
    op.execute("ALTER TABLE orders VALIDATE CONSTRAINT ck_orders_channel_not_null")
    op.alter_column("orders", "channel", existing_type=sa.String(20), nullable=False)
    op.drop_constraint("ck_orders_channel_not_null", "orders", type_="check")
    ```
    """

    code = "IK802"
    name = "set-not-null-in-one-step"
    severity = Severity.WARNING
    about_locks = True
    summary = "NOT NULL set on an existing column in one step."
    dialects = ("postgresql", "mysql")

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        validated = {action.table for _s, action, _l in actions(revision)
                     if action.kind == "alter_other" and "VALIDATE CONSTRAINT" in action.detail.upper()}
        already_not_null: set[tuple[str | None, object]] = set(context.not_null_before.get(revision.revision, ()))
        already_not_null |= {(op.table, literal(op.column_node)) for op in revision.upgrade
                             if op.name == "alter_column" and literal(op.kw("existing_nullable")) is False}
        for op in revision.upgrade:
            if op.name != "alter_column" or literal(op.kw("nullable")) is not False \
                    or on_created(op, revision, created):
                continue
            if literal(op.kw("existing_nullable")) is False or (
                    literal(op.kw("existing_nullable")) is not True and (op.table, literal(op.column_node)) in
                    already_not_null):
                continue  # already NOT NULL: PostgreSQL skips the scan, MySQL restates the column
            if op.table in validated:
                continue  # the scan was done by VALIDATE CONSTRAINT, under a weaker lock
            column = op.column_sql
            cost = "rebuilds the table" if context.dialect == "mysql" else \
                "scans the whole table under an exclusive lock"
            yield self.finding(
                revision, op.line, f"NOT NULL on existing column {op.column_ref} in one step {cost}",
                table=op.table,
                fix=f'op.create_check_constraint("ck_{op.table_sql}_{column}_not_null", {op.table_code}, '
                    f'"{column} IS NOT NULL", postgresql_not_valid=True)\n'
                    f'# next revision:\nop.execute("ALTER TABLE {op.table_sql} VALIDATE CONSTRAINT '
                    f'ck_{op.table_sql}_{column}_not_null")\n'
                    f'op.alter_column({op.table_code}, {op.column_code}, nullable=False)')
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind == "set_not_null" and action.table not in created | validated:
                match = re.match(r"(?:ALTER|MODIFY|CHANGE)\s+(?:COLUMN\s+)?[`\"]?(\w+)", action.detail, re.I)
                column = match.group(1) if match else "<column>"
                if (action.table, column) in already_not_null:
                    continue  # Alembic restates NOT NULL the call says the column has: no scan
                check = f"ck_{action.table}_{column}_not_null"
                cost = "rebuilds the table" if context.dialect == "mysql" else "scans the table under an exclusive lock"
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: {cost}",
                                   table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(f"ALTER TABLE {action.table} ADD CONSTRAINT {check} "
                                               f"CHECK ({column} IS NOT NULL) NOT VALID")
                                   + "\n# next revision:\n"
                                   + execute(f"ALTER TABLE {action.table} VALIDATE CONSTRAINT {check}") + "\n"
                                   + execute(f"ALTER TABLE {action.table} ALTER COLUMN {column} SET NOT NULL"))


def _postgresql_float(normal: tuple[str, str] | None) -> tuple[str, str] | None:
    """PostgreSQL's FLOAT(p) is real up to 24 binary digits and double precision beyond, as is FLOAT with no p."""
    if normal is None or normal[0] != "float":
        return normal
    digits = re.fullmatch(r"(?:precision=)?(\d+)", normal[1])
    if digits:
        return ("real", "") if int(digits.group(1)) <= 24 else ("double", "")
    return ("double", "") if not normal[1] else normal


def _no_rewrite(existing: str, new: str) -> bool:
    """Whether PostgreSQL changes only the catalog: the same type restated, or a binary-coercible widening
    (varchar(n) -> varchar(m >= n), varchar -> text, text -> unbounded varchar)."""
    old, wanted = _postgresql_float(normal_type(existing)), _postgresql_float(normal_type(new))
    if old is None or wanted is None:
        return False
    if old == wanted:
        return True
    if old[0] == wanted[0] and old[0] in {"bytea", "text"}:
        return True  # PostgreSQL's bytea and text take no length: LargeBinary(2 ** 24) is still bytea
    (old_name, old_length), (new_name, new_length) = old, wanted
    if old_name not in {"varchar", "text"} or new_name not in {"varchar", "text"}:
        return False
    if new_name == "text" or not new_length:
        return True  # text and unbounded varchar take any varchar or text as it is
    return old_name == "varchar" and old_length.isdigit() and new_length.isdigit() \
        and int(new_length) >= int(old_length)


class ColumnTypeChangeRewritesTable(Rule):
    """Changing a column's type in a way that rewrites the table.

    ## What it checks

    `op.alter_column(..., type_=...)` on a table this revision did not create, unless the type it changes from
    (its `existing_type`, else the type the `downgrade()` gives the column back, else the type the earlier
    revisions of the history gave the column) is the same type restated or one PostgreSQL widens in the catalog
    only (`String(n)` to a longer `String`, `String` to `Text`, `Text` to an unbounded `String`), and
    `ALTER COLUMN ... TYPE` in executed SQL.

    ## Why it matters

    On PostgreSQL most type changes rewrite every row and rebuild every index of the table under an ACCESS
    EXCLUSIVE lock. The running app waits — or times out — for the whole rewrite. (On MySQL and MariaDB the cost
    depends on the server version and the algorithm: `mysql-ddl-blocks-writes` judges those.)

    ## Example

    ```python
    op.alter_column("orders", "total_amount", type_=sa.Numeric(14, 2), existing_type=sa.Numeric(12, 2))
    ```

    ## How to fix

    Add a new column of the new type, write both from the app, backfill in batches, switch reads, then drop the old
    column in a later release. Widening `String(n)` to `String(m)` or `Text` needs no rewrite: say so with
    `existing_type` when the history does not show the column's type.

    ```python
    # revision 1: the new column, nullable
    op.add_column("orders", sa.Column("total_amount_v2", sa.Numeric(14, 2), nullable=True))
    # next revision (no DDL): backfill in batches while the app writes both columns
    op.execute(sa.text("UPDATE orders SET total_amount_v2 = total_amount WHERE id BETWEEN :lo AND :hi")
               .bindparams(lo=1, hi=10_000))
    # next revision, in a later release once reads use the new column:
    op.drop_column("orders", "total_amount")
    ```
    """

    code = "IK803"
    name = "column-type-change-rewrites-table"
    severity = Severity.WARNING
    about_locks = True
    summary = "A column type change rewrites the table."
    # MySQL's answer depends on the server version and the algorithm: mysql-ddl-blocks-writes (IK850) gives it.
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        for op in revision.upgrade:
            if op.name != "alter_column" or not op.has_kw("type_") or on_created(op, revision, created):
                continue
            existing = type_before(revision, op, context)
            if existing is not None and _no_rewrite(existing, ast_text(op.kw("type_"))):
                continue
            column = op.column_sql
            yield self.finding(
                revision, op.line, f"type change of {op.column_ref} to {ast_text(op.kw('type_'))} "
                "rewrites the table under an exclusive lock", table=op.table,
                fix=f'op.add_column({op.table_code}, sa.Column("{column}_new", {ast_text(op.kw("type_"))}))\n'
                    "# dual-write from the app, backfill in batches in its own revision, switch reads, "
                    "drop the old column later")
        for statement, action, line in actions(revision):
            if repeats_an_op(revision, statement, action):
                continue  # the same change as an op.* call: judged by the call
            if action.kind == "alter_type" and statement.origin == "execute" and action.table not in created:
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: rewrites the table",
                                   table=action.table, source=source(statement), subject=statement.sql,
                                   fix=execute(f"ALTER TABLE {action.table} ADD COLUMN <column>_new <new type>")
                                   + "\n# dual-write from the app, backfill in batches in its own revision, switch "
                                     "reads, drop the old column later")
