"""Preflight: what the target database's rows say about each operation of the revisions it has not applied yet.

Every probe is the audit's (``integrity_kit.audit.probes``), inside the audit's read-only, time-boxed transaction,
so a unique index, a foreign key, a CHECK, a NOT NULL or a type change is judged by the same evidence, with the
same sample keys, as the audit's findings about the same rows.
"""

from __future__ import annotations

import ast
import functools
import re
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.exc import DBAPIError, SQLAlchemyError

from integrity_kit.audit.changes import quote
from integrity_kit.audit.probes import Evidence, Probe, ProbeFailed
from integrity_kit.audit.session import Budget, read_only
from integrity_kit.connect import make_engine, parse_url, scrub
from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.migrations.activity import TableActivity, table_activity
from integrity_kit.migrations.model import Op, Revision, literal_str, sql_text
from integrity_kit.migrations.sql import statements_of
from integrity_kit.migrations.syntax import ast_text, literal
from integrity_kit.schema import Snapshot, Table, build_snapshot


@dataclass(frozen=True)
class DataCheck:
    """One operation judged against the live rows: whether it would fail, what is in the way, how big the table is."""

    revision: str
    path: str
    line: int  # the operation's line
    table: str
    what: str  # "the unique constraint uq_x on cart_items(cart_id, product_id)"
    probe: str  # unique, foreign-key, check, not-null, add-not-null-column, type
    would_fail: bool | None  # None: the rows may change before it runs (see ``reason``)
    count: int | None  # rows (or duplicate groups) in the way
    sample_keys: list[Any]
    rows: int | None  # the table's rows, from the catalog
    bytes: int | None
    reason: str  # one sentence: what is in the way and where it fails, or why it passes
    sampled: bool = False
    fails_at: int | None = None  # the line that fails, when it is a later VALIDATE CONSTRAINT and not the operation

    def data(self) -> dict[str, Any]:
        found = {"would_fail": self.would_fail, "count": self.count, "sample_keys": self.sample_keys,
                 "rows": self.rows, "bytes": self.bytes, "probe": self.probe}
        return {**found, "sampled": True} if self.sampled else found


@dataclass
class Preflight:
    """What the preflight read: the checks per revision, and what it could not judge, with why."""

    checks: list[DataCheck] = field(default_factory=list)
    not_analysed: list[dict[str, str]] = field(default_factory=list)
    # table -> its size and the sessions in its way now, for every existing table a pending revision touches
    activity: dict[str, TableActivity] = field(default_factory=dict)
    probed: int = 0

    def size(self, table: str | None) -> tuple[int | None, int | None]:
        seen = self.activity.get(table or "")
        return (seen.rows, seen.bytes) if seen is not None else (None, None)

    def for_revision(self, revision: str) -> list[DataCheck]:
        return [check for check in self.checks if check.revision == revision]

    def check_at(self, revision: str, line: int) -> DataCheck | None:
        return next((c for c in self.checks if c.revision == revision and line in (c.line, c.fails_at)), None)


_ROW_WRITE = re.compile(r"\b(?:UPDATE|INSERT\s+(?:IGNORE\s+)?INTO|DELETE\s+FROM|REPLACE\s+INTO|MERGE\s+INTO|COPY)"
                        r"\s+(?:ONLY\s+)?(?:[`\"\[]?\w+[`\"\]]?\.)?[`\"\[]?(\w+)", re.IGNORECASE)
_VALIDATE = re.compile(r"\bVALIDATE\s+CONSTRAINT\s+[`\"]?(\w+)", re.IGNORECASE)
_NOT_ROW_SQL = re.compile(r"^\s*(?:SET|PRAGMA|ALTER|CREATE|DROP|COMMENT|GRANT|REVOKE|ANALYZE|VACUUM|LOCK|SELECT)\b",
                          re.IGNORECASE)


def run_preflight(url: str, revisions: Sequence[Revision], dialect: str, *, statement_timeout: float = 30.0,
                  sample_rows: int | None = None) -> Preflight:
    """Probe the rows of ``url`` for every operation of ``revisions`` (the pending ones, in the order they run),
    reading only; a probe that cannot finish is a not-analysed entry and the others go on."""
    parsed = parse_url(url)
    engine = make_engine(parsed)
    budget = Budget(statement_timeout, statement_timeout / 10)
    try:
        with engine.connect() as connection, read_only(connection, budget):
            try:
                snapshot = build_snapshot(connection)
            except DBAPIError as error:
                raise IntegrityKitError(f"cannot read the schema of the target: {scrub(first_line(error), parsed)}"
                                        ) from None
            # Who is in the way first: the probes below take locks that would queue behind theirs.
            touched = _touched(snapshot, revisions)
            activity = table_activity(connection, touched)
            # Keyed as findings and checks name their table: unqualified.
            planner = _Planner(snapshot, Probe(connection, sample_rows), dialect, revisions,
                               {name: seen for (_schema, name), seen in activity.items()})
            result = planner.run()
            for seen in activity.values():
                if seen.not_analysed:
                    result.not_analysed.append({"object": f"sessions on {seen.table}", "reason": seen.not_analysed})
            return result
    except SQLAlchemyError as error:
        raise IntegrityKitError(f"the preflight could not read the target: {scrub(first_line(error), parsed)}"
                                ) from None
    finally:
        engine.dispose()


