"""Scheduled mode: two buyers, one exact interleaving, the lost update every time -- and how each fix stops it.

Buyers A and B each have one unit in the cart; the product has ``stock`` units (2 by default, so the damage is a
pure lost update: both orders succeed but the stock only goes down by one). The schedule is the classic one:

    1. A: begin, read stock (and check it)      2. B: the same
    3. A: write stock, create the order, commit  4. B: the same

``naive`` loses A's update in step 4 on every engine with row locks. The fixes are told apart by what the trace
shows: ``for-update`` makes B *block* at its read until A commits, then read the new value; ``conditional-update``
has no read-then-write gap (B's UPDATE re-checks the row A committed); ``optimistic`` makes B's write match no row,
so B *retries*; ``serializable`` makes the engine *abort* B (PostgreSQL 40001) or deadlock it (InnoDB 1213), and
B retries.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, event
from sqlalchemy.engine import URL, ExceptionContext

from integrity_kit.errors import error_code
from integrity_kit.races.interleaving import Interleaving, Program, SessionContext, Trace, connection_ids
from integrity_kit.races.loading import DEFAULT_WORKLOAD, load_workload
from integrity_kit.races.race_space import ScratchRace
from integrity_kit.races.result import RaceResult
from integrity_kit.races.simulate import check_strategy
from integrity_kit.races.workload import Outcome, Workload

ORDER = ("A", "B", "A", "B")
READ = "begin, read stock, check it"
WRITE = "write stock, create the order, commit"
RETRY = "retry: read stock again, write, commit"


@dataclass(frozen=True)
class ScheduledReport:
    result: RaceResult
    trace: tuple[str, ...]
    outcomes: dict[str, Outcome]
    how: str

    @property
    def invariants_held(self) -> bool:
        return self.result.invariants_held

    def to_dict(self) -> dict[str, Any]:
        return {**self.result.to_dict(), "mode": "scheduled", "schedule": list(self.trace), "how": self.how,
                "buyers": {name: {"status": o.status, "code": o.code, "retries": o.retries}
                           for name, o in self.outcomes.items()}}


def _note_errors(engine: Engine) -> None:
    """Write each database error into the trace of the step that hit it (the app retries it silently)."""

    @event.listens_for(engine, "handle_error")
    def _error(context: ExceptionContext) -> None:
        ctx = getattr(threading.current_thread(), "ik_session", None)
        if ctx is not None and context.original_exception is not None:
            ctx.note(f"error {error_code(context.original_exception)}, rolled back")


def _program(workload: Workload, engine: Engine, buyer: Any, strategy: str) -> Program:
    def program(ctx: SessionContext) -> Outcome:
        ctx.step(READ)
        pauses = 0

        def pause() -> None:
            nonlocal pauses
            pauses += 1
            if pauses > 1 and not any(note.startswith("error") for note in (ctx.current.notes if ctx.current
                                                                              else [])):
                ctx.note("its write changed no row (stale version), rolled back")
            ctx.step(WRITE if pauses == 1 else RETRY)

        outcome = workload.checkout(engine, buyer, strategy, pause)
        ctx.note({"ordered": "ordered", "rejected": "told: out of stock"}.get(outcome.status,
                                                                               f"failed: {outcome.code}"))
        return outcome

    return program


def _how(result: RaceResult, trace: Trace, outcomes: dict[str, Outcome]) -> str:
    if result.lost_updates > 0 or result.oversold_units > 0:
        return (f"lost update: both buyers read the stock before either wrote, and B's write overwrote A's: "
                f"{result.units_sold} units ordered, stock down by {result.initial_stock - result.final_stock}")
    parts = []
    for step in trace.steps:
        if step.blocked:
            after = f" until step {step.resumed_after} finished" if step.resumed_after else ""
            parts.append(f"{step.session} blocked at '{step.label}'{after}")
        retried = outcomes[step.session].retries > 0 if step.session in outcomes else False
        for note in step.notes:
            if note.startswith("error"):
                then = "retried" if retried else "gave up (this strategy does not retry)"
                parts.append(f"{step.session} got {note.split(',')[0]} at '{step.label}' and {then}")
            elif note.startswith("its write changed no row"):
                parts.append(f"{step.session}'s write matched no row (the version had moved on), so it retried")
    if not parts:
        parts.append("no block, no error: B's UPDATE re-checked the stock on the row A had committed")
    b = outcomes["B"]
    if b.status == "ordered":
        parts.append("then B saw the new value and ordered on top of A's sale: no update lost")
    elif b.status == "rejected":
        parts.append("then B saw the new value and was told out of stock: no update lost")
    else:
        parts.append(f"B failed ({b.code}) and wrote nothing, so nothing was lost")
    return "; ".join(parts)


class RaceHarness(ScratchRace):
    """A scratch space with the workload's schema, kept open to run many schedules (a Hypothesis test runs
    dozens): each :meth:`run` refills the shop and steps the buyers through one interleaving.

    ``order`` names buyers ``A``, ``B``, ``C``, ... once per step: each buyer has two (read, then write and
    commit); anything the order leaves unfinished (a retry after an abort) runs to its end afterwards.
    """

    sqlite_busy_timeout_ms = 1000

    def __init__(self, url: str | URL | None, *, workload: str | Workload = DEFAULT_WORKLOAD,
                 prefix: str | None = None, isolation_level: str | None = None, timeout: float = 10.0) -> None:
        super().__init__(url, workload=workload, prefix=prefix, isolation_level=isolation_level)
        self.timeout = timeout

    def _pool(self) -> tuple[int, int]:
        return 6, 4

    def _prepare(self, engine: Engine) -> None:
        connection_ids(engine)
        _note_errors(engine)

    def run(self, strategy: str, order: Sequence[str] = ORDER, *, stock: int = 2,
            quantities: Sequence[int] | None = None) -> ScheduledReport:
        check_strategy(self.workload, strategy)
        names = sorted(set(order))
        quantities = list(quantities) if quantities is not None else [1] * len(names)
        engine = self.engine
        if engine is None:
            raise RuntimeError("a RaceHarness runs schedules only inside its with block")
        buyers = self.workload.create(engine, stock=stock, buyers=len(names), quantities=quantities)
        programs = {name: _program(self.workload, engine, buyer, strategy)
                    for name, buyer in zip(names, buyers, strict=True)}
        trace = Interleaving(engine, timeout=self.timeout).run(programs, order)
        outcomes = {name: value if isinstance(value, Outcome)
                    else Outcome("error", code=type(value).__name__, detail=str(value))
                    for name, value in trace.results.items()}
        result = self._result(engine, strategy, workers=len(names), attempts=len(names), stock=stock,
                              outcomes=outcomes.values(), duration_s=0.0)
        return ScheduledReport(result, tuple(trace.lines()), outcomes, _how(result, trace, outcomes))


def run_scheduled(url: str | URL | None, strategy: str = "naive", *, workload: str | Workload = DEFAULT_WORKLOAD,
                  prefix: str | None = None, isolation_level: str | None = None, stock: int = 2,
                  timeout: float = 10.0) -> ScheduledReport:
    """Run the two-buyer lost-update schedule once under ``strategy`` and check the invariants."""
    loaded = load_workload(workload)
    check_strategy(loaded, strategy)
    with RaceHarness(url, workload=loaded, prefix=prefix, isolation_level=isolation_level,
                     timeout=timeout) as harness:
        return harness.run(strategy, ORDER, stock=stock)

