"""The explicit registry of migration rules. A test checks every Rule subclass is listed here."""

from __future__ import annotations

from integrity_kit.migrations.model import Rule
from integrity_kit.migrations.rules.columns import (
    AddNotNullColumnWithoutDefault,
    ColumnTypeChangeRewritesTable,
    SetNotNullInOneStep,
)
from integrity_kit.migrations.rules.constraints import ConstraintValidatedInOneStep, UniqueConstraintWithoutIndex
from integrity_kit.migrations.rules.data import FailsOnExistingRows
from integrity_kit.migrations.rules.defaults import VolatileDefaultRewritesTable
from integrity_kit.migrations.rules.execution import BackfillInDdlTransaction, RawStringExecute
from integrity_kit.migrations.rules.history import MissingDowngrade, MultipleHeads, NonReversingDowngrade
from integrity_kit.migrations.rules.indexes import ConcurrentlyInTransaction, IndexWithoutConcurrently
from integrity_kit.migrations.rules.keys import AddSerialPrimaryKeyColumn, PrimaryKeyAddedInOneStep
from integrity_kit.migrations.rules.mysql_online import MysqlDdlBlocksWrites, MysqlDdlRebuildsTable
from integrity_kit.migrations.rules.renames import DropColumnOrTable, RenameColumnOrTable
from integrity_kit.migrations.rules.sqlite import BatchRecreateCascade
from integrity_kit.migrations.rules.timeouts import StrongLockWithoutTimeout

RULES: tuple[type[Rule], ...] = (
    AddNotNullColumnWithoutDefault,
    SetNotNullInOneStep,
    ColumnTypeChangeRewritesTable,
    RenameColumnOrTable,
    DropColumnOrTable,
    IndexWithoutConcurrently,
    ConcurrentlyInTransaction,
    UniqueConstraintWithoutIndex,
    ConstraintValidatedInOneStep,
    RawStringExecute,
    BackfillInDdlTransaction,
    BatchRecreateCascade,
    MissingDowngrade,
    NonReversingDowngrade,
    MultipleHeads,
    VolatileDefaultRewritesTable,
    StrongLockWithoutTimeout,
    AddSerialPrimaryKeyColumn,
    PrimaryKeyAddedInOneStep,
    MysqlDdlBlocksWrites,
    MysqlDdlRebuildsTable,
    FailsOnExistingRows,
)

BY_KEY = {key: rule for rule in RULES for key in (rule.code, rule.name)}
