"""The data clean-up the demo makes before it applies the fix migration.

In a real database deleting or changing rows is the owner's decision, which is why ``--fix-migration`` writes the
clean-up as comments. The demo owns its database, so it makes the decision and says which one it made: the
statements the audit proposed in its fixes, plus a repair for rows that break a ``>= 0`` check (set to 0), the only
kind of check the legacy data breaks.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, text

from integrity_kit.audit.fixes import blocking_rows, cleanup_statements, describe_blocking
from integrity_kit.audit.model import Finding

_NOT_NEGATIVE = re.compile(r"^\s*(\w+)\s*>=\s*0\s*$")


@dataclass(frozen=True)
class CleanupStep:
    reason: str
    sql: str
    rows: int | None = None  # filled in once run


def plan_cleanup(findings: list[Finding], quote: Callable[[str], str]) -> list[CleanupStep]:
    """One statement per distinct clean-up the findings need, in the order the findings came; ``quote`` quotes an
    identifier for the target dialect."""
    steps: dict[str, CleanupStep] = {}
    for finding in findings:
        blocking = blocking_rows(finding)
        if not blocking:
            continue
        reason = f"{finding.table}({', '.join(finding.columns)}): {describe_blocking(blocking)}"
        proposed = cleanup_statements(finding)
        condition = _NOT_NEGATIVE.match(str(finding.evidence.get("condition", "")))
        if not proposed and condition:
            column = condition.group(1)
            table, column = quote(finding.table), quote(column)
            proposed = [f"UPDATE {table} SET {column} = 0 WHERE {column} < 0"]
        for sql in proposed:
            steps.setdefault(sql, CleanupStep(reason, sql))
    return list(steps.values())


def run_cleanup(engine: Engine, steps: list[CleanupStep]) -> list[CleanupStep]:
    """Run every step in one transaction: all of the clean-up or none of it."""
    done = []
    with engine.begin() as connection:
        for step in steps:
            result = connection.execute(text(step.sql.rstrip(";")))
            done.append(CleanupStep(step.reason, step.sql, result.rowcount))
    return done
