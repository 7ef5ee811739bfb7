"""``audit()``: connect read-only, take a Snapshot, run the rules, collect a Report."""

from __future__ import annotations

import contextlib
import gc
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import DBAPIError, PendingRollbackError

from integrity_kit import __version__
from integrity_kit.audit.config import AuditConfig
from integrity_kit.audit.evidence import gather
from integrity_kit.audit.model import DataRule, Finding, Rule, Severity
from integrity_kit.audit.probes import NO_SELECT, NoPrivilege, Probe, ProbeFailed
from integrity_kit.audit.registry import select_rules
from integrity_kit.audit.session import Budget, read_only
from integrity_kit.connect import make_engine, mask_url
from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.schema import NotAnalysed, Snapshot, build_snapshot
from integrity_kit.schema.from_models import load_metadata, snapshot_from_metadata
from integrity_kit.schema.visibility import unreadable_tables

FAIL_ON = ("error", "warning", "info", "never")


@dataclass
class Report:
    url: str
    dialect: str
    server_version: str | None
    schemas: list[str]
    tables: int
    findings: list[Finding] = field(default_factory=list)
    not_analysed: list[NotAnalysed] = field(default_factory=list)
    # What the rules read (for --fix-migration); not part of the JSON report.
    snapshot: Snapshot | None = field(default=None, repr=False, compare=False)
    # Findings left out because a baseline already accepted them.
    baseline_hidden: int = 0

    def by_severity(self) -> dict[str, int]:
        counts = {severity.value: 0 for severity in Severity}
        for finding in self.findings:
            counts[finding.severity.value] += 1
        return counts

    @property
    def partial(self) -> bool:
        """Something was not read (a table, a probe, a rule): the findings cover only the rest."""
        return bool(self.not_analysed)

    def exit_code(self, fail_on: str = "error", *, allow_partial: bool = False) -> int:
        """0 clean, 1 a finding at or above ``fail_on`` (or, unless ``allow_partial``, a partial run: what was not
        read may hold exactly such a finding); 2 when nothing at all could be analysed."""
        if self.tables == 0 and self.not_analysed:
            return 2
        if fail_on == "never":
            return 0
        threshold = Severity(fail_on).rank
        if any(finding.severity.rank >= threshold for finding in self.findings):
            return 1
        return 1 if self.partial and not allow_partial else 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "tool": "integrity-kit", "version": __version__,
            "database": {"url": self.url, "dialect": self.dialect, "server_version": self.server_version,
                         "schemas": self.schemas},
            "summary": {"tables": self.tables, "findings": len(self.findings), "by_severity": self.by_severity(),
                        "partial": self.partial,
                        **({"baseline_hidden": self.baseline_hidden} if self.baseline_hidden else {})},
            "findings": [finding.to_dict() for finding in self.findings],
            "not_analysed": [{"object": item.object, "reason": item.reason} for item in self.not_analysed],
        }


def audit(target: str | Engine, *, models: str | None = None, schemas: Iterable[str] | None = None,
          select: Iterable[str] = (), ignore: Iterable[str] = (), statement_timeout: float = 30.0,
          data: bool = True, on_progress: Callable[[int, int], None] | None = None,
          config: AuditConfig | None = None, sample_rows: int | None = None,
          lock_timeout: float | None = None) -> Report:
    """Audit the database at ``target`` (a URL or an Engine) without writing to it. ``data=False`` skips the
    rules that read rows (foreign-key-violations, duplicate-rows, check-violations). ``lock_timeout`` (default:
    a tenth of ``statement_timeout``) bounds each wait for a lock another session holds: a table locked longer
    is reported as not analysed instead of stalling the audit."""
    config = config or AuditConfig()
    rule_classes = select_rules(list(select) or config.select, [*ignore, *config.ignore])
    metadata = load_metadata(models) if models else None
    engine = make_engine(target) if isinstance(target, str) else target
    shown = mask_url(engine.url)
    budget = Budget(statement_timeout, statement_timeout / 10 if lock_timeout is None else lock_timeout)
    try:
        with contextlib.ExitStack() as stack:

            def connect() -> Connection:
                connection = stack.enter_context(engine.connect())
                stack.enter_context(read_only(connection, budget))
                return connection

            connection = connect()
            try:
                with _collector_paused():
                    snapshot = build_snapshot(connection, list(schemas) if schemas else None)
            except DBAPIError as error:
                raise IntegrityKitError(f"cannot read the schema of {shown}: {first_line(error)}") from None
            models_snapshot = snapshot_from_metadata(metadata, snapshot.dialect) if metadata is not None else None
            # The data probes can run for minutes: the collector stays paused only for schema-only audits.
            with contextlib.nullcontext() if data else _collector_paused():
                return run_rules(snapshot, rule_classes, url=shown, models=models_snapshot,
                                 probe=Probe(connection, sample_rows, reconnect=connect) if data else None,
                                 on_progress=on_progress, config=config)
    except (DBAPIError, PendingRollbackError) as error:
        raise IntegrityKitError(f"cannot audit {shown}: {first_line(error)}") from None
    finally:
        if isinstance(target, str):
            engine.dispose()


