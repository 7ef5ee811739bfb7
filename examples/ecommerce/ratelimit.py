"""Counting failures per key in a sliding window, so guessing passwords gets refused for a while, never forever.

In memory and per process: enough for the reference app's single ``serve`` process. Several processes (or
machines) would keep these counters in a shared store such as Redis instead, or each one would allow its own quota.
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict, deque

from examples.ecommerce.clock import Clock, utcnow


class FailureLimiter:
    """At most ``limit`` failures per key within ``window``; after that the key is refused until the oldest
    failure in the window has aged out. Only failures count, so the owner who types the right password the first
    time is never slowed down, and a key that stays quiet for one window is fully free again."""

    def __init__(self, *, limit: int, window: dt.timedelta, clock: Clock = utcnow, max_keys: int = 100_000) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.window = window
        self._clock = clock
        # Bounded: a flood of distinct keys (random emails) evicts the least recently failed ones instead of
        # growing without end.
        self._max_keys = max_keys
        self._failures: OrderedDict[str, deque[dt.datetime]] = OrderedDict()
        self._lock = threading.Lock()

    def retry_after(self, key: str) -> int | None:
        """Whole seconds until ``key`` may try again, or ``None`` when it may try now."""
        now = self._clock()
        with self._lock:
            failures = self._prune(key, now)
            if len(failures) < self.limit:
                return None
            wait = (failures[0] + self.window - now).total_seconds()
            return max(1, math.ceil(wait))

    def record_failure(self, key: str) -> None:
        now = self._clock()
        with self._lock:
            failures = self._prune(key, now)
            failures.append(now)
            self._failures[key] = failures
            self._failures.move_to_end(key)
            while len(self._failures) > self._max_keys:
                self._failures.popitem(last=False)

    def reset(self, key: str) -> None:
        with self._lock:
            self._failures.pop(key, None)

    def _prune(self, key: str, now: dt.datetime) -> deque[dt.datetime]:
        failures = self._failures.get(key, deque())
        while failures and failures[0] + self.window <= now:
            failures.popleft()
        if not failures:
            self._failures.pop(key, None)
        return failures
