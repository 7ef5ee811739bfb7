"""Keys: primary keys, foreign keys that are missing, unindexed, mistyped or not enforced."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Iterator
from dataclasses import dataclass
from fnmatch import fnmatchcase
from typing import Any

from integrity_kit.audit.changes import (
    AddForeignKey,
    AddPrimaryKey,
    Changes,
    ChangeType,
    ConvertToInnoDB,
    CreateIndex,
    DeleteOrphans,
    ForeignKeysPragma,
    KeptAttributes,
    Operation,
    TableName,
    ValidateConstraint,
    sa_type,
)
from integrity_kit.audit.evidence import deletion_headline, judged
from integrity_kit.audit.model import DataRule, Finding, Rule, RuleOption, Severity
from integrity_kit.audit.naming import exact_type, family, table_key, words
from integrity_kit.audit.probes import Probe
from integrity_kit.schema import Column, ForeignKey, Index, Snapshot, Table


class MissingPrimaryKey(Rule):
    """A table without a primary key.

    ## What it checks

    Every table has a primary key (or, failing that, a unique constraint over NOT NULL columns).

    ## Why it matters

    Without a key, two rows can be identical and nothing can point at exactly one of them: updates and deletes by
    value hit every copy, ORMs cannot track the row, and replication tools refuse or crawl.

    ## Example

    ```sql
    CREATE TABLE audit_log (happened_at TIMESTAMP, message TEXT);
    ```

    ## How to fix

    Add a surrogate key (`id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY`) or declare the natural key.
    """

    code = "IK100"
    name = "missing-primary-key"
    severity = Severity.ERROR
    summary = "Table has no primary key."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            if table.primary_key and table.primary_key.columns:
                continue
            if any(all(not table.column(c).nullable for c in u.columns if table.has_column(c))
                   for u in table.unique_constraints):
                continue
            yield self.finding(table, (), f"{table.qualified_name} has no primary key: rows cannot be told apart",
                               changes=Changes(snapshot.dialect, (AddPrimaryKey.surrogate(table),)))


@dataclass(frozen=True)
class Candidate:
    column: Column
    target: Table
    target_column: Column
    confidence: float
    signals: tuple[str, ...]


class MissingForeignKey(Rule):
    """A column that refers to another table's key without a foreign key constraint.

    ## What it checks

    Columns whose name and type say they hold another table's key (`user_id`, `ArtistId`, a role such as
    `manager_staff_id` or `begin_area`, the bare table name `artist`, `parent_id` for the same table,
    `<table>.type` for `<table>_type`, another table's distinctive key name such as `emp_no` or `dept_no`) but
    carry no foreign key. Each candidate is scored from several signals:
    the name, an exact type match with the target's key, and an index on the column. A column of another type
    (an external `stripe_customer_id` string) is never a candidate, and polymorphic `<name>_type`/`<name>_id`
    pairs are skipped: they point at several tables by design. The confidence and the signals are reported.
    With data, the values have the last word: a candidate with three distinct values or more, fewer than half of
    which exist in the target's key, is a count, a rating or a year sharing a word with a table (`units_on_order`
    beside `orders`), not a reference, and is not reported. When orphans remain and their clean-up would delete
    more than 10% of the table, the finding says so first ("the clean-up deletes 77 of 77 rows (100%)").

    ## Why it matters

    Without the constraint the database accepts an order for a user who does not exist, and deleting a product
    leaves cart lines pointing at nothing. Application checks race; the constraint does not.

    ## Example

    ```sql
    CREATE TABLE orders (id INTEGER PRIMARY KEY, user_id INTEGER NOT NULL);  -- no REFERENCES users (id)
    ```

    ## How to fix

    Remove the orphans first (the finding's evidence says how many there are), then add the constraint; on
    PostgreSQL add it `NOT VALID` and `VALIDATE` it in a second step so writes are not blocked while it scans.
    Index the column too when nothing covers it: joins and the parent's deletes read it.
    """

    code = "IK101"
    name = "missing-foreign-key"
    severity = Severity.ERROR
    summary = "Column refers to another table's key but has no foreign key constraint."
    options = (RuleOption("external-ids", "Column-name globs that hold ids from elsewhere and are never foreign "
                                          "keys, e.g. `[\"stripe_*\", \"*_external_id\"]`."),)
    blocking_evidence = ("orphan_rows",)
    REPORT_AT = 0.5
    ERROR_AT = 0.8
    other_severities = {Severity.WARNING: f"when the evidence is weaker (confidence below {ERROR_AT})"}
    # Share of a candidate's distinct values its target must hold to stay a candidate: the corpus references hold
    # all of theirs (1.0), counts, ratings and years beside an id range hold none or a few.
    PRESENT_AT_LEAST = 0.5
    # One or two distinct values say too little to overrule the name (a new table, a single orphan).
    JUDGED_FROM = 3

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        external_ids = self.option("external-ids")
        keyed = _keyed_tables(snapshot)
        for table in snapshot.tables:
            declared = {column for fk in table.foreign_keys for column in fk.columns}
            pk = table.primary_key.columns if table.primary_key else ()
            polymorphic = _polymorphic_ids(table)
            for column in table.columns:
                if column.name in declared or column.name in polymorphic or (pk == (column.name,) and
                                                                             column.name.lower() == "id"):
                    continue
                if any(fnmatchcase(column.name.lower(), pattern.lower()) for pattern in external_ids):
                    continue
                candidates = sorted(_candidates(table, column, keyed), key=lambda c: -c.confidence)
                if not candidates or candidates[0].confidence < self.REPORT_AT:
                    continue
                yield self._report(snapshot, table, candidates)

    def _report(self, snapshot: Snapshot, table: Table, candidates: list[Candidate]) -> Finding:
        best = candidates[0]
        # A target in the table's own schema outranks same-named tables elsewhere: auditing more schemas must not
        # turn a clear reference into an ambiguous one.
        own_schema = best.target.schema == table.schema
        rivals = [c for c in candidates[1:] if c.confidence >= best.confidence - 0.1
                  and not (own_schema and c.target.schema != table.schema)]
        confidence = best.confidence - (0.15 if rivals else 0.0)
        unindexed = not table.covering((best.column.name,))
        message = (f"{table.qualified_name}.{best.column.name} looks like a reference to "
                   f"{best.target.qualified_name}.{best.target_column.name} but has no foreign key")
        if unindexed:
            message += " (and no index)"
        evidence = {"signals": list(best.signals)}
        if rivals:
            evidence["also_possible"] = [f"{c.target.qualified_name}.{c.target_column.name}" for c in rivals]
        target: dict[str, Any] = {"table": best.target.name, "columns": [best.target_column.name]}
        if best.target.schema:
            target["schema"] = best.target.schema
        columns = (best.column.name,)
        operations: list[Operation] = [CreateIndex(TableName.of(table), columns)] if unindexed else []
        if snapshot.dialect in ("mysql", "mariadb") and exact_type(best.column) != exact_type(best.target_column):
            # InnoDB refuses a foreign key between columns of different types ("incorrectly formed"): INT and INT
            # UNSIGNED, SMALLINT and INT. The child takes the parent's type first.
            message += f"; its type {best.column.type_sql} must become {best.target_column.type_sql} first"
            operations.append(ChangeType(TableName.of(table), best.column.name, best.target_column.type_sql,
                                         sa_type(best.target_column, snapshot.dialect),
                                         sa_type(best.column, snapshot.dialect), best.column.nullable,
                                         KeptAttributes.of(best.column, snapshot.dialect)))
        operations.append(AddForeignKey(TableName.of(table), columns, TableName.of(best.target),
                                        (best.target_column.name,)))
        return self.finding(
            table, columns, message, confidence=confidence, target=target, evidence=evidence,
            severity=Severity.ERROR if confidence >= self.ERROR_AT else Severity.WARNING,
            changes=Changes(snapshot.dialect, tuple(operations)))

    def gather_evidence(self, finding: Finding, snapshot: Snapshot, probe: Probe) -> Finding | None:
        """Orphans: child rows whose value matches no row of the target (a key with none is also likelier). A
        candidate whose distinct values are mostly absent from the target is a count, a year or a rating that
        shares a name with a table, not a reference: dropped (judged from three distinct values up)."""
        assert finding.target is not None
        table = snapshot.table(finding.table, finding.schema)
        target = snapshot.table(finding.target["table"], finding.target.get("schema"))
        target_columns = tuple(finding.target["columns"])
        presence = probe.presence(table, finding.columns, target, target_columns)
        share = presence.share
        if share is not None and presence.distinct >= self.JUDGED_FROM and share < self.PRESENT_AT_LEAST:
            return None
        seen = probe.orphans(table, finding.columns, target, target_columns)
        if share is not None:
            finding = dataclasses.replace(finding, evidence={
                **finding.evidence, "distinct_values": presence.distinct, "present_in_target": presence.present})
        return judged(finding, seen, "orphan_rows", "orphan row(s)", confidence_step=0.05,
                      clean_up=DeleteOrphans(TableName.of(table), finding.columns, TableName.of(target),
                                             target_columns))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


# Last words of a key column's name that make it distinctive enough to be matched by name alone (`emp_no`,
# `dept_no`, `country_code`): a bare `id` or `name` is every table's.
KEY_SUFFIXES = frozenset({"no", "nr", "num", "number", "code", "key"})
# The prefix of the lookup entries for tables by their key column's name (no table_key contains a colon).
KEY_NAME = "key:"


def _keyed_tables(snapshot: Snapshot) -> dict[str, list[tuple[Table, Column]]]:
    """table_key -> tables with a single-column primary key, and that key column; ``key:<column>`` -> the tables
    whose key has that distinctive name (employees' ``emp_no``)."""
    keyed: dict[str, list[tuple[Table, Column]]] = {}
    for table in snapshot.tables:
        if table.primary_key and len(table.primary_key.columns) == 1 and table.has_column(table.primary_key.columns[0]):
            key = table.column(table.primary_key.columns[0])
            keyed.setdefault(table_key(table.name), []).append((table, key))
            if words(key.name)[-1:] and words(key.name)[-1] in KEY_SUFFIXES and len(words(key.name)) > 1:
                keyed.setdefault(f"{KEY_NAME}{key.name.lower()}", []).append((table, key))
    return keyed


def _polymorphic_ids(table: Table) -> set[str]:
    """``commentable_id`` beside ``commentable_type``: one column pointing at several tables by design."""
    names = {column.name.lower(): column.name for column in table.columns}
    skipped = set()
    for lower, name in names.items():
        for suffix in ("_id", "id"):
            if lower.endswith(suffix) and len(lower) > len(suffix):
                stem = lower[: -len(suffix)].rstrip("_")
                if f"{stem}_type" in names or f"{stem}type" in names:
                    skipped.add(name)
    return skipped


def _name_guesses(table: Table, column: Column) -> list[tuple[str, float, str]]:
    """(table_key, name score, signal) for every table the column's name may point at."""
    parts = words(column.name)
    guesses: list[tuple[str, float, str]] = []
    if not parts:
        return guesses
    if parts[-1] == "id" and len(parts) > 1:
        stem = parts[:-1]
        guesses.append((table_key("_".join(stem)), 0.75, f"name {column.name} = <table>_id"))
        for start in range(1, len(stem)):  # role prefix: manager_staff_id -> staff
            guesses.append((table_key("_".join(stem[start:])), 0.6, f"name {column.name} = <role>_<table>_id"))
        if stem == ["parent"]:
            guesses.append((table_key(table.name), 0.75, "parent_id refers to the same table"))
    elif parts[-1] != "id":
        guesses.append((table_key(column.name), 0.6, f"name {column.name} is a table name"))
        if parts[-1] in KEY_SUFFIXES and len(parts) > 1:  # emp_no -> the table whose key is emp_no
            guesses.append((f"{KEY_NAME}{column.name.lower()}", 0.7, f"name {column.name} is another table's key"))
        for start in range(1, len(parts)):  # role prefix: begin_area -> area
            guesses.append((table_key("_".join(parts[start:])), 0.5, f"name {column.name} = <role>_<table>"))
        if parts == ["parent"]:
            guesses.append((table_key(table.name), 0.7, "parent refers to the same table"))
        if parts == ["type"]:  # vehicle.type -> vehicle_type
            guesses.append((table_key(f"{table.name}_type"), 0.6, f"{table.name}.type -> {table.name}_type"))
    return guesses


def _candidates(table: Table, column: Column, keyed: dict[str, list[tuple[Table, Column]]]) -> Iterator[Candidate]:
    seen = set()
    for key, score, signal in _name_guesses(table, column):
        for target, target_column in keyed.get(key, ()):
            if (target.schema, target.name) in seen or family(column) != family(target_column):
                continue
            if target is table and target_column.name == column.name:
                continue
            seen.add((target.schema, target.name))
            signals = [signal, f"type family {family(column)} matches {target.name}.{target_column.name}"]
            confidence = score
            if exact_type(column) == exact_type(target_column):
                confidence += 0.1
                signals.append("exact type match")
            if table.covering((column.name,)):
                confidence += 0.05
                signals.append("indexed")
            if table.schema != target.schema:
                confidence -= 0.1
            yield Candidate(column, target, target_column, min(confidence, 0.95), tuple(signals))


def is_fk_indexed(table: Table, fk: ForeignKey) -> bool:
    """The strict rule: a valid index, PK or unique constraint whose leading columns are exactly the FK's columns
    (in any order); a partial index only when its predicate is the FK's own ``IS NOT NULL``."""
    for key in table.covering(fk.columns):
        if isinstance(key, Index):
            if not key.valid or key.has_expressions:
                continue
            if key.is_partial and not _not_null_predicate(key.predicate or "", fk.columns):
                continue
        return True
    return False


def _not_null_predicate(predicate: str, columns: tuple[str, ...]) -> bool:
    text = predicate.lower().replace('"', "").replace("(", "").replace(")", "").strip()
    wanted = " and ".join(f"{column.lower()} is not null" for column in columns)
    return text == wanted


class UnindexedForeignKey(Rule):
    """A foreign key with no index that leads with its columns.

    ## What it checks

    Each declared foreign key has a valid index (or the primary key, or a unique constraint) whose *leading*
    columns are exactly the key's columns, in any order. A partial index counts only when its predicate is the
    key's own `IS NOT NULL`; an invalid index never counts. MySQL/InnoDB creates such an index by itself.

    ## Why it matters

    Every delete or key update on the parent looks for children: without the index that is a full scan of the
    child table, holding locks while it runs. Joins from parent to children scan too.

    ## Example

    ```sql
    CREATE TABLE cart_items (id INTEGER PRIMARY KEY, cart_id INTEGER REFERENCES carts (id));  -- no index
    ```

    ## How to fix

    `CREATE INDEX CONCURRENTLY ix_cart_items_cart_id ON cart_items (cart_id)` on PostgreSQL (a plain
    `CREATE INDEX` elsewhere).
    """

    code = "IK102"
    name = "unindexed-foreign-key"
    severity = Severity.WARNING
    summary = "Foreign key has no index leading with its columns."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                if is_fk_indexed(table, fk):
                    continue
                target: dict[str, Any] = {"table": fk.referred_table, "columns": list(fk.referred_columns)}
                if fk.referred_schema:
                    target["schema"] = fk.referred_schema
                yield self.finding(
                    table, fk.columns, f"foreign key {table.qualified_name}({', '.join(fk.columns)}) -> "
                    f"{fk.referred} has no index: deletes on {fk.referred_table} scan {table.name}",
                    target=target, changes=Changes(snapshot.dialect, (CreateIndex(TableName.of(table), fk.columns),)))

    def plan_changes(self, finding: Finding, table: Table, snapshot: Snapshot) -> tuple[Operation, ...]:
        return self.schema_changes(finding)


class ForeignKeyTypeMismatch(Rule):
    """A foreign key column whose type differs from the column it refers to.

    ## What it checks

    Each column of a declared foreign key has the same type as the referred column (`INTEGER` vs `BIGINT`,
    `VARCHAR(36)` vs `UUID`, different lengths).

    ## Why it matters

    The narrower side overflows first (an `INTEGER` child of a `BIGINT` parent breaks at 2^31), and joins across
    types need casts that can stop an index from being used.

    ## Example

    ```sql
    CREATE TABLE users (id BIGINT PRIMARY KEY);
    CREATE TABLE orders (id BIGINT PRIMARY KEY, user_id INTEGER REFERENCES users (id));
    ```

    ## How to fix

    Change the child column to the parent's type (`ALTER TABLE orders ALTER COLUMN user_id TYPE BIGINT`); on a
    big table that is a rewrite: add a new column, backfill, switch.
    """

    code = "IK103"
    name = "foreign-key-type-mismatch"
    severity = Severity.ERROR
    summary = "Foreign key column type differs from the referred column's type."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                target = snapshot.referred_table(fk)
                if target is None:
                    continue
                for name, referred in zip(fk.columns, fk.referred_columns, strict=False):
                    if not (table.has_column(name) and target.has_column(referred)):
                        continue
                    column, parent = table.column(name), target.column(referred)
                    if exact_type(column) == exact_type(parent):
                        continue
                    yield self.finding(
                        table, (name,), f"{table.qualified_name}.{name} is {column.type_sql} but refers to "
                        f"{target.qualified_name}.{referred}, which is {parent.type_sql}",
                        target={"table": target.name, "columns": [referred]},
                        evidence={"type": column.type_sql, "referred_type": parent.type_sql},
                        changes=Changes(snapshot.dialect, (ChangeType(
                            TableName.of(table), name, parent.type_sql, sa_type(parent, snapshot.dialect),
                            sa_type(column, snapshot.dialect), column.nullable,
                            KeptAttributes.of(column, snapshot.dialect)),)))


class ForeignKeyNotEnforced(Rule):
    """A foreign key the database declares but does not enforce.

    ## What it checks

    SQLite connections without `PRAGMA foreign_keys = ON` (the default: the pragma is per connection), MySQL
    tables on an engine without foreign keys (MyISAM), and PostgreSQL constraints left `NOT VALID` (new rows are
    checked, the existing ones never were).

    ## Why it matters

    The schema promises integrity the data does not have: orphans get in, and every reader trusts the promise.

    ## Example

    ```python
    engine = create_engine("sqlite:///shop.db")  # no PRAGMA foreign_keys = ON on connect
    ```

    ## How to fix

    SQLite: run `PRAGMA foreign_keys = ON` on every connection (a SQLAlchemy `connect` event). MySQL: convert the
    table to InnoDB. PostgreSQL: `ALTER TABLE … VALIDATE CONSTRAINT …` once the orphans are gone.
    """

    code = "IK104"
    name = "foreign-key-not-enforced"
    severity = Severity.ERROR
    other_severities = {Severity.WARNING: "on SQLite, where enforcement is a setting of each connection"}
    summary = "Foreign key is declared but not enforced (SQLite pragma off, MyISAM, NOT VALID)."

    def check(self, snapshot: Snapshot) -> Iterator[Finding]:
        if snapshot.dialect == "sqlite" and snapshot.foreign_keys_pragma is False:
            yield from self._sqlite_pragma_off(snapshot)
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                target = {"table": fk.referred_table, "columns": list(fk.referred_columns)}
                if snapshot.dialect == "sqlite" and snapshot.foreign_keys_pragma is False:
                    continue  # reported once for the whole database above
                elif table.engine and table.engine.upper() != "INNODB" and snapshot.dialect in ("mysql", "mariadb"):
                    yield self.finding(
                        table, fk.columns, f"{table.name} uses {table.engine}, which ignores its foreign key to "
                        f"{fk.referred}", target=target,
                        changes=Changes(snapshot.dialect, (ConvertToInnoDB(TableName.of(table)),)))
                elif not fk.validated:
                    yield self.finding(
                        table, fk.columns, f"foreign key {fk.name} on {table.qualified_name} is NOT VALID: rows "
                        "that existed when it was added were never checked", target=target,
                        changes=Changes(snapshot.dialect, (ValidateConstraint(TableName.of(table), fk.name or ""),)))

    def _sqlite_pragma_off(self, snapshot: Snapshot) -> Iterator[Finding]:
        # The pragma belongs to the connection, not the file: one finding for the database, not one per table.
        tables = [table for table in snapshot.tables if table.foreign_keys]
        if not tables:
            return
        names = [table.name for table in tables]
        yield self.finding(
            tables[0], (), f"the foreign keys of {len(tables)} table(s) ({', '.join(names)}) are enforced only on "
            "connections that run PRAGMA foreign_keys = ON; SQLite's default, and the audit's connection, is off",
            severity=Severity.WARNING, evidence={"tables": names},
            changes=Changes(snapshot.dialect, (ForeignKeysPragma(TableName.of(tables[0])),)))


class ForeignKeyViolations(DataRule):
    """Rows that break a declared foreign key.

    ## What it checks

    For every declared foreign key, child rows whose key is set but matches no parent row (an anti-join). They
    exist where the key is not enforced: SQLite connections without `PRAGMA foreign_keys`, MyISAM tables, PostgreSQL
    constraints added `NOT VALID`, or data loaded with checks switched off.

    ## Why it matters

    Every reader trusts the declaration: joins silently drop these rows, and an ORM that loads the parent gets
    nothing back. The first `VALIDATE CONSTRAINT` or table rebuild fails on them.

    ## Example

    ```sql
    PRAGMA foreign_keys = OFF;
    INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (1, 999999, 1);  -- no product 999999
    ```

    ## How to fix

    Decide per row: delete it, or point it at a real parent (the evidence lists sample keys). Then make sure the
    key is enforced (see `foreign-key-not-enforced`).
    """

    code = "IK105"
    name = "foreign-key-violations"
    severity = Severity.ERROR
    summary = "Rows break a declared foreign key."
    blocking_evidence = ("orphan_rows",)

    def check_data(self, snapshot: Snapshot, probe: Probe) -> Iterator[Finding]:
        for table in snapshot.tables:
            for fk in table.foreign_keys:
                parent = snapshot.referred_table(fk)
                if parent is None:
                    continue
                evidence = self.measure(f"{table.qualified_name}({', '.join(fk.columns)})",
                                        functools.partial(probe.orphans, table, fk.columns, parent,
                                                          fk.referred_columns))
                if evidence is None or not evidence.count:
                    continue
                headline = deletion_headline(evidence)
                found = evidence.to_dict("orphan_rows")
                if headline:
                    found.update(clean_up_deletes=evidence.deletes, table_rows=evidence.table_rows)
                yield self.finding(
                    table, fk.columns, f"{evidence.count} row(s) of {table.qualified_name} point at no "
                    f"{parent.qualified_name} row through ({', '.join(fk.columns)}){headline}, e.g. "
                    f"{evidence.samples[:3]}",
                    target={"table": parent.name, "columns": list(fk.referred_columns)},
                    evidence=found,
                    changes=Changes(snapshot.dialect, (DeleteOrphans(TableName.of(table), fk.columns,
                                                                     TableName.of(parent), fk.referred_columns),)))
