"""Types: money in binary floating point, PostgreSQL's money type, timestamps without a zone, sentinel defaults."""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

from sqlalchemy import types as sqltypes

from integrity_kit.audit.changes import (
    MONEY,
    Changes,
    ChangeType,
    DropDefault,
    KeptAttributes,
    Operation,
    SaType,
    TableName,
    quote,
    sa_type,
)
from integrity_kit.audit.columns import is_money
from integrity_kit.audit.evidence import judged
from integrity_kit.audit.model import Finding, Rule, Severity
from integrity_kit.audit.naming import family, singular, words
from integrity_kit.audit.probes import Probe
from integrity_kit.schema import Column, Snapshot, Table


def _change_type(dialect: str, table: Table, column: Column, new_sql: str, new_type: SaType) -> Changes:
    return Changes(dialect, (ChangeType(TableName.of(table), column.name, new_sql, new_type,
                                        sa_type(column, dialect), column.nullable,
                                        KeptAttributes.of(column, dialect)),))


def without_blocked_type_change(finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding:
    """``finding`` without its type change when views or rules use the column: PostgreSQL refuses to change it
    ("cannot alter type of a column used by a view or rule"), so the fix is to drop and recreate them around it,
    a person's job; the finding names them."""
    table = snapshot.table(finding.table, finding.schema)
    users = probe.dependents(table, finding.columns[0])
    if not users:
        return finding
    return dataclasses.replace(
        finding, message=f"{finding.message}; {', '.join(users[:3])} use(s) it: drop and recreate "
        f"{'them' if len(users) > 1 else 'it'} around the type change", evidence={**finding.evidence,
                                                                                  "used_by": users},
        fix=None, changes=None)


def _planned_type_change(rule: Rule, finding: Finding) -> tuple[Operation, ...] | None:
    return rule.schema_changes(finding) if finding.changes is not None else None


def _exact_cents(dialect: str, column: str) -> str:
    if dialect == "postgresql":  # round() takes numeric, not double precision, with a scale
        return f"CAST({column} AS NUMERIC) = ROUND(CAST({column} AS NUMERIC), 2)"
    return f"{column} = ROUND({column}, 2)"


# Words that say money only with help: from money siblings (a `freight` beside a `unit_price`) or the values.
COST_WORDS = frozenset({"freight", "shipping", "postage", "handling", "commission", "surcharge", "tip", "fare",
                        "rent", "deposit", "budget", "income", "bonus", "premium", "spend", "spent", "credit",
                        "debit", "earnings", "proceeds", "value"})
# Table names whose rows are commercial documents: their floating-point columns are likelier money.
COMMERCIAL_WORDS = frozenset({"order", "invoice", "payment", "sale", "purchase", "cart", "shipment", "bill",
                              "transaction", "refund", "quote", "subscription", "product", "price", "account"})


def money_score(table: Table, column: Column) -> tuple[float, list[str]]:
    """How much the schema alone says a column holds money: its name, its money siblings and its table."""
    parts = set(words(column.name))
    signals: list[str] = []
    score = 0.0
    if is_money(column.name):
        score += 0.6
        signals.append(f"name {column.name} says money")
    elif parts & COST_WORDS:
        score += 0.3
        signals.append(f"name {column.name} may be an amount")
    siblings = [other.name for other in table.columns if other is not column and _money_column(other)]
    if siblings:
        score += 0.2
        signals.append(f"beside money column(s) {', '.join(siblings[:3])}")
    if {singular(part) for part in words(table.name)} & COMMERCIAL_WORDS:
        score += 0.1
        signals.append(f"table {table.name} holds commercial rows")
    return score, signals


def _money_column(column: Column) -> bool:
    scale = getattr(column.type, "scale", None)
    decimal_money = family(column) == "numeric" and scale == 2
    return (is_money(column.name) and family(column) in ("integer", "numeric", "float")) or decimal_money \
        or column.type_sql.upper() == "MONEY"


class FloatForMoney(Rule):
    """Money stored as binary floating point.

    ## What it checks

    `REAL`, `FLOAT` and `DOUBLE` columns that hold money, judged from several signals: a name that says money
    (`price`, `amount`, `total`, `cost`, `fee`, …), or one that may be an amount (`freight`, `shipping`,
    `commission`) beside money columns (`price`, `total`, `amount` in the same table) or in a table of commercial
    rows (`orders`, `invoices`). With data the values decide: a column whose values all lie between 0
    and 1 with fractions among them is a ratio (a `discount` of 0.15), not money, and is not reported; a column
    found by its siblings is reported only when its values look like amounts (at most two decimals, some of
    them 1 or more).

    ## Why it matters

    Binary floating point cannot hold 0.10 exactly: `0.1 + 0.2` is `0.30000000000000004`, sums of many prices
    drift by cents, and equality tests on totals fail.

    ## Example

    ```sql
    CREATE TABLE orders (id INTEGER PRIMARY KEY, total_amount FLOAT NOT NULL);
    ```

    ## How to fix

    Use `NUMERIC(12, 2)` (`DECIMAL` on MySQL) and `Decimal` in Python. On PostgreSQL the type change rewrites the
    table: on a big one, add a new column, backfill it in batches, switch, drop the old one. PostgreSQL refuses
    it while views or rules use the column: the finding names them and proposes no statement; drop and recreate
    them around the change.
    """

    code = "IK401"
    name = "float-for-money"
    severity = Severity.ERROR
    summary = "Money column uses binary floating point."

    # A word that may be an amount needs a money sibling or a commercial table besides (0.3 + 0.1 at least).
    REPORT_AT = 0.4

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        sql = "DECIMAL(12,2)" if snapshot.dialect in ("mysql", "mariadb") else "NUMERIC(12, 2)"
        for table in snapshot.tables:
            for column in table.columns:
                if family(column) != "float":
                    continue
                score, signals = money_score(table, column)
                if score < self.REPORT_AT:
                    continue
                yield self.finding(table, (column.name,), f"{table.qualified_name}.{column.name} stores money "
                                   f"as {column.type_sql}: cents drift", confidence=min(0.95, score + 0.2),
                                   evidence={"type": column.type_sql, "signals": signals,
                                             "named_as_money": is_money(column.name)},
                                   changes=_change_type(snapshot.dialect, table, column, sql, MONEY))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        """What the values say: a ratio between 0 and 1 is not money (dropped); a column found by its siblings
        must hold amounts; then whether every value is exact to the cent today (the type change loses nothing)."""
        table = snapshot.table(finding.table, finding.schema)
        name = finding.columns[0]
        values = probe.profile(table, name)
        if values.distinct:
            fraction = values.minimum is not None and values.maximum is not None and values.minimum >= 0 \
                and values.maximum <= 1 and values.distinct > 1
            if fraction:
                return None
            amounts = values.beyond_cents == 0 and (values.maximum or 0) >= 1
            if not finding.evidence.get("named_as_money") and not amounts:
                return None
            finding = dataclasses.replace(finding, evidence={
                **finding.evidence, "values": {"min": values.minimum, "max": values.maximum,
                                               "beyond_cents": values.beyond_cents}})
        seen = probe.violations(table, _exact_cents(snapshot.dialect, quote(snapshot.dialect, name)))
        judged_finding = judged(finding, seen, "inexact_values", "value(s) with fractions of a cent", blocks=False)
        return without_blocked_type_change(judged_finding, snapshot, probe)

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        return _planned_type_change(self, finding)

    def unplanned_reason(self, finding: Finding) -> str:
        return finding.message


class MoneyType(Rule):
    """PostgreSQL's `money` type.

    ## What it checks

    Columns of PostgreSQL's `money` type.

    ## Why it matters

    Its output and input follow the server's `lc_monetary` setting, so a dump restored under another locale
    reads different amounts; it has one fixed scale and no currency.

    ## Example

    ```sql
    CREATE TABLE invoices (id SERIAL PRIMARY KEY, total MONEY);
    ```

    ## How to fix

    `ALTER TABLE invoices ALTER COLUMN total TYPE NUMERIC(12, 2) USING total::numeric`, and a currency column if
    more than one is in use.
    """

    code = "IK402"
    name = "money-type"
    severity = Severity.WARNING
    summary = "PostgreSQL money type depends on the server locale."
    dialects = frozenset({"postgresql"})

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for column in table.columns:
                if column.type_sql.upper() == "MONEY":
                    yield self.finding(table, (column.name,), f"{table.qualified_name}.{column.name} uses the "
                                       "locale-dependent money type",
                                       changes=_change_type(snapshot.dialect, table, column, "NUMERIC(12, 2)",
                                                            MONEY))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        return without_blocked_type_change(finding, snapshot, probe)


class TimestampWithoutTimeZone(Rule):
    """A PostgreSQL `timestamp without time zone` column.

    ## What it checks

    PostgreSQL columns of type `timestamp` (without time zone). MySQL and SQLite have no zone-aware type to
    suggest, so the rule is quiet there.

    ## Why it matters

    The value means whatever zone the writer had in mind: servers in two zones, or one daylight-saving change,
    and "created at 01:30" is ambiguous or an hour off.

    ## Example

    ```sql
    CREATE TABLE orders (id SERIAL PRIMARY KEY, created_at TIMESTAMP DEFAULT now());
    ```

    ## How to fix

    `ALTER TABLE orders ALTER COLUMN created_at TYPE timestamptz USING created_at AT TIME ZONE 'UTC'` (name the
    zone the values were written in), and `DateTime(timezone=True)` in the models. PostgreSQL refuses the change
    while views or rules use the column (sakila's partition rules on `payment`): the finding names them and
    proposes no statement; drop and recreate them around it.
    """

    code = "IK403"
    name = "timestamp-without-time-zone"
    severity = Severity.WARNING
    summary = "Timestamp column stores no time zone (PostgreSQL)."
    dialects = frozenset({"postgresql"})

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for column in table.columns:
                if isinstance(column.type, sqltypes.DateTime) and not column.type.timezone:
                    yield self.finding(table, (column.name,), f"{table.qualified_name}.{column.name} is a timestamp "
                                       "without time zone",
                                       changes=_change_type(snapshot.dialect, table, column,
                                                            "TIMESTAMP WITH TIME ZONE",
                                                            SaType("sa.DateTime(timezone=True)")))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        return without_blocked_type_change(finding, snapshot, probe)


class SentinelDefaultOnReference(Rule):
    """`DEFAULT 0` (or `''`) on a column that refers to another row.

    ## What it checks

    Foreign key columns, and `*_id` columns, whose server default is `0`, `-1` or an empty string.

    ## Why it matters

    A sentinel is an orphan by construction: no row has id 0. Either the foreign key refuses every insert that
    relies on the default, or (without the key) the data fills with references to nothing that every join drops.

    ## Example

    ```sql
    CREATE TABLE products (id INTEGER PRIMARY KEY, category_id INTEGER NOT NULL DEFAULT 0);
    ```

    ## How to fix

    Drop the default; use NULL for "none" (and a nullable column), or require the value.
    """

    code = "IK404"
    name = "sentinel-default-on-reference"
    severity = Severity.WARNING
    summary = "Reference column defaults to a sentinel such as 0."

    SENTINELS = {"0", "-1", "''", "'0'", "('0')", "(0)", "'-1'"}

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            referencing = {column for fk in table.foreign_keys for column in fk.columns}
            for column in table.columns:
                parts = words(column.name)
                is_reference = column.name in referencing or (len(parts) > 1 and parts[-1] == "id")
                default = (column.server_default or "").strip().lower()
                if is_reference and default.replace("::integer", "") in self.SENTINELS:
                    yield self.finding(
                        table, (column.name,), f"{table.qualified_name}.{column.name} defaults to {default}, "
                        "which refers to no row", evidence={"server_default": column.server_default},
                        changes=Changes(snapshot.dialect, (DropDefault(TableName.of(table), column.name),)))