def _touched(snapshot: Snapshot, revisions: Sequence[Revision]) -> list[tuple[str | None, str]]:
    """The existing tables the pending revisions change, in the order they first do."""
    found: dict[tuple[str | None, str], None] = {}
    for revision in revisions:
        for op in revision.upgrade:
            name, schema = op.table, literal_str(op.kw("schema"))
            if name and snapshot.has_table(name, schema):
                found[(schema, name)] = None
            if op.name == "execute":
                for text in _strings(op):
                    for constraint in constraints_in_sql(text):
                        if constraint.table and snapshot.has_table(constraint.table, constraint.schema):
                            found[(constraint.schema, constraint.table)] = None
    return list(found)


@dataclass
class _Seen:
    """What the pending revisions before an operation do to the tables: created, columns added, rows written."""

    created: set[str] = field(default_factory=set)
    # (table, column) -> what a pending revision did to it (added, renamed to it, dropped): its values are not
    # in the database under that name yet
    added: dict[tuple[str, str], str] = field(default_factory=dict)
    renamed: dict[str, str] = field(default_factory=dict)  # table -> what it was renamed from
    # (table, column) added by a pending revision -> what its existing rows hold: "null" or "constant"
    fills: dict[tuple[str, str], str] = field(default_factory=dict)
    writes: list[tuple[str, int, str | None]] = field(default_factory=list)  # (revision, line, table or None)

    def write_before(self, table: str) -> tuple[str, int, str | None] | None:
        return next((w for w in self.writes if w[2] in (None, table)), None)


