"""Domain: values the database should refuse (NULL where a value is required, negative stock)."""

from __future__ import annotations

import re
from collections.abc import Iterator

from integrity_kit.audit import fixes
from integrity_kit.audit.columns import is_count, is_money, is_natural_key, is_status
from integrity_kit.audit.model import DataRule, Finding, Rule, Severity
from integrity_kit.audit.naming import family
from integrity_kit.schema import Column, Snapshot, Table


def _required(column: Column) -> bool:
    name = column.name.lower()
    return (is_natural_key(name) or is_count(name) or is_money(name) or is_status(name)
            or name in ("name", "title", "created_at"))


class MissingNotNull(Rule):
    """A column that always needs a value but accepts NULL.

    ## What it checks

    Natural keys, quantities and stock, money, status and `name`/`title`/`created_at` columns that are nullable.

    ## Why it matters

    NULL is not zero and not "unknown status": `stock - 1` is NULL, `SUM(price)` skips the row, `status = 'paid'`
    is neither true nor false. Code written for values meets NULLs at the worst time.

    ## Example

    ```sql
    CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER DEFAULT 0);  -- NULL still allowed
    ```

    ## How to fix

    Backfill the NULLs, then set NOT NULL; on PostgreSQL add a `CHECK (col IS NOT NULL) NOT VALID`, validate it,
    then `SET NOT NULL` (no long exclusive lock).
    """

    code = "IK301"
    name = "missing-not-null"
    severity = Severity.WARNING
    summary = "Column that always needs a value accepts NULL."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            pk = set(table.primary_key.columns) if table.primary_key else set()
            for column in table.columns:
                if column.nullable and column.name not in pk and not column.computed and _required(column):
                    yield self.finding(table, (column.name,), f"{table.qualified_name}.{column.name} accepts NULL",
                                       fix=fixes.set_not_null(snapshot.dialect, table, column))


def _has_check_on(table: Table, column: str) -> bool:
    pattern = re.compile(rf"(?<![\w.]){re.escape(column)}(?!\w)", re.IGNORECASE)
    return any(pattern.search(check.sqltext) for check in table.check_constraints)


class MissingCheckConstraint(Rule):
    """A quantity, stock or price column with no CHECK on its range.

    ## What it checks

    Numeric stock and quantity columns (`>= 0`, a quantity `> 0`), money columns (`>= 0`) and text `status`
    columns (a fixed set of values) that no CHECK constraint mentions.

    ## Why it matters

    One bad `UPDATE products SET stock = stock - 3` and the shop sells what it does not have; a typo'd status
    falls out of every report. A CHECK makes the database refuse the row, whoever writes it.

    ## Example

    ```sql
    CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL);  -- stock = -4 accepted
    ```

    ## How to fix

    Fix the rows that break the rule, then add the constraint (`NOT VALID` + `VALIDATE` on PostgreSQL).
    """

    code = "IK302"
    name = "missing-check-constraint"
    severity = Severity.WARNING
    summary = "Stock, quantity, price or status column has no CHECK constraint."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for column in table.columns:
                condition = self._condition(snapshot, column)
                if condition is None or _has_check_on(table, column.name):
                    continue
                yield self.finding(table, (column.name,), f"nothing stops {table.qualified_name}.{column.name} "
                                   f"from breaking {condition}", evidence={"condition": condition},
                                   fix=fixes.add_check(snapshot.dialect, table, column.name, condition))

    @staticmethod
    def _condition(snapshot: Snapshot, column: Column) -> str | None:
        kind = family(column)
        name = fixes.quote(snapshot.dialect, column.name)
        if kind in ("integer", "numeric", "float"):
            if is_count(column.name):
                return f"{name} > 0" if "quantity" in column.name.lower() or column.name.lower() == "qty" \
                    else f"{name} >= 0"
            if is_money(column.name):
                return f"{name} >= 0"
        if kind == "string" and is_status(column.name) and "ENUM" not in column.type_sql.upper():
            return f"{name} IN (…the statuses the app uses…)"
        return None


class CheckViolations(DataRule):
    """Rows that break a CHECK the table has, or plainly should have.

    ## What it checks

    Rows failing a declared CHECK that was never validated (PostgreSQL `NOT VALID`), and rows with negative stock,
    a quantity below one or a negative price where no CHECK exists (the conditions `missing-check-constraint`
    proposes).

    ## Why it matters

    Negative stock is an oversold order waiting to ship; a zero-quantity line bills nothing. These rows also make
    the CHECK that would prevent them fail when it is added.

    ## Example

    ```sql
    UPDATE products SET stock = stock - 3 WHERE id = 1;  -- stock was 2
    ```

    ## How to fix

    Correct each row (the evidence lists sample keys), find the code path that wrote it, then add or validate the
    constraint.
    """

    code = "IK303"
    name = "check-violations"
    severity = Severity.ERROR
    summary = "Rows break a declared or implied CHECK condition."

    def check_data(self, snapshot: Snapshot, probe) -> Iterator[Finding]:
        for table in snapshot.tables:
            conditions = [(check.name or "check", check.sqltext) for check in table.check_constraints
                          if not check.validated]
            for column in table.columns:
                condition = MissingCheckConstraint._condition(snapshot, column)
                if condition and "…" not in condition and not _has_check_on(table, column.name):
                    conditions.append((column.name, condition))
            for label, condition in conditions:
                evidence = self.measure(f"{table.qualified_name} CHECK ({condition})",
                                        lambda t=table, c=condition: probe.violations(t, c))
                if evidence is None or not evidence.count:
                    continue
                columns = (label,) if table.has_column(label) else ()
                yield self.finding(
                    table, columns, f"{evidence.count} row(s) of {table.qualified_name} break ({condition}), "
                    f"e.g. {evidence.samples[:3]}", evidence={**evidence.to_dict("violating_rows"),
                                                              "condition": condition},
                    fix=fixes.Fix(f"-- correct these rows first, e.g.\nSELECT * FROM "
                                  f"{fixes.qualified_table(snapshot.dialect, table)} WHERE NOT ({condition});",
                                  f"# correct the rows, then: op.create_check_constraint(..., {condition!r})"))
