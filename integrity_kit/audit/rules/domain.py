"""Domain: values the database should refuse (NULL where a value is required, negative stock)."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator
from dataclasses import dataclass

from integrity_kit.audit.changes import (
    AddCheck,
    Changes,
    KeptAttributes,
    Operation,
    RecomputeTotals,
    ReviewRows,
    SetNotNull,
    TableName,
    quote,
    sa_type,
    sql_literals,
)
from integrity_kit.audit.columns import is_count, is_money, is_natural_key, is_status
from integrity_kit.audit.evidence import judged
from integrity_kit.audit.model import DataRule, Finding, Rule, Severity
from integrity_kit.audit.naming import family, table_key, words
from integrity_kit.audit.probes import Probe
from integrity_kit.audit.rules.keys import MissingForeignKey
from integrity_kit.schema import Column, Snapshot, Table


def _required(column: Column) -> bool:
    name = column.name.lower()
    return (is_natural_key(name) or is_count(name) or is_money(name) or is_status(name)
            or name in ("name", "title", "created_at"))


def set_not_null(dialect: str, table: Table, column: Column) -> Changes:
    return Changes(dialect, (SetNotNull(TableName.of(table), column.name, column.type_sql,
                                        sa_type(column, dialect), KeptAttributes.of(column, dialect)),))


def nulls_evidence(finding: Finding, snapshot: Snapshot, probe: Probe, *,
                   at_most: float | None = None) -> Finding | None:
    """The NULLs a NOT NULL would refuse today, shown as "0 of 59 rows are NULL" (shared by the rules that
    propose one). With ``at_most``, a column NULL in more than that share of its rows is optional by design: None."""
    table = snapshot.table(finding.table, finding.schema)
    seen = probe.violations(table, f"{quote(snapshot.dialect, finding.columns[0])} IS NOT NULL")
    if at_most is not None and seen.count > at_most * seen.rows_checked:
        return None
    found = judged(finding, seen, "null_rows", "NULL(s)", clean_up=ReviewRows(TableName.of(table),
                                                                             "backfill the NULLs"))
    verdict = (f"; {seen.count} of {seen.rows_checked} rows are NULL, e.g. {seen.samples[:3]}: backfill them first"
               if seen.count else f"; {seen.count} of {seen.rows_checked} rows are NULL: adding it today would succeed")
    return dataclasses.replace(found, message=finding.message + verdict)


class MissingNotNull(Rule):
    """A column that always needs a value but accepts NULL.

    ## What it checks

    Natural keys, quantities and stock, money, status and `name`/`title`/`created_at` columns that are nullable.
    With data, only where (almost) no row is NULL (at most 1% of the rows), and the finding shows the count
    ("0 of 59 rows are NULL"): a column NULL in half its rows is optional by design, whatever its name.

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
    blocking_evidence = ("null_rows",)
    # NOT NULL is proposed only where (almost) every row has a value: more NULLs mean the column is optional.
    NULL_SHARE_AT_MOST = 0.01

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            pk = set(table.primary_key.columns) if table.primary_key else set()
            for column in table.columns:
                if column.nullable and column.name not in pk and not column.computed and _required(column):
                    yield self.finding(table, (column.name,), f"{table.qualified_name}.{column.name} accepts NULL",
                                       changes=set_not_null(snapshot.dialect, table, column))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        return nulls_evidence(finding, snapshot, probe, at_most=self.NULL_SHARE_AT_MOST)

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


# `status` says workflow by itself; `state` may as well be a province, and needs its values to say so.
STRONG_STATUS_NAMES = frozenset({"status"})
# Siblings that make a `state` column part of a postal address.
ADDRESS_WORDS = frozenset({"city", "country", "postal", "postcode", "zip", "address", "street", "province"})


def _address_part(table: Table, column: Column) -> bool:
    """``state`` beside ``city`` or ``country``: a part of an address, free text, never a workflow status."""
    if column.name.lower() in STRONG_STATUS_NAMES:
        return False
    return any(set(words(other.name)) & ADDRESS_WORDS for other in table.columns if other is not column)


def _has_check_on(table: Table, column: str) -> bool:
    pattern = re.compile(rf"(?<![\w.]){re.escape(column)}(?!\w)", re.IGNORECASE)
    return any(pattern.search(check.sqltext) for check in table.check_constraints)


