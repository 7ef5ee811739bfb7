"""Race risks in the statements of one transaction: what a single-threaded test already shows about concurrency.

Three patterns, each a read followed by a write the read decided on, in the same transaction:

- ``read-modify-write``: a row read without a lock, then an UPDATE of the same row (same key values) setting a
  column it read to a bound value, with no version or value guard in the UPDATE's WHERE (the lost update, P4).
- ``check-then-insert``: a SELECT looking rows up by some columns, then an INSERT into that table with the same
  values, and no unique key within the looked-up columns (duplicates under concurrency).
- ``check-then-act``: a ``SELECT COUNT/SUM/MAX/MIN/AVG`` then an INSERT or UPDATE of the rows it counted (write
  skew, G2-item: only SERIALIZABLE or an explicit lock prevents it).

Exempt: reads ``FOR UPDATE``/``FOR SHARE``/``LOCK IN SHARE MODE`` and reads of a row the transaction had already
locked or written; SQLite transactions begun with ``BEGIN IMMEDIATE``/``EXCLUSIVE`` or that already wrote; UPDATEs
whose SET is relative (``col = col - ?``) or whose WHERE guards a column it writes or the read returned; ``INSERT
... ON CONFLICT`` / ``ON DUPLICATE KEY UPDATE`` / ``INSERT OR IGNORE`` / ``INSERT IGNORE`` / ``REPLACE``; a
check-then-insert whose table has a unique key (constraint, non-partial unique index or primary key) inside the
looked-up columns; a DELETE (deleting the rows a read found loses nothing another writer wrote); a read and a write
that a pytest test function (``test_*.py``, ``*_test.py``, ``conftest.py``) made through two separate calls, such as
two requests of one test client whose session outlives a request; writes undone by ``ROLLBACK TO SAVEPOINT``. A
transaction that rolled back as a whole still counts (its code path commits when it does not fail) with a note; an
AUTOCOMMIT connection's statements form one sequence per connection, since nothing holds between them. Findings that
repeat (the same code run in many tests) are reported once.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from .sqlshape import Shape, shape, values

if TYPE_CHECKING:
    from sqlalchemy import Engine, MetaData

    from .log import Statement
    from .transactions import Transaction

PATTERNS = ("read-modify-write", "check-then-insert", "check-then-act")
RMW, CTI, CTA = PATTERNS

UniqueKeys = dict[str, list[frozenset[str]]]
"""Per table (unqualified, lower-case): the column sets that are unique (primary key included)."""


class KeyLookup(Protocol):
    """Anything with ``get(table)`` -> that table's unique column sets, or None when it does not know."""

    def get(self, table: str) -> list[frozenset[str]] | None: ...

LEVELS = ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")
SERVERS = ("postgresql", "mysql", "mariadb")
DEFAULT_LEVEL = {"postgresql": "READ COMMITTED", "mysql": "REPEATABLE READ", "mariadb": "REPEATABLE READ"}
SQLITE_LEGACY = "sqlite without an explicit BEGIN (pysqlite starts the transaction at the first write)"
SQLITE_DEFERRED = "sqlite BEGIN DEFERRED (SQLITE_BUSY)"

# What each server does with each pattern at each level: "breaks" (the anomaly happens) or "aborts" (one side gets
# a serialization failure or deadlock and must be retried). PostgreSQL runs READ UNCOMMITTED as READ COMMITTED and
# detects a lost update at REPEATABLE READ (40001), but its snapshot REPEATABLE READ allows write skew and phantom
# inserts; InnoDB's REPEATABLE READ reads a snapshot and writes the latest row, so it loses updates, and its
# SERIALIZABLE turns plain reads into shared locks, so the second writer deadlocks (1213).
_ABORTS_AT: dict[str, dict[str, tuple[str, ...]]] = {
    RMW: {"postgresql": ("REPEATABLE READ", "SERIALIZABLE"), "mysql": ("SERIALIZABLE",),
          "mariadb": ("SERIALIZABLE",)},
    CTI: {"postgresql": ("SERIALIZABLE",), "mysql": ("SERIALIZABLE",), "mariadb": ("SERIALIZABLE",)},
    CTA: {"postgresql": ("SERIALIZABLE",), "mysql": ("SERIALIZABLE",), "mariadb": ("SERIALIZABLE",)},
}


