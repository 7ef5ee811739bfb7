"""Indexes: redundant, invalid, or none at all."""

from __future__ import annotations

from collections.abc import Iterator

from integrity_kit.audit.changes import AddPrimaryKey, Changes, DropIndex, Operation, TableName
from integrity_kit.audit.model import Finding, Rule, Severity
from integrity_kit.schema import Index, Snapshot, Table


def _drop(dialect: str, table: Table, index: Index) -> Changes:
    columns = None if index.has_expressions else tuple(c for c in index.columns if c)
    return Changes(dialect, (DropIndex(TableName.of(table), index.name or "", columns, index.unique),))


def _covers(wider: Index, narrower: Index) -> bool:
    """``wider`` serves every lookup ``narrower`` serves: same kind, same predicate, narrower's key parts leading
    in the same order with the same sorting, and it enforces at least what ``narrower`` enforces."""
    if wider is narrower or not wider.valid or wider.has_expressions or narrower.has_expressions:
        return False
    if (wider.predicate or "") != (narrower.predicate or "") or (wider.method or "") != (narrower.method or ""):
        return False
    width = len(narrower.columns)
    if wider.columns[:width] != narrower.columns:
        return False
    if narrower.sorting and wider.sorting[:width] != narrower.sorting:
        return False
    if narrower.include and not set(narrower.include) <= set(wider.columns) | set(wider.include):
        return False
    if narrower.unique:  # only an identical unique index can stand in for a unique one
        return wider.unique and len(wider.columns) == width
    return True


class RedundantIndex(Rule):
    """An index that another index already covers.

    ## What it checks

    Plain indexes whose key columns are the leading columns of another valid index with the same predicate,
    method and sorting (an index on `(a)` beside one on `(a, b)`), and exact duplicates. Unique indexes are only
    redundant beside an identical unique index; expression indexes are left alone. The finding names the
    covering index.

    ## Why it matters

    Every index is written on every insert and update and takes memory the useful indexes need, for no read it
    can serve better than the one that covers it.

    ## Example

    ```sql
    CREATE INDEX ix_orders_user_id ON orders (user_id);
    CREATE INDEX ix_orders_user_id_status ON orders (user_id, status);  -- covers the first
    ```

    ## How to fix

    Drop the redundant index (`DROP INDEX CONCURRENTLY` on PostgreSQL) after checking no query hint names it.
    """

    code = "IK501"
    name = "redundant-index"
    severity = Severity.WARNING
    summary = "Index is covered by another index."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            indexes = [index for index in table.indexes if index.name and not index.duplicates_constraint]
            for index in indexes:
                covering = [other for other in table.indexes if _covers(other, index)]
                if not covering:
                    continue
                # Of two identical indexes, report only the second by name, so one of them stays.
                best = sorted(covering, key=lambda other: (len(other.columns), other.name or ""))[0]
                identical = best.columns == index.columns and best.unique == index.unique
                if identical and (best.name or "") > (index.name or ""):
                    continue
                yield self.finding(table, tuple(c for c in index.columns if c),
                                   f"index {index.name} on {table.qualified_name} is covered by {best.name}",
                                   evidence={"index": index.name, "covered_by": best.name},
                                   changes=_drop(snapshot.dialect, table, index))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


class InvalidIndex(Rule):
    """An index PostgreSQL marked invalid.

    ## What it checks

    Indexes with `pg_index.indisvalid = false`, the remains of a `CREATE INDEX CONCURRENTLY` (or `REINDEX
    CONCURRENTLY`) that failed or was cancelled.

    ## Why it matters

    The index is never used to read, yet every write still maintains it; a unique one still rejects rows. It
    looks like protection and is only cost.

    ## Example

    ```sql
    CREATE UNIQUE INDEX CONCURRENTLY uq_users_email ON users (email);  -- fails on duplicates, left invalid
    ```

    ## How to fix

    Drop it and build it again (`DROP INDEX CONCURRENTLY …; CREATE INDEX CONCURRENTLY …`), after fixing what made
    the build fail.
    """

    code = "IK502"
    name = "invalid-index"
    severity = Severity.ERROR
    summary = "Index left invalid by a failed concurrent build."
    dialects = frozenset({"postgresql"})

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for index in table.indexes:
                if not index.valid:
                    yield self.finding(table, tuple(c for c in index.columns if c),
                                       f"index {index.name} on {table.qualified_name} is invalid: never read, "
                                       "always written", evidence={"index": index.name},
                                       changes=_drop(snapshot.dialect, table, index))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


class TableWithoutIndex(Rule):
    """A table with no index at all.

    ## What it checks

    Tables with no primary key, no unique constraint and no index.

    ## Why it matters

    Every lookup, join, update and delete reads the whole table; it is also the table nobody has looked at.

    ## Example

    ```sql
    CREATE TABLE events (happened_at TIMESTAMP, payload TEXT);
    ```

    ## How to fix

    Give it a primary key, and index the columns it is searched by.
    """

    code = "IK503"
    name = "table-without-index"
    severity = Severity.WARNING
    summary = "Table has no index, primary key or unique constraint."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            if table.partitioned or table.primary_key and table.primary_key.columns:
                continue
            if not table.indexes and not table.unique_constraints:
                yield self.finding(table, (), f"{table.qualified_name} has no index of any kind",
                                   evidence={"row_estimate": table.row_estimate},
                                   changes=Changes(snapshot.dialect, (AddPrimaryKey.surrogate(table),)))
