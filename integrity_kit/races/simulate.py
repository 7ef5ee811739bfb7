"""Stochastic mode: many buyers on real concurrent connections, then count the damage in the database."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.engine import URL

from integrity_kit.errors import IntegrityKitError, error_code, first_line
from integrity_kit.races.loading import DEFAULT_WORKLOAD
from integrity_kit.races.race_space import ScratchRace
from integrity_kit.races.result import RaceResult
from integrity_kit.races.workload import Outcome, Workload

Progress = Callable[[Outcome], None]
MAX_WORKERS = 256


def check_counts(workers: int, attempts: int, stock: int, think_ms: float = 0.0) -> None:
    if not 1 <= workers <= MAX_WORKERS:
        raise IntegrityKitError(f"--workers must be between 1 and {MAX_WORKERS}, got {workers}")
    if attempts < 1:
        raise IntegrityKitError(f"--attempts must be at least 1, got {attempts}")
    if stock < 0:
        raise IntegrityKitError(f"--stock must be 0 or more, got {stock}")
    if not 0 <= think_ms <= 60_000:
        raise IntegrityKitError(f"--think-ms must be between 0 and 60000, got {think_ms}")


def check_strategy(workload: Workload, strategy: str) -> str:
    if strategy not in workload.strategies():
        raise IntegrityKitError(f"unknown strategy {strategy!r} (choose from: {', '.join(workload.strategies())})")
    return strategy


def simulate(url: str | URL | None, strategy: str = "naive", workers: int = 8, attempts: int = 200,
             stock: int = 50, isolation_level: str | None = None, seed: int | None = None, *,
             workload: str | Workload = DEFAULT_WORKLOAD, prefix: str | None = None, think_ms: float = 0.0,
             progress: Progress | None = None) -> RaceResult:
    """Race ``attempts`` one-unit checkouts of a product with ``stock`` units over ``workers`` connections.

    Every worker waits at a start barrier, so they truly overlap. ``think_ms`` sleeps up to that long (seeded by
    ``seed``) between a checkout's read and its write, as real request handling would. The run happens in a
    scratch space (see :mod:`integrity_kit.races.scratch`) that is dropped afterwards; orders, units and stock in
    the result are read back from the database, not taken from what the workers believed.
    """
    check_counts(workers, attempts, stock, think_ms)
    with RaceSpace(url, workload=workload, prefix=prefix, isolation_level=isolation_level,
                   max_workers=workers) as space:
        return space.simulate(strategy, workers=workers, attempts=attempts, stock=stock, seed=seed,
                              think_ms=think_ms, progress=progress)


class RaceSpace(ScratchRace):
    """One scratch space kept open for several races (``--strategy all``, repeated runs): the schema is created
    once and each race refills the shop, so only the race itself is repeated."""

    def __init__(self, url: str | URL | None, *, workload: str | Workload = DEFAULT_WORKLOAD,
                 prefix: str | None = None, isolation_level: str | None = None, max_workers: int = 16) -> None:
        super().__init__(url, workload=workload, prefix=prefix, isolation_level=isolation_level)
        self.max_workers = max_workers

    def _pool(self) -> tuple[int, int]:
        return self.max_workers + 1, 0

    def simulate(self, strategy: str, *, workers: int = 8, attempts: int = 200, stock: int = 50,
                 seed: int | None = None, think_ms: float = 0.0, progress: Progress | None = None) -> RaceResult:
        check_counts(workers, attempts, stock, think_ms)
        if workers > self.max_workers:
            raise IntegrityKitError(f"this race space was opened for {self.max_workers} workers, not {workers}")
        loaded, engine = self.workload, self.engine
        if engine is None:
            raise RuntimeError("a RaceSpace runs races only inside its with block")
        check_strategy(loaded, strategy)
        buyers = loaded.create(engine, stock=stock, buyers=attempts)
        outcomes, duration = _race(loaded, engine, strategy, buyers, workers, seed, think_ms, progress)
        return self._result(engine, strategy, workers=workers, attempts=attempts, stock=stock, outcomes=outcomes,
                            duration_s=duration)


def _race(workload: Workload, engine: Engine, strategy: str, buyers: list[Any], workers: int, seed: int | None,
          think_ms: float, progress: Progress | None) -> tuple[list[Outcome], float]:
    start = threading.Barrier(workers + 1)
    lock = threading.Lock()
    queue = iter(buyers)
    outcomes: list[Outcome] = []
    base = random.Random(seed).randrange(2**32)

    def worker(index: int) -> None:
        rng = random.Random(base + index)

        def think() -> None:
            if think_ms > 0:
                time.sleep(rng.uniform(0, think_ms) / 1000)

        # Connect before the barrier: opening connections inside the race would stagger the workers by the
        # connection set-up time, and the first ones could finish before the last ones read.
        with engine.connect():
            pass
        start.wait()
        while True:
            with lock:
                buyer = next(queue, None)
            if buyer is None:
                return
            try:
                outcome = workload.checkout(engine, buyer, strategy, think)
            except Exception as error:  # a workload bug or a driver failure is counted, never lost
                outcome = Outcome("error", code=error_code(error), detail=first_line(error))
            with lock:
                outcomes.append(outcome)
            if progress is not None:
                progress(outcome)

    threads = [threading.Thread(target=worker, args=(i,), name=f"ik-race-{i}", daemon=True)
               for i in range(workers)]
    for thread in threads:
        thread.start()
    start.wait()
    began = time.perf_counter()
    for thread in threads:
        thread.join()
    return outcomes, time.perf_counter() - began