def breaks_on(pattern: str) -> tuple[str, ...]:
    """Every engine and level where ``pattern`` produces the anomaly."""
    found = [f"{server} {level}" for server in SERVERS for level in LEVELS
             if level not in _ABORTS_AT[pattern][server]]
    return (*found, SQLITE_LEGACY, "any engine under AUTOCOMMIT")


def retry_needed_on(pattern: str) -> tuple[str, ...]:
    """Every engine and level where one of two racing transactions is aborted instead (a retry loop is needed)."""
    found = [f"{server} {level}" for server in SERVERS for level in LEVELS if level in _ABORTS_AT[pattern][server]]
    return (*found, SQLITE_DEFERRED)


def normal_level(level: str | None) -> str | None:
    return None if level is None else " ".join(level.replace("_", " ").upper().split())


@dataclass
class RaceRisk:
    """One read and the later write it decided on, in one transaction, and where that breaks."""

    pattern: str
    table: str
    columns: tuple[str, ...]
    read: Statement
    write: Statement
    transaction: Transaction
    breaks_on: tuple[str, ...]
    retry_needed_on: tuple[str, ...]
    verdict: str
    fix: str
    note: str | None = None
    confirmed: dict[str, Any] | None = None

    @property
    def read_location(self) -> str | None:
        return self.read.location

    @property
    def write_location(self) -> str | None:
        return self.write.location

    @property
    def isolation_level(self) -> str | None:
        return normal_level(getattr(self.transaction, "isolation_level", None))

    @property
    def dialect(self) -> str | None:
        return getattr(self.transaction, "dialect", None)

    def to_dict(self) -> dict[str, Any]:
        return {
            "pattern": self.pattern,
            "table": self.table,
            "columns": list(self.columns),
            "read_location": self.read_location,
            "write_location": self.write_location,
            "isolation_level": self.isolation_level,
            "dialect": self.dialect,
            "transaction": getattr(self.transaction, "id", None),
            "verdict": self.verdict,
            "breaks_on": list(self.breaks_on),
            "retry_needed_on": list(self.retry_needed_on),
            "fix": self.fix,
            "note": self.note,
            "confirmed": self.confirmed,
        }


# -- uniqueness -----------------------------------------------------------------------------------------------------

def unique_keys_from_metadata(metadata_or_base: Any) -> UniqueKeys:
    """Unique column sets per table of a ``MetaData`` or a declarative base: primary keys, unique constraints,
    ``unique=True`` columns and unique indexes without a WHERE (a partial index does not stop every duplicate)."""
    metadata: MetaData = getattr(metadata_or_base, "metadata", metadata_or_base)
    from sqlalchemy import UniqueConstraint

    found: UniqueKeys = {}
    for table in metadata.tables.values():
        keys: list[frozenset[str]] = []
        if table.primary_key.columns:
            keys.append(frozenset(c.name.lower() for c in table.primary_key.columns))
        for constraint in table.constraints:
            if isinstance(constraint, UniqueConstraint) and constraint.columns:
                keys.append(frozenset(c.name.lower() for c in constraint.columns))
        for column in table.columns:
            if column.unique:
                keys.append(frozenset({column.name.lower()}))
        for index in table.indexes:
            partial = any(options.get("where") is not None for options in index.dialect_options.values())
            if index.unique and not partial and all(hasattr(e, "name") for e in index.expressions):
                keys.append(frozenset(e.name.lower() for e in index.expressions))  # type: ignore[union-attr]
        found[table.name.lower()] = sorted(set(keys), key=sorted)
    return found


