"""Stock-change notifications for live front ends, published only after the change is committed.

Services call :meth:`StockEvents.publish` *after* their transaction committed, never from inside it, so a
subscriber can never see stock that a rolled-back transaction only pretended to take.
"""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterable
from typing import Any


class StockEvents:
    def __init__(self, backlog: int = 100) -> None:
        self._lock = threading.Lock()
        self._subscribers: list[queue.Queue] = []
        self._backlog = backlog

    def subscribe(self) -> queue.Queue:
        subscriber: queue.Queue = queue.Queue(maxsize=self._backlog)
        with self._lock:
            self._subscribers.append(subscriber)
        return subscriber

    def unsubscribe(self, subscriber: queue.Queue) -> None:
        with self._lock:
            if subscriber in self._subscribers:
                self._subscribers.remove(subscriber)

    def publish(self, changes: Iterable[dict[str, Any]]) -> None:
        changes = list(changes)
        with self._lock:
            subscribers = list(self._subscribers)
        for subscriber in subscribers:
            for change in changes:
                try:
                    subscriber.put_nowait(change)
                except queue.Full:  # a stalled client loses events rather than stalling checkouts
                    break


def publish_levels(events: StockEvents | None, engine, product_ids: Iterable[int], reason: str) -> None:
    """Read the committed levels of ``product_ids`` and publish them (no-op without a broker)."""
    if events is None:
        return
    from examples.ecommerce.catalog import stock_levels

    events.publish({**level, "reason": reason} for level in stock_levels(engine, sorted(set(product_ids))))