class _Planner:
    def __init__(self, snapshot: Snapshot, probe: Probe, dialect: str, revisions: Sequence[Revision],
                 activity: dict[str, TableActivity]) -> None:
        self.snapshot = snapshot
        self.probe = probe
        self.dialect = dialect
        self.revisions = revisions
        self.result = Preflight(activity=activity)
        self.seen = _Seen()
        # constraint name -> (revision, line) of the VALIDATE CONSTRAINT a pending revision runs
        self.validations: dict[str, tuple[str, int]] = {}
        for revision in revisions:
            for op in revision.upgrade:
                for text in _strings(op) if op.name == "execute" else ():
                    for name in _VALIDATE.findall(text):
                        self.validations.setdefault(name, (revision.revision, op.line))

    def run(self) -> Preflight:
        for revision in self.revisions:
            self.seen.created |= revision.created_by_metadata
            for op in revision.upgrade:
                try:
                    self._operation(revision, op)
                except ProbeFailed as error:
                    self._not_analysed(revision, op, f"{error.kind}: {error}")
                self._follow(revision, op)
        return self.result

    # --- bookkeeping -------------------------------------------------------------------------------------------

    def _follow(self, revision: Revision, op: Op) -> None:
        table = op.table
        if op.name == "create_table" and table:
            self.seen.created.add(table)
        elif op.name == "add_column" and table:
            column = literal_str(_column_name(op.param("column")))
            if column:
                self.seen.added[(table, column)] = f"added by {revision.revision}"
                fill = _fill(op.param("column"), self.dialect)
                if fill is not None:
                    self.seen.fills[(table, column)] = fill
        elif op.name == "drop_column" and table:
            column = literal_str(op.param("column_name"))
            if column:
                self.seen.added[(table, column)] = f"dropped by {revision.revision}"
                self.seen.fills.pop((table, column), None)
        elif op.name == "alter_column" and table:
            renamed = literal_str(op.kw("new_column_name"))
            if renamed:
                self.seen.added[(table, renamed)] = f"the new name {revision.revision} gives a column"
        elif op.name == "rename_table" and table:
            new = literal_str(op.param("new_table_name"))
            if new:
                self.seen.renamed[new] = f"renamed from {table} by {revision.revision}"
        elif op.name == "bulk_insert":
            target = op.param("table")
            name = literal_str(target.args[0]) if isinstance(target, ast.Call) and target.args else None
            self.seen.writes.append((revision.revision, op.line, name))
        elif op.name == "execute":
            texts = _strings(op)
            if not texts:  # SQL the linter cannot read may write any table
                self.seen.writes.append((revision.revision, op.line, None))
            for text in texts:
                if _NOT_ROW_SQL.match(text):
                    continue
                for name in _ROW_WRITE.findall(text):
                    self.seen.writes.append((revision.revision, op.line, name))

    def _not_analysed(self, revision: Revision, op: Op, reason: str) -> None:
        self.result.not_analysed.append({"object": f"{revision.path}:{op.line} ({revision.revision}) "
                                                   f"{op.name} on {op.table_text}", "reason": reason})

    def _table(self, revision: Revision, op: Op, name: str | None, schema: str | None = None) -> Table | None:
        """The live table the operation reads, or None (and, when it matters, a not-analysed entry)."""
        if name is None:
            self._not_analysed(revision, op, "the table's name is not a literal in the source: not probed")
            return None
        if name in self.seen.created:
            return None  # created by a pending revision: it holds no rows before the migration runs
        if name in self.seen.renamed:
            self._not_analysed(revision, op, f"table {name} is {self.seen.renamed[name]}: not probed")
            return None
        if not self.snapshot.has_table(name, schema):
            self._not_analysed(revision, op, f"the target has no table {name}: not probed")
            return None
        return self.snapshot.table(name, schema)

    def _columns_ready(self, revision: Revision, op: Op, table: Table, columns: Iterable[str]) -> bool:
        for column in columns:
            done = self.seen.added.get((table.name, column))
            if done is not None:
                self._not_analysed(revision, op, f"{table.name}.{column} is {done}: its values are not in the "
                                                 "database under that name yet, so they cannot be probed")
                return False
            if not table.has_column(column):
                self._not_analysed(revision, op, f"the target's {table.name} has no column {column}: not probed")
                return False
        return True

    def _record(self, revision: Revision, op: Op, table: Table, what: str, probe: str, seen: Evidence | None, *,
                fails: Callable[[int], str], passes: str, would_fail: bool | None = None,
                fails_at: int | None = None, count: int | None = None) -> None:
        """One check from the evidence: it fails when rows are in the way, unless ``would_fail`` says otherwise;
        inconclusive when a pending revision writes the table's rows first."""
        count = seen.count if seen is not None and count is None else count
        failing = bool(count) if would_fail is None else would_fail
        reason = fails(count or 0) if failing else passes
        verdict: bool | None = failing
        earlier = self.seen.write_before(table.name)
        if earlier is not None:
            how = f"changes rows of {table.name}" if earlier[2] else "runs SQL the linter cannot read"
            reason = (f"not conclusive: {earlier[0]} line {earlier[1]} {how} before it runs; today "
                      f"{reason[0].lower()}{reason[1:]}")
            verdict = None
        self.result.probed += 1
        self.result.checks.append(DataCheck(
            revision=revision.revision, path=revision.path, line=op.line, table=table.name, what=what, probe=probe,
            would_fail=verdict, count=count, sample_keys=list(seen.samples) if seen is not None else [],
            rows=self.result.size(table.name)[0], bytes=self.result.size(table.name)[1], reason=reason,
            sampled=bool(seen and seen.sampled),
            fails_at=fails_at))

    # --- the operations ----------------------------------------------------------------------------------------

    def _operation(self, revision: Revision, op: Op) -> None:
        if op.name == "execute":
            for text in _strings(op):
                for constraint in constraints_in_sql(text):
                    self._constraint(revision, op, constraint)
            return
        added = _constraint_of(op, revision)
        if added is not None:
            self._constraint(revision, op, added)
        if op.name == "alter_column" and op.has_kw("type_"):
            self._type_change(revision, op)
        elif op.name == "add_column":
            self._add_not_null_column(revision, op)

    def _schema(self, op: Op) -> str | None:
        return literal_str(op.kw("schema"))

    def _constraint(self, revision: Revision, op: Op, constraint: Constraint) -> None:
        if constraint.problem:
            self._not_analysed(revision, op, constraint.problem)
            return
        table = self._table(revision, op, constraint.table, constraint.schema)
        if table is None:
            return
        new = {c: self.seen.fills.get((table.name, c)) for c in constraint.columns
               if (table.name, c) in self.seen.added}
        if new and None not in new.values() and constraint.kind in ("unique", "not-null"):
            self._on_new_columns(revision, op, table, constraint, {c: str(f) for c, f in new.items()})
            return
        if not self._columns_ready(revision, op, table, constraint.columns):
            return
        {"unique": self._unique, "foreign-key": self._foreign_key, "check": self._check,
         "not-null": self._not_null}[constraint.kind](revision, op, table, constraint)

    def _on_new_columns(self, revision: Revision, op: Op, table: Table, constraint: Constraint,
                        fills: dict[str, str]) -> None:
        """A unique or NOT NULL over columns a pending revision adds: their existing rows hold NULL (no server
        default) or the server default's constant, so the verdict follows from the other columns and the rows."""
        columns = constraint.columns
        nulls = [c for c, fill in fills.items() if fill == "null"]
        if constraint.kind == "not-null":
            what = f"NOT NULL on {table.name}.{columns[0]}"
            rows = self.probe.row_count(table)
            self._record(revision, op, table, what, "not-null", None, count=rows if nulls else 0, passes=(
                f"{columns[0]} is added with a server default, which every existing row gets: setting it succeeds"),
                fails=lambda n: (f"{what} would fail: {columns[0]} is added without a server default, so each of the "
                                 f"{n} existing row(s) holds NULL; give it a server default or backfill it first"))
            return
        what = f"{constraint.label} on {table.name}({', '.join(columns)})"
        if nulls:
            self._record(revision, op, table, what, "unique", None, count=0, passes=(
                f"{', '.join(nulls)} is added without a server default: NULL on every existing row, and NULLs never "
                "collide, so adding it succeeds"), fails=lambda _n: "")
            return
        rest = tuple(c for c in columns if c not in fills)
        if rest:
            if not self._columns_ready(revision, op, table, rest):
                return
            seen = self.probe.duplicates(table, rest)
            self._record(revision, op, table, what, "unique", seen, passes=(
                f"every existing row gets the same default in {', '.join(fills)}, and no two rows share "
                f"({', '.join(rest)}): adding it succeeds"), fails=lambda n: (
                f"{what} would fail: every existing row gets the same default in {', '.join(fills)}, and {n} "
                f"group(s) of rows share ({', '.join(rest)}), e.g. {_samples(seen.samples)}"))
            return
        rows = self.probe.row_count(table)
        self._record(revision, op, table, what, "unique", None, count=1 if rows > 1 else 0, passes=(
            f"the table holds {rows} row(s): one default value cannot collide"), fails=lambda _n: (
            f"{what} would fail: {', '.join(fills)} is added with a server default, so all {rows} existing rows get "
            "the same value; add it without a default (NULLs never collide) and backfill distinct values first"))

    def _unique(self, revision: Revision, op: Op, table: Table, constraint: Constraint) -> None:
        columns = constraint.columns
        what = f"{constraint.label} on {table.name}({', '.join(columns)})"
        seen = self.probe.duplicates(table, columns)
        self._record(revision, op, table, what, "unique", seen, passes=(
            f"no duplicates in {seen.rows_checked} rows: adding it succeeds"), fails=lambda n: (
            f"{what} would fail: {n} group(s) of rows share ({', '.join(columns)}), e.g. "
            f"{_samples(seen.samples)}; remove or merge the copies first"))

    def _foreign_key(self, revision: Revision, op: Op, child: Table, constraint: Constraint) -> None:
        local, remote, parent_name = constraint.columns, constraint.parent_columns, constraint.parent or ""
        what = f"{constraint.label} {child.name}({', '.join(local)}) -> {parent_name}({', '.join(remote)})"
        not_valid, validated = self._not_valid(constraint)
        fails_at = validated[1] if validated else None
        if parent_name in self.seen.created:  # a new, empty parent: every child row with a value is an orphan
            present = " AND ".join(f"{quote(self.dialect, c)} IS NULL" for c in local)
            seen = self.probe.violations(child, present)
            self._record(revision, op, child, what, "foreign-key", seen, would_fail=_fails(seen, not_valid, validated),
                         fails_at=fails_at, passes=(
                f"no row of {child.name} has a value in ({', '.join(local)}): adding it succeeds"), fails=lambda n: (
                f"{what} would fail: {parent_name} is created empty by a pending revision, and {n} row(s) of "
                f"{child.name} point at it, e.g. {_samples(seen.samples)}"))
            return
        parent = self._table(revision, op, parent_name, constraint.parent_schema)
        if parent is None or not self._columns_ready(revision, op, parent, remote):
            return
        seen = self.probe.orphans(child, local, parent, remote)
        self._record(revision, op, child, what, "foreign-key", seen, fails_at=fails_at,
                     would_fail=_fails(seen, not_valid, validated),
                     passes=self._not_valid_pass(not_valid, seen, f"no orphans in {seen.rows_checked} rows: "
                                                                   "adding it succeeds"),
                     fails=lambda n: (f"{what} would fail{self._where(validated)}: {n} row(s) of {child.name} point "
                                      f"at no {parent_name} row, e.g. {_samples(seen.samples)}{self._sqlite_fk()}"))

    def _check(self, revision: Revision, op: Op, table: Table, constraint: Constraint) -> None:
        condition = constraint.condition or ""
        not_valid, validated = self._not_valid(constraint)
        what = f"{constraint.label} CHECK ({condition}) on {table.name}"
        seen = self.probe.violations(table, condition)
        self._record(revision, op, table, what, "check", seen, fails_at=validated[1] if validated else None,
                     would_fail=_fails(seen, not_valid, validated),
                     passes=self._not_valid_pass(not_valid, seen, f"all {seen.rows_checked} rows satisfy it: adding "
                                                                   "it succeeds"),
                     fails=lambda n: (f"{what} would fail{self._where(validated)}: {n} row(s) break it, e.g. "
                                      f"{_samples(seen.samples)}"))

    def _not_null(self, revision: Revision, op: Op, table: Table, constraint: Constraint) -> None:
        column = constraint.columns[0]
        what = f"NOT NULL on {table.name}.{column}"
        seen = self.probe.violations(table, f"{quote(self.dialect, column)} IS NOT NULL")
        self._record(revision, op, table, what, "not-null", seen, passes=(
            f"no NULL in {seen.rows_checked} rows: setting it succeeds"), fails=lambda n: (
            f"{what} would fail: {n} row(s) hold NULL, e.g. {_samples(seen.samples)}; backfill them first"
            + ("" if not constraint.server_default else " (a server default fills only new rows)")))

    def _add_not_null_column(self, revision: Revision, op: Op) -> None:
        node = op.param("column")
        if not (isinstance(node, ast.Call) and ast_text(node.func).split(".")[-1] == "Column"):
            return
        keywords = {k.arg: k.value for k in node.keywords if k.arg}
        if literal(keywords.get("nullable")) is not False or "server_default" in keywords \
                or literal(keywords.get("primary_key")) is True:
            return
        table = self._table(revision, op, op.table, self._schema(op))
        column = literal_str(_column_name(node))
        if table is None:
            return
        rows = self.probe.row_count(table)
        what = f"the NOT NULL column {table.name}.{column or '?'} without a default"
        if self.dialect == "sqlite":
            failing, why = True, f"{what} would fail: SQLite refuses a NOT NULL column without a default"
        elif self.dialect == "mysql":
            failing, why = False, (f"MySQL/MariaDB give each of the {rows} existing rows the type's implicit "
                                   "default (0, '', a zero date): it succeeds, with invented values")
        else:
            failing, why = rows > 0, f"{what} would fail: the table holds {rows} row(s), each of which would be NULL"
        self._record(revision, op, table, what, "add-not-null-column", None, count=rows, would_fail=failing,
                     passes=why if not failing else "", fails=lambda _n: why)

    def _type_change(self, revision: Revision, op: Op) -> None:
        table = self._table(revision, op, op.table, self._schema(op))
        column = literal_str(op.param("column_name"))
        if table is None or column is None or not self._columns_ready(revision, op, table, [column]):
            return
        source = ast_text(op.kw("type_"))
        if self.dialect == "sqlite":
            return  # SQLite stores any value in any column (type affinity): a rebuild never refuses a row
        target = _TargetType.parse(source)
        if target is None:
            self._not_analysed(revision, op, f"whether every value of {table.name}.{column} fits {source} is not "
                                             "probed (lengths, numeric ranges and casts to numbers are)")
            return
        current = table.column(column).type_sql.lower()
        using = op.has_kw("postgresql_using")
        name = quote(self.dialect, column)
        what = f"the type change of {table.name}.{column} to {target.source}"
        textual = any(word in current for word in ("char", "text", "clob", "string"))
        if target.kind in ("integer", "numeric") and textual and self.dialect == "postgresql" and not using:
            self.result.probed += 1
            rows, size = self.result.size(table.name)
            self.result.checks.append(DataCheck(
                revision.revision, revision.path, op.line, table.name, what, "type", True, None, [], rows, size,
                f"{what} would fail whatever the rows hold: PostgreSQL casts {current} to {target.kind} only with "
                f"postgresql_using=\"{column}::{target.sql}\""))
            return
        condition = target.fits(self.dialect, name, textual=textual)
        if condition is None:
            return
        seen = self.probe.violations(table, condition)
        self._record(revision, op, table, what, "type", seen, passes=(
            f"every one of {seen.rows_checked} values fits {target.source}"), fails=lambda n: (
            f"{what} would fail: {n} row(s) hold values that do not fit, e.g. {_samples(seen.samples)}"))

    # --- NOT VALID on PostgreSQL -------------------------------------------------------------------------------

    def _not_valid(self, constraint: Constraint) -> tuple[bool, tuple[str, int] | None]:
        """Whether the constraint is created NOT VALID (PostgreSQL only), and the VALIDATE that later checks it."""
        not_valid = self.dialect == "postgresql" and constraint.not_valid
        name = constraint.name
        return not_valid, (self.validations.get(name) if not_valid and name else None)

    def _not_valid_pass(self, not_valid: bool, seen: Evidence, otherwise: str) -> str:
        if not_valid and seen.count:
            return (f"NOT VALID: adding it succeeds, but {seen.count} existing row(s) break it, e.g. "
                    f"{_samples(seen.samples)}, and no pending revision validates it; VALIDATE will fail until "
                    "they are fixed")
        return otherwise

    @staticmethod
    def _where(validated: tuple[str, int] | None) -> str:
        return f" at the VALIDATE CONSTRAINT of {validated[0]} line {validated[1]}" if validated else ""

    def _sqlite_fk(self) -> str:
        return (" (SQLite checks them when the rebuilt table is filled with foreign_keys on; with it off the rows "
                "stay and break the key)") if self.dialect == "sqlite" else ""