class MissingCheckConstraint(Rule):
    """A quantity, stock or price column with no CHECK on its range.

    ## What it checks

    Numeric stock and quantity columns (`>= 0`, a quantity `> 0`), money columns (`>= 0`) and text `status`
    columns (a fixed set of values) that no CHECK constraint mentions. A status set is proposed from the values
    in use only when they look like the states of a workflow: at least two words of three letters or more,
    repeated across the rows. A `state` column is a status only when its values say so, and never beside
    address columns (`city`, `country`, `postal_code`): there it is a province, free text.

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
    blocking_evidence = ("violating_rows",)
    MAX_STATUSES = 20
    # A status CHECK is proposed only from values that look like a closed set of identifiers.
    # Words of three letters or more: 'AB' or 'ON' is a code (a province), not a state of a workflow.
    STATUS = re.compile(r"[A-Za-z][A-Za-z0-9_-]{2,39}")

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for column in table.columns:
                condition = self._condition(snapshot, table, column)
                if condition is None or _has_check_on(table, column.name):
                    continue
                yield self.finding(table, (column.name,), f"nothing stops {table.qualified_name}.{column.name} "
                                   f"from breaking {condition}", evidence={"condition": condition},
                                   changes=Changes(snapshot.dialect, (AddCheck(TableName.of(table), column.name,
                                                                               condition),)))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        table = snapshot.table(finding.table, finding.schema)
        condition = _condition_of(finding)
        if condition is None:
            return self._with_values_in_use(finding, table, snapshot.dialect, probe)
        seen = probe.violations(table, condition)
        return judged(finding, seen, "violating_rows", "row(s) breaking it",
                      clean_up=ReviewRows(TableName.of(table), "correct the rows that break it"))

    def _with_values_in_use(self, finding: Finding, table: Table, dialect: str, probe: Probe) -> Finding | None:
        """A status CHECK needs the set of statuses: offer the values in use today, for a person to confirm, when
        they look like the states of a workflow (words, at least two, repeated across rows). A `state` column
        whose values do not (province codes such as 'AB') is free text, not a status: dropped."""
        name = finding.columns[0]
        values = probe.distinct(table, name, limit=self.MAX_STATUSES + 1)
        if not self._workflow_states(table, name, values, probe):
            return None if name.lower() not in STRONG_STATUS_NAMES else finding
        condition = f"{quote(dialect, finding.columns[0])} IN ({sql_literals(dialect, values)})"
        found = dataclasses.replace(
            finding, message=finding.message.replace("…the statuses the app uses…", ", ".join(map(str, values))) +
            " (the values in use today: confirm the set)",
            evidence={**finding.evidence, "condition": condition, "values_in_use": values})
        return found.with_changes(Changes(dialect, (AddCheck(TableName.of(table), finding.columns[0], condition),)))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        return self.schema_changes(finding) if _condition_of(finding) is not None else None

    def unplanned_reason(self, finding: Finding) -> str:
        return f"no condition to add ({finding.message})"

    def _workflow_states(self, table: Table, name: str, values: list, probe: Probe) -> bool:
        if not 2 <= len(values) <= self.MAX_STATUSES:
            return False
        if not all(isinstance(value, str) and self.STATUS.fullmatch(value) for value in values):
            return False
        # Rows holding a value (the rows where "IS NULL" is false): a closed set repeats across them.
        filled = probe.violations(table, f"{quote(probe.connection.dialect.name, name)} IS NULL").count
        return filled > len(values)

    @staticmethod
    def _condition(snapshot: Snapshot, table: Table, column: Column) -> str | None:
        kind = family(column)
        if kind in ("integer", "numeric", "float"):
            name = quote(snapshot.dialect, column.name)
            if is_count(column.name):
                return f"{name} > 0" if "quantity" in column.name.lower() or column.name.lower() == "qty" \
                    else f"{name} >= 0"
            if is_money(column.name):
                return f"{name} >= 0"
        if kind == "string" and is_status(column.name) and "ENUM" not in column.type_sql.upper() \
                and not _address_part(table, column):
            name = quote(snapshot.dialect, column.name)
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
    blocking_evidence = ("violating_rows",)

    def check_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        for table in snapshot.tables:
            conditions = [(check.name or "check", check.sqltext) for check in table.check_constraints
                          if not check.validated or not trusts_declared_checks(snapshot.dialect)]
            for column in table.columns:
                condition = MissingCheckConstraint._condition(snapshot, table, column)
                if condition and "…" not in condition and not _has_check_on(table, column.name):
                    conditions.append((column.name, condition))
            for label, condition in conditions:
                evidence = self.measure(f"{table.qualified_name} CHECK ({condition})",
                                        functools.partial(probe.violations, table, condition))
                if evidence is None or not evidence.count:
                    continue
                columns = (label,) if table.has_column(label) else ()
                yield self.finding(
                    table, columns, f"{evidence.count} row(s) of {table.qualified_name} break ({condition}), "
                    f"e.g. {evidence.samples[:3]}", evidence={**evidence.to_dict("violating_rows"),
                                                              "condition": condition},
                    changes=Changes(snapshot.dialect, (ReviewRows(TableName.of(table), "correct these rows first",
                                                                  condition),)))


def trusts_declared_checks(dialect: str) -> bool:
    """Whether a CHECK the catalog calls valid holds for every row: MySQL/MariaDB let rows in past their CHECKs
    (``SET check_constraint_checks=0``, a CHECK added by an older server) and cannot say so, PostgreSQL records it."""
    return dialect not in ("mysql", "mariadb")


@dataclass(frozen=True)
class _Derivation:
    """``parent.total`` should equal ``SUM(child.quantity * child.price)`` over the child rows of ``reference``."""

    parent: Table
    total: Column
    child: Table
    reference: str
    quantity: str
    price: str
    link: str


def _total_column(table: Table) -> Column | None:
    """The one money-like total of a table whose only money column it is: with tax, shipping or a discount beside
    it, the total is not just the sum of the lines, and the rule does not guess the formula."""
    totals = [c for c in table.columns if _is_total(c.name) and family(c) in ("integer", "numeric", "float")]
    others = [c for c in table.columns if is_money(c.name) and c not in totals]
    return totals[0] if len(totals) == 1 and not others else None


def _is_total(name: str) -> bool:
    parts = words(name)
    return parts in (["total"], ["total", "amount"], ["total", "price"]) or (len(parts) > 1 and parts[-1] == "total")


def _one(columns: list[Column], preferred: tuple[str, ...]) -> str | None:
    for name in preferred:
        exact = [c.name for c in columns if "_".join(words(c.name)) == name]
        if len(exact) == 1:
            return exact[0]
    return columns[0].name if len(columns) == 1 else None


def _quantity_and_price(table: Table) -> tuple[str, str] | None:
    numbers = [c for c in table.columns if family(c) in ("integer", "numeric", "float")]
    quantities = [c for c in numbers if words(c.name)[-1:] in (["quantity"], ["qty"])]
    # A line's `total_price` or `list_price` is not what one unit was charged.
    prices = [c for c in numbers if words(c.name)[-1:] == ["price"]
              and not {"total", "line", "list", "original"} & set(words(c.name))]
    quantity, price = _one(quantities, ("quantity", "qty")), _one(prices, ("unit_price", "price"))
    return (quantity, price) if quantity and price else None


def _derivations(snapshot: Snapshot) -> Iterator[_Derivation]:
    inferred: dict[tuple[str | None, str], list[tuple[str, str | None, str, str]]] = {}
    for finding in MissingForeignKey().check(snapshot):
        target = finding.target or {}
        inferred.setdefault((finding.schema, finding.table), []).append(
            (finding.columns[0], target.get("schema"), target["table"], target["columns"][0]))
    for parent in snapshot.tables:
        total = _total_column(parent)
        pk = parent.primary_key.columns if parent.primary_key else ()
        if total is None or len(pk) != 1:
            continue
        found = []
        for child in snapshot.tables:
            lines = _quantity_and_price(child) if child is not parent else None
            if lines is None:
                continue
            links = [(fk.columns[0], "declared foreign key") for fk in child.foreign_keys
                     if len(fk.columns) == 1 and snapshot.referred_table(fk) is parent and fk.referred_columns == pk]
            links += [(column, "inferred reference (as missing-foreign-key)")
                      for column, schema, name, key in inferred.get((child.schema, child.name), ())
                      if (schema, name, key) == (parent.schema, parent.name, pk[0])]
            if len(links) == 1:  # two references to one parent (order_id, refund_of_order_id): no guessing
                found.append(_Derivation(parent, total, child, links[0][0], *lines, links[0][1]))
        # Several line tables for one parent: prefer the one named after it (order_items for orders).
        named = [d for d in found if table_key(d.child.name).startswith(table_key(parent.name))]
        chosen = found if len(found) == 1 else named
        if len(chosen) == 1:
            yield chosen[0]


class DerivedTotalMismatch(DataRule):
    """A stored total that disagrees with the sum of its own lines.

    ## What it checks

    A table with one money-like total column (`total`, `total_amount`, `*_total`) and no other money column, and
    a line table that refers to it (a declared foreign key, or the reference `missing-foreign-key` infers) with
    a quantity and a unit price column (`quantity`/`qty`, `unit_price`/`price`). One grouped outer join counts the
    parents whose total differs from `SUM(quantity * unit_price)` of their lines by more than half a unit of the
    total's last decimal (for floating-point columns half a cent plus a millionth of the total: MySQL's `FLOAT`
    keeps about seven digits);
    a parent without lines sums to 0, a NULL total is not judged. Ambiguous shapes are skipped rather than
    guessed: tax, shipping or discount columns beside the total, two references from one line table, or two
    line tables where neither is named after the parent. With `--no-data` the rule does not run: only the rows
    can say whether totals agree. `--sample-rows N` examines N parents, each with all its lines.

    ## Why it matters

    The customer was charged the total, the warehouse ships the lines: when they disagree, one of them is wrong,
    and every report that sums orders disagrees with every report that sums order lines. It happens when a total
    is computed in application code and a line is edited later, or written in a different transaction.

    ## Example

    ```sql
    INSERT INTO orders (id, total_amount) VALUES (7, 30.00);
    INSERT INTO order_items (order_id, quantity, price) VALUES (7, 2, 10.00);  -- the lines sum to 20.00
    ```

    ## How to fix

    Decide for each listed row which side is right (the evidence shows both sums). If the lines are, recompute
    the totals from them (the fix's `UPDATE`, reviewed first). Then stop the drift: write the total in the same
    transaction as its lines, from the lines, or stop storing it and sum the lines when reading.
    """

    code = "IK304"
    name = "derived-total-mismatch"
    severity = Severity.ERROR
    summary = "A stored total disagrees with the sum of its lines (quantity x unit price)."
    blocking_evidence = ("mismatched_rows",)

    def check_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        for d in _derivations(snapshot):
            tolerance, relative = _tolerance(d.total)
            formula = f"SUM({d.child.name}.{d.quantity} * {d.child.name}.{d.price})"
            evidence = self.measure(f"{d.parent.qualified_name}.{d.total.name} = {formula}",
                                    functools.partial(probe.derived_totals, d.parent, d.total.name, d.child,
                                                      d.reference, d.quantity, d.price, tolerance=tolerance,
                                                      relative=relative))
            if evidence is None or not evidence.count:
                continue
            shown = "; ".join(f"{s['key']}: {s['total']} stored, {s['items_total']} from the lines"
                              for s in evidence.samples[:3])
            yield self.finding(
                d.parent, (d.total.name,), f"{evidence.count} of {evidence.rows_checked} row(s) of "
                f"{d.parent.qualified_name} have a {d.total.name} that differs from their {d.child.name} lines "
                f"({formula} by {d.reference}), e.g. {shown}",
                confidence=0.95 if d.link.startswith("declared") else 0.8,
                target={"table": d.child.name, "columns": [d.quantity, d.price],
                        **({"schema": d.child.schema} if d.child.schema else {})},
                evidence={**{k: v for k, v in evidence.to_dict("mismatched_rows").items() if k != "sample_keys"},
                          "sample_keys": [s["key"] for s in evidence.samples], "sample_totals": evidence.samples,
                          "formula": formula, "joined_by": f"{d.child.name}.{d.reference} ({d.link})",
                          "tolerance": tolerance, **({"relative_tolerance": relative} if relative else {})},
                changes=Changes(snapshot.dialect, (RecomputeTotals(
                    TableName.of(d.parent), d.parent.primary_key.columns[0] if d.parent.primary_key else "",
                    d.total.name, TableName.of(d.child), d.reference, d.quantity, d.price, tolerance, relative),)))


def _tolerance(total: Column) -> tuple[float, float]:
    """Half a unit of the total's last decimal; floating-point totals get half a cent and a millionth of the total
    more (a 4-byte FLOAT keeps about seven digits)."""
    kind = family(total)
    if kind == "integer":
        return 0.5, 0.0
    scale = getattr(total.type, "scale", None)
    if kind == "numeric" and scale is not None:
        return 0.5 * 10 ** -scale, 0.0
    return 0.005, (1e-6 if kind == "float" else 0.0)


def _condition_of(finding: Finding) -> str | None:
    condition = finding.evidence.get("condition")
    return None if not condition or "…" in condition else str(condition)
