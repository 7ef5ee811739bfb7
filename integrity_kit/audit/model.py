"""What a rule is and what it reports.

A rule reads a :class:`~integrity_kit.schema.Snapshot` and yields :class:`Finding` objects; it never opens a
connection. Its documentation is its docstring, in the sections the rule pages and ``integrity-kit explain`` show:
What it checks / Why it matters / Example / How to fix.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from integrity_kit import rulebook
from integrity_kit.audit.changes import Changes, Operation
from integrity_kit.rulebook import Severity
from integrity_kit.schema import NotAnalysed, Snapshot, Table

if TYPE_CHECKING:
    from integrity_kit.audit.probes import Probe

T = TypeVar("T")

__all__ = ["DOC_SECTIONS", "DataRule", "Finding", "Fix", "Rule", "RuleContext", "RuleOption", "Severity"]

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
    # The operations ``fix`` renders; the fix migration plans the same ones. Not part of the JSON report.
    changes: Changes | None = field(default=None, repr=False, compare=False)

    def with_changes(self, changes: Changes) -> Finding:
        """This finding with ``changes`` as its fix (both renderings)."""
        return dataclasses.replace(self, changes=changes, fix=Fix(changes.sql(), changes.alembic()))

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


@dataclass(frozen=True)
class RuleOption:
    """A setting a rule declares (sqlfluff's ``config_keywords``): the configuration validates it, the rule page
    lists it, and the rule reads it from its :class:`RuleContext`."""

    key: str  # as written in the configuration (kebab-case)
    help: str
    default: tuple[str, ...] = ()  # every option today is a list of strings

    def parse(self, value: object) -> tuple[str, ...]:
        if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
            raise ValueError(f"{self.key} must be a list of strings")
        return tuple(value)


@dataclass(frozen=True)
class RuleContext:
    """What a rule is given besides the snapshot: its options' values and, with ``--models``, the models."""

    options: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    models: Snapshot | None = None

    def option(self, rule: type[Rule], key: str) -> tuple[str, ...]:
        declared = {option.key: option for option in rule.options}
        return self.options.get(key, declared[key].default)


class Rule(rulebook.Rule):
    """One check. Subclasses set the metadata of :class:`integrity_kit.rulebook.Rule` and implement :meth:`check`.

    The lifecycle hooks after the check have do-nothing defaults: :meth:`gather_evidence` (what the data says
    about a finding), ``blocking_evidence`` (the evidence keys that count rows standing in the way of the fix) and
    :meth:`plan_changes` (the finding's part of a fix migration, as operations of the change model)."""

    # Dialects the rule means something on; None for all.
    dialects: ClassVar[frozenset[str] | None] = None
    # The settings the rule reads from its context.
    options: ClassVar[tuple[RuleOption, ...]] = ()
    # Evidence keys counting rows that make the fix fail until they are dealt with.
    blocking_evidence: ClassVar[tuple[str, ...]] = ()
    # Fix migrations plan findings in this order (lower first), then in report order.
    plan_order: ClassVar[int] = 100

    def __init__(self, context: RuleContext | None = None) -> None:
        self.context = context or RuleContext()

    def option(self, key: str) -> tuple[str, ...]:
        return self.context.option(type(self), key)

    def applies_to(self, snapshot: Snapshot) -> bool:
        return self.dialects is None or snapshot.dialect in self.dialects

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        raise NotImplementedError

    def check_with_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        """Findings only the rows can suggest (no name ties them), when the audit may read rows; they get their
        evidence like the others. By default none."""
        return iter(())

    def finding(self, table: Table, columns: tuple[str, ...] | list[str], message: str, *,
                severity: Severity | None = None, confidence: float = 1.0, target: dict[str, Any] | None = None,
                evidence: dict[str, Any] | None = None, changes: Changes | None = None) -> Finding:
        if severity is not None and severity not in self.severities():
            raise ValueError(f"{self.name} reports {severity.value} findings but declares only "
                             f"{', '.join(s.value for s in self.severities())}: add it to other_severities")
        found = Finding(code=self.code, rule=self.name, severity=severity or self.severity, table=table.name,
                        schema=table.schema, columns=tuple(columns), message=message, confidence=confidence,
                        target=target, evidence=evidence or {})
        return found.with_changes(changes) if changes is not None else found

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        """``finding`` with what the data says about it (would the fix succeed today?); by default nothing. None
        when the data shows the finding was wrong (a count taken for a reference): it is dropped."""
        return finding

    @classmethod
    def gathers_evidence(cls) -> bool:
        return cls.gather_evidence is not Rule.gather_evidence

    def blocking_rows(self, finding: Finding) -> dict[str, int]:
        """The non-zero counts of rows that stand in the way of ``finding``'s fix, by evidence key."""
        return {key: finding.evidence[key] for key in self.blocking_evidence if finding.evidence.get(key)}

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...] | None:
        """The schema changes a fix migration makes for ``finding``, or None when it has no automatic fix."""
        return None

    def unplanned_reason(self, finding: Finding) -> str:
        """Why a fix migration leaves ``finding`` out, for its list of findings not fixed."""
        return finding.message

    @staticmethod
    def schema_changes(finding: Finding) -> tuple[Operation, ...]:
        """The finding's operations without its data clean-ups (those stay decisions for a person)."""
        operations = finding.changes.operations if finding.changes is not None else ()
        return tuple(operation for operation in operations if not operation.is_cleanup)


class DataRule(Rule):
    """A rule that reads rows through a :class:`~integrity_kit.audit.probes.Probe` (skipped with ``--no-data``).

    A probe that cannot finish is recorded in ``problems`` (reported as not analysed); the rule goes on."""

    def __init__(self, context: RuleContext | None = None) -> None:
        super().__init__(context)
        self.problems: list[NotAnalysed] = []

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        return iter(())

    def check_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        raise NotImplementedError

    def measure(self, what: str, work: Callable[[], T]) -> T | None:
        """Run one probe; on failure note it and return None."""
        from integrity_kit.audit.probes import ProbeFailed

        try:
            return work()
        except ProbeFailed as error:
            self.problems.append(NotAnalysed(f"{self.name} on {what}", f"{error.kind}: {error}"))
            return None