@dataclass(frozen=True)
class Constraint:
    """A constraint an operation adds, from its op.* call or from the SQL it executes: what the probes need."""

    kind: str  # unique, foreign-key, check, not-null
    table: str | None
    columns: tuple[str, ...] = ()
    label: str = ""  # "unique constraint uq_x", "index ix_y", "foreign key fk_z"
    name: str | None = None
    schema: str | None = None
    parent: str | None = None
    parent_schema: str | None = None
    parent_columns: tuple[str, ...] = ()
    condition: str | None = None
    not_valid: bool = False
    server_default: bool = False
    problem: str | None = None  # why it cannot be probed (expressions, a partial index, names that are not literals)


def _constraint_of(op: Op, revision: Revision) -> Constraint | None:
    """The constraint an op.* call adds, or None when it adds none the rows could make fail."""
    schema = literal_str(op.kw("schema"))
    not_valid = literal(op.kw("postgresql_not_valid")) is True
    if op.name in ("create_unique_constraint", "create_index"):
        if op.name == "create_index" and literal(op.kw("unique")) is not True:
            return None
        columns = op.names("columns")
        problem = None
        if columns is None:
            problem = "its columns are expressions, not names: not probed"
        elif any(op.has_kw(where) for where in ("postgresql_where", "sqlite_where")):
            problem = ("a partial unique index: only the rows its predicate keeps must be unique, and that predicate "
                       "is not probed")
        return Constraint("unique", op.table, tuple(columns or ()), op.object_text, op.object_name, schema,
                          problem=problem)
    if op.name == "create_foreign_key":
        parent = literal_str(op.param("referent_table"))
        local, remote = op.names("local_cols"), op.names("remote_cols")
        problem = None
        if parent is None or local is None or remote is None or len(local) != len(remote):
            problem = "the referenced table or the columns are not literals: not probed"
        return Constraint("foreign-key", op.table, tuple(local or ()), op.object_text, op.object_name, schema,
                          parent, literal_str(op.kw("referent_schema")), tuple(remote or ()), not_valid=not_valid,
                          problem=problem)
    if op.name == "create_check_constraint":
        condition = sql_text(op.param("condition")) or _rendered_check(revision, op.object_name)
        problem = None if condition else "its condition is a Python expression that did not render to SQL: not probed"
        return Constraint("check", op.table, (), op.object_text, op.object_name, schema, condition=condition,
                          not_valid=not_valid, problem=problem)
    if op.name == "alter_column" and literal(op.kw("nullable")) is False:
        column = literal_str(op.param("column_name"))
        return Constraint("not-null", op.table, (column,) if column else (), schema=schema,
                          server_default=op.has_kw("server_default"),
                          problem=None if column else "the column's name is not a literal: not probed")
    return None


