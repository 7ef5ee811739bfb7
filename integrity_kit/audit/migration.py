"""``--fix-migration FILE``: an Alembic revision that applies the audit's fixes with the safe patterns.

The revision has three parts, in this order:

1. data clean-ups a finding needs first (orphans, duplicates, NULLs, rows breaking a check), written as comments:
   deleting or changing someone's rows is a decision, never a side effect of running a migration;
2. schema changes inside the migration's transaction: constraints ``NOT VALID`` on PostgreSQL, column changes,
   and on SQLite one batch (table rebuild) per table;
3. on PostgreSQL, what must not hold the migration's locks: ``CREATE INDEX CONCURRENTLY``, ``VALIDATE CONSTRAINT``
   and ``SET NOT NULL`` after a validated ``IS NOT NULL`` check, in an autocommit block (which commits part 2 first).

Findings without an automatic fix (a missing primary key, drift from the models, …) are listed at the top. A
constraint whose rows still break it (its clean-up being only a comment) is never added as if it would validate:
on PostgreSQL a foreign key or CHECK is added ``NOT VALID`` and left unvalidated, anything else is left out, each
with a comment saying which rows stand in the way.
"""

from __future__ import annotations

import dataclasses
import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from integrity_kit import __version__
from integrity_kit.audit.changes import (
    AddCheck,
    AddForeignKey,
    AddUnique,
    ChangeType,
    Operation,
    Phase,
    SetNotNull,
    Step,
    TableName,
    batch_call,
    comment_lines,
    sql_literals,
)
from integrity_kit.audit.fixes import cleanup_statements, describe_blocking
from integrity_kit.audit.model import Finding, Rule
from integrity_kit.audit.registry import find_rule
from integrity_kit.schema import Snapshot, Table


