"""Indexes: redundant, invalid, or none at all."""

from __future__ import annotations

import ast
import dataclasses
from collections import defaultdict
from collections.abc import Iterator
from typing import Any, TypeVar

from integrity_kit.audit.changes import (
    AddForeignKey,
    AddPrimaryKey,
    AttachIndex,
    Changes,
    CreateIndex,
    CreateIndexConcurrently,
    DropIndex,
    Operation,
    TableName,
    constraint_name,
)
from integrity_kit.audit.model import Finding, Rule, Severity
from integrity_kit.schema import ForeignKey, Index, Snapshot, Table
from integrity_kit.schema.snapshot import Partition


def _drop(dialect: str, table: Table, index: Index) -> Changes:
    columns = None if index.has_expressions else tuple(c for c in index.columns if c)
    return Changes(dialect, (DropIndex(TableName.of(table), index.name or "", columns, index.unique),))


def _options(index: Index) -> dict[str, str]:
    return dict(index.options)


def _prefix_lengths(index: Index) -> dict[str, int]:
    """MySQL/MariaDB prefix lengths (``name(10)``) by column; a column not listed is indexed whole."""
    text = _options(index).get("mysql_length")
    if not text:
        return {}
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return {"": -1}  # unreadable: treated as a length no other index matches
    return {str(key): int(length) for key, length in value.items()} if isinstance(value, dict) else {}


def _method(index: Index) -> str:
    """The access method, MySQL's FULLTEXT/SPATIAL/HASH included; btree when the engine reports none."""
    options = _options(index)
    return (options.get("mysql_prefix") or options.get("mysql_using") or index.method or "btree").lower()


def _at(values: tuple[str | None, ...], position: int) -> str | None:
    return values[position] if position < len(values) else None


def _part(index: Index, position: int) -> tuple[str | None, str | None, str | None, str | None, tuple[str, ...]]:
    """What a key part compares and sorts by: column or expression, collation, operator class and ordering."""
    column = index.columns[position]
    expression = _at(index.expressions, position)
    sorting = dict(index.sorting).get(column or expression or "", ())
    return column, expression, _at(index.collations, position), _at(index.opclasses, position), tuple(sorting)


def _covers(wider: Index, narrower: Index) -> bool:
    """``wider`` serves every lookup ``narrower`` serves and enforces at least what it enforces.

    Conservative on purpose: the same method, the same predicate (a partial index never covers a full one, and a
    full one is not taken to cover a partial one), ``narrower``'s key parts leading ``wider``'s in order with the
    same column or expression, collation, operator class and ordering, a prefix (``name(10)``) no longer than
    ``wider``'s, ``narrower``'s INCLUDE columns in ``wider``, and a unique index only beside an identical unique one.
    """
    if wider is narrower or not wider.valid:
        return False
    if (wider.predicate or "") != (narrower.predicate or "") or _method(wider) != _method(narrower):
        return False
    width = len(narrower.columns)
    if len(wider.columns) < width:
        return False
    wide_lengths, narrow_lengths = _prefix_lengths(wider), _prefix_lengths(narrower)
    for position in range(width):
        if _part(wider, position) != _part(narrower, position):
            return False
        column = narrower.columns[position] or ""
        # A whole-column part serves every lookup a prefix of it serves; a prefix never serves the whole column.
        wide, narrow = wide_lengths.get(column), narrow_lengths.get(column)
        if wide is not None and (narrow is None or wide < narrow):
            return False
    if narrower.include and not set(narrower.include) <= set(wider.columns) | set(wider.include):
        return False
    if narrower.unique:  # only an identical unique index can stand in for a unique one
        return (wider.unique and len(wider.columns) == width and wide_lengths == narrow_lengths
                and _options(wider).get("postgresql_nulls_not_distinct") ==
                _options(narrower).get("postgresql_nulls_not_distinct"))
    return True


