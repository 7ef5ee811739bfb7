"""Every audit rule, listed explicitly (a test fails when a Rule subclass is missing from here)."""

from __future__ import annotations

from collections.abc import Iterable

from integrity_kit import rulebook
from integrity_kit.audit.model import Rule
from integrity_kit.audit.rules.domain import (
    CheckViolations,
    DerivedTotalMismatch,
    MissingCheckConstraint,
    MissingNotNull,
)
from integrity_kit.audit.rules.indexes import (
    InvalidIndex,
    PartitionMissingSiblingForeignKey,
    PartitionMissingSiblingIndex,
    RedundantIndex,
    TableWithoutIndex,
)
from integrity_kit.audit.rules.keys import (
    ForeignKeyNotEnforced,
    ForeignKeyTypeMismatch,
    ForeignKeyViolations,
    MissingForeignKey,
    MissingPrimaryKey,
    UnindexedForeignKey,
)
from integrity_kit.audit.rules.models import SchemaDrift
from integrity_kit.audit.rules.types import (
    FloatForMoney,
    MoneyType,
    SentinelDefaultOnReference,
    TimestampWithoutTimeZone,
)
from integrity_kit.audit.rules.uniqueness import DuplicateRows, MissingUniqueConstraint, NullableUniqueColumn

RULES: tuple[type[Rule], ...] = (
    MissingPrimaryKey,
    MissingForeignKey,
    UnindexedForeignKey,
    ForeignKeyTypeMismatch,
    ForeignKeyNotEnforced,
    ForeignKeyViolations,
    MissingUniqueConstraint,
    NullableUniqueColumn,
    DuplicateRows,
    MissingNotNull,
    MissingCheckConstraint,
    CheckViolations,
    DerivedTotalMismatch,
    FloatForMoney,
    MoneyType,
    TimestampWithoutTimeZone,
    SentinelDefaultOnReference,
    RedundantIndex,
    InvalidIndex,
    TableWithoutIndex,
    PartitionMissingSiblingIndex,
    PartitionMissingSiblingForeignKey,
    SchemaDrift,
)


def find_rule(selector: str) -> type[Rule]:
    """The audit rule a code (IK101) or a name (missing-foreign-key) stands for."""
    return rulebook.find(RULES, selector)


def matching(selector: str) -> list[type[Rule]]:
    """Audit rules a selector names: a code (IK101), a code prefix (IK1) or a name (missing-foreign-key)."""
    return rulebook.matching(RULES, selector)


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[type[Rule]]:
    return rulebook.select(RULES, select, ignore)
