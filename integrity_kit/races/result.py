"""The result of one race, its invariants, and the JSON contract of DESIGN.md §3."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from integrity_kit.races.workload import Outcome, State


@dataclass(frozen=True)
class Invariant:
    name: str
    held: bool
    detail: str


@dataclass(frozen=True)
class RaceResult:
    strategy: str
    dialect: str
    isolation_level: str
    workers: int
    attempts: int
    initial_stock: int
    orders_placed: int
    units_sold: int
    final_stock: int
    rejected: int
    retries: int
    errors: dict[str, int]
    duration_s: float
    orders_without_items: int = 0
    orders_without_payment_state: int = 0
    retried_because: dict[str, int] = field(default_factory=dict)
    workload: str = ""
    server_version: str = ""
    notes: tuple[str, ...] = ()

    @property
    def oversold_units(self) -> int:
        return max(self.units_sold - self.initial_stock, 0)

    @property
    def lost_updates(self) -> int:
        # Sign kept: positive is stock the database forgot was sold (DESIGN.md §3's example: 50 in stock, 57 sold,
        # 6 left -> 13 lost; its formula is written the other way round, the example and the meaning agree).
        return self.final_stock - (self.initial_stock - self.units_sold)

    @property
    def orders_per_s(self) -> float:
        return self.orders_placed / self.duration_s if self.duration_s > 0 else 0.0

    @property
    def invariants(self) -> list[Invariant]:
        return [
            Invariant("units_sold <= initial_stock", self.units_sold <= self.initial_stock,
                      f"{self.units_sold} sold of {self.initial_stock}"),
            Invariant("final_stock == initial_stock - units_sold",
                      self.final_stock == self.initial_stock - self.units_sold,
                      f"{self.final_stock} left, {self.initial_stock - self.units_sold} expected"),
            Invariant("final_stock >= 0", self.final_stock >= 0, f"{self.final_stock} left"),
            Invariant("every order has its items", self.orders_without_items == 0,
                      f"{self.orders_without_items} orders without items"),
            Invariant("no order without payment state", self.orders_without_payment_state == 0,
                      f"{self.orders_without_payment_state} orders without a payment state"),
        ]

    @property
    def invariants_held(self) -> bool:
        return all(invariant.held for invariant in self.invariants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "strategy": self.strategy, "dialect": self.dialect, "isolation_level": self.isolation_level,
            "workers": self.workers, "attempts": self.attempts, "initial_stock": self.initial_stock,
            "orders_placed": self.orders_placed, "units_sold": self.units_sold, "final_stock": self.final_stock,
            "oversold_units": self.oversold_units, "lost_updates": self.lost_updates, "rejected": self.rejected,
            "retries": self.retries, "errors": dict(sorted(self.errors.items())),
            "invariants_held": self.invariants_held, "duration_s": round(self.duration_s, 3),
            "orders_per_s": round(self.orders_per_s, 1),
            # Additions beyond the contract:
            "broken_invariants": [i.name for i in self.invariants if not i.held],
            "retried_because": dict(sorted(self.retried_because.items())),
            "server_version": self.server_version, "workload": self.workload, "notes": list(self.notes),
        }


def build_result(*, strategy: str, dialect: str, isolation_level: str, workers: int, attempts: int, stock: int,
                 outcomes: Iterable[Outcome], state: State, duration_s: float, workload: str = "",
                 server_version: str = "", notes: tuple[str, ...] = ()) -> RaceResult:
    """Count what the buyers saw, but take orders, units and stock from ``state`` (read from the database)."""
    outcomes = list(outcomes)
    errors = Counter(o.code or "unknown" for o in outcomes if o.status == "error")
    reasons = Counter(reason or "unknown" for o in outcomes for reason in o.retried_because)
    return RaceResult(
        strategy=strategy, dialect=dialect, isolation_level=isolation_level, workers=workers, attempts=attempts,
        initial_stock=stock, orders_placed=state.orders, units_sold=state.units_ordered, final_stock=state.stock,
        rejected=sum(o.status == "rejected" for o in outcomes), retries=sum(reasons.values()),
        errors=dict(errors), duration_s=duration_s, orders_without_items=state.orders_without_items,
        orders_without_payment_state=state.orders_without_payment_state, retried_because=dict(reasons),
        workload=workload, server_version=server_version, notes=notes)