_ID = r'[`"\[]?([A-Za-z_][\w$]*)[`"\]]?'
_TABLE = rf"(?:{_ID}\.)?{_ID}"
_SQL_UNIQUE_INDEX = re.compile(rf"^CREATE UNIQUE INDEX (?:CONCURRENTLY )?(?:IF NOT EXISTS )?(?:{_ID} )?ON (?:ONLY )?"
                               rf"{_TABLE} (?:USING \w+ ?)?\((?P<columns>[^()]*(?:\([^()]*\)[^()]*)*)\)(?P<rest>.*)$",
                               re.IGNORECASE)
_SQL_ALTER = re.compile(rf"^ALTER TABLE (?:ONLY )?(?:IF EXISTS )?{_TABLE} (?P<action>.*)$", re.IGNORECASE)
_SQL_ADD = re.compile(rf"^ADD (?:CONSTRAINT {_ID} )?(?P<body>.*)$", re.IGNORECASE)
_SQL_UNIQUE = re.compile(rf"^UNIQUE (?:NULLS NOT DISTINCT )?(?:KEY |INDEX )?(?:{_ID} ?)?\((?P<columns>[^()]*)\)\s*$",
                         re.IGNORECASE)
_SQL_FK = re.compile(rf"^FOREIGN KEY \((?P<columns>[^()]*)\) REFERENCES {_TABLE} ?\((?P<parent>[^()]*)\)(?P<rest>.*)$",
                     re.IGNORECASE)
