"""``--fix-migration FILE``: an Alembic revision that applies the audit's fixes with the safe patterns.

The revision has three parts, in this order:

1. data clean-ups a finding needs first (orphans, duplicates, NULLs, rows breaking a check), written as comments:
   deleting or changing someone's rows is a decision, never a side effect of running a migration;
2. schema changes inside the migration's transaction: constraints ``NOT VALID`` on PostgreSQL, column changes,
   and on SQLite one batch (table rebuild) per table;
3. on PostgreSQL, what must not hold the migration's locks: ``CREATE INDEX CONCURRENTLY``, ``VALIDATE CONSTRAINT``
   and ``SET NOT NULL`` after a validated ``IS NOT NULL`` check, in an autocommit block (which commits part 2 first).

Findings without an automatic fix (a missing primary key, drift from the models, …) are listed at the top.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timezone

from integrity_kit import __version__
from integrity_kit.audit.fixes import (
    blocking_rows,
    cleanup_statements,
    constraint_name,
    describe_blocking,
    py_list,
    schema_kw,
)
from integrity_kit.audit.model import Finding
from integrity_kit.schema import Column, Snapshot, Table
from integrity_kit.schema.coltypes import neutral

MONEY_TYPE = "sa.Numeric(12, 2)"
_SIMPLE_TYPES = {"date": "Date", "boolean": "Boolean", "uuid": "Uuid", "json": "JSON"}


@dataclass
class Plan:
    dialect: str
    cleanups: list[str] = field(default_factory=list)
    in_transaction: list[str] = field(default_factory=list)
    batches: dict[str, list[str]] = field(default_factory=lambda: defaultdict(list))  # SQLite, per table
    outside_transaction: list[str] = field(default_factory=list)
    undo: list[str] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    fixed: list[Finding] = field(default_factory=list)
    indexes: dict[str, list[tuple[str, ...]]] = field(default_factory=lambda: defaultdict(list))  # planned, per table

    def covered(self, table: Table, columns) -> bool:
        """An index planned in this revision already leads with exactly these columns (in any order)."""
        wanted = set(columns)
        return any(set(planned[:len(wanted)]) == wanted for planned in self.indexes[_qualified(table)])


def plan_fixes(findings: list[Finding], snapshot: Snapshot) -> Plan:
    """What a fix migration for ``findings`` would do on ``snapshot``'s engine, step by step."""
    plan = Plan(snapshot.dialect)
    # Unique keys first: an index for a foreign key that a new unique key leads with would be redundant.
    for finding in sorted(findings, key=lambda finding: finding.rule != "missing-unique-constraint"):
        table = snapshot.table(finding.table, finding.schema) if snapshot.has_table(finding.table, finding.schema) \
            else None
        planner = _PLANNERS.get(finding.rule)
        if table is None or planner is None:
            plan.skipped.append(f"{finding.code} {finding.rule} {finding.table}: {finding.message}")
            if table is not None:  # no schema change, but the data may still want a reviewed clean-up
                _cleanup(plan, finding)
            continue
        if planner(plan, finding, table, snapshot) is False:
            continue
        _cleanup(plan, finding)
        plan.fixed.append(finding)
    return plan


def write_fix_migration(findings: list[Finding], snapshot: Snapshot, url: str, *, down_revision: str | None = None,
                        revision: str | None = None) -> str:
    """The text of an Alembic revision file that fixes ``findings`` on ``snapshot``'s engine."""
    return render_plan(plan_fixes(findings, snapshot), url, revision=revision, down_revision=down_revision)


def _cleanup(plan: Plan, finding: Finding) -> None:
    blocking = blocking_rows(finding)
    if not blocking or finding.fix is None:
        return
    plan.cleanups.append(f"{finding.table}({', '.join(finding.columns)}): {describe_blocking(blocking)}, e.g. "
                         f"{finding.evidence.get('sample_keys', [])[:3]}")
    plan.cleanups += [f"    {line}" for line in cleanup_statements(finding)]