@dataclass
class Plan:
    dialect: str
    cleanups: list[str] = field(default_factory=list)
    in_transaction: list[str] = field(default_factory=list)
    batches: dict[TableName, list[str]] = field(default_factory=lambda: defaultdict(list))  # SQLite, per table
    outside_transaction: list[str] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    indexes: dict[TableName, list[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(list))  # planned

    def covered(self, table: TableName, columns: tuple[str, ...]) -> bool:
        """An index planned in this revision already leads with exactly these columns (in any order)."""
        wanted = set(columns)
        return any(set(planned[:len(wanted)]) == wanted for planned in self.indexes[table])

    def add(self, operation: Operation) -> None:
        """Plan one operation's steps, each in its phase; an index this revision builds already is left out."""
        index = operation.index
        if index is not None:
            unique = operation.is_unique_index
            if not unique and self.covered(operation.table, index):
                return
            self.indexes[operation.table].append(index)
        for step in operation.steps(self.dialect):
            self._step(step)

    def add_blocked(self, operation: Operation, reason: str) -> bool:
        """Plan an operation whose validation is known to fail (``reason``: rows that break it remain, and the
        clean-up is a comment): a constraint PostgreSQL can add ``NOT VALID`` is added so and left unvalidated;
        any other constraint is left out, with a comment saying why. True when something was added."""
        if not isinstance(operation, CONSTRAINTS):
            self.add(operation)
            return True
        if self.dialect == "postgresql" and isinstance(operation, (AddForeignKey, AddCheck)):
            create = operation.steps(self.dialect)[0]  # NOT VALID; its VALIDATE step would fail on the rows
            self._step(dataclasses.replace(create, comment=f"NOT VALID and not validated: {reason}; VALIDATE "
                                                           "it once they are cleaned up (see 1.)"))
            return True
        self.in_transaction += comment_lines(f"Left out: {_what(operation)} would fail: {reason}; add it once they "
                                             "are cleaned up (see 1.)")
        return False

    def _step(self, step: Step) -> None:
        if step.phase is Phase.CLEANUP:
            return  # data changes are listed from the finding's blocking rows, as comments
        if step.call is None:
            return
        if step.batch is not None:
            self.batches[step.batch].append(step.call.render("batch"))
            if step.undo is not None:
                self.undo.append(f"with {batch_call(step.batch)} as batch:\n        {step.undo.render('batch')}")
            return
        lines = comment_lines(step.comment) if step.comment else []
        lines.append(step.call.render())
        (self.outside_transaction if step.phase is Phase.AUTOCOMMIT else self.in_transaction).extend(lines)
        if step.undo is not None:
            self.undo.append(step.undo.render())


# A finding, its rule, its table (None when the snapshot lacks it) and its operations (None: no automatic fix).
PlannedFinding = tuple[Finding, Rule, "Table | None", "tuple[Operation, ...] | None"]


def plan_fixes(findings: list[Finding], snapshot: Snapshot, *, cleaned_up: bool = False) -> Plan:
    """What a fix migration for ``findings`` would do on ``snapshot``'s engine, step by step: each finding's rule
    plans its part (``Rule.plan_changes``). ``cleaned_up``: the caller runs the clean-ups before the revision (the
    demo, on its own database), so constraints blocked by rows at audit time are planned as if they would hold."""
    plan = Plan(snapshot.dialect)
    rules = {finding.rule: find_rule(finding.rule)() for finding in findings}
    planned: list[PlannedFinding] = []
    for finding in sorted(findings, key=lambda finding: rules[finding.rule].plan_order):
        rule = rules[finding.rule]
        table = snapshot.table(finding.table, finding.schema) if snapshot.has_table(finding.table, finding.schema) \
            else None
        planned.append((finding, rule, table, rule.plan_changes(finding, table, snapshot) if table else None))
    if snapshot.dialect in ("mysql", "mariadb"):
        planned = _one_definition_per_column(planned)
    planned = _partition_keys_once(planned)
    for finding, rule, table, operations in planned:
        if operations is None:
            plan.skipped.append(f"{finding.code} {finding.rule} {finding.table}: {rule.unplanned_reason(finding)}")
            if table is not None:
                _cleanup(plan, rule, finding)  # no schema change, but the data may want a reviewed clean-up
            continue
        blocking = {} if cleaned_up else rule.blocking_rows(finding)
        if not blocking:
            for operation in operations:
                plan.add(operation)
            _cleanup(plan, rule, finding)
            plan.fixed.append(finding)
            continue
        # The clean-up is only written out, never run: rows that break the constraint are still there.
        reason = f"{describe_blocking(blocking)} remain"
        added = [plan.add_blocked(operation, reason) for operation in operations]
        _cleanup(plan, rule, finding)
        if added and all(added):
            plan.fixed.append(finding)
        else:
            plan.skipped.append(f"{finding.code} {finding.rule} {finding.table}({', '.join(finding.columns)}): its "
                                f"constraint is left out while {reason}")
    return plan


# Operations whose validation reads every row: they fail while rows that break them remain.
CONSTRAINTS = (AddForeignKey, AddCheck, AddUnique, SetNotNull)


def _what(operation: Operation) -> str:
    if isinstance(operation, SetNotNull):
        return f"NOT NULL on {operation.table.name}.{operation.column}"
    if isinstance(operation, AddUnique):
        return f"UNIQUE ({', '.join(operation.columns)}) on {operation.table.name}"
    if isinstance(operation, AddForeignKey):
        return f"the foreign key {operation.table.name}({', '.join(operation.columns)}) -> {operation.target.name}"
    if isinstance(operation, AddCheck):
        return f"CHECK ({operation.condition}) on {operation.table.name}"
    return f"the constraint on {operation.table.name}"


def _one_definition_per_column(
    planned: list[PlannedFinding],
) -> list[PlannedFinding]:
    """MySQL's MODIFY restates the whole column, so a new type and NOT NULL on one column must each restate the
    other, in whichever order they run."""
    new_types = {(op.table, op.column): op for *_, operations in planned for op in operations or ()
                 if isinstance(op, ChangeType)}
    not_null = {(op.table, op.column) for *_, operations in planned for op in operations or ()
                if isinstance(op, SetNotNull)}

    def folded(operation: Operation) -> Operation:
        if isinstance(operation, SetNotNull) and (operation.table, operation.column) in new_types:
            change = new_types[(operation.table, operation.column)]
            return dataclasses.replace(operation, type_sql=change.new_sql, existing_type=change.new_type)
        if isinstance(operation, ChangeType) and (operation.table, operation.column) in not_null:
            return dataclasses.replace(operation, nullable=False)
        return operation

    return [(finding, rule, table, tuple(folded(op) for op in operations) if operations is not None else None)
            for finding, rule, table, operations in planned]


def _partition_keys_once(planned: list[PlannedFinding]) -> list[PlannedFinding]:
    """A partition's foreign key is left out when the plan adds the same key to its partitioned parent: the
    parent's sequence adds it to every partition that lacks it, so both would give the partition two keys."""
    def reference(operation: AddForeignKey, table: str) -> tuple:
        return (operation.table.schema, table, operation.columns, operation.target, operation.target_columns)

    covered = {reference(op, partition.name) for *_, operations in planned for op in operations or ()
               if isinstance(op, AddForeignKey) and op.table.partitioning is not None
               for partition in op.table.partitioning.partitions}

    def kept(operations: tuple[Operation, ...] | None) -> tuple[Operation, ...] | None:
        if operations is None:
            return None
        return tuple(op for op in operations if not (isinstance(op, AddForeignKey) and op.table.partitioning is None
                                                     and reference(op, op.table.name) in covered))

    return [(finding, rule, table, kept(operations)) for finding, rule, table, operations in planned]


def write_fix_migration(findings: list[Finding], snapshot: Snapshot, url: str, *, down_revision: str | None = None,
                        revision: str | None = None) -> str:
    """The text of an Alembic revision file that fixes ``findings`` on ``snapshot``'s engine."""
    return render_plan(plan_fixes(findings, snapshot), url, revision=revision, down_revision=down_revision)


def _cleanup(plan: Plan, rule: Rule, finding: Finding) -> None:
    blocking = rule.blocking_rows(finding)
    if not blocking or finding.fix is None:
        return
    plan.cleanups.append(f"{finding.table}({', '.join(finding.columns)}): {describe_blocking(blocking)}, e.g. "
                         f"{finding.evidence.get('sample_keys', [])[:3]}")
    plan.cleanups += [f"    {line}" for line in cleanup_statements(finding)]


def _unique_lines(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))  # two findings may ask for the same index


