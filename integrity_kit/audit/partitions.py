"""The forms a fix takes on a partitioned PostgreSQL table, as sequences of the change model's operations.

PostgreSQL refuses the usual safe forms on a partitioned table: ``CREATE INDEX CONCURRENTLY`` ("cannot create
index on partitioned table concurrently") and ``ADD CONSTRAINT ... FOREIGN KEY ... NOT VALID`` ("cannot add NOT
VALID foreign key on partitioned table"; foreign keys from partitioned tables exist since PostgreSQL 11, to them
since 12). The sequences here reach the same end without a long lock:

- an index: ``CREATE INDEX ... ON ONLY`` the parent (instant, invalid), then for each partition ``CREATE INDEX
  CONCURRENTLY`` (or an index it already has) and ``ALTER INDEX ... ATTACH PARTITION``; the parent index turns
  valid when the last partition's is attached. A sub-partitioned level gets its own ``ON ONLY`` index in between.
- a foreign key: on each leaf partition ``NOT VALID`` then ``VALIDATE`` (short locks, the scan under a weak one),
  or only ``VALIDATE`` for a partition that has the key already, then on the parent without ``NOT VALID``: it
  adopts the partitions' validated keys instead of checking the rows again. A partition whose key is still
  ``NOT VALID`` is not adopted (PostgreSQL adds a second key and scans), so the parent's step comes after every
  ``VALIDATE``.
- a unique key: the same index sequence with unique indexes, when the key's columns include the partition key's
  (PostgreSQL refuses any other unique index on a partitioned table); ``ADD CONSTRAINT ... USING INDEX`` is not
  supported on partitioned tables, so the unique index is the key.

Inheritance children (``INHERITS``, the partitioning before PostgreSQL 10) share no index or key with their parent,
so each table gets its own.
"""

from __future__ import annotations

from collections import defaultdict

from integrity_kit.audit.changes import (
    AddForeignKey,
    AddParentForeignKey,
    AddPartitionForeignKey,
    AttachIndex,
    CreateIndexConcurrently,
    CreateIndexOnOnly,
    NotPossible,
    Operation,
    PartitionRef,
    TableName,
    ValidateConstraint,
    constraint_name,
)


def index_sequence(table: TableName, name: str, columns: tuple[str, ...],
                   unique: bool = False) -> tuple[Operation, ...]:
    """An index ``name`` on ``columns`` of the partitioned ``table``, built partition by partition."""
    partitioning = table.partitioning
    assert partitioning is not None
    prefix = "uq" if unique else "ix"
    if not partitioning.declarative:
        return (CreateIndexConcurrently(TableName(table.name, table.schema), name, columns, unique, undo=True),
                *(CreateIndexConcurrently(table.sibling(ref.name), constraint_name(prefix, ref.name, columns),
                                          columns, unique, undo=True) for ref in partitioning.partitions))
    children: dict[str, list[PartitionRef]] = defaultdict(list)
    for ref in partitioning.partitions:
        children[ref.parent].append(ref)
    operations: list[Operation] = [CreateIndexOnOnly(TableName(table.name, table.schema), name, columns, unique)]

    def level(parent: str, parent_index: str) -> None:
        for ref in children.get(parent, ()):
            partition = table.sibling(ref.name)
            existing = None if unique else dict(ref.loose_indexes).get(columns)
            if ref.partitioned:
                index = constraint_name(prefix, ref.name, columns)
                operations.append(CreateIndexOnOnly(partition, index, columns, unique, undo=False))
                level(ref.name, index)
            elif existing is not None:
                index = existing  # the partition has this index already: attaching it spares a build
            else:
                index = constraint_name(prefix, ref.name, columns)
                operations.append(CreateIndexConcurrently(partition, index, columns, unique))
            operations.append(AttachIndex(table, parent_index, index))

    level(table.name, name)
    return tuple(operations)


def foreign_key_sequence(table: TableName, columns: tuple[str, ...], target: TableName,
                         target_columns: tuple[str, ...], name: str) -> tuple[Operation, ...]:
    """A foreign key ``name`` from the partitioned ``table``: each leaf partition's first, then the parent's."""
    partitioning = table.partitioning
    assert partitioning is not None
    if not partitioning.declarative:
        return (AddForeignKey(TableName(table.name, table.schema), columns, target, target_columns),
                *(AddForeignKey(table.sibling(ref.name), columns, target, target_columns)
                  for ref in partitioning.partitions))
    operations: list[Operation] = []
    wanted = (columns, target.schema, target.name, target_columns)
    for ref in partitioning.partitions:
        if ref.partitioned:
            continue  # a partitioned level refuses NOT VALID too; the parent's key reaches it
        own = dict(ref.own_keys).get(wanted)
        if own is None:
            operations.append(AddPartitionForeignKey(table.sibling(ref.name), name, columns, target, target_columns))
        elif not own[1]:
            # The partition has the key NOT VALID: validated, the parent adopts it (unvalidated, it would not).
            operations.append(ValidateConstraint(table.sibling(ref.name), own[0]))
    return (*operations,
            AddParentForeignKey(TableName(table.name, table.schema), name, columns, target,
                                target_columns))


def unique_sequence(table: TableName, name: str, columns: tuple[str, ...]) -> tuple[Operation, ...]:
    """A unique index ``name`` on ``columns`` of the partitioned ``table``, or why there can be none."""
    partitioning = table.partitioning
    assert partitioning is not None
    here = TableName(table.name, table.schema)
    if not partitioning.declarative:
        return (NotPossible(here, f"{table.name} has inheritance children: an index on it or on each child enforces "
                                  "uniqueness within one table only, never across them"),)
    key = partitioning.key_columns
    if key is None or not set(key) <= set(columns):
        what = f"({', '.join(key)})" if key else "an expression"
        return (NotPossible(here, f"{table.name} is partitioned by {what}: a unique key on it must include every "
                                  "partition key column, so these columns alone can only be unique per partition"),)
    return index_sequence(table, name, columns, unique=True)