class RedundantIndex(Rule):
    """An index that another index already covers.

    ## What it checks

    Indexes whose key parts lead another valid index (an index on `(a)` beside one on `(a, b)`), and exact
    duplicates. Each key part must match in everything that decides which lookups it serves: the column or
    expression (`lower(name)` is not `name`), the collation (`name COLLATE "C"` is not `name`), the operator
    class (`text_pattern_ops`, `jsonb_path_ops`), the ordering, and on MySQL/MariaDB the prefix length (an index
    on `name` covers one on `name(10)`, never the reverse). Both need the same method (btree, hash, GIN, GiST,
    BRIN, FULLTEXT, SPATIAL) and the same predicate (a partial index never covers a full one, nor a full one a
    partial one), and the covering index must hold the other's INCLUDE columns. A unique index is only redundant
    beside an identical unique index, and one that backs a constraint is never reported. The finding names the
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
                identical = _covers(index, best)  # each covers the other: keep one of the two
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

    On a partitioned table, also an index of the parent that stays invalid because some partitions have no index
    attached to it (a `CREATE INDEX ... ON ONLY` never completed), and the invalid indexes of its partitions,
    reported once for the table with the partitions named.

    ## How to fix

    Drop it and build it again (`DROP INDEX CONCURRENTLY …; CREATE INDEX CONCURRENTLY …`), after fixing what made
    the build fail. A partitioned table's index is completed instead: build the missing partitions' indexes
    concurrently and attach them (`ALTER INDEX … ATTACH PARTITION …`).
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
                    yield self._parent_index(snapshot, table, index)
            yield from self._partition_indexes(snapshot, table)

    def _parent_index(self, snapshot: Snapshot, table: Table, index: Index) -> Finding:
        columns = tuple(c for c in index.columns if c)
        unattached = _unattached(table, index)
        if unattached is None:
            return self.finding(table, columns, f"index {index.name} on {table.qualified_name} is invalid: never "
                                "read, always written", evidence={"index": index.name},
                                changes=_drop(snapshot.dialect, table, index))
        name = TableName.of(table)
        operations: list[Operation] = []
        for partition in unattached:
            child = constraint_name("uq" if index.unique else "ix", partition, columns)
            operations += [CreateIndexConcurrently(name.sibling(partition), child, columns, index.unique),
                           AttachIndex(name, index.name or "", child)]
        return self.finding(table, columns, f"index {index.name} on {table.qualified_name} is invalid: partition(s) "
                            f"{_listed(unattached)} have no index attached to it, so no query uses it",
                            evidence={"index": index.name, "partitions_unattached": unattached},
                            changes=Changes(snapshot.dialect, tuple(operations)))

    def _partition_indexes(self, snapshot: Snapshot, table: Table) -> Iterator[Finding]:
        broken: dict[Signature, list[tuple[str, Index]]] = defaultdict(list)
        for partition in table.partition_tree:
            for index in partition.indexes:
                if not index.valid:
                    broken[_signature(index)].append((partition.name, index))
        name = TableName.of(table)
        for found in sorted(broken.values(), key=lambda pairs: [partition for partition, _index in pairs]):
            partitions = [partition for partition, _index in found]
            example = found[0][1]
            columns = tuple(c for c in example.columns if c)
            drops = tuple(DropIndex(name.sibling(partition), index.name or "",
                                    None if index.has_expressions else columns, index.unique)
                          for partition, index in found)
            yield self.finding(table, columns, f"partition(s) {_listed(partitions)} of {table.qualified_name} hold "
                               f"invalid index(es) {_listed([index.name or '' for _p, index in found])}: never read, "
                               "always written", target={"table": partitions[0], "columns": list(columns)},
                               evidence={"indexes": [index.name for _p, index in found], "partitions": partitions},
                               changes=Changes(snapshot.dialect, drops))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


def _unattached(table: Table, index: Index) -> list[str] | None:
    """The partitions of ``table`` with no valid index attached to its invalid ``index``, when attaching theirs is
    all it takes (a plain index, one level of partitions); None otherwise."""
    if not table.partition_tree or not _plain(dataclasses.replace(index, valid=True)):
        return None
    if any(p.partitioned or not p.declarative or p.parent != table.name for p in table.partition_tree):
        return None
    missing = []
    for partition in table.partition_tree:
        attached = [child for child in partition.indexes if child.parent_index == index.name]
        if any(not child.valid for child in attached):
            return None  # a broken child: dropping and building again is the clear way
        if not attached:
            missing.append(partition.name)
    return missing or None


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


T = TypeVar("T")

# What makes two indexes (or two foreign keys) the same, whatever they are called.
Signature = tuple[object, ...]


def _signature(index: Index) -> Signature:
    return (index.columns, index.expressions, index.unique, index.predicate, index.method or "btree", index.include,
            index.sorting, index.collations, index.opclasses, index.options)


def _listed(names: list[str], shown: int = 5) -> str:
    """Names for a message, the first few of a long list (the evidence holds them all)."""
    if len(names) <= shown:
        return ", ".join(names)
    return f"{', '.join(names[:shown])} and {len(names) - shown} more"


def _siblings(table: Table) -> dict[str, list[Partition]]:
    """The partitions of ``table`` by their immediate parent: siblings share one."""
    siblings: dict[str, list[Partition]] = defaultdict(list)
    for partition in table.partition_tree:
        siblings[partition.parent].append(partition)
    return siblings


def _gaps(having: dict[Signature, dict[str, T]],
          partitions: list[Partition]) -> Iterator[tuple[dict[str, T], list[str]]]:
    """For each thing most of ``partitions`` have (by partition name) and some lack: who has it, who lacks it.

    Most, and at least two: one index on one partition of three is a choice (a hot partition), not a gap."""
    for found in sorted(having.values(), key=sorted):
        if len(found) < 2 or len(found) * 2 <= len(partitions) or len(found) == len(partitions):
            continue
        yield found, sorted(p.name for p in partitions if p.name not in found)


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
            siblings = _siblings(table)
            for parent in sorted(siblings):
                yield from self._check_siblings(snapshot, table, parent, siblings[parent])

    def _check_siblings(self, snapshot: Snapshot, table: Table, parent: str,
                        partitions: list[Partition]) -> Iterator[Finding]:
        having: dict[Signature, dict[str, Index]] = defaultdict(dict)
        for partition in partitions:
            for index in partition.indexes:
                if index.valid and index.parent_index is None:
                    having[_signature(index)].setdefault(partition.name, index)
        for found, lacking in _gaps(having, partitions):
            example = found[sorted(found)[0]]
            columns = tuple(c for c in example.columns if c)
            parts = ", ".join(c if c else (e or "?") for c, e in zip(example.columns, example.expressions or
                                                                     (None,) * len(example.columns), strict=True))
            message = (f"partition(s) {_listed(lacking)} of {table.qualified_name} lack the "
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
            # A parent index adopts the partitions' own and builds the missing ones (audit.changes, partitioned tables).
            return Changes(snapshot.dialect, (CreateIndex(name, columns),))
        prefix = "uq" if example.unique else "ix"
        return Changes(snapshot.dialect, tuple(
            CreateIndexConcurrently(name.sibling(partition), constraint_name(prefix, partition, columns), columns,
                                    example.unique, undo=True) for partition in lacking))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        return self.schema_changes(finding) if finding.changes is not None else None


class PartitionMissingSiblingForeignKey(Rule):
    """A partition that lacks a foreign key its sibling partitions declare.

    ## What it checks

    On a partitioned PostgreSQL table, the foreign keys each partition declares itself (not the copies of the
    parent's keys): when most partitions of one parent have the same key (same columns, same referenced table and
    columns) and some do not, the finding names the partitions that lack it. It is reported once for the table,
    never per partition.

    ## Why it matters

    Rows of the partition that lacks the key may point at nothing, and nothing says so: the table looks protected
    because most of it is. The usual history is a partition created or attached later, after the keys were added
    partition by partition (the way inheritance partitioning, and PostgreSQL before 11, had to).

    ## Example

    ```sql
    CREATE TABLE payments (id INTEGER, customer_id INTEGER, paid_on DATE) PARTITION BY RANGE (paid_on);
    CREATE TABLE payments_2024 PARTITION OF payments FOR VALUES FROM ('2024-01-01') TO ('2025-01-01');
    CREATE TABLE payments_2025 PARTITION OF payments FOR VALUES FROM ('2025-01-01') TO ('2026-01-01');
    ALTER TABLE payments_2024 ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
    ALTER TABLE payments_2025 ADD FOREIGN KEY (customer_id) REFERENCES customers (id);
    CREATE TABLE payments_2026 PARTITION OF payments FOR VALUES FROM ('2026-01-01') TO ('2027-01-01');  -- none
    ```

    ## How to fix

    Add the key to each partition that lacks it, `NOT VALID` then `VALIDATE CONSTRAINT` (a short lock, then a scan
    that lets writes through). Once every partition has it validated, adding it to the parent adopts the
    partitions' keys without another scan, and partitions attached later get it by themselves.
    """

    code = "IK505"
    name = "partition-missing-sibling-foreign-key"
    severity = Severity.WARNING
    summary = "Partition lacks a foreign key its sibling partitions have."
    dialects = frozenset({"postgresql"})

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            siblings = _siblings(table)
            for parent in sorted(siblings):
                partitions = siblings[parent]
                having: dict[Signature, dict[str, ForeignKey]] = defaultdict(dict)
                for partition in partitions:
                    for fk in partition.foreign_keys:
                        having[(fk.columns, fk.referred_schema, fk.referred_table, fk.referred_columns)] \
                            .setdefault(partition.name, fk)
                for found, lacking in _gaps(having, partitions):
                    yield self._report(snapshot, table, partitions, found, lacking)

    def _report(self, snapshot: Snapshot, table: Table, partitions: list[Partition], found: dict[str, ForeignKey],
                lacking: list[str]) -> Finding:
        example = found[sorted(found)[0]]
        target: dict[str, Any] = {"table": example.referred_table, "columns": list(example.referred_columns)}
        if example.referred_schema:
            target["schema"] = example.referred_schema
        message = (f"partition(s) {_listed(lacking)} of {table.qualified_name} lack the foreign key "
                   f"({', '.join(example.columns)}) -> {example.referred} that {len(found)} of their "
                   f"{len(partitions)} sibling partitions have (e.g. {example.name} on {sorted(found)[0]})")
        levels = {partition.name: partition for partition in partitions}
        changes = None
        if not any(levels[name].partitioned for name in lacking):
            name = TableName.of(table)
            referred = TableName(example.referred_table, example.referred_schema)
            changes = Changes(snapshot.dialect, tuple(
                AddForeignKey(name.sibling(partition), example.columns, referred, example.referred_columns)
                for partition in lacking))
        return self.finding(table, example.columns, message, target=target, changes=changes,
                            evidence={"partitions_lacking": lacking, "partitions_with": sorted(found),
                                      "foreign_key": example.name})

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        return self.schema_changes(finding) if finding.changes is not None else None