def unique_keys_from_engine(engine: Engine, tables: Iterable[str] | None = None, *,
                            schema: str | None = None) -> UniqueKeys:
    """Unique column sets per table read from the live schema (the inspector's primary key, unique constraints and
    unique indexes; partial and expression indexes left out)."""
    from sqlalchemy import inspect

    inspector = inspect(engine)
    names = list(tables) if tables is not None else inspector.get_table_names(schema=schema)
    existing = {name.lower(): name for name in inspector.get_table_names(schema=schema)}
    found: UniqueKeys = {}
    for wanted in names:
        name = existing.get(wanted.lower())
        if name is None:
            continue
        keys: list[frozenset[str]] = []
        pk = inspector.get_pk_constraint(name, schema=schema).get("constrained_columns") or []
        if pk:
            keys.append(frozenset(c.lower() for c in pk))
        for constraint in inspector.get_unique_constraints(name, schema=schema):
            columns = constraint.get("column_names") or []
            if columns and all(columns):
                keys.append(frozenset(c.lower() for c in columns))
        for index in inspector.get_indexes(name, schema=schema):
            options = index.get("dialect_options") or {}
            partial = any(key.endswith("_where") and value is not None for key, value in options.items())
            index_columns = index.get("column_names") or []
            if index.get("unique") and not partial and index_columns and all(index_columns):
                keys.append(frozenset(str(c).lower() for c in index_columns))
        found[name.lower()] = sorted(set(keys), key=sorted)
    return found


# -- detection ------------------------------------------------------------------------------------------------------

@dataclass
class _Seen:
    index: int
    statement: Any
    shape: Shape


@dataclass
class _Run:
    """One sequence of statements detection walks: a transaction, or an AUTOCOMMIT connection's statements."""

    statements: list[Any]
    transaction: Any
    dialect: str
    level: str | None
    autocommit: bool


def _runs(transactions: Sequence[Any]) -> list[_Run]:
    runs: list[_Run] = []
    open_autocommit: dict[Any, _Run] = {}
    for transaction in transactions:
        level = normal_level(transaction.isolation_level)
        dialect = transaction.dialect or ""
        if level == "AUTOCOMMIT":
            run = open_autocommit.get(transaction.connection)
            if run is None:
                run = _Run([], transaction, dialect, level, True)
                open_autocommit[transaction.connection] = run
                runs.append(run)
            run.statements.extend(transaction.statements)
            continue
        open_autocommit.pop(transaction.connection, None)  # a real transaction in between ends the sequence
        runs.append(_Run(list(transaction.statements), transaction, dialect, level, False))
    return runs


def _undone(run: _Run) -> set[int]:
    """Indices of the statements a ``ROLLBACK TO SAVEPOINT`` took back."""
    undone: set[int] = set()
    stack: list[tuple[str, int]] = []
    for i, statement in enumerate(run.statements):
        s = shape(statement.sql)
        if s.kind == "savepoint":
            stack.append((s.mode or "", i))
        elif s.kind in ("release", "rollback_to"):
            names = [name for name, _ in stack]
            if s.mode in names:
                at = len(names) - 1 - names[::-1].index(s.mode)
                if s.kind == "rollback_to":
                    undone.update(range(stack[at][1], i + 1))
                del stack[at:]
    by_id = {id(statement): i for i, statement in enumerate(run.statements)}
    for savepoint in getattr(run.transaction, "savepoints", ()) if not run.autocommit else ():
        if savepoint.outcome == "rolled back":
            undone.update(by_id[id(s)] for s in savepoint.statements if id(s) in by_id)
    return undone


def _same_row(read: _Seen, write: _Seen, table: str, *, assume: bool = True) -> tuple[bool, str | None]:
    """Whether ``read`` may have returned the row ``write`` changes, by the values of their shared key columns;
    with no shared key column (``assume``) the rows are taken to be the same, and the note says so."""
    read_keys = read.shape.key_columns(table)
    write_keys = write.shape.key_columns(table)
    common = [column for column in read_keys if column in write_keys]
    unknown = False
    for column in common:
        read_values = values(read_keys[column], read.statement.parameters, read.statement.executemany)
        write_values = values(write_keys[column], write.statement.parameters, write.statement.executemany)
        if read_values is None or write_values is None:
            unknown = True
        elif not read_values & write_values:
            return False, None
    if common:
        note = "the key values could not be compared (a parameter was not found)" if unknown else None
        return True, note
    if not assume:
        return False, None
    if not read_keys:
        return True, f"the read selected rows of {table} without naming one by key: taken to include the written row"
    if not write_keys:
        return True, None
    return True, (f"the read looked {table} up by {', '.join(read_keys)} and the write by "
                  f"{', '.join(write_keys)}: taken to be the same row")


