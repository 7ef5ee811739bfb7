"""Indexes: redundant, invalid, or none at all."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator

from integrity_kit.audit.changes import (
    AddPrimaryKey,
    Changes,
    CreateIndex,
    CreateIndexConcurrently,
    DropIndex,
    Operation,
    TableName,
    constraint_name,
)
from integrity_kit.audit.model import Finding, Rule, Severity
from integrity_kit.schema import Index, Snapshot, Table
from integrity_kit.schema.snapshot import Partition


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


# What makes two indexes the same index, whatever they are called.
Signature = tuple[object, ...]


def _signature(index: Index) -> Signature:
    return (index.columns, index.expressions, index.unique, index.predicate, index.method or "btree", index.include,
            index.sorting, index.collations, index.opclasses, index.options)


def _plain(index: Index) -> bool:
    """An index on plain columns with every default: the change model can build it on another table."""
    return (index.valid and not index.has_expressions and not index.is_partial and not index.include
            and not index.sorting and not index.collations and not index.opclasses and not index.options
            and (index.method or "btree") == "btree" and all(index.columns))


class PartitionMissingSiblingIndex(Rule):
    """A partition that lacks an index its sibling partitions have.

    ## What it checks

    On a partitioned PostgreSQL table, the indexes each partition has of its own (not attached to an index of the
    parent): when most partitions of one parent have the same index (same key parts, uniqueness, method,
    predicate, INCLUDE columns, collations and operator classes) and some do not, the finding names the
    partitions that lack it and the ones that have it. It is reported once for the table, never per partition.

    ## Why it matters

    Queries that the index serves on the other partitions read the whole partition that lacks it, usually the
    newest one, which is also the busiest: the typical history is a partition created or attached later
    (`CREATE TABLE ... (LIKE ...)`, `ATTACH PARTITION`) after indexes were added partition by partition.

    ## Example

    ```sql
    CREATE TABLE orders (id INTEGER, customer_id INTEGER, placed_on DATE) PARTITION BY RANGE (placed_on);
    CREATE TABLE orders_2024 PARTITION OF orders FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE orders_2025 PARTITION OF orders FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    CREATE INDEX ix_orders_2024_customer_id ON orders_2024 (customer_id);
    CREATE INDEX ix_orders_2025_customer_id ON orders_2025 (customer_id);
    CREATE TABLE orders_2026 (LIKE orders);  -- attached later, without the index
    ALTER TABLE orders ATTACH PARTITION orders_2026 FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');
    ```

    ## How to fix

    Give the parent the index, so every partition, present and future, has it: `CREATE INDEX ... ON ONLY` the
    parent, then on each partition attach the index it has or build it with `CREATE INDEX CONCURRENTLY` and
    attach that (`ALTER INDEX ... ATTACH PARTITION`). A unique or otherwise special index is built on the
    partitions that lack it, with the definition of the siblings' index.
    """

    code = "IK504"
    name = "partition-missing-sibling-index"
    severity = Severity.WARNING
    summary = "Partition lacks an index its sibling partitions have."
    dialects = frozenset({"postgresql"})

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            siblings: dict[str, list[Partition]] = defaultdict(list)
            for partition in table.partition_tree:
                siblings[partition.parent].append(partition)
            for parent in sorted(siblings):
                yield from self._check_siblings(snapshot, table, parent, siblings[parent])

    def _check_siblings(self, snapshot: Snapshot, table: Table, parent: str,
                        partitions: list[Partition]) -> Iterator[Finding]:
        having: dict[Signature, dict[str, Index]] = defaultdict(dict)
        for partition in partitions:
            for index in partition.indexes:
                if index.valid and index.parent_index is None:
                    having[_signature(index)].setdefault(partition.name, index)
        for found in sorted(having.values(), key=sorted):
            # Most siblings have it: the others lack it (an index on one partition of three is a choice).
            if len(found) < 2 or len(found) * 2 <= len(partitions) or len(found) == len(partitions):
                continue
            lacking = sorted(p.name for p in partitions if p.name not in found)
            example = found[sorted(found)[0]]
            columns = tuple(c for c in example.columns if c)
            parts = ", ".join(c if c else (e or "?") for c, e in zip(example.columns, example.expressions or
                                                                     (None,) * len(example.columns), strict=True))
            message = (f"partition(s) {', '.join(lacking)} of {table.qualified_name} lack the "
                       f"{'unique ' if example.unique else ''}index on ({parts}) that {len(found)} of their "
                       f"{len(partitions)} sibling partitions have (e.g. {example.name} on {sorted(found)[0]})")
            yield self.finding(table, columns, message,
                               evidence={"partitions_lacking": lacking, "partitions_with": sorted(found),
                                         "index": example.name, "level": parent},
                               changes=self._changes(snapshot, table, parent, example, lacking))

    @staticmethod
    def _changes(snapshot: Snapshot, table: Table, parent: str, example: Index,
                 lacking: list[str]) -> Changes | None:
        if not _plain(example):
            return None
        columns = tuple(c for c in example.columns if c)
        name = TableName.of(table)
        if not example.unique and parent == table.name:
            # A parent index adopts the partitions' own and builds the missing ones (see audit.partitions).
            return Changes(snapshot.dialect, (CreateIndex(name, columns),))
        prefix = "uq" if example.unique else "ix"
        return Changes(snapshot.dialect, tuple(
            CreateIndexConcurrently(name.sibling(partition), constraint_name(prefix, partition, columns), columns,
                                    example.unique, undo=True) for partition in lacking))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        return self.schema_changes(finding) if finding.changes is not None else None
