"""What stands between a finding and its fix: the rows its rule counts as blocking, and the clean-up statements
its fix proposes for them (the demo and the fix migration both show these to a person)."""

from __future__ import annotations

from integrity_kit.audit.model import Finding
from integrity_kit.audit.registry import find_rule


def blocking_rows(finding: Finding) -> dict[str, int]:
    """The non-zero counts of rows that stand in the way of ``finding``'s fix, by evidence key."""
    return find_rule(finding.rule)().blocking_rows(finding)


def describe_blocking(blocking: dict[str, int]) -> str:
    return ", ".join(f"{count} {key.replace('_', ' ')}" for key, count in blocking.items())


def cleanup_statements(finding: Finding) -> list[str]:
    """The data-changing statements (DELETE, UPDATE) of the finding's fix: decisions for a person, never run as a
    side effect of a migration."""
    if finding.changes is None:
        return []
    dialect = finding.changes.dialect
    return [line for operation in finding.changes.operations if operation.is_cleanup
            for line in operation.sql(dialect) if line.upper().startswith(("DELETE", "UPDATE"))]
