"""Data probes: the only code that reads table contents. Set-based SQL (anti-joins, GROUP BY … HAVING) on the
audit's read-only connection, under its statement timeout; every identifier goes through SQLAlchemy's quoting."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Connection, and_, column, func, literal_column, not_, select, table
from sqlalchemy.exc import DBAPIError

from integrity_kit.schema import Table

SAMPLES = 5


@dataclass(frozen=True)
class Evidence:
    """What a probe saw: how many rows break the rule, out of how many, and up to five of their keys."""

    count: int
    rows_checked: int
    samples: list[Any] = field(default_factory=list)

    def to_dict(self, what: str) -> dict[str, Any]:
        return {what: self.count, "rows_checked": self.rows_checked, "sample_keys": self.samples}


class ProbeFailed(Exception):
    """A probe that could not finish (a timeout, a permission): reported, and the audit goes on."""


class Probe:
    def __init__(self, connection: Connection) -> None:
        self.connection = connection

    def _table(self, t: Table, columns) -> Any:
        return table(t.name, *(column(name) for name in columns), schema=t.schema)

    def _key_columns(self, t: Table) -> tuple[str, ...]:
        if t.primary_key and t.primary_key.columns:
            return t.primary_key.columns
        return t.column_names[:1]

    def orphans(self, child: Table, columns: tuple[str, ...], parent: Table,
                parent_columns: tuple[str, ...]) -> Evidence:
        keys = self._key_columns(child)
        c = self._table(child, set(columns) | set(keys)).alias("child")
        p = self._table(parent, parent_columns).alias("parent")
        join = and_(*(c.c[a] == p.c[b] for a, b in zip(columns, parent_columns, strict=True)))
        present = and_(*(c.c[a].is_not(None) for a in columns))
        broken = select(*(c.c[k] for k in keys)).select_from(c.outerjoin(p, join)).where(
            present, p.c[parent_columns[0]].is_(None))
        return self._measure(broken, c, keys)

    def duplicates(self, t: Table, columns: tuple[str, ...]) -> Evidence:
        """Groups of rows sharing ``columns`` (NULLs never collide, as in a unique constraint)."""
        source = self._table(t, columns)
        groups = (select(*(source.c[name] for name in columns), func.count().label("copies"))
                  .where(*(source.c[name].is_not(None) for name in columns))
                  .group_by(*(source.c[name] for name in columns)).having(func.count() > 1))
        return self._run(lambda: self._grouped(groups, source, columns))

    def violations(self, t: Table, condition: str) -> Evidence:
        """Rows for which ``condition`` (SQL as the database printed it, or one we built with quoted names) is
        false. NULL passes, as it does for a CHECK constraint."""
        keys = self._key_columns(t)
        source = self._table(t, keys)
        broken = select(*(source.c[k] for k in keys)).where(not_(literal_column(f"({condition})")))
        return self._measure(broken, source, keys)

    def distinct(self, t: Table, name: str, limit: int) -> list[Any]:
        """Up to ``limit`` distinct non-NULL values of one column, sorted."""
        source = self._table(t, (name,))
        query = select(source.c[name]).where(source.c[name].is_not(None)).distinct().order_by(source.c[name])
        return self._run(lambda: list(self.connection.scalars(query.limit(limit))))

    def _measure(self, broken, source, keys) -> Evidence:
        def run() -> Evidence:
            count = self.connection.scalar(select(func.count()).select_from(broken.subquery()))
            total = self.connection.scalar(select(func.count()).select_from(source))
            samples = []
            if count:
                rows = self.connection.execute(broken.limit(SAMPLES)).all()
                samples = [row[0] if len(keys) == 1 else list(row) for row in rows]
            return Evidence(int(count or 0), int(total or 0), samples)

        return self._run(run)

    def _grouped(self, groups, source, columns) -> Evidence:
        subquery = groups.subquery()
        count = self.connection.scalar(select(func.count()).select_from(subquery))
        total = self.connection.scalar(select(func.count()).select_from(source))
        samples = []
        if count:
            rows = self.connection.execute(groups.limit(SAMPLES)).all()
            samples = [{"key": row[0] if len(columns) == 1 else list(row[:-1]), "copies": row[-1]} for row in rows]
        return Evidence(int(count or 0), int(total or 0), samples)

    def _run(self, work):
        # PostgreSQL aborts the whole transaction on an error (a timeout included): a savepoint keeps the rest of
        # the audit alive. Savepoints are allowed in a read-only transaction.
        nested = self.connection.begin_nested() if self.connection.dialect.name == "postgresql" else None
        try:
            result = work()
        except DBAPIError as error:
            if nested is not None:
                nested.rollback()
            raise ProbeFailed(str(getattr(error, "orig", error)).strip().splitlines()[0]) from None
        if nested is not None:
            nested.commit()
        return result