def _insert_matches(read: _Seen, write: _Seen, table: str, lookup: dict[str, tuple[Any, ...]],
                    *, require_all: bool) -> tuple[bool, str | None]:
    """Whether an INSERT adds a row with the values ``read`` looked for."""
    columns = write.shape.columns
    present = [column for column in lookup if column in columns]
    if require_all and len(present) != len(lookup):
        return False, None
    unknown = False
    for column in present:
        read_values = values(lookup[column], read.statement.parameters, read.statement.executemany)
        at = columns.index(column)
        refs = [row[at] for row in write.shape.rows if at < len(row)]
        if not refs or any(ref is None for ref in refs):
            unknown = True
            continue
        write_values = values(refs, write.statement.parameters, write.statement.executemany)  # type: ignore[arg-type]
        if read_values is None or write_values is None:
            unknown = True
        elif not read_values & write_values:
            return False, None
    return True, ("the inserted values could not be compared with the looked-up ones" if unknown else None)


def _guarded(read: _Seen, write: _Seen, table: str, written: set[str]) -> bool:
    """Whether the UPDATE's WHERE checks a column it writes or the read returned, beyond naming the row."""
    read_keys = read.shape.key_columns(table)
    write_keys = write.shape.key_columns(table)
    identifying = set(read_keys) & set(write_keys) or set(write_keys)
    if not set(read_keys) & set(write_keys):
        identifying = {c for c in write_keys if c == "id" or c.endswith("_id")} or set(write_keys)
    checked = {c for c in write_keys if c not in identifying}
    for columns in write.shape.guards:
        checked.update(columns)
    if not checked:
        return False
    read_columns = read.shape.selected_columns(table)
    return "*" in read_columns or bool(checked & (written | read_columns))


def _entity(*statements: Any) -> str | None:
    for statement in statements:
        orm = statement.orm
        if orm is not None and orm.entity:
            return str(orm.entity)
    return None


def _assess(pattern: str, run: _Run, explicit_begin: bool) -> tuple[str, str | None]:
    """(verdict, note) for this run's own engine and level."""
    if run.autocommit:
        return "risk", ("AUTOCOMMIT: every statement commits on its own, so no isolation level or lock holds from "
                        "the read to the write")
    if run.dialect == "sqlite":
        if explicit_begin:
            return "errors-on-sqlite", ("SQLite allows one writer: the second transaction's write fails with "
                                        "'database is locked' (SQLITE_BUSY) instead of losing data; retry it, or "
                                        "BEGIN IMMEDIATE to queue for the write lock up front")
        return "risk", ("no BEGIN was sent: pysqlite's default transaction handling starts the transaction only at "
                        "the first INSERT/UPDATE/DELETE, so the SELECT ran outside it and another connection can "
                        "write between the two on SQLite too. With BEGIN at the first statement (SQLAlchemy's "
                        "pysqlite recipe) the second writer gets 'database is locked' instead")
    family = "mysql" if run.dialect == "mariadb" else run.dialect
    level = run.level or DEFAULT_LEVEL.get(run.dialect)
    aborts = _ABORTS_AT[pattern].get(run.dialect) or _ABORTS_AT[pattern].get(family) or ()
    if level in aborts:
        return "safe-with-retry", (f"{run.dialect} {level} aborts one of two racing transactions: keep a retry loop "
                                   f"around it (40001/40P01 on PostgreSQL, 1213 deadlock on MySQL/MariaDB)")
    return "risk", None


def _join(*parts: str | None) -> str | None:
    text = "; ".join(p for p in parts if p)
    return text or None


def _fix_rmw(table: str, columns: Sequence[str], key: str, entity: str | None, dialect: str, verdict: str) -> str:
    column = columns[0]
    if verdict == "safe-with-retry":
        return (f"keep the isolation level and retry the whole transaction when it fails with a serialization "
                f"failure or deadlock; or lock the {table} row where it is read")
    if entity:
        lines = [
            f"lock the row where it is read: select({entity}).where({entity}.{key} == {key}).with_for_update() "
            f"(or session.get({entity}, {key}, with_for_update=True))",
            f"or let the database compute and check it: update({entity}).where({entity}.{key} == {key}, "
            f"<the check your code made in Python, e.g. {entity}.{column} >= q>)"
            f".values({column}={entity}.{column} + change), then check result.rowcount == 1",
            f"or add a version column: __mapper_args__ = {{\"version_id_col\": {entity}.__table__.c.version}} and "
            f"retry on StaleDataError",
        ]
    else:
        lines = [
            f"lock the row where it is read: SELECT ... FROM {table} WHERE {key} = :{key} FOR UPDATE",
            f"or write relative to the row and check it: UPDATE {table} SET {column} = {column} + :change "
            f"WHERE {key} = :{key} AND <the check your code made, e.g. {column} >= :q>, then check rowcount == 1",
            f"or guard with a version: UPDATE {table} SET {column} = :new, version = version + 1 "
            f"WHERE {key} = :{key} AND version = :read_version, and retry when rowcount is 0",
        ]
    if dialect == "sqlite":
        lines.append("on SQLite (FOR UPDATE is ignored there) start the transaction with BEGIN IMMEDIATE")
    return "\n".join(lines)