def _sa_type(column: Column, dialect: str) -> str:
    kind, *details = neutral(column.type, dialect)
    if kind == "integer":
        return {"big": "sa.BigInteger()", "small": "sa.SmallInteger()", "tiny": "sa.SmallInteger()"}.get(
            details[0], "sa.Integer()")
    if kind == "numeric":
        return f"sa.Numeric({details[0]}, {details[1]})" if details[0] else "sa.Numeric()"
    if kind == "float":
        return "sa.Float()"
    if kind == "string":
        return f"sa.String({details[0]})"
    if kind == "text":
        return "sa.Text()"
    if kind == "datetime":
        return f"sa.DateTime(timezone={details[0]})"
    if kind in _SIMPLE_TYPES:
        return f"sa.{_SIMPLE_TYPES[kind]}()"
    return f"sa.types.NullType()  # {column.type_sql}"


def _index(plan: Plan, table: Table, columns, *, unique: bool = False) -> None:
    if not unique and plan.covered(table, columns):
        return
    plan.indexes[_qualified(table)].append(tuple(columns))
    name = constraint_name("uq" if unique else "ix", table.name, columns)
    args = f"{name!r}, {table.name!r}, {py_list(columns)}{', unique=True' if unique else ''}{schema_kw(table)}"
    if plan.dialect == "postgresql":
        plan.outside_transaction.append(f"op.create_index({args}, postgresql_concurrently=True)")
        if unique:
            plan.outside_transaction.append(
                f'op.execute("ALTER TABLE {_qualified(table)} ADD CONSTRAINT {name} UNIQUE USING INDEX {name}")')
            plan.undo.append(f"op.drop_constraint({name!r}, {table.name!r}, type_='unique'{schema_kw(table)})")
            return
        plan.undo.append(f"op.drop_index({name!r}, table_name={table.name!r}{schema_kw(table)})")
        return
    if unique and plan.dialect in ("mysql", "mariadb"):
        plan.in_transaction.append(f"op.create_unique_constraint({name!r}, {table.name!r}, {py_list(columns)}"
                                   f"{schema_kw(table)})")
        plan.undo.append(f"op.drop_constraint({name!r}, {table.name!r}, type_='unique'{schema_kw(table)})")
        return
    plan.in_transaction.append(f"op.create_index({args})")
    plan.undo.append(f"op.drop_index({name!r}, table_name={table.name!r}{schema_kw(table)})")


def _in_batch(plan: Plan, table: Table, operation: str, undo: str) -> None:
    """SQLite: one operation in the table's rebuild, and its inverse for downgrade()."""
    plan.batches[table.name].append(f"batch.{operation}")
    plan.undo.append(f"with op.batch_alter_table({table.name!r}) as batch:\n        batch.{undo}")


def _validate_later(plan: Plan, table: Table, name: str) -> None:
    """PostgreSQL: validate a NOT VALID constraint outside the migration's transaction."""
    if plan.dialect == "postgresql":
        plan.outside_transaction.append(f'op.execute("ALTER TABLE {_qualified(table)} VALIDATE CONSTRAINT {name}")')


def _qualified(table: Table) -> str:
    return f"{table.schema}.{table.name}" if table.schema else table.name


