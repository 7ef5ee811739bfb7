"""What a race runs: a *workload* is a checkout with a setup, named strategies and a way to read the result back.

The toolkit never imports a shop itself: :mod:`integrity_kit.races.loading` loads a workload by import path
(``module:object``), so ``integrity-kit race`` can drive a user's own checkout as well as the reference app's.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from sqlalchemy import Engine

Pause = Callable[[], None]
"""Called by a checkout between its read and its write (once per attempt); schedules use it to interleave."""


@dataclass(frozen=True)
class Outcome:
    """How one checkout attempt ended, as the buyer saw it."""

    status: str  # "ordered", "rejected" (the shop said no: out of stock) or "error"
    units: int = 0
    code: str | None = None  # the domain code or the SQLSTATE / vendor error number
    retried_because: tuple[str, ...] = ()  # one reason per retry (a lost attempt followed by another)
    detail: str = ""

    @property
    def retries(self) -> int:
        """Counted from the reasons, so the two can never disagree."""
        return len(self.retried_because)


@dataclass(frozen=True)
class State:
    """The contested product and the orders, read back from the database after the run."""

    stock: int  # units the shop still has available to sell
    units_ordered: int  # units on order lines for the product
    orders: int
    orders_without_items: int
    orders_without_payment_state: int


@runtime_checkable
class Workload(Protocol):
    name: str

    def strategies(self) -> Sequence[str]: ...

    def isolation_level(self, strategy: str) -> str | None:
        """The level the strategy itself runs at (``None``: the connection's)."""

    def create(self, engine: Engine, *, stock: int, buyers: int,
               quantities: Sequence[int] | None = None) -> list[Any]:
        """Create the schema in the scratch database if it is not there, and replace its rows with one product
        with ``stock`` units and ``buyers`` buyers, each with ``quantities[i]`` units of it in the cart (one
        each by default); return the buyers' handles."""

    def checkout(self, engine: Engine, buyer: Any, strategy: str, pause: Pause | None = None) -> Outcome: ...

    def state(self, engine: Engine) -> State: ...