def _fix_cti(table: str, columns: Sequence[str], entity: str | None, dialect: str) -> str:
    quoted = ", ".join(f'"{c}"' for c in columns)
    listed = ", ".join(columns)
    constraint = f"uq_{table}_{'_'.join(columns)}"
    if entity:
        if dialect in ("mysql", "mariadb"):
            insert = (f"sqlalchemy.dialects.mysql.insert({entity}).values(...).on_duplicate_key_update(...) "
                      f"(or insert({entity}).prefix_with(\"IGNORE\"))")
        else:
            module = "sqlite" if dialect == "sqlite" else "postgresql"
            insert = (f"sqlalchemy.dialects.{module}.insert({entity}).values(...)"
                      f".on_conflict_do_nothing(index_elements=[{quoted}])")
        return (f"add UniqueConstraint({quoted}, name=\"{constraint}\") to {entity}.__table_args__ (and a "
                f"migration), then insert with {insert}, or catch IntegrityError and re-read")
    if dialect in ("mysql", "mariadb"):
        insert = f"INSERT INTO {table} (...) VALUES (...) ON DUPLICATE KEY UPDATE ..."
    else:
        insert = f"INSERT INTO {table} (...) VALUES (...) ON CONFLICT ({listed}) DO NOTHING"
    return f"ALTER TABLE {table} ADD CONSTRAINT {constraint} UNIQUE ({listed}); then {insert}"


def _fix_cti_collection(table: str, columns: Sequence[str], entity: str | None, relationship: str | None) -> str:
    # A unique key on the foreign key alone would allow one child per parent: the key needs the compared column.
    listed = ", ".join(columns)
    quoted = ", ".join(f'"{c}"' for c in columns)
    where = f"{entity}.__table_args__" if entity else table
    return (f"the code loaded {relationship or 'a collection'} (every {table} row of one {listed}) and checked it in "
            f"Python before adding a row: add a unique key on ({listed}, <the column it compares>), e.g. "
            f"UniqueConstraint({quoted}, \"<column>\") in {where} (and a migration), then catch IntegrityError "
            f"(or insert with ON CONFLICT DO NOTHING / INSERT IGNORE); a unique key on ({listed}) alone would allow "
            f"one {table} row per {listed}")


def _fix_cta(table: str, columns: Sequence[str], entity: str | None, dialect: str, verdict: str) -> str:
    if verdict == "safe-with-retry":
        return "keep SERIALIZABLE and retry the whole transaction on a serialization failure or deadlock"
    where = ", ".join(f"{entity or table}.{c} == {c}" if entity else f"{c} = :{c}" for c in columns) or "..."
    lock = (f"lock the row the rule belongs to before counting (e.g. the parent of the {table} rows: "
            f"select(Parent).where(...).with_for_update())" if entity else
            f"lock the row the rule belongs to before counting (SELECT ... FOR UPDATE on the parent of the "
            f"{table} rows)")
    level = ("run the transaction SERIALIZABLE and retry on 40001 (PostgreSQL) / 1213 (MySQL/MariaDB)"
             if dialect != "sqlite" else "start the transaction with BEGIN IMMEDIATE")
    return f"{level}; or {lock}; the count filtered by {where} is what another transaction can change meanwhile"


def find_race_risks(transactions: Iterable[Transaction], *,
                    unique_keys: UniqueKeys | KeyLookup | None = None) -> list[RaceRisk]:
    """The race risks in ``transactions`` (``QueryLog.transactions``), in the order their writes were sent."""
    found: list[RaceRisk] = []
    seen: set[tuple[Any, ...]] = set()
    for run in _runs(list(transactions)):
        for risk in _detect(run, unique_keys):
            key = (risk.pattern, risk.table, risk.columns, risk.read_location, risk.write_location, run.dialect,
                   run.level, risk.verdict)
            if key not in seen:
                seen.add(key)
                found.append(risk)
    return found