_SQL_NOT_NULL = re.compile(rf"^ALTER (?:COLUMN )?{_ID} SET NOT NULL\s*$", re.IGNORECASE)


@functools.lru_cache(maxsize=1024)
def constraints_in_sql(sql: str) -> tuple[Constraint, ...]:
    """The constraints that raw SQL (an ``op.execute`` string) adds: UNIQUE, unique indexes, FOREIGN KEY, CHECK
    and SET NOT NULL, one action per ALTER TABLE; anything else adds none the probes know."""
    found: list[Constraint] = []
    for statement in statements_of(sql):
        text = " ".join(statement.split()).rstrip(";")
        index = _SQL_UNIQUE_INDEX.match(text)
        if index:
            columns = _identifiers(index.group("columns"))
            problem = None if columns else "its columns are expressions, not names: not probed"
            if re.search(r"\bWHERE\b", index.group("rest"), re.IGNORECASE):
                problem = "a partial unique index: its predicate is not probed"
            found.append(Constraint("unique", index.group(3), columns or (), f"index {index.group(1) or ''}".strip(),
                                    index.group(1), index.group(2), problem=problem))
            continue
        alter = _SQL_ALTER.match(text)
        if alter is None:
            continue
        schema, table, action = alter.group(1), alter.group(2), alter.group("action")
        not_null = _SQL_NOT_NULL.match(action)
        if not_null:
            found.append(Constraint("not-null", table, (not_null.group(1),), schema=schema))
            continue
        add = _SQL_ADD.match(action)
        if add is None:
            continue
        name, body = add.group(1), add.group("body")
        unique = _SQL_UNIQUE.match(body)
        fk = _SQL_FK.match(body)
        if unique:
            columns = _identifiers(unique.group("columns"))
            found.append(Constraint("unique", table, columns or (), _label("unique constraint", name), name, schema,
                                    problem=None if columns else "its columns are not plain names: not probed"))
        elif fk:
            local, remote = _identifiers(fk.group("columns")), _identifiers(fk.group("parent"))
            found.append(Constraint("foreign-key", table, local or (), _label("foreign key", name), name, schema,
                                    fk.group(3), fk.group(2), remote or (),
                                    not_valid=bool(re.search(r"\bNOT VALID\b", fk.group("rest"), re.IGNORECASE)),
                                    problem=None if local and remote and len(local) == len(remote)
                                    else "its columns are not plain names: not probed"))
        elif re.match(r"^CHECK\s*\(", body, re.IGNORECASE):
            condition = _balanced(body, body.index("(") + 1)
            found.append(Constraint("check", table, (), _label("CHECK constraint", name), name, schema,
                                    condition=condition,
                                    not_valid=bool(re.search(r"\)\s*NOT VALID\s*$", body, re.IGNORECASE)),
                                    problem=None if condition else "its condition could not be read: not probed"))
    return tuple(found)


