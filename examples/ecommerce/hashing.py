"""A bound on concurrent password hashing: argon2id's memory cost is paid per computation, so the number of
computations at once, not the number of requests, decides how much memory logins can take."""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from contextlib import contextmanager

from examples.ecommerce.errors import DomainError

# One computation per core keeps every core busy; more would only queue inside argon2 while holding memory.
DEFAULT_CONCURRENCY = max(1, min(4, os.cpu_count() or 1))
DEFAULT_WAIT_SECONDS = 2.0
BUSY_RETRY_AFTER = 1


def busy() -> DomainError:
    return DomainError("RATE_LIMITED", f"the server is busy checking passwords; try again in {BUSY_RETRY_AFTER} "
                       "seconds", {"retry_after": BUSY_RETRY_AFTER, "reason": "hashing_capacity"})


class HashingSlots:
    """At most ``limit`` hash computations at once; a caller that cannot get a slot within ``wait`` seconds is
    answered ``RATE_LIMITED`` instead of queueing without end."""

    def __init__(self, limit: int = DEFAULT_CONCURRENCY, wait: float = DEFAULT_WAIT_SECONDS) -> None:
        if limit < 1:
            raise ValueError("limit must be at least 1")
        self.limit = limit
        self.wait = wait
        self._slots = threading.BoundedSemaphore(limit)

    @contextmanager
    def slot(self) -> Iterator[None]:
        if not self._slots.acquire(timeout=self.wait):
            raise busy()
        try:
            yield
        finally:
            self._slots.release()