def _detect(run: _Run, unique_keys: UniqueKeys | KeyLookup | None) -> list[RaceRisk]:
    undone = _undone(run)
    risks: list[RaceRisk] = []
    reads: list[_Seen] = []
    locks: list[_Seen] = []  # locking reads and earlier writes: later reads of their rows are protected
    locked_tables: set[str] = set()
    sqlite = run.dialect == "sqlite" and not run.autocommit
    sqlite_locked = False
    explicit_begin = False
    level = run.level
    rolled_back = getattr(run.transaction, "outcome", None) == "rollback" and not run.autocommit
    for i, statement in enumerate(run.statements):
        s = shape(statement.sql)
        kind = s.kind
        if kind == "begin":
            explicit_begin = True
            if s.mode in ("IMMEDIATE", "EXCLUSIVE"):
                sqlite_locked = True
            continue
        if kind == "set_isolation":
            level = normal_level(s.mode)
            run = _Run(run.statements, run.transaction, run.dialect, level, run.autocommit)
            continue
        if kind == "lock" and s.table and not run.autocommit:
            locked_tables.add(s.table)
            continue
        if kind == "select":
            if s.table is None or (sqlite and sqlite_locked):
                continue
            seen = _Seen(i, statement, s)
            if s.locks and not run.autocommit:
                locks.append(seen)
                continue
            if not run.autocommit and any(_locked(seen, lock, locked_tables) for lock in locks):
                continue
            reads.append(seen)
            continue
        if kind not in ("insert", "update", "delete") or s.table is None:
            continue
        write = _Seen(i, statement, s)
        if i not in undone:
            for risk_args in _match(write, reads, unique_keys, run):
                pattern, table, columns, read, note = risk_args
                verdict, level_note = _assess(pattern, run, explicit_begin)
                entity = _entity(read.statement, statement)
                key = next(iter(read.shape.key_columns(table)), None) or next(
                    iter(s.key_columns(table)), None) or "id"
                if pattern == RMW:
                    fix = _fix_rmw(table, columns, key, entity, run.dialect, verdict)
                elif pattern == CTI:
                    fix = (_fix_cti_collection(table, columns, entity, read.statement.orm.relationship)
                           if _collection_load(read) else _fix_cti(table, columns, entity, run.dialect))
                else:
                    fix = _fix_cta(table, columns, entity, run.dialect, verdict)
                extra = ("this transaction rolled back in the run; the same statements commit when nothing fails"
                         if rolled_back else None)
                if read.shape.locks and run.autocommit:
                    extra = _join(extra, "the read's lock was released when its statement committed")
                risks.append(RaceRisk(pattern, table, tuple(columns), read.statement, statement, run.transaction,
                                      breaks_on(pattern), retry_needed_on(pattern), verdict, fix,
                                      _join(note, level_note, extra)))
        if not run.autocommit:
            if sqlite:
                sqlite_locked = True  # the first write takes SQLite's one write lock until the transaction ends
            if kind != "insert" and i not in undone:
                locks.append(write)
    return risks


def _is_test_module(filename: str) -> bool:
    """pytest's default ``python_files`` (``test_*.py``, ``*_test.py``) and ``conftest.py``."""
    name = os.path.basename(filename)
    return name.endswith(".py") and (name.startswith("test_") or name.endswith("_test.py") or name == "conftest.py")


def _separate_test_calls(read: Any, write: Any) -> bool:
    """Whether the write was sent inside a call a test function made after the read (say two requests of a test
    client sharing one session, or the test's own query and then a request): no application frame spans both, so
    only the test's own lines could have carried the read's rows to the write."""
    read_stack = (*reversed(getattr(read, "callers", None) or ()), (read.filename, read.lineno))
    write_stack = (*reversed(getattr(write, "callers", None) or ()), (write.filename, write.lineno))
    k = 0
    while k < len(read_stack) and k < len(write_stack) and read_stack[k] == write_stack[k]:
        k += 1
    if k >= len(read_stack) or k + 1 >= len(write_stack):
        return False  # the test's own line sent the write: its own read-then-write
    file = read_stack[k][0]
    return bool(file) and file == write_stack[k][0] and _is_test_module(file)


