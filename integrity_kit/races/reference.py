"""The reference app's checkout as a race workload (imported by path, only when a race asks for it).

The checkout is the app's own: same transaction, same five strategies from its ``strategies`` module, same retry
loop. This adapter only builds the contested shop (one product, one buyer per attempt with one unit in the cart),
turns each call's result into an :class:`Outcome`, and reads the damage back with plain SQL.
"""

from __future__ import annotations

import importlib
import threading
import weakref
from collections.abc import Callable, Sequence
from decimal import Decimal
from types import ModuleType
from typing import Any

from sqlalchemy import Engine, event, func, insert, select
from sqlalchemy.exc import DBAPIError

from integrity_kit.errors import IntegrityKitError
from integrity_kit.races.workload import Outcome, Pause, State

PRODUCT_ID = 1


def error_code(error: BaseException) -> str:
    """The SQLSTATE (PostgreSQL), error number (MySQL/MariaDB) or result code (SQLite) behind ``error``."""
    original = error.orig if isinstance(error, DBAPIError) else error
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int):
        return str(args[0])
    for attribute in ("sqlstate", "sqlite_errorcode"):
        value = getattr(original, attribute, None)
        if value is not None:
            return str(value)
    return type(original).__name__


class ReferenceWorkload:
    """The workload around a checkout function shaped like ``examples.ecommerce.checkout.checkout``."""

    def __init__(self, checkout: Callable[..., Any], package: str) -> None:
        self._checkout = checkout
        self.package = package
        self.name = f"{package}.checkout"
        self._models = self._module("models")
        self._strategies = self._module("strategies")
        self._errors = self._module("errors")
        self._local = threading.local()
        self._counted: weakref.WeakSet[Engine] = weakref.WeakSet()  # engines we already listen on

    @classmethod
    def from_checkout(cls, checkout: Callable[..., Any], spec: str) -> ReferenceWorkload:
        package = getattr(checkout, "__module__", "").rpartition(".")[0]
        try:
            return cls(checkout, package)
        except ImportError as error:
            raise IntegrityKitError(f"--workload {spec} is a function but not a reference-style checkout (its "
                                    f"package needs models, strategies and errors modules: {error})") from None

    def _module(self, name: str) -> ModuleType:
        return importlib.import_module(f"{self.package}.{name}")

    def strategies(self) -> Sequence[str]:
        return list(self._strategies.STRATEGIES)

    def isolation_level(self, strategy: str) -> str | None:
        return self._strategies.STRATEGIES[strategy].isolation_level

    def create(self, engine: Engine, *, stock: int, buyers: int,
               quantities: Sequence[int] | None = None) -> list[Any]:
        metadata = self._models.Base.metadata
        metadata.create_all(engine)  # checkfirst: a harness that runs many cases creates the tables once
        tables = metadata.tables
        quantities = list(quantities) if quantities is not None else [1] * buyers
        ids = list(range(1, buyers + 1))
        with engine.begin() as connection:
            for table in reversed(metadata.sorted_tables):  # children first
                connection.execute(table.delete())
            connection.execute(insert(tables["categories"]), [{"id": 1, "name": "Race", "slug": "race"}])
            connection.execute(insert(tables["products"]), [{
                "id": PRODUCT_ID, "sku": "IK-RACE-1", "name": "The last units", "category_id": 1,
                "price": Decimal("10.00"), "stock": stock}])
            connection.execute(insert(tables["users"]), [
                {"id": i, "email": f"buyer{i}@race.example", "phone_number": f"+1 555 {i:07d}",
                 "full_name": f"Buyer {i}"} for i in ids])
            connection.execute(insert(tables["carts"]), [{"id": i, "user_id": i} for i in ids])
            connection.execute(insert(tables["cart_items"]), [
                {"cart_id": i, "product_id": PRODUCT_ID, "quantity": q}
                for i, q in zip(ids, quantities, strict=True)])
        return ids

    def _count_transactions(self, engine: Engine) -> None:
        # Each attempt of the app's retry loop is one transaction: counting BEGINs on this thread counts attempts,
        # including those of a checkout that finally failed (its result object never reaches us).
        if engine in self._counted:
            return
        self._counted.add(engine)

        def on_begin(_connection) -> None:
            self._local.begins = getattr(self._local, "begins", 0) + 1

        event.listen(engine, "begin", on_begin)

    def checkout(self, engine: Engine, buyer: Any, strategy: str, pause: Pause | None = None) -> Outcome:
        self._count_transactions(engine)
        self._local.begins = 0

        def hook(_product_id: int) -> None:
            if pause is not None:
                pause()

        def retries() -> int:
            return max(self._local.begins - 1, 0)

        try:
            result = self._checkout(engine, buyer, strategy=strategy, pause=hook)
        except self._errors.DomainError as error:
            last = error.details.get("last_error")
            if error.code == "INSUFFICIENT_STOCK":
                return Outcome("rejected", retries=retries(), code=error.code, detail=error.message)
            return Outcome("error", retries=retries(), code=error.code, detail=error.message,
                           retried_because=(last,) if last else ())
        except DBAPIError as error:
            return Outcome("error", retries=retries(), code=error_code(error),
                           detail=str(error.orig).strip().splitlines()[0] if error.orig else str(error))
        units = sum(quantity for _, quantity, _ in result.lines)
        return Outcome("ordered", units=units, retries=result.attempts - 1,
                       retried_because=tuple(result.retried_because))

    def state(self, engine: Engine) -> State:
        tables = self._models.Base.metadata.tables
        products, orders = tables["products"], tables["orders"]
        items, reservations = tables["order_items"], tables["stock_reservations"]
        statuses = self._module("validation").ORDER_STATUSES
        has_items = select(items.c.id).where(items.c.order_id == orders.c.id).exists()
        held = select(reservations.c.id).where(reservations.c.order_id == orders.c.id,
                                               reservations.c.status == "active").exists()
        with engine.connect() as connection:
            stock, reserved = connection.execute(
                select(products.c.stock, products.c.reserved).where(products.c.id == PRODUCT_ID)).one()
            ordered = connection.execute(select(func.coalesce(func.sum(items.c.quantity), 0))
                                         .where(items.c.product_id == PRODUCT_ID)).scalar_one()
            count = connection.execute(select(func.count()).select_from(orders)).scalar_one()
            without_items = connection.execute(select(func.count()).select_from(orders)
                                               .where(~has_items)).scalar_one()
            # A pending order is waiting for payment and must hold its stock; any other status must be known.
            without_state = connection.execute(select(func.count()).select_from(orders).where(
                orders.c.status.is_(None) | orders.c.status.not_in(statuses)
                | ((orders.c.status == "pending") & ~held))).scalar_one()
        return State(stock=int(stock) - int(reserved), units_ordered=int(ordered), orders=int(count),
                     orders_without_items=int(without_items), orders_without_payment_state=int(without_state))
