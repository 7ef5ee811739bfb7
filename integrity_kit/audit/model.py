"""What a rule is and what it reports.

A rule reads a :class:`~integrity_kit.schema.Snapshot` and yields :class:`Finding` objects; it never opens a
connection. Its documentation is its docstring, in the sections the rule pages and ``integrity-kit explain`` show:
What it checks / Why it matters / Example / How to fix.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, ClassVar

from integrity_kit import rulebook
from integrity_kit.rulebook import Severity
from integrity_kit.schema import NotAnalysed, Snapshot, Table

__all__ = ["DOC_SECTIONS", "DataRule", "Finding", "Fix", "Rule", "Severity"]

DOC_SECTIONS = ("What it checks", "Why it matters", "Example", "How to fix")


@dataclass(frozen=True, slots=True)
class Fix:
    """The same change twice: SQL for the audited engine, and the Alembic ``op.*`` form for a migration."""

    sql: str
    alembic: str


@dataclass(frozen=True, slots=True)
class Finding:
    code: str
    rule: str
    severity: Severity
    table: str
    columns: tuple[str, ...]
    message: str
    schema: str | None = None
    confidence: float = 1.0
    target: dict[str, Any] | None = None
    evidence: dict[str, Any] = field(default_factory=dict)
    fix: Fix | None = None

    @property
    def fingerprint(self) -> str:
        """Stable across runs and orderings: what the finding is about, never its wording or its evidence."""
        key: list[Any] = [self.rule, self.schema, self.table, sorted(self.columns)]
        if self.target:
            key.append([self.target.get("schema"), self.target.get("table"), self.target.get("columns")])
        return rulebook.fingerprint(*key)

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"code": self.code, "rule": self.rule, "severity": self.severity.value,
                                "confidence": round(self.confidence, 2), "table": self.table}
        if self.schema:
            data["schema"] = self.schema
        data["columns"] = list(self.columns)
        if self.target:
            data["target"] = self.target
        data["message"] = self.message
        data["evidence"] = self.evidence
        if self.fix:
            data["fix"] = {"sql": self.fix.sql, "alembic": self.fix.alembic}
        data["fingerprint"] = self.fingerprint
        return data


class Rule(rulebook.Rule):
    """One check. Subclasses set the metadata of :class:`integrity_kit.rulebook.Rule` and implement :meth:`check`."""

    # Dialects the rule means something on; None for all.
    dialects: ClassVar[frozenset[str] | None] = None

    def applies_to(self, snapshot: Snapshot) -> bool:
        return self.dialects is None or snapshot.dialect in self.dialects

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        raise NotImplementedError

    def finding(self, table: Table, columns: tuple[str, ...] | list[str], message: str, *,
                severity: Severity | None = None, **extra: Any) -> Finding:
        return Finding(code=self.code, rule=self.name, severity=severity or self.severity, table=table.name,
                       schema=table.schema, columns=tuple(columns), message=message, **extra)


class DataRule(Rule):
    """A rule that reads rows through a :class:`~integrity_kit.audit.probes.Probe` (skipped with ``--no-data``).

    A probe that cannot finish is recorded in ``problems`` (reported as not analysed); the rule goes on."""

    def __init__(self) -> None:
        self.problems: list[NotAnalysed] = []

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        return iter(())

    def check_data(self, snapshot: Snapshot, probe) -> Iterator[Finding]:
        raise NotImplementedError

    def measure(self, what: str, work):
        """Run one probe; on failure note it and return None."""
        from integrity_kit.audit.probes import ProbeFailed

        try:
            return work()
        except ProbeFailed as error:
            self.problems.append(NotAnalysed(f"{self.name} on {what}", f"probe failed: {error}"))
            return None
