"""Where the SQLAlchemy models and the live database disagree: what the ``schema-drift`` rule reports.

Objects are matched by what they do, not by how they are named: a foreign key by its columns and target, a
uniqueness by its column set (a unique constraint and a unique index are the same promise), a plain index by its
columns. Names are used only where nothing else identifies the object (checks, expression and partial indexes).
Types are compared in the neutral form of :mod:`integrity_kit.schema.coltypes`, so ``Numeric(12, 2)`` and
MariaDB's ``DECIMAL(12,2)`` agree while ``Float`` and ``NUMERIC`` do not.

"missing" means declared in the models but absent from the database; "extra" means the reverse.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from integrity_kit.schema import coltypes
from integrity_kit.schema.snapshot import CheckConstraint, Column, ForeignKey, Index, Snapshot, Table, qualified

# Tables a migration tool keeps for itself; they are never in the models.
DEFAULT_IGNORED_TABLES = frozenset({"alembic_version"})

_MYSQL = {"mysql", "mariadb"}


@dataclass(frozen=True, slots=True)
class Difference:
    # missing-table, extra-table, missing-column, extra-column, column-type, column-nullable, missing-foreign-key,
    # extra-foreign-key, foreign-key-action, missing-unique, extra-unique, missing-index, extra-index,
    # missing-check, extra-check
    kind: str
    table: str
    schema: str | None
    message: str
    # The column or constraint concerned, and what each side says about it, as text.
    object: str | None = None
    models: str | None = None
    live: str | None = None


def compare(
    models: Snapshot, live: Snapshot, *, ignore_tables: Iterable[str] = DEFAULT_IGNORED_TABLES
) -> list[Difference]:
    """Every disagreement between a models snapshot and a live one, in a stable order."""
    ignored = set(ignore_tables)
    dialect = live.dialect
    want = {_key(table, live): table for table in models.tables if table.name not in ignored}
    have = {(table.schema, table.name): table for table in live.tables if table.name not in ignored}
    differences: list[Difference] = []
    for key in sorted(want.keys() | have.keys(), key=lambda k: (k[0] or "", k[1])):
        schema, name = key
        if key not in have:
            differences.append(Difference("missing-table", name, schema,
                                          f"table {qualified(schema, name)} is in the models but not the database"))
        elif key not in want:
            differences.append(Difference("extra-table", name, schema,
                                          f"table {qualified(schema, name)} is in the database but not the models"))
        else:
            differences.extend(_TableComparison(want[key], have[key], live, dialect).run())
    return differences


def _key(table: Table, live: Snapshot) -> tuple[str | None, str]:
    schema = None if table.schema == live.default_schema else table.schema
    return schema, table.name


class _TableComparison:
    def __init__(self, models: Table, live: Table, live_snapshot: Snapshot, dialect: str) -> None:
        self.models = models
        self.live = live
        self.snapshot = live_snapshot
        self.dialect = dialect
        self.out: list[Difference] = []

    def run(self) -> list[Difference]:
        self._columns()
        self._foreign_keys()
        self._uniques()
        self._indexes()
        self._checks()
        return self.out

    def _add(self, kind: str, message: str, obj: str | None = None, models: str | None = None,
             live: str | None = None) -> None:
        self.out.append(Difference(kind, self.live.name, self.live.schema,
                                   f"{self.live.qualified_name}: {message}", obj, models, live))

    def _columns(self) -> None:
        pk = set(self.live.primary_key.columns) if self.live.primary_key else set()
        for column in self.models.columns:
            if not self.live.has_column(column.name):
                self._add("missing-column", f"column {column.name} is in the models but not the database",
                          column.name, column.type_sql)
                continue
            found = self.live.column(column.name)
            if not types_match(column, found, self.dialect):
                self._add("column-type", f"column {column.name} is {column.type_sql} in the models but "
                          f"{found.type_sql} in the database", column.name, column.type_sql, found.type_sql)
            # A primary key column is NOT NULL whatever the catalog's flag says (SQLite reports rowid aliases loosely).
            live_nullable = found.nullable and column.name not in pk
            if column.nullable != live_nullable:
                self._add("column-nullable", f"column {column.name} is {_null(column.nullable)} in the models but "
                          f"{_null(live_nullable)} in the database", column.name,
                          _null(column.nullable), _null(live_nullable))
        for column in self.live.columns:
            if not self.models.has_column(column.name):
                self._add("extra-column", f"column {column.name} is in the database but not the models",
                          column.name, None, column.type_sql)

    def _foreign_keys(self) -> None:
        want = {self._fk_key(fk): fk for fk in self.models.foreign_keys}
        have = {self._fk_key(fk): fk for fk in self.live.foreign_keys}
        for key in sorted(want.keys() - have.keys(), key=str):
            self._add("missing-foreign-key", f"foreign key {_fk_text(want[key])} is in the models but not the "
                      "database", ",".join(key[0]), _fk_text(want[key]))
        for key in sorted(have.keys() - want.keys(), key=str):
            self._add("extra-foreign-key", f"foreign key {_fk_text(have[key])} is in the database but not the "
                      "models", ",".join(key[0]), None, _fk_text(have[key]))
        for key in sorted(want.keys() & have.keys(), key=str):
            ours, theirs = want[key], have[key]
            for label, a, b in (("ON DELETE", ours.on_delete, theirs.on_delete),
                                ("ON UPDATE", ours.on_update, theirs.on_update)):
                if self._action(a) != self._action(b):
                    self._add("foreign-key-action", f"foreign key {_fk_text(ours)} is {label} {a} in the models "
                              f"but {label} {b} in the database", ",".join(key[0]), f"{label} {a}", f"{label} {b}")

    def _fk_key(self, fk: ForeignKey) -> tuple:
        schema = None if fk.referred_schema == self.snapshot.default_schema else fk.referred_schema
        return fk.columns, schema, fk.referred_table, fk.referred_columns

    def _action(self, action: str) -> str:
        # MySQL/MariaDB treat RESTRICT and NO ACTION alike and MariaDB prints neither.
        if self.dialect in _MYSQL and action == "RESTRICT":
            return "NO ACTION"
        return action

    def _uniques(self) -> None:
        want, have = _unique_sets(self.models), _unique_sets(self.live)
        for columns in sorted(want - have, key=sorted):
            self._add("missing-unique", f"unique ({', '.join(sorted(columns))}) is in the models but not the "
                      "database", ",".join(sorted(columns)))
        for columns in sorted(have - want, key=sorted):
            self._add("extra-unique", f"unique ({', '.join(sorted(columns))}) is in the database but not the "
                      "models", ",".join(sorted(columns)))

    def _indexes(self) -> None:
        want = _index_keys(self.models.indexes)
        have = _index_keys(self.live.indexes)
        for key in sorted(want.keys() - have.keys(), key=str):
            self._add("missing-index", f"index {_index_text(want[key])} is in the models but not the database",
                      want[key].name)
        for key in sorted(have.keys() - want.keys(), key=str):
            if self._implicit(have[key]):
                continue
            self._add("extra-index", f"index {_index_text(have[key])} is in the database but not the models",
                      have[key].name)

    def _implicit(self, index: Index) -> bool:
        # InnoDB creates an index for a foreign key that has none (named after the constraint or its first
        # column); the models never declare it.
        return self.dialect in _MYSQL and not index.unique and any(
            fk.columns == index.columns for fk in self.live.foreign_keys
        )

    def _checks(self) -> None:
        unmatched_live = list(self.live.check_constraints)
        missing: list[CheckConstraint] = []
        for check in self.models.check_constraints:
            match = _find_check(check, unmatched_live)
            if match is None:
                missing.append(check)
            else:
                unmatched_live.remove(match)
        for check in missing:
            self._add("missing-check", f"check {_check_text(check)} is in the models but not the database",
                      check.name, check.sqltext)
        for check in unmatched_live:
            self._add("extra-check", f"check {_check_text(check)} is in the database but not the models",
                      check.name, None, check.sqltext)


def types_match(models: Column, live: Column, dialect: str) -> bool:
    """Whether a model column's type is what the database holds, allowing for each engine's emulations."""
    ours, theirs = coltypes.neutral(models.type, dialect), coltypes.neutral(live.type, dialect)
    if ours == theirs or theirs == ("unknown",) or ours == ("unknown",):
        # An unknown live type is reported under not_analysed, not guessed at here.
        return True
    family = ours[0]
    if family == "numeric" and theirs[0] == "numeric" and ours[1] is None:
        return True  # Numeric() with no precision accepts whatever default the engine picked
    if family == "enum" and theirs[0] in ("string", "text") and dialect not in ("postgresql", *_MYSQL):
        return True  # a non-native enum is a VARCHAR
    if family == "json" and theirs == ("text",) and dialect in _MYSQL:
        return True  # MariaDB's JSON is LONGTEXT with a json_valid() check
    if family == "uuid" and theirs[0] == "string" and dialect != "postgresql":
        return True  # CHAR(32) where there is no native UUID
    # MySQL has no boolean; an older server reflects BOOLEAN as a plain TINYINT.
    return family == "boolean" and theirs[0] == "integer" and dialect in _MYSQL


def _null(nullable: bool) -> str:
    return "NULL" if nullable else "NOT NULL"


def _fk_text(fk: ForeignKey) -> str:
    return f"({', '.join(fk.columns)}) -> {fk.referred}({', '.join(fk.referred_columns)})"


def _unique_sets(table: Table) -> set[frozenset[str]]:
    found = {frozenset(unique.columns) for unique in table.unique_constraints}
    found |= {
        frozenset(column for column in index.columns if column is not None)
        for index in table.indexes
        if index.unique and not index.is_partial and not index.has_expressions and None not in index.columns
    }
    return found


def _index_keys(indexes: Iterable[Index]) -> dict[tuple, Index]:
    keys: dict[tuple, Index] = {}
    for index in indexes:
        if index.unique and not index.is_partial and not index.has_expressions:
            continue  # compared as a uniqueness
        if index.is_partial or index.has_expressions:
            # Expression and predicate text differ between what a model compiles and what a catalog prints.
            keys[("named", index.name)] = index
        else:
            keys[("columns", index.columns)] = index
    return keys


def _index_text(index: Index) -> str:
    parts = [column or expression or "?" for column, expression in
             zip(index.columns, index.expressions or (None,) * len(index.columns), strict=False)]
    return f"{index.name or '(unnamed)'} ({', '.join(parts)})"


def _find_check(check: CheckConstraint, candidates: list[CheckConstraint]) -> CheckConstraint | None:
    if check.name:
        for candidate in candidates:
            if candidate.name == check.name:
                return candidate
    text = _normal_sql(check.sqltext)
    for candidate in candidates:
        if _normal_sql(candidate.sqltext) == text:
            return candidate
    return None


def _normal_sql(sql: str) -> str:
    # Engines print a check back in their own spelling: quotes, casts, parentheses, case and spacing vary.
    sql = re.sub(r"::[a-z_ ]+(\[\])?", "", sql.lower())
    return re.sub(r"[\s`\"()]", "", sql)


def _check_text(check: CheckConstraint) -> str:
    return f"{check.name} ({check.sqltext})" if check.name else f"({check.sqltext})"
