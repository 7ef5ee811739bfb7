"""Uniqueness: natural keys and line items that the database lets repeat."""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Iterator

from integrity_kit.audit.changes import AddUnique, Changes, DeleteDuplicates, Operation, TableName
from integrity_kit.audit.columns import is_natural_key
from integrity_kit.audit.evidence import deletion_headline, judged
from integrity_kit.audit.model import DataRule, Finding, Rule, Severity
from integrity_kit.audit.naming import singular, words
from integrity_kit.audit.probes import Probe
from integrity_kit.audit.rules.domain import MissingNotNull, nulls_evidence, set_not_null
from integrity_kit.schema import Index, Snapshot, Table


def unique_over(table: Table, columns: tuple[str, ...]) -> bool:
    """Whether a primary key, unique constraint or valid, non-partial unique index covers exactly ``columns``
    (a unique index on ``lower(email)`` counts for ``email``: it is stricter)."""
    wanted = frozenset(columns)
    if table.primary_key and frozenset(table.primary_key.columns) == wanted:
        return True
    if any(frozenset(u.columns) == wanted for u in table.unique_constraints):
        return True
    for index in table.indexes:
        if not index.unique or not index.valid or index.is_partial:
            continue
        parts = {column for column in index.columns if column is not None}
        for expression in index.expressions:
            if expression:
                parts |= {column for column in wanted if re.search(rf"\b{re.escape(column)}\b", expression)}
        if frozenset(parts) == wanted and len(index.columns) == len(wanted):
            return True
    return False


def _line_item_keys(_snapshot: Snapshot | None, table: Table) -> tuple[str, ...] | None:
    """``cart_items(cart_id, product_id)``: a table named after its parent's items or lines, with the parent's key
    and one other reference, holds one line per (parent, thing)."""
    name_words = words(table.name)
    if len(name_words) < 2 or singular(name_words[-1]) not in ("item", "line", "entry"):
        return None
    parent = "_".join(name_words[:-1])
    references = [column.name for column in table.columns
                  if column.name.lower().endswith("_id") and column.name != "id"]
    parent_key = next((name for name in references if singular(name[:-3].lower()) == singular(parent)), None)
    others = [name for name in references if name != parent_key]
    if parent_key is None or len(others) != 1:
        return None
    return (parent_key, others[0])


class MissingUniqueConstraint(Rule):
    """A natural key or a line-item pair without a unique constraint.

    ## What it checks

    Natural keys (`email`, `username`, `sku`, `slug`, `isbn`, `idempotency_key`, …) and line-item tables
    (`cart_items(cart_id, product_id)`, `order_lines(order_id, product_id)`) are covered by a primary key,
    a unique constraint or a valid, non-partial unique index (`lower(email)` counts).

    ## Why it matters

    Uniqueness checked in application code races: two requests both see "no such email" and both insert. A cart
    with the same product on two lines shows the wrong total and oversells at checkout.

    ## Example

    ```sql
    CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER, product_id INTEGER, quantity INTEGER);
    ```

    ## How to fix

    Merge or remove the duplicates (the evidence counts them), then add the constraint; on PostgreSQL build the
    unique index `CONCURRENTLY` first and attach it with `ADD CONSTRAINT … UNIQUE USING INDEX`.
    """

    code = "IK201"
    name = "missing-unique-constraint"
    severity = Severity.WARNING
    summary = "Natural key or line-item pair has no unique constraint."
    blocking_evidence = ("duplicate_groups",)
    # Planned before the other fixes: an index for a foreign key that a new unique key leads with is redundant.
    plan_order = 0

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for column in table.columns:
                if is_natural_key(column.name) and not unique_over(table, (column.name,)):
                    yield self.finding(table, (column.name,), f"{table.qualified_name}.{column.name} looks like a "
                                       "natural key but nothing keeps it unique",
                                       changes=_unique(snapshot.dialect, table, (column.name,)))
            pair = _line_item_keys(snapshot, table)
            if pair and not unique_over(table, pair):
                yield self.finding(table, pair, f"{table.qualified_name} can hold the same {pair[1][:-3]} twice "
                                   f"for one {pair[0][:-3]}: nothing keeps ({', '.join(pair)}) unique",
                                   changes=_unique(snapshot.dialect, table, pair))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding:
        table = snapshot.table(finding.table, finding.schema)
        seen = probe.duplicates(table, finding.columns)
        return judged(finding, seen, "duplicate_groups", "duplicated value(s)",
                      clean_up=DeleteDuplicates(TableName.of(table), finding.columns, _keep_by(table, finding.columns)))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


def _unique(dialect: str, table: Table, columns: tuple[str, ...]) -> Changes:
    return Changes(dialect, (AddUnique(TableName.of(table), columns),))


def _keep_by(table: Table, key: tuple[str, ...]) -> str:
    """The column whose lowest value marks the row of a duplicate group to keep (the oldest by key)."""
    return table.primary_key.columns[0] if table.primary_key and table.primary_key.columns else key[0]


