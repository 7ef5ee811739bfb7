"""Data probes: the only code that reads table contents. Set-based SQL (anti-joins, GROUP BY … HAVING) on the
audit's read-only connection, under its statement timeout; every identifier goes through SQLAlchemy's quoting."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Connection,
    Row,
    Select,
    and_,
    case,
    column,
    func,
    literal,
    literal_column,
    not_,
    select,
    table,
    text,
)
from sqlalchemy.exc import DBAPIError

from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.schema import Table
from integrity_kit.schema.postgresql import lock_timed_out
from integrity_kit.schema.snapshot import qualified

SAMPLES = 5


@dataclass(frozen=True)
class Evidence:
    """What a probe saw: how many rows break the rule, out of how many, and up to five of their keys."""

    count: int
    rows_checked: int
    samples: list[Any] = field(default_factory=list)
    sampled: bool = False
    # Rows a clean-up of the broken ones would delete, out of the table's rows (None: the probe does not say).
    deletes: int | None = None
    table_rows: int | None = None

    def to_dict(self, what: str) -> dict[str, Any]:
        found = {what: self.count, "rows_checked": self.rows_checked, "sample_keys": self.samples}
        return {**found, "sampled": True} if self.sampled else found


NO_SELECT = "the audit's user holds no SELECT privilege on it"


@dataclass(frozen=True)
class Presence:
    """How many distinct non-NULL values a column holds, and how many of them a candidate parent key holds."""

    distinct: int
    present: int
    sampled: bool = False

    @property
    def share(self) -> float | None:
        return self.present / self.distinct if self.distinct else None


@dataclass(frozen=True)
class Profile:
    """What the values of one column look like: enough for a rule to tell money from a fraction."""

    rows: int
    nulls: int
    distinct: int
    minimum: float | None
    maximum: float | None
    # Non-NULL values with digits past the second decimal (binary noise below a millionth ignored).
    beyond_cents: int


class ProbeFailed(Exception):
    """A probe that could not finish (a timeout, a permission): reported, and the audit goes on."""

    kind = "probe failed"


class TableLocked(ProbeFailed):
    """Another session holds a lock on the table longer than the audit's lock timeout."""

    kind = "locked by another session"


class NoPrivilege(ProbeFailed):
    """The audit's user may not read the table: none of its rows were read."""

    kind = "not readable"


class ConnectionLost(ProbeFailed):
    """The probe's connection died (killed by an administrator, a network cut); the audit goes on over a new one."""

    kind = "connection lost"


