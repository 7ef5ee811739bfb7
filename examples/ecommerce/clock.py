"""Time as a dependency: services take a ``clock`` so tests can move it instead of sleeping."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

Clock = Callable[[], dt.datetime]


def utcnow() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def as_utc(value: dt.datetime) -> dt.datetime:
    """A timezone-aware UTC datetime. SQLite and MariaDB hand back naive values; the app only ever stores UTC."""
    return value.replace(tzinfo=dt.timezone.utc) if value.tzinfo is None else value.astimezone(dt.timezone.utc)


def for_database(value: dt.datetime, dialect_name: str) -> dt.datetime:
    """What to bind for a ``DateTime(timezone=True)`` column: MariaDB's DATETIME has no zone, so naive UTC there."""
    value = as_utc(value)
    return value.replace(tzinfo=None) if dialect_name in {"mysql", "mariadb"} else value


class FakeClock:
    """A clock that only moves when told to."""

    def __init__(self, start: dt.datetime | None = None) -> None:
        self.now = as_utc(start or dt.datetime(2026, 1, 1, 12, 0))

    def __call__(self) -> dt.datetime:
        return self.now

    def advance(self, **delta: float) -> dt.datetime:
        self.now += dt.timedelta(**delta)
        return self.now