def run_rules(snapshot: Snapshot, rule_classes: Iterable[type[Rule]], *, url: str, models: Snapshot | None = None,
              probe: Probe | None = None, on_progress: Callable[[int, int], None] | None = None,
              config: AuditConfig | None = None) -> Report:
    config = config or AuditConfig()
    findings: list[Finding] = []
    problems = list(snapshot.not_analysed)
    if probe is not None:
        tables = [(table.schema, table.name) for table in snapshot.tables]
        probe.unreadable = unreadable_tables(probe.connection, tables, snapshot.default_schema)
        for schema, name in sorted(probe.unreadable, key=lambda key: (key[0] or "", key[1])):
            problems.append(NotAnalysed(f"rows of {schema}.{name}" if schema else f"rows of {name}",
                                        f"{NoPrivilege.kind}: {NO_SELECT}"))
    ran: list[Rule] = []
    for rule_class in rule_classes:
        rule = rule_class(config.context_for(rule_class, models))
        if not rule.applies_to(snapshot) or (isinstance(rule, DataRule) and probe is None):
            continue
        ran.append(rule)
        try:
            found = rule.check_data(snapshot, probe) if isinstance(rule, DataRule) and probe is not None \
                else rule.check(snapshot)
            findings.extend(found)
            if probe is not None and not isinstance(rule, DataRule):
                findings.extend(_data_suggestions(rule, snapshot, probe, problems))
        except IntegrityKitError:
            raise  # the audit cannot go on (its connection is lost for good)
        except Exception as error:  # one broken rule must not hide what the others found
            problems.append(NotAnalysed(f"rule {rule.code} {rule.name}", f"{type(error).__name__}: {error}"))
        if isinstance(rule, DataRule):
            problems.extend(rule.problems)
    findings = config.adjust(findings)  # per-object ignores before the probes: no time spent on what is ignored
    if probe is not None:
        findings, unfinished = gather(findings, snapshot, probe, ran, on_progress)
        problems.extend(unfinished)
    findings.sort(key=lambda f: (-f.severity.rank, f.schema or "", f.table, f.code, f.columns))
    default = snapshot.default_schema
    schemas = [schema or default or "" for schema in snapshot.schemas]
    return Report(url=url, dialect=snapshot.dialect, server_version=snapshot.server_version, schemas=schemas,
                  tables=len(snapshot.tables), findings=findings, not_analysed=problems, snapshot=snapshot)


def _data_suggestions(rule: Rule, snapshot: Snapshot, probe: Probe, problems: list[NotAnalysed]) -> list[Finding]:
    """``rule.check_with_data``; a probe that cannot finish ends only these suggestions, reported as not analysed."""
    found: list[Finding] = []
    try:
        found.extend(rule.check_with_data(snapshot, probe))
    except ProbeFailed as error:
        problems.append(NotAnalysed(f"rule {rule.code} {rule.name}: references found from the values",
                                    f"{error.kind}: {error}"))
    return found


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    """No cyclic garbage collection while a snapshot or the findings are built: they allocate tens of thousands of
    objects that all stay alive, so every collection walks them for nothing. Reference counting still frees
    everything else; the collector is back on afterwards."""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