class Probe:
    """``sample_rows``: examine at most that many rows of each table (the first ones the database returns), for
    huge tables where a full scan would not fit the time budget; the evidence then says it was a sample.
    ``reconnect``: opens a new connection set up as the first one, used once each time the connection is lost;
    without it (or when it fails) a lost connection ends the audit."""

    def __init__(self, connection: Connection, sample_rows: int | None = None,
                 reconnect: Callable[[], Connection] | None = None) -> None:
        self.connection = connection
        self.sample_rows = sample_rows
        self.reconnect = reconnect
        # Tables a probe found locked by another session, as (schema, name): their remaining probes are skipped.
        self.locked: set[tuple[str | None, str]] = set()
        # Tables the user holds no SELECT privilege on, as (schema, name): their probes are not even tried.
        self.unreadable: set[tuple[str | None, str]] = set()

    def _table(self, t: Table, columns, name: str) -> Any:
        source = table(t.name, *(column(c) for c in columns), schema=t.schema)
        if self.sample_rows:
            return select(*source.c).limit(self.sample_rows).subquery(name)
        return source.alias(name)

    def _key_columns(self, t: Table) -> tuple[str, ...]:
        if t.primary_key and t.primary_key.columns:
            return t.primary_key.columns
        return t.column_names[:1]

    def orphans(self, child: Table, columns: tuple[str, ...], parent: Table,
                parent_columns: tuple[str, ...]) -> Evidence:
        keys = self._key_columns(child)
        c = self._table(child, set(columns) | set(keys), "child")
        p = table(parent.name, *(column(name) for name in parent_columns), schema=parent.schema).alias("parent")
        join = and_(*(c.c[a] == p.c[b] for a, b in zip(columns, parent_columns, strict=True)))
        broken = and_(*(c.c[a].is_not(None) for a in columns), p.c[parent_columns[0]].is_(None))
        seen = self._measure(c.outerjoin(p, join), broken, [c.c[k] for k in keys], (child, parent))
        # Each orphan is one deleted row; the outer join on a parent key yields one row per child row.
        return dataclasses.replace(seen, deletes=seen.count, table_rows=seen.rows_checked)

    def presence(self, child: Table, columns: tuple[str, ...], parent: Table,
                 parent_columns: tuple[str, ...], *, first_rows: int | None = None) -> Presence:
        """The distinct non-NULL values of ``columns`` in ``child``, and how many of them ``parent_columns`` holds:
        a reference holds mostly values its parent has, a count or a year mostly values it has not.
        ``first_rows``: look at only the first rows the database returns (a cheap first verdict)."""
        if first_rows is not None and (not self.sample_rows or first_rows < self.sample_rows):
            source = table(child.name, *(column(name) for name in columns), schema=child.schema)
            c = select(*source.c).limit(first_rows).subquery("child")
        else:
            c = self._table(child, columns, "child")
        present = and_(*(c.c[name].is_not(None) for name in columns))
        values = select(*(c.c[name] for name in columns)).where(present).distinct().subquery("child_values")
        p = table(parent.name, *(column(name) for name in parent_columns), schema=parent.schema).alias("parent")
        join = and_(*(values.c[a] == p.c[b] for a, b in zip(columns, parent_columns, strict=True)))
        found = (select(literal(1)).select_from(p).where(join).exists())
        query = select(func.count(), func.sum(case((found, 1), else_=0))).select_from(values)

        def run() -> Presence:
            distinct, hits = self.connection.execute(query).one()
            return Presence(int(distinct or 0), int(hits or 0), sampled=bool(self.sample_rows or first_rows))

        return self._run(run, (child, parent))

    def row_count(self, t: Table) -> int:
        """The table's rows (all of them: the share of a parent's keys a reference uses is out of these)."""
        query = select(func.count()).select_from(table(t.name, schema=t.schema))
        return self._run(lambda: int(self.connection.execute(query).scalar() or 0), (t,))

    def self_matches(self, t: Table, name: str, key: str) -> int:
        """Rows whose ``name`` equals their own ``key``: a hierarchy's column never points at its own row, a copy
        of the key or a counter that grows with it often does."""
        source = self._table(t, (name, key), "source")
        query = select(func.count()).select_from(source).where(source.c[name] == source.c[key])
        return self._run(lambda: int(self.connection.execute(query).scalar() or 0), (t,))

    def pairs(self, t: Table, key: str, name: str, limit: int) -> list[tuple[Any, Any]] | None:
        """Every (``key``, ``name``) pair of rows where ``name`` is set, or None when there are more than
        ``limit`` (a hierarchy is checked in memory only when it is small enough to read)."""
        source = self._table(t, (key, name), "source")
        query = select(source.c[key], source.c[name]).where(source.c[name].is_not(None)).limit(limit + 1)

        def run() -> list[tuple[Any, Any]] | None:
            rows = [(row[0], row[1]) for row in self.connection.execute(query)]
            return None if len(rows) > limit else rows

        return self._run(run, (t,))

    def dependents(self, t: Table, name: str) -> list[str]:
        """The views and rules that use column ``name`` (PostgreSQL refuses to change its type while they
        exist; elsewhere none block it): read from the catalog, not the rows."""
        if self.connection.dialect.name != "postgresql":
            return []
        query = text(
            "SELECT DISTINCT CASE WHEN r.rulename = '_RETURN' THEN 'view ' || v.relname"
            " ELSE 'rule ' || r.rulename END AS name"
            " FROM pg_catalog.pg_depend d"
            " JOIN pg_catalog.pg_rewrite r ON r.oid = d.objid"
            " JOIN pg_catalog.pg_class v ON v.oid = r.ev_class"
            " JOIN pg_catalog.pg_class c ON c.oid = d.refobjid"
            " JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace"
            " JOIN pg_catalog.pg_attribute a ON a.attrelid = c.oid AND a.attnum = d.refobjsubid"
            " WHERE d.classid = 'pg_catalog.pg_rewrite'::regclass AND c.relname = :table AND a.attname = :column"
            " AND n.nspname = COALESCE(:schema, current_schema()) ORDER BY name")
        return self._run(lambda: list(self.connection.scalars(query, {"table": t.name, "column": name,
                                                                         "schema": t.schema})), (t,))

    def profile(self, t: Table, name: str) -> Profile:
        """Row, NULL and distinct counts of one numeric column, its range, and how many values carry digits past
        the cent."""
        source = self._table(t, (name,), "source")
        value = source.c[name]
        cents = func.round(value * 100)
        # A millionth of the value besides the absolute slack: a 4-byte FLOAT holds 32.38 as 32.380001.
        beyond = case((func.abs(value * 100 - cents) > literal(0.001) + func.abs(value) * literal(0.0001), 1),
                      else_=0)
        query = select(func.count(), func.count(value), func.count(value.distinct()), func.min(value),
                       func.max(value), func.sum(beyond))

        def run() -> Profile:
            rows, present, distinct, low, high, fine = self.connection.execute(query.select_from(source)).one()
            return Profile(int(rows or 0), int(rows or 0) - int(present or 0), int(distinct or 0),
                           None if low is None else float(low), None if high is None else float(high),
                           int(fine or 0))

        return self._run(run, (t,))

    def violations(self, t: Table, condition: str) -> Evidence:
        """Rows for which ``condition`` (SQL as the database printed it, or one we built with quoted names) is
        false. NULL passes, as it does for a CHECK constraint."""
        keys = self._key_columns(t)
        source = self._table(t, set(keys) | set(t.column_names), "source")
        return self._measure(source, not_(literal_column(f"({condition})")), [source.c[k] for k in keys], (t,))

    def duplicates(self, t: Table, columns: tuple[str, ...]) -> Evidence:
        """Groups of rows sharing ``columns`` (NULLs never collide, as in a unique constraint), out of the rows
        that have a value in every key column."""
        source = self._table(t, columns, "source")
        keys = [source.c[name] for name in columns]
        copies = func.count().label("copies")
        present = and_(*(key.is_not(None) for key in keys))
        # One pass over every row: rows without a full key group apart (keyed = 0) and never collide. The totals
        # are the rows with a key (rows_checked), the repeated groups, the copies a clean-up keeping one row per
        # group deletes, and the table's rows.
        groups = select(copies, case((present, 1), else_=0).label("keyed")).group_by(*keys).subquery("groups")
        repeated_group = and_(groups.c.keyed == 1, groups.c.copies > 1)
        totals = select(func.sum(case((groups.c.keyed == 1, groups.c.copies), else_=0)),
                        func.sum(case((repeated_group, 1), else_=0)),
                        func.sum(case((repeated_group, groups.c.copies - 1), else_=0)), func.sum(groups.c.copies))
        repeated = select(*keys, copies).where(present).group_by(*keys).having(func.count() > 1)
        return self._count_then_sample(totals, repeated, lambda row: {
            "key": row[0] if len(columns) == 1 else list(row[:-1]), "copies": row[-1]}, (t,))

    def derived_totals(self, parent: Table, total: str, child: Table, reference: str, quantity: str, price: str, *,
                       tolerance: float, relative: float = 0.0) -> Evidence:
        """Parent rows whose ``total`` differs from the sum of their child rows' ``quantity * price`` by more than
        ``tolerance`` (plus ``relative`` times the total, for single-precision floats). A parent with no child rows
        sums to 0; a NULL total passes, as it does for a CHECK. ``--sample-rows`` bounds the parents examined;
        each examined parent's lines are all summed (a partial sum would be a false mismatch)."""
        key = self._key_columns(parent)[0]
        p = self._table(parent, {key, total}, "parent")
        c = table(child.name, column(reference), column(quantity), column(price), schema=child.schema).alias("child")
        items = func.coalesce(func.sum(c.c[quantity] * c.c[price]), 0)
        # One grouped outer join: every examined parent with the sum of its lines, mismatches flagged in one pass.
        per_parent = (select(p.c[key].label("key"), p.c[total].label("total"), items.label("items_total"))
                      .select_from(p.outerjoin(c, c.c[reference] == p.c[key]))
                      .group_by(p.c[key], p.c[total]).subquery("per_parent"))
        allowed: ColumnElement[float] = literal(tolerance)
        if relative:
            allowed = allowed + func.abs(per_parent.c.total) * literal(relative)
        broken = func.abs(per_parent.c.items_total - per_parent.c.total) > allowed
        totals = select(func.count(), func.sum(case((broken, 1), else_=0))).select_from(per_parent)
        mismatched = (select(per_parent.c.key, per_parent.c.total, per_parent.c.items_total)
                      .where(broken).order_by(per_parent.c.key))
        return self._count_then_sample(totals, mismatched, lambda row: {
            "key": row[0], "total": _plain(row[1]), "items_total": _plain(row[2])}, (parent, child))

    def distinct(self, t: Table, name: str, limit: int) -> list[Any]:
        """Up to ``limit`` distinct non-NULL values of one column, sorted."""
        source = self._table(t, (name,), "source")
        query = select(source.c[name]).where(source.c[name].is_not(None)).distinct().order_by(source.c[name])
        return self._run(lambda: list(self.connection.scalars(query.limit(limit))), (t,))

    def _measure(self, rows, broken, keys, tables: tuple[Table, ...]) -> Evidence:
        """Count the rows and the broken ones in one pass; fetch sample keys only when something is broken."""
        totals = select(func.count(), func.sum(case((broken, 1), else_=0))).select_from(rows)
        # Ordered by key: the samples are the same every run, and the planner walks the key's index and stops
        # at the fifth hit instead of finishing an anti-join.
        broken_keys = select(*keys).select_from(rows).where(broken).order_by(*keys)
        return self._count_then_sample(totals, broken_keys, lambda row: row[0] if len(keys) == 1 else list(row),
                                       tables)

    def _count_then_sample(self, totals: Select, samples: Select, sample: Callable[[Row], Any],
                           tables: tuple[Table, ...]) -> Evidence:
        """Run ``totals`` (rows examined, rows broken) and, only when something is broken, the first ``SAMPLES``
        rows of ``samples``, each shown as ``sample`` makes it."""

        def run() -> Evidence:
            total, count, *more = self.connection.execute(totals).one()
            found = self.connection.execute(samples.limit(SAMPLES)).all() if count else []
            seen = self._evidence(count, total, [sample(row) for row in found])
            if more:  # the duplicates' extra totals: rows a clean-up deletes, and the table's rows
                seen = dataclasses.replace(seen, deletes=int(more[0] or 0), table_rows=int(more[1] or 0))
            return seen

        return self._run(run, tables)

    def _evidence(self, count, total, samples) -> Evidence:
        return Evidence(int(count or 0), int(total or 0), samples, sampled=bool(self.sample_rows))

    def _run(self, work, tables: tuple[Table, ...]):
        if any((t.schema, t.name) in self.unreadable for t in tables):
            raise NoPrivilege(NO_SELECT)
        locked = [t for t in tables if (t.schema, t.name) in self.locked]
        if locked:
            raise TableLocked(f"{qualified(locked[0].schema, locked[0].name)} timed out on a lock earlier")
        # PostgreSQL aborts the whole transaction on an error (a timeout included): a savepoint keeps the rest of
        # the audit alive. Savepoints are allowed in a read-only transaction.
        nested = self.connection.begin_nested() if self.connection.dialect.name == "postgresql" else None
        try:
            result = work()
        except DBAPIError as error:
            if error.connection_invalidated:
                self._replace_connection(error)
                raise ConnectionLost(first_line(error)) from None
            if nested is not None:
                nested.rollback()
            if _lock_timed_out(error):
                if len(tables) == 1:  # the one table it reads is locked: its other probes would only wait too
                    self.locked.add((tables[0].schema, tables[0].name))
                raise TableLocked(first_line(error)) from None
            raise ProbeFailed(first_line(error)) from None
        if nested is not None:
            nested.commit()
        return result


    def _replace_connection(self, lost: DBAPIError) -> None:
        if self.reconnect is None:
            raise IntegrityKitError(f"the audit's connection was lost: {first_line(lost)}") from None
        try:
            self.connection = self.reconnect()
        except DBAPIError as error:
            raise IntegrityKitError(f"the audit's connection was lost ({first_line(lost)}) and reconnecting "
                                    f"failed: {first_line(error)}") from None


def _lock_timed_out(error: DBAPIError) -> bool:
    """PostgreSQL's lock_timeout (SQLSTATE 55P03) or MySQL/MariaDB's lock_wait_timeout (error 1205)."""
    if lock_timed_out(error):
        return True
    args: tuple[object, ...] = getattr(error.orig, "args", ())
    return bool(args) and args[0] == 1205


def _plain(value: Any) -> Any:
    """Float sums carry binary noise (59.970000000000006): shown to a millionth, which no currency needs more of."""
    return round(value, 6) if isinstance(value, float) else value
