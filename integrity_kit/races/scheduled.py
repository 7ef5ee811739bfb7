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
from dataclasses import dataclass
from typing import Any

from rich.console import Console
from sqlalchemy import event
from sqlalchemy.engine import URL

from integrity_kit.races.engines import (
    check_isolation_level,
    dialect_name,
    real_sqlite_transactions,
    server_version,
)
from integrity_kit.races.reference import error_code
from integrity_kit.races.result import RaceResult, build_result
from integrity_kit.races.schedule import Interleaving, SessionContext, Trace, connection_ids
from integrity_kit.races.scratch import scratch
from integrity_kit.races.simulate import SQLITE_NOTES, check_strategy
from integrity_kit.races.workload import DEFAULT_WORKLOAD, Outcome, Workload, load_workload

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


def _note_errors(engine) -> None:
    """Write each database error into the trace of the step that hit it (the app retries it silently)."""

    @event.listens_for(engine, "handle_error")
    def _error(context) -> None:
        ctx = getattr(threading.current_thread(), "ik_session", None)
        if ctx is not None and context.original_exception is not None:
            ctx.note(f"error {error_code(context.original_exception)}, rolled back")


def _program(workload: Workload, engine, buyer: Any, strategy: str):
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


def _how(strategy: str, result: RaceResult, trace: Trace, outcomes: dict[str, Outcome]) -> str:
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


def run_scheduled(url: str | URL | None, strategy: str = "naive", *, workload: str | Workload = DEFAULT_WORKLOAD,
                  prefix: str | None = None, isolation_level: str | None = None, stock: int = 2,
                  timeout: float = 10.0) -> ScheduledReport:
    """Run the two-buyer lost-update schedule once under ``strategy`` and check the invariants."""
    loaded = load_workload(workload)
    check_strategy(loaded, strategy)
    with scratch(url, prefix=prefix) as space:
        level = check_isolation_level(space.dialect, isolation_level)
        options: dict[str, Any] = {"pool_size": 4, "max_overflow": 2}
        if level and space.dialect != "sqlite":
            options["isolation_level"] = level
        engine = space.engine(**options)
        if space.dialect == "sqlite":
            real_sqlite_transactions(engine, busy_timeout_ms=1000)
        try:
            connection_ids(engine)
            _note_errors(engine)
            a, b = loaded.create(engine, stock=stock, buyers=2)
            programs = {"A": _program(loaded, engine, a, strategy), "B": _program(loaded, engine, b, strategy)}
            trace = Interleaving(engine, timeout=timeout).run(programs, ORDER)
            outcomes = {name: value if isinstance(value, Outcome)
                        else Outcome("error", code=type(value).__name__, detail=str(value))
                        for name, value in trace.results.items()}
            state = loaded.state(engine)
            with engine.connect() as connection:
                effective = loaded.isolation_level(strategy) or level or connection.get_isolation_level()
            result = build_result(strategy=strategy, dialect=dialect_name(engine), isolation_level=effective,
                                  workers=2, attempts=2, stock=stock, outcomes=outcomes.values(), state=state,
                                  duration_s=0.0, workload=loaded.name, server_version=server_version(engine),
                                  notes=SQLITE_NOTES if space.dialect == "sqlite" else ())
            return ScheduledReport(result, tuple(trace.lines()), outcomes, _how(strategy, result, trace, outcomes))
        finally:
            engine.dispose()


def render_scheduled(console: Console, report: ScheduledReport) -> None:
    result = report.result
    console.print(f"[bold]{result.strategy}[/] on {result.dialect} {result.server_version} at "
                  f"{result.isolation_level}, scheduled: two buyers, {result.initial_stock} in stock")
    for line in report.trace:
        console.print(f"  {line}", markup=False)
    console.print(f"  orders {result.orders_placed}, units sold {result.units_sold}, final stock "
                  f"{result.final_stock}, lost updates {result.lost_updates}, oversold {result.oversold_units}")
    verdict = "[green]invariants held[/]" if result.invariants_held else "[bold red]invariants BROKEN[/]"
    console.print(f"  {verdict}: {report.how}")
    for note in result.notes:
        console.print(f"  note: {note}")
