"""Default rules (PostgreSQL): a volatile server default on a new column rewrites the whole table."""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator

from integrity_kit.migrations.model import Finding, LintContext, Revision, Rule
from integrity_kit.migrations.rules._helpers import added_column_statements, added_columns, execute, source
from integrity_kit.migrations.rules.keys import SQL_SERIAL, column_ref, serial_key
from integrity_kit.migrations.syntax import ast_text, dotted, literal
from integrity_kit.rulebook import Severity

# PostgreSQL functions marked VOLATILE that people put in defaults; now(), CURRENT_TIMESTAMP and
# statement_timestamp() are STABLE, evaluated once for the ALTER, so they stay instant.
VOLATILE = ("random", "gen_random_uuid", "uuid_generate_v1", "uuid_generate_v1mc", "uuid_generate_v4", "uuidv4",
            "uuidv7", "clock_timestamp", "timeofday", "nextval", "txid_current", "gen_random_bytes")
_VOLATILE = re.compile(rf"\b({'|'.join(VOLATILE)})\s*\(", re.I)
_SQL_ADD_COLUMN = re.compile(r"^ADD\s+(?:COLUMN\s+)?(?:IF\s+NOT\s+EXISTS\s+)?[`\"]?(\w+)[`\"]?\s+(.*?)\s+DEFAULT\s+"
                             r"(.+)$", re.I | re.S)


def default_expression(node: ast.AST | None) -> str | None:
    """The SQL of a server_default that is an expression: ``sa.text("...")``, ``sa.func.f()``,
    ``sa.literal_column("...")``. A plain string is a quoted literal, never a function call."""
    if not isinstance(node, ast.Call):
        return None
    name = dotted(node.func)
    last = name.split(".")[-1]
    if last in {"text", "literal_column"} and node.args:
        value = literal(node.args[0])
        return value if isinstance(value, str) else None
    if ".func." in f".{name}" or name.startswith("func."):
        return f"{last}({', '.join(ast_text(a) for a in node.args)})"
    if last == "DefaultClause" and node.args:
        return default_expression(node.args[0])
    return None


def volatile_call(expression: str) -> str | None:
    """The first volatile function ``expression`` calls; quoted strings ('random()' is text) do not count."""
    match = _VOLATILE.search(re.sub(r"'(?:[^']|'')*'", "''", expression))
    return match.group(1).lower() if match else None


class VolatileDefaultRewritesTable(Rule):
    """Adding a column whose server default is a volatile function to a table that already exists.

    ## What it checks

    On PostgreSQL, `op.add_column()` of a column whose `server_default` calls a volatile function (`random()`,
    `gen_random_uuid()`, `uuid_generate_v4()`, `clock_timestamp()`, `timeofday()`, `nextval(...)`, ...) on a table
    this revision did not create, and `ALTER TABLE ... ADD COLUMN ... DEFAULT <volatile call>` in SQL. Constant
    defaults and stable ones (`now()`, `CURRENT_TIMESTAMP`) are not reported: PostgreSQL 11+ adds those without
    touching the rows.

    ## Why it matters

    PostgreSQL 11+ stores a non-volatile default once in the catalog, so the column appears instantly. A volatile
    default must give each existing row its own value, so the whole table is rewritten, with all its indexes,
    under an ACCESS EXCLUSIVE lock: no reads and no writes until it is done.

    ## Example

    ```python
    op.add_column("orders", sa.Column("public_id", sa.Uuid(), server_default=sa.text("gen_random_uuid()")))
    ```

    ## How to fix

    Add the column without a default, set the default afterwards (it only applies to new rows, so no rewrite), and
    backfill the old rows in batches in their own revision:

    ```python
    op.add_column("orders", sa.Column("public_id", sa.Uuid(), nullable=True))
    op.alter_column("orders", "public_id", server_default=sa.text("gen_random_uuid()"))
    # next revision (no DDL): backfill in batches
    op.execute("UPDATE orders SET public_id = gen_random_uuid() WHERE id IN "
               "(SELECT id FROM orders WHERE public_id IS NULL LIMIT 10000)")
    ```
    """

    code = "IK807"
    name = "volatile-default-rewrites-table"
    severity = Severity.WARNING
    about_locks = True
    summary = "A column with a volatile server default is added to an existing table."
    dialects = ("postgresql",)

    def check(self, revision: Revision, context: LintContext) -> Iterator[Finding]:
        for op, column in added_columns(revision):
            if not (isinstance(column, ast.Call) and dotted(column.func).split(".")[-1] == "Column"):
                continue
            default = next((k.value for k in column.keywords if k.arg == "server_default"), None)
            expression = default_expression(default)
            function = volatile_call(expression) if expression else None
            if function is None or serial_key(column) is not None:
                continue  # a sequence-filled key column is add-serial-primary-key-column's finding
            name = literal(column.args[0]) if column.args else None
            name = name if isinstance(name, str) else "<column>"
            table = op.table or "<table>"
            type_source = ast_text(column.args[1]) if len(column.args) > 1 else "<type>"
            yield self.finding(
                revision, op.line, f"{column_ref(op.table, literal(column.args[0]) if column.args else None)} is "
                f"added with the volatile default {function}(): every "
                "row gets its own value, so the whole table is rewritten under an ACCESS EXCLUSIVE lock",
                table=op.table,
                fix=f'op.add_column("{table}", sa.Column("{name}", {type_source}, nullable=True))\n'
                    f'op.alter_column("{table}", "{name}", server_default=sa.text("{expression}"))'
                    "  # new rows only: no rewrite\n"
                    "# next revision (no DDL): backfill old rows, repeated until it updates no row\n"
                    f'op.execute("UPDATE {table} SET {name} = {expression} WHERE ctid IN "\n'
                    f'           "(SELECT ctid FROM {table} WHERE {name} IS NULL LIMIT 10000)")')
        for statement, action, line in added_column_statements(revision):
            match = _SQL_ADD_COLUMN.match(action.detail)
            function = volatile_call(match.group(3)) if match else None
            if match is None or function is None or SQL_SERIAL.search(action.detail):
                continue
            name, type_sql, default_sql = match.group(1), match.group(2), match.group(3)
            yield self.finding(revision, line, f"ALTER TABLE {action.table} {action.detail}: the volatile default "
                               f"{function}() rewrites the whole table", table=action.table,
                               source=source(statement), subject=statement.sql,
                               fix=execute(f"ALTER TABLE {action.table} ADD COLUMN {name} "
                                           f"{re.sub(r'(?i)NOT NULL', '', type_sql).strip()}") + "\n"
                                   + execute(f"ALTER TABLE {action.table} ALTER COLUMN {name} SET DEFAULT "
                                             f"{re.sub(r'(?i)NOT NULL', '', default_sql).strip()}")
                                   + "\n# next revision (no DDL): backfill old rows in batches")