class NullableUniqueColumn(Rule):
    """A unique natural key that allows NULL.

    ## What it checks

    Unique constraints and unique indexes over a natural-key column that is nullable. Its fix sets NOT NULL only
    where (almost) no row is NULL, as `missing-not-null`: a key NULL in more rows is optional by design, and the
    finding proposes no statement.

    ## Why it matters

    SQL treats NULLs as distinct, so any number of rows can have no email at all while each looks "unique".
    Lookups by the key then miss those rows, and a later NOT NULL migration fails.

    ## Example

    ```sql
    CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(255) UNIQUE);  -- NULL allowed
    ```

    ## How to fix

    Make the column NOT NULL once every row has a value, or (PostgreSQL 15+) declare `UNIQUE NULLS NOT DISTINCT`
    when one row without a value is meant.
    """

    code = "IK202"
    name = "nullable-unique-column"
    severity = Severity.WARNING
    summary = "Unique natural key allows NULL, and NULLs never collide."
    blocking_evidence = ("null_rows",)

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            uniques: list[tuple[str, ...]] = [u.columns for u in table.unique_constraints if not u.nulls_not_distinct]
            uniques += [tuple(c for c in index.columns if c) for index in table.indexes
                        if isinstance(index, Index) and index.unique and not index.has_expressions]
            reported = set()
            for columns in uniques:
                for name in columns:
                    if name in reported or not table.has_column(name) or not is_natural_key(name):
                        continue
                    column = table.column(name)
                    if column.nullable:
                        reported.add(name)
                        yield self.finding(table, (name,), f"{table.qualified_name}.{name} is unique but nullable: "
                                           "any number of rows can have no value",
                                           changes=set_not_null(snapshot.dialect, table, column))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        found = nulls_evidence(finding, snapshot, probe)
        if found is None:
            return None
        nulls, rows = found.evidence.get("null_rows", 0), found.evidence.get("rows_checked", 0)
        if nulls <= MissingNotNull.NULL_SHARE_AT_MOST * rows:
            return found
        return dataclasses.replace(
            found, message=f"{finding.message}; {nulls} of {rows} rows are NULL: optional by design, so NOT NULL is "
            "not proposed (a partial unique index, or NULLS NOT DISTINCT, says what is meant)", fix=None, changes=None)

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        return self.schema_changes(finding) if finding.changes is not None else None


def _implied_keys(table: Table) -> list[tuple[str, ...]]:
    """Keys the data should already respect: uncovered natural keys and line-item pairs, and unique indexes
    PostgreSQL left invalid (they enforce nothing for rows that were there before)."""
    keys: list[tuple[str, ...]] = [(column.name,) for column in table.columns
            if is_natural_key(column.name) and not unique_over(table, (column.name,))]
    pair = _line_item_keys(None, table)
    if pair and not unique_over(table, pair):
        keys.append(pair)
    keys += [tuple(c for c in index.columns if c) for index in table.indexes
             if index.unique and not index.valid and not index.has_expressions]
    return keys


class DuplicateRows(DataRule):
    """Rows that share a key the table should keep unique.

    ## What it checks

    Groups of rows (NULLs aside, as a unique constraint treats them) with the same natural key (`email`, `sku`,
    `slug`, …) or line-item pair (`cart_items(cart_id, product_id)`) where nothing enforces uniqueness, and under
    unique indexes PostgreSQL left invalid.

    ## Why it matters

    These are the rows a unique constraint would have refused: a customer who exists twice, a cart that shows one
    product on two lines. Adding the constraint fails until they are merged.

    ## Example

    ```sql
    INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (7, 42, 1), (7, 42, 2);
    ```

    ## How to fix

    Merge each group (sum the quantities, keep the oldest row), then add the unique constraint
    (see `missing-unique-constraint`).
    """

    code = "IK203"
    name = "duplicate-rows"
    severity = Severity.ERROR
    summary = "Rows share a key that should be unique."
    blocking_evidence = ("duplicate_groups",)

    def check_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        for table in snapshot.tables:
            for key in _implied_keys(table):
                evidence = self.measure(f"{table.qualified_name}({', '.join(key)})",
                                        functools.partial(probe.duplicates, table, key))
                if evidence is None or not evidence.count:
                    continue
                headline = deletion_headline(evidence)
                found = evidence.to_dict("duplicate_groups")
                if headline:
                    found.update(clean_up_deletes=evidence.deletes, table_rows=evidence.table_rows)
                yield self.finding(
                    table, key, f"{evidence.count} value(s) of ({', '.join(key)}) appear more than once in "
                    f"{table.qualified_name}{headline}, e.g. {evidence.samples[:3]}",
                    evidence=found,
                    changes=Changes(snapshot.dialect, (DeleteDuplicates(TableName.of(table), key,
                                                                        _keep_by(table, key)),)))
