"""Primary key rules (PostgreSQL): a new serial/identity key column, and a primary key added in one step."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.migrations.rules._helpers import (
    actions,
    added_column_statements,
    added_columns,
    on_created,
    source,
    sql_created_tables,
)
from integrity_kit.migrations.syntax import ast_text, dotted, literal
from integrity_kit.rulebook import Severity

_INTEGER_TYPE = re.compile(r"\b(?:Integer|BigInteger|SmallInteger|INTEGER|BIGINT|SMALLINT|INT)\b")
_SERIAL_TYPE = re.compile(r"\b(?:SMALL|BIG)?SERIAL\b", re.I)
SQL_SERIAL = re.compile(r"\b(?:SMALL|BIG)?SERIAL\b|\bGENERATED\s+(?:ALWAYS|BY\s+DEFAULT)\s+AS\s+IDENTITY\b|"
                         r"\bPRIMARY\s+KEY\b", re.I)
_SQL_ADD_COLUMN = re.compile(r"^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?(?!CONSTRAINT|PRIMARY|FOREIGN|UNIQUE|"
                             r"CHECK|EXCLUDE)[`\"]?(\w+)", re.I)
_SQL_ADD_PK = re.compile(r"^ADD\s+(?:CONSTRAINT\s+[`\"]?(\w+)[`\"]?\s+)?PRIMARY\s+KEY\s*\(([^)]*)\)", re.I)


def column_ref(table: str | None, column: object) -> str:
    """``orders.note``, or what is known of it when the table or the column is not a literal."""
    name = column if isinstance(column, str) else None
    if table and name:
        return f"{table}.{name}"
    if name:
        return f"column {name} of a table named by a variable"
    return f"a column of {table} named by a variable" if table else "a column named by a variable"


def serial_key(column: ast.AST | None) -> str | None:
    """Why ``sa.Column(...)`` is a serial or identity key column (primary key, Identity(), SERIAL), else None."""
    if not (isinstance(column, ast.Call) and dotted(column.func).split(".")[-1] == "Column"):
        return None
    keywords = {k.arg: k.value for k in column.keywords if k.arg}
    if any(isinstance(a, ast.Call) and dotted(a.func).split(".")[-1] == "Identity" for a in column.args):
        return "an identity column"
    if any(_SERIAL_TYPE.search(ast_text(a)) for a in column.args[1:2]):
        return "a serial column"
    # SQLAlchemy fills only an integer key it may autoincrement (SERIAL); any other key column is plain NOT NULL.
    integer = any(_INTEGER_TYPE.search(ast_text(a)) for a in column.args[1:2])
    if literal(keywords.get("primary_key")) is True and integer and literal(keywords.get("autoincrement")) is not False:
        return "a primary key column"
    return None


class AddSerialPrimaryKeyColumn(Rule):
    """Adding a serial or identity primary key column to a table that already exists.

    ## What it checks

    On PostgreSQL, `op.add_column()` of a column with `primary_key=True`, `sa.Identity()` or a `SERIAL` /
    `BIGSERIAL` type on a table this revision did not create, and `ALTER TABLE ... ADD COLUMN ... SERIAL |
    GENERATED ... AS IDENTITY | PRIMARY KEY` in SQL.

    ## Why it matters

    Every existing row needs its own value from the sequence, so PostgreSQL rewrites the whole table under an
    ACCESS EXCLUSIVE lock (a constant default would be instant; `nextval()` is not), then builds the primary key's
    unique index under the same lock: no reads and no writes on the table for the whole rewrite and build.

    ## Example

    ```python
    op.add_column("cart_items", sa.Column("line_id", sa.BigInteger(), sa.Identity(), primary_key=True))
    ```

    ## How to fix

    Add the column nullable with no default, give it a sequence default for new rows only, backfill old rows in
    batches, build the unique index concurrently, prove NOT NULL with a validated CHECK, then promote the index:

    ```python
    op.add_column("cart_items", sa.Column("line_id", sa.BigInteger(), nullable=True))
    op.execute("CREATE SEQUENCE cart_items_line_id_seq OWNED BY cart_items.line_id")
    op.execute("ALTER TABLE cart_items ALTER COLUMN line_id SET DEFAULT nextval('cart_items_line_id_seq')")
    # next revision (no DDL): backfill in batches
    op.execute("UPDATE cart_items SET line_id = nextval('cart_items_line_id_seq') WHERE id IN "
               "(SELECT id FROM cart_items WHERE line_id IS NULL LIMIT 10000)")
    # next revision:
    with op.get_context().autocommit_block():
        op.create_index("cart_items_line_id_key", "cart_items", ["line_id"], unique=True,
                        postgresql_concurrently=True)
    op.create_check_constraint("ck_cart_items_line_id_not_null", "cart_items", "line_id IS NOT NULL",
                               postgresql_not_valid=True)
    # next revision:
    op.execute("ALTER TABLE cart_items VALIDATE CONSTRAINT ck_cart_items_line_id_not_null")
    op.alter_column("cart_items", "line_id", nullable=False)
    op.execute("ALTER TABLE cart_items ADD CONSTRAINT cart_items_pkey PRIMARY KEY USING INDEX cart_items_line_id_key")
    ```
    """

    code = "IK817"
    name = "add-serial-primary-key-column"
    severity = Severity.WARNING
    about_locks = True
    summary = "A serial or identity primary key column is added to an existing table."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for op, column in added_columns(revision):
            kind = serial_key(column)
            if kind is None:
                continue
            table = op.table or "<table>"
            name = literal(column.args[0]) if isinstance(column, ast.Call) and column.args else None
            yield self.finding(
                revision, op.line, f"{column_ref(op.table, name)} is added as {kind} to an existing table: every row "
                "gets a sequence value, so the table is rewritten and the key's index built under an ACCESS "
                "EXCLUSIVE lock", table=op.table, fix=_serial_fix(table, name if isinstance(name, str) else "<column>"))
        for statement, action, line in added_column_statements(revision):
            match = _SQL_ADD_COLUMN.match(action.detail)
            if match and SQL_SERIAL.search(action.detail):
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: a sequence-filled "
                                   "key column rewrites the table under an ACCESS EXCLUSIVE lock", table=action.table,
                                   source=source(statement), subject=statement.sql,
                                   fix=_serial_fix(action.table or "<table>", match.group(1)))


def _serial_fix(table: str, column: str) -> str:
    sequence, index, check = f"{table}_{column}_seq", f"{table}_{column}_key", f"ck_{table}_{column}_not_null"
    return (f'op.add_column("{table}", sa.Column("{column}", sa.BigInteger(), nullable=True))\n'
            f'op.execute("CREATE SEQUENCE {sequence} OWNED BY {table}.{column}")\n'
            f'op.execute("ALTER TABLE {table} ALTER COLUMN {column} SET DEFAULT nextval(\'{sequence}\')")\n'
            "# next revision (no DDL): backfill old rows, repeated until it updates no row\n"
            f'op.execute("UPDATE {table} SET {column} = nextval(\'{sequence}\') WHERE ctid IN "\n'
            f'           "(SELECT ctid FROM {table} WHERE {column} IS NULL LIMIT 10000)")\n'
            "# next revision:\n"
            "with op.get_context().autocommit_block():\n"
            f'    op.create_index("{index}", "{table}", ["{column}"], unique=True, postgresql_concurrently=True)\n'
            f'op.create_check_constraint("{check}", "{table}", "{column} IS NOT NULL", postgresql_not_valid=True)\n'
            "# next revision:\n"
            f'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT {check}")\n'
            f'op.alter_column("{table}", "{column}", nullable=False)\n'
            f'op.execute("ALTER TABLE {table} ADD CONSTRAINT {table}_pkey PRIMARY KEY USING INDEX {index}")')


class PrimaryKeyAddedInOneStep(Rule):
    """Adding a primary key to an existing table in one step.

    ## What it checks

    On PostgreSQL, `op.create_primary_key()` (or `batch.create_primary_key()`) on a table this revision did not
    create, and `ALTER TABLE ... ADD [CONSTRAINT ...] PRIMARY KEY (...)` in SQL; `PRIMARY KEY USING INDEX` (the
    safe form) is not reported.

    ## Why it matters

    PostgreSQL builds the key's unique index, and checks every row for NULLs, while it holds an ACCESS EXCLUSIVE
    lock on the table: no reads, no writes until the whole index is built.

    ## Example

    ```python
    op.create_primary_key("pk_cart_items", "cart_items", ["id"])
    ```

    ## How to fix

    Build the unique index concurrently first, prove NOT NULL with a validated CHECK (PostgreSQL 12+ then sets NOT
    NULL without a scan), and promote the index to the primary key, which only takes a brief lock:

    ```python
    op.create_check_constraint("ck_cart_items_id_not_null", "cart_items", "id IS NOT NULL",
                               postgresql_not_valid=True)
    # next revision:
    op.execute("ALTER TABLE cart_items VALIDATE CONSTRAINT ck_cart_items_id_not_null")
    with op.get_context().autocommit_block():
        op.create_index("pk_cart_items_idx", "cart_items", ["id"], unique=True, postgresql_concurrently=True)
    op.alter_column("cart_items", "id", nullable=False)
    op.execute("ALTER TABLE cart_items ADD CONSTRAINT pk_cart_items PRIMARY KEY USING INDEX pk_cart_items_idx")
    ```
    """

    code = "IK818"
    name = "primary-key-added-in-one-step"
    severity = Severity.WARNING
    about_locks = True
    summary = "A primary key is added to an existing table in one step."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        created = sql_created_tables(revision)
        for op in revision.upgrade:
            if op.name != "create_primary_key" or on_created(op, revision, created):
                continue
            name = literal(op.arg(0))
            columns = literal(op.kw("columns") or op.arg(1 if op.receiver == "batch" else 2))
            table = op.table or "<table>"
            shown = f"primary key {name}" if isinstance(name, str) else "a primary key"
            name = name if isinstance(name, str) else f"pk_{table}"
            columns = [str(c) for c in columns] if isinstance(columns, list) else ["<columns>"]
            where = f"existing table {op.table}" if op.table else "a table named by a variable"
            yield self.finding(revision, op.line, f"{shown} added to {where} in one step: its unique "
                               "index is built under an ACCESS EXCLUSIVE lock", table=op.table,
                               fix=_pk_fix(table, name, columns))
        for statement, action, line in actions(revision):
            if action.table is None or action.table in created:
                continue
            match = _SQL_ADD_PK.match(action.detail)
            if match:
                columns = [c.strip().strip('"`') for c in match.group(2).split(",")]
                yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: the unique index "
                                   "is built under an ACCESS EXCLUSIVE lock", table=action.table,
                                   source=source(statement), subject=statement.sql,
                                   fix=_pk_fix(action.table, match.group(1) or f"{action.table}_pkey", columns))


def _pk_fix(table: str, name: str, columns: list[str]) -> str:
    index = f"{name}_idx"
    listed = ", ".join(f'"{c}"' for c in columns)
    fix = "".join(f'op.create_check_constraint("ck_{table}_{c}_not_null", "{table}", "{c} IS NOT NULL", '
                  "postgresql_not_valid=True)\n" for c in columns)
    fix += "# next revision:\n" + "".join(
        f'op.execute("ALTER TABLE {table} VALIDATE CONSTRAINT ck_{table}_{c}_not_null")\n' for c in columns)
    fix += ("with op.get_context().autocommit_block():\n"
            f'    op.create_index("{index}", "{table}", [{listed}], unique=True, postgresql_concurrently=True)\n')
    fix += "".join(f'op.alter_column("{table}", "{c}", nullable=False)\n' for c in columns)
    return fix + f'op.execute("ALTER TABLE {table} ADD CONSTRAINT {name} PRIMARY KEY USING INDEX {index}")'
