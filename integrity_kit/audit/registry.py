"""Every audit rule, listed explicitly (a test fails when a Rule subclass is missing from here)."""

from __future__ import annotations

from collections.abc import Iterable

from integrity_kit.audit.model import Rule
from integrity_kit.audit.rules.domain import (
    CheckViolations,
    DerivedTotalMismatch,
    MissingCheckConstraint,
    MissingNotNull,
)
from integrity_kit.audit.rules.indexes import InvalidIndex, RedundantIndex, TableWithoutIndex
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
from integrity_kit.errors import IntegrityKitError

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
    SchemaDrift,
)


def find_rule(selector: str) -> type[Rule]:
    for rule in RULES:
        if selector.lower() in (rule.code.lower(), rule.name):
            return rule
    raise IntegrityKitError(f"no rule {selector!r}; `integrity-kit rules` lists them")


def matching(selector: str) -> list[type[Rule]]:
    """Rules a selector names: a code (IK101), a code prefix (IK1) or a name (missing-foreign-key)."""
    key = selector.strip()
    found = [rule for rule in RULES if rule.name == key.lower() or rule.code.lower().startswith(key.lower())]
    if not found or not key:
        raise IntegrityKitError(f"no rule matches {selector!r} (use a code such as IK101, a prefix such as IK1, or a "
                                "name such as missing-foreign-key; `integrity-kit rules` lists them)")
    return found


def select_rules(select: Iterable[str] = (), ignore: Iterable[str] = ()) -> list[type[Rule]]:
    chosen = [rule for selector in select for rule in matching(selector)] if select else list(RULES)
    dropped = {rule for selector in ignore for rule in matching(selector)}
    seen: list[type[Rule]] = []
    for rule in chosen:
        if rule not in dropped and rule not in seen:
            seen.append(rule)
    return seen