def _label(kind: str, name: str | None) -> str:
    return f"{kind} {name}" if name else f"a {kind}"


def _identifiers(text: str) -> tuple[str, ...] | None:
    """A comma-separated list of plain (optionally quoted) column names, or None when any item is an expression."""
    names = []
    for item in text.split(","):
        match = re.fullmatch(rf"\s*{_ID}(?:\s+(?:ASC|DESC))?\s*", item, re.IGNORECASE)
        if match is None:
            return None
        names.append(match.group(1))
    return tuple(names) or None


@dataclass(frozen=True)
class _TargetType:
    """The new type of an ``alter_column(type_=...)``, as far as whether old values fit it can be told."""

    source: str
    kind: str  # string, numeric, integer
    sql: str
    length: int | None = None
    precision: int | None = None
    scale: int = 0
    bits: int | None = None

    @classmethod
    def parse(cls, source: str) -> _TargetType | None:
        match = re.fullmatch(r"\s*(?:\w+\.)*(\w+)\s*(?:\((.*)\))?\s*", source)
        if match is None:
            return None
        name, args = match.group(1).lower(), [a.strip() for a in (match.group(2) or "").split(",") if a.strip()]
        numbers = [int(value) for arg in args if (value := arg.split("=")[-1].strip()).isdigit()]
        if name in ("string", "varchar", "char", "unicode", "nvarchar", "nchar") and numbers:
            return cls(source.strip(), "string", f"varchar({numbers[0]})", length=numbers[0])
        if name in ("numeric", "decimal") and numbers:
            precision, scale = numbers[0], numbers[1] if len(numbers) > 1 else 0
            return cls(source.strip(), "numeric", f"numeric({precision},{scale})", precision=precision, scale=scale)
        bits = {"smallinteger": 16, "smallint": 16, "integer": 32, "int": 32, "biginteger": 64, "bigint": 64}
        if name in bits:
            return cls(source.strip(), "integer", {16: "smallint", 32: "integer", 64: "bigint"}[bits[name]],
                       bits=bits[name])
        return None

    def fits(self, dialect: str, column: str, *, textual: bool) -> str | None:
        """SQL true for a value that fits (NULL passes), or None when every value fits whatever it is."""
        if self.kind == "string" and self.length is not None:
            return f"CHAR_LENGTH({column}) <= {self.length}"
        if textual:
            digits = r"^[[:space:]]*[-+]?[0-9]+[[:space:]]*$" if self.kind == "integer" else \
                r"^[[:space:]]*[-+]?([0-9]+[.]?[0-9]*|[.][0-9]+)[[:space:]]*$"
            return f"{column} ~ '{digits}'" if dialect == "postgresql" else f"{column} REGEXP '{digits}'"
        if self.kind == "numeric" and self.precision is not None:
            return f"ABS({column}) < 1e{self.precision - self.scale}"
        if self.kind == "integer" and self.bits is not None and self.bits < 64:
            high = 2 ** (self.bits - 1)
            return f"{column} BETWEEN {-high} AND {high - 1}"
        return None