def _collection_load(read: _Seen) -> bool:
    """Whether the ORM sent the read to load a one-to-many collection: it selects every child of one parent by the
    foreign key, which repeats by design, so a unique key on that foreign key alone is not the fix."""
    orm = read.statement.orm
    prop = getattr(orm, "prop", None) if orm is not None and orm.kind in ("lazy", "batch") else None
    return bool(getattr(prop, "uselist", False))


def _locked(read: _Seen, lock: _Seen, locked_tables: set[str]) -> bool:
    table = read.shape.table
    if table is None:
        return False
    if table in locked_tables:
        return True
    if not lock.shape.reads_table(table) and lock.shape.table != table:
        return False
    return _same_row(read, lock, table, assume=False)[0]


def _match(write: _Seen, reads: list[_Seen], unique_keys: UniqueKeys | KeyLookup | None,
           run: _Run) -> list[tuple[str, str, list[str], _Seen, str | None]]:
    s = write.shape
    table = s.table
    assert table is not None
    matches: list[tuple[str, str, list[str], _Seen, str | None]] = []
    candidates = [r for r in reversed(reads)
                  if r.shape.reads_table(table) and not _separate_test_calls(r.statement, write.statement)]
    aggregate = [r for r in candidates if r.shape.aggregates]
    plain = [r for r in candidates if not r.shape.aggregates]
    if s.kind == "update":
        bound = [a.column for a in s.assignments if a.kind == "bound"]
        for read in plain if bound else ():
            read_columns = read.shape.selected_columns(table)
            overlap = bound if "*" in read_columns else [c for c in bound if c in read_columns]
            if not overlap:
                continue
            same, note = _same_row(read, write, table)
            if not same or _guarded(read, write, table, set(bound)):
                continue
            matches.append((RMW, table, overlap, read, note))
            break
    if s.kind == "insert" and s.upsert is None:
        for read in plain:
            lookup = read.shape.key_columns(table)
            if not lookup or read.shape.where_unparsed:
                continue
            same, note = _insert_matches(read, write, table, lookup, require_all=True)
            if not same:
                continue
            columns = list(lookup)
            if _collection_load(read):
                note = _join(note, f"the read loaded the {read.statement.orm.relationship or table} collection (every "
                                   f"{table} row of one {', '.join(columns)}, which may repeat): the duplicate check "
                                   "on other columns was made in Python")
            known = None if unique_keys is None else unique_keys.get(table)
            if known is not None and any(key <= set(columns) for key in known):
                break
            if known is None:
                why = ("no unique keys were given" if unique_keys is None
                       else f"no unique keys known for {table}")
                note = _join(note, f"uniqueness not checked: {why} (give the schema: --confirm URL on the command "
                                   "line, log.use_schema(engine or Base), or "
                                   "unique_keys=unique_keys_from_metadata(Base))")
            matches.append((CTI, table, columns, read, note))
            break
    if s.kind in ("insert", "update") and not matches:
        for read in aggregate:
            lookup = read.shape.key_columns(table)
            if s.kind == "insert":
                same, note = _insert_matches(read, write, table, lookup, require_all=False)
            else:
                same, note = _same_row(read, write, table)
                note = None
            if not same:
                continue
            columns = list(lookup) or sorted(c for c in read.shape.selected_columns(table) if c != "*")
            matches.append((CTA, table, columns, read, note))
            break
    return matches


_CONSEQUENCES = {"read-modify-write": "two concurrent runs lose an update",
                 "check-then-insert": "two concurrent runs insert the same row twice",
                 "check-then-act": "two concurrent runs both pass the check (write skew)"}


def verdict_text(risk: Any) -> str:
    """What happens when this code runs twice at once, on the engine and isolation level the test used."""
    if risk.verdict == "safe-with-retry":
        return "the engine aborts one of two concurrent runs here: safe only inside a retry loop"
    if risk.verdict == "errors-on-sqlite":
        return ("SQLite allows one writer at a time, so the second run fails with 'database is locked' instead; "
                "on the engines below it loses data")
    return f"{_CONSEQUENCES.get(risk.pattern, 'it breaks under concurrency')} at this isolation level"