def _docstring_text(text: str) -> str:
    """``text`` safe inside the revision's triple-quoted docstring: a name cannot close it or start an escape."""
    return text.replace("\\", "\\\\").replace('"', '\\"')


_SAVED_TRIGGERS = "temp.ik_saved_triggers"


def _sqlite_rebuild_start(tables: list[TableName]) -> list[str]:
    """Before SQLite's batch rebuilds: the legacy rename, and a copy of the rebuilt tables' triggers."""
    names = sql_literals("sqlite", [table.name for table in tables])
    save = (f"CREATE TEMP TABLE ik_saved_triggers AS SELECT name, sql FROM main.sqlite_master "
            f"WHERE type = 'trigger' AND tbl_name IN ({names})")
    return ["# Renaming a rebuilt table back fails while a view names it (\"error in view ...: no such table\"):",
            "# the legacy rename leaves views alone, and they find the table again by its name.",
            'op.execute("PRAGMA legacy_alter_table = ON")',
            "# A rebuild drops the table's triggers with the old table: keep their SQL to recreate them after.",
            f'op.execute("DROP TABLE IF EXISTS {_SAVED_TRIGGERS}")', f"op.execute({save!r})"]


def _sqlite_rebuild_end() -> list[str]:
    missing = (f"SELECT sql FROM {_SAVED_TRIGGERS} WHERE name NOT IN "
               "(SELECT name FROM main.sqlite_master WHERE type = 'trigger')")
    return [f"for (trigger,) in op.get_bind().exec_driver_sql({missing!r}).all():",
            "    op.execute(trigger)",
            f'op.execute("DROP TABLE {_SAVED_TRIGGERS}")',
            'op.execute("PRAGMA legacy_alter_table = OFF")']


def render_plan(plan: Plan, url: str, *, revision: str | None = None, down_revision: str | None = None) -> str:
    revision = revision or uuid.uuid4().hex[:12]
    lines = [f'"""integrity-kit fixes for {_docstring_text(url)}', "",
             f"{len(plan.fixed)} finding(s) fixed by this revision; read it before you run it.", ""]
    if plan.skipped:
        lines += ["Not fixed here (no automatic fix; see `integrity-kit explain RULE`):"]
        lines += [f"- {_docstring_text(item)}" for item in plan.skipped]
        lines.append("")
    lines += [f"Revision ID: {revision}", f"Revises: {down_revision or ''}",
              f"Create Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} by integrity-kit {__version__}", '"""',
              "", "import sqlalchemy as sa", "from alembic import op",
              *(["from sqlalchemy.dialects import mysql"] if plan.dialect in ("mysql", "mariadb") else []), "",
              f"revision = {revision!r}",
              f"down_revision = {down_revision!r}  # set this to your current head",
              "branch_labels = None", "depends_on = None", "", "", "def upgrade() -> None:"]
    body: list[str] = []
    if plan.cleanups:
        body += ["# 1. Clean the data first: adding these constraints fails while these rows exist. Review each",
                 "#    statement, run it (or uncomment it here) when the rows are really to go:"]
        body += [f"#    {part}" for line in plan.cleanups for part in line.splitlines()]
        body.append("")
    if plan.in_transaction or plan.batches:
        body.append("# 2. Schema changes, in the migration's transaction.")
        body += _unique_lines(plan.in_transaction)
        if plan.batches and plan.dialect == "sqlite":
            body += _sqlite_rebuild_start(list(plan.batches))
        for table, operations in plan.batches.items():
            # SQLite rebuilds the table: run with PRAGMA foreign_keys=OFF around it (in env.py) so the rebuild
            # cannot cascade deletes, then PRAGMA foreign_key_check.
            body.append(f"with {batch_call(table)} as batch:")
            body += [f"    {operation}" for operation in operations]
        if plan.batches and plan.dialect == "sqlite":
            body += _sqlite_rebuild_end()
        body.append("")
    if plan.outside_transaction:
        body += ["# 3. Outside the transaction (commits step 2 first): builds and scans that must not hold its locks.",
                 "with op.get_context().autocommit_block():"]
        body += [f"    {operation}" for operation in _unique_lines(plan.outside_transaction)]
    if not any(line and not line.startswith("#") for line in body):
        body.append("pass")  # only comments (clean-ups to review): the function still needs a statement
    lines += [f"    {line}" if line else "" for line in body]
    lines += ["", "", "def downgrade() -> None:"]
    lines += [f"    {line}" for line in (_unique_lines(list(reversed(plan.undo))) or ["pass"])]
    return "\n".join(lines).rstrip() + "\n"