def _fails(seen: Evidence, not_valid: bool, validated: tuple[str, int] | None) -> bool:
    """Rows break the constraint, and something checks them: its creation, or the VALIDATE of a NOT VALID one."""
    return bool(seen.count) and (not not_valid or validated is not None)


def _fill(node: ast.AST | None, dialect: str) -> str | None:
    """What an added column holds on the rows that exist: "null" (nullable, no server default), "constant" (a
    literal server default, or MySQL's implicit default for NOT NULL), None when that cannot be told."""
    if not isinstance(node, ast.Call):
        return None
    keywords = {k.arg: k.value for k in node.keywords if k.arg}
    default = keywords.get("server_default")
    if default is not None and not (isinstance(default, ast.Constant) and default.value is None):
        return "constant" if literal(default) is not None else None  # sa.text("now()") differs row by row
    if "server_onupdate" in keywords or "computed" in ast_text(node).lower() or "identity" in ast_text(node).lower():
        return None
    nullable = literal(keywords.get("nullable"))
    if nullable is False or literal(keywords.get("primary_key")) is True:
        return "constant" if dialect == "mysql" else None
    return "null"


def _column_name(node: ast.AST | None) -> ast.AST | None:
    return node.args[0] if isinstance(node, ast.Call) and node.args else None


def _strings(op: Op) -> list[str]:
    """Every string literal in an ``op.execute`` call (a ``text()`` with ``bindparams`` included)."""
    return [node.value for node in ast.walk(op.call) if isinstance(node, ast.Constant) and isinstance(node.value, str)]


def _rendered_check(revision: Revision, name: str | None) -> str | None:
    """The condition of CHECK constraint ``name`` as the revision's rendered SQL spells it."""
    if name is None:
        return None
    pattern = re.compile(rf"CONSTRAINT\s+[`\"]?{re.escape(name)}[`\"]?\s+CHECK\s*\(", re.IGNORECASE)
    for statement in revision.statements:
        match = pattern.search(statement.sql)
        if match:
            return _balanced(statement.sql, match.end())
    return None


def _balanced(text: str, start: int) -> str | None:
    depth, quoted = 1, False
    for index in range(start, len(text)):
        char = text[index]
        if char == "'":
            quoted = not quoted
        elif not quoted and char == "(":
            depth += 1
        elif not quoted and char == ")":
            depth -= 1
            if depth == 0:
                return text[start:index].strip()
    return None


def _samples(samples: list[Any]) -> str:
    return ", ".join(map(repr, samples[:3])) + (" ..." if len(samples) > 3 else "")

