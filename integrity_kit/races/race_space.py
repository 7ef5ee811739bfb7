"""What a stochastic race space and a scheduled harness share: a scratch space, one engine on it, and the result."""

from __future__ import annotations

from collections.abc import Iterable
from contextlib import AbstractContextManager
from typing import Any, TypeVar

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from integrity_kit.races.engines import check_isolation_level, dialect_name, real_sqlite_transactions, server_version
from integrity_kit.races.loading import DEFAULT_WORKLOAD, load_workload
from integrity_kit.races.result import RaceResult, build_result
from integrity_kit.races.scratch import Scratch, scratch
from integrity_kit.races.workload import Outcome, Workload

SQLITE_NOTES = (
    "SQLite has no row locks and one writer at a time: a read-check-write cannot lose an update here, the loser "
    "gets SQLITE_BUSY ('database is locked') instead, so naive fails rather than oversells; run the race on "
    "PostgreSQL or MySQL/MariaDB to see lost updates.",
    "Transactions are real (BEGIN at the first statement, busy timeout 5 s); for-update and serializable take the "
    "database-wide write lock up front with BEGIN IMMEDIATE.",
)

_Opened = TypeVar("_Opened", bound="ScratchRace")


class ScratchRace:
    """A scratch space holding the workload's schema and one engine on it, open for a ``with`` block.

    Subclasses size the engine's pool (``_pool``) and may prepare the engine further (``_prepare``).
    """

    sqlite_busy_timeout_ms = 5000

    def __init__(self, url: str | URL | None, *, workload: str | Workload = DEFAULT_WORKLOAD,
                 prefix: str | None = None, isolation_level: str | None = None) -> None:
        self.workload = load_workload(workload)
        self.url, self.prefix, self.isolation_level = url, prefix, isolation_level
        self.engine: Engine | None = None  # while the space is open
        self._context: AbstractContextManager[Scratch] | None = None

    def _pool(self) -> tuple[int, int]:
        """The engine's ``pool_size`` and ``max_overflow``."""
        raise NotImplementedError

    def _prepare(self, engine: Engine) -> None:
        """Hook: event listeners the subclass needs on the engine before anything runs."""

    def __enter__(self: _Opened) -> _Opened:
        context = scratch(self.url, prefix=self.prefix)
        space = context.__enter__()
        self._context = context
        try:
            self.dialect = space.dialect
            self.name = space.name  # the scratch schema / database / file created for this space
            self.level = check_isolation_level(space.dialect, self.isolation_level)
            level = self.level if space.dialect != "sqlite" else None  # SQLite: one level, set by the driver
            pool_size, max_overflow = self._pool()
            self.engine = engine = space.engine(pool_size=pool_size, max_overflow=max_overflow, isolation_level=level)
            if space.dialect == "sqlite":
                real_sqlite_transactions(engine, busy_timeout_ms=self.sqlite_busy_timeout_ms)
            self._prepare(engine)
        except BaseException:
            context.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc_info: Any) -> None:
        if self.engine is not None:
            self.engine.dispose()
        if self._context is not None:
            self._context.__exit__(*exc_info)

    def _result(self, engine: Engine, strategy: str, *, workers: int, attempts: int, stock: int,
                outcomes: Iterable[Outcome], duration_s: float) -> RaceResult:
        """The race's result, its stock and orders read back from the database."""
        state = self.workload.state(engine)
        with engine.connect() as connection:
            effective = self.workload.isolation_level(strategy) or self.level or connection.get_isolation_level()
        return build_result(strategy=strategy, dialect=dialect_name(engine), isolation_level=effective,
                            workers=workers, attempts=attempts, stock=stock, outcomes=outcomes, state=state,
                            duration_s=duration_s, workload=self.workload.name, server_version=server_version(engine),
                            notes=SQLITE_NOTES if self.dialect == "sqlite" else ())