def _foreign_key(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> None:
    target = finding.target or {}
    columns, target_columns = finding.columns, tuple(target.get("columns", ()))
    if not table.covering(columns):
        _index(plan, table, columns)
    name = constraint_name("fk", table.name, columns, target["table"])
    args = f"{name!r}, {target['table']!r}, {py_list(columns)}, {py_list(target_columns)}"
    if plan.dialect == "sqlite":
        _in_batch(plan, table, f"create_foreign_key({args})", f"drop_constraint({name!r}, type_='foreignkey')")
        return
    schemas = ""
    if table.schema:
        schemas += f", source_schema={table.schema!r}"
    if target.get("schema"):
        schemas += f", referent_schema={target['schema']!r}"
    valid = ", postgresql_not_valid=True" if plan.dialect == "postgresql" else ""
    plan.in_transaction.append(f"op.create_foreign_key({name!r}, {table.name!r}, {target['table']!r}, "
                               f"{py_list(columns)}, {py_list(target_columns)}{schemas}{valid})")
    _validate_later(plan, table, name)
    plan.undo.append(f"op.drop_constraint({name!r}, {table.name!r}, type_='foreignkey'{schema_kw(table)})")


def _unindexed(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> None:
    _index(plan, table, finding.columns)


def _unique(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> None:
    _index(plan, table, finding.columns, unique=True)


def _check(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> bool | None:
    condition = finding.evidence.get("condition")
    if not condition or "…" in condition:
        plan.skipped.append(f"{finding.code} {finding.rule} {finding.table}: no condition to add ({finding.message})")
        return False
    name = constraint_name("ck", table.name, [finding.columns[0] if finding.columns else "check"])
    if plan.dialect == "sqlite":
        _in_batch(plan, table, f"create_check_constraint({name!r}, {condition!r})",
                  f"drop_constraint({name!r}, type_='check')")
        return
    valid = ", postgresql_not_valid=True" if plan.dialect == "postgresql" else ""
    plan.in_transaction.append(f"op.create_check_constraint({name!r}, {table.name!r}, {condition!r}"
                               f"{schema_kw(table)}{valid})")
    _validate_later(plan, table, name)
    plan.undo.append(f"op.drop_constraint({name!r}, {table.name!r}, type_='check'{schema_kw(table)})")


def _not_null(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> None:
    column = table.column(finding.columns[0])
    existing = f"existing_type={_sa_type(column, plan.dialect)}"
    if plan.dialect == "sqlite":
        _in_batch(plan, table, f"alter_column({column.name!r}, {existing}, nullable=False)",
                  f"alter_column({column.name!r}, {existing}, nullable=True)")
        return
    alter = f"op.alter_column({table.name!r}, {column.name!r}, {existing}, nullable=False{schema_kw(table)})"
    if plan.dialect == "postgresql":
        # A validated IS NOT NULL check lets SET NOT NULL skip its own full scan under an exclusive lock.
        helper = constraint_name("ck", table.name, [column.name, "not_null"])
        plan.in_transaction.append(f"op.create_check_constraint({helper!r}, {table.name!r}, "
                                   f"'{column.name} IS NOT NULL'{schema_kw(table)}, postgresql_not_valid=True)")
        plan.outside_transaction += [f'op.execute("ALTER TABLE {_qualified(table)} VALIDATE CONSTRAINT {helper}")',
                                     alter,
                                     f"op.drop_constraint({helper!r}, {table.name!r}, type_='check'"
                                     f"{schema_kw(table)})"]
    else:
        plan.in_transaction.append(alter)
    plan.undo.append(alter.replace("nullable=False", "nullable=True"))


def _money(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> None:
    column = table.column(finding.columns[0])
    existing = f"existing_type={_sa_type(column, plan.dialect)}, existing_nullable={column.nullable}"
    if plan.dialect == "sqlite":
        _in_batch(plan, table, f"alter_column({column.name!r}, {existing}, type_={MONEY_TYPE})",
                  f"alter_column({column.name!r}, type_={_sa_type(column, plan.dialect)})")
        return
    plan.in_transaction.append("# rewrites the table under an exclusive lock: on a big table add a NUMERIC column, "
                               "backfill it in batches, switch, drop the old one")
    plan.in_transaction.append(f"op.alter_column({table.name!r}, {column.name!r}, {existing}, type_={MONEY_TYPE}"
                               f"{schema_kw(table)})")
    plan.undo.append(f"op.alter_column({table.name!r}, {column.name!r}, type_={_sa_type(column, plan.dialect)}"
                     f"{schema_kw(table)})")


def _drop_index(plan: Plan, finding: Finding, table: Table, snapshot: Snapshot) -> None:
    name = finding.evidence.get("index")
    if plan.dialect == "postgresql":
        plan.outside_transaction.append(f"op.drop_index({name!r}, table_name={table.name!r}{schema_kw(table)}, "
                                        "postgresql_concurrently=True)")
    else:
        plan.in_transaction.append(f"op.drop_index({name!r}, table_name={table.name!r}{schema_kw(table)})")
    index = next((i for i in table.indexes if i.name == name), None)
    if index is not None and not index.has_expressions:
        plan.undo.append(f"op.create_index({name!r}, {table.name!r}, {py_list(index.columns)}, unique={index.unique}"
                         f"{schema_kw(table)})")


_PLANNERS = {
    "missing-foreign-key": _foreign_key,
    "unindexed-foreign-key": _unindexed,
    "missing-unique-constraint": _unique,
    "missing-check-constraint": _check,
    "missing-not-null": _not_null,
    "nullable-unique-column": _not_null,
    "float-for-money": _money,
    "redundant-index": _drop_index,
    "invalid-index": _drop_index,
}


def _unique_lines(lines: list[str]) -> list[str]:
    return list(dict.fromkeys(lines))  # two findings may ask for the same index


def render_plan(plan: Plan, url: str, *, revision: str | None = None, down_revision: str | None = None) -> str:
    revision = revision or uuid.uuid4().hex[:12]
    lines = [f'"""integrity-kit fixes for {url}', "",
             f"{len(plan.fixed)} finding(s) fixed by this revision; read it before you run it.", ""]
    if plan.skipped:
        lines += ["Not fixed here (no automatic fix; see `integrity-kit explain RULE`):"]
        lines += [f"- {item}" for item in plan.skipped]
        lines.append("")
    lines += [f"Revision ID: {revision}", f"Revises: {down_revision or ''}",
              f"Create Date: {datetime.now(timezone.utc):%Y-%m-%d %H:%M:%S} by integrity-kit {__version__}", '"""',
              "", "import sqlalchemy as sa", "from alembic import op", "",
              f"revision = {revision!r}",
              f"down_revision = {down_revision!r}  # set this to your current head",
              "branch_labels = None", "depends_on = None", "", "", "def upgrade() -> None:"]
    body: list[str] = []
    if plan.cleanups:
        body += ["# 1. Clean the data first: adding these constraints fails while these rows exist. Review each",
                 "#    statement, run it (or uncomment it here) when the rows are really to go:"]
        body += [f"#    {line}" for line in plan.cleanups]
        body.append("")
    if plan.in_transaction or plan.batches:
        body.append("# 2. Schema changes, in the migration's transaction.")
        body += _unique_lines(plan.in_transaction)
        for table, operations in plan.batches.items():
            # SQLite rebuilds the table: run with PRAGMA foreign_keys=OFF around it (in env.py) so the rebuild
            # cannot cascade deletes, then PRAGMA foreign_key_check.
            body.append(f"with op.batch_alter_table({table!r}) as batch:")
            body += [f"    {operation}" for operation in operations]
        body.append("")
    if plan.outside_transaction:
        body += ["# 3. Outside the transaction (commits step 2 first): builds and scans that must not hold its locks.",
                 "with op.get_context().autocommit_block():"]
        body += [f"    {operation}" for operation in _unique_lines(plan.outside_transaction)]
    lines += [f"    {line}" if line else "" for line in (body or ["pass"])]
    lines += ["", "", "def downgrade() -> None:"]
    lines += [f"    {line}" for line in (_unique_lines(list(reversed(plan.undo))) or ["pass"])]
    return "\n".join(lines).rstrip() + "\n"
