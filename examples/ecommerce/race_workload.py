"""The reference app's checkout as a race workload: ``integrity-kit race`` loads it by import path by default.

The checkout is the app's own: same transaction, same five strategies from its ``strategies`` module, same retry
loop. This adapter only builds the contested shop (one product, one buyer per attempt with one unit in the cart),
turns each call's result into an :class:`Outcome`, and reads the damage back with plain SQL.
"""

from __future__ import annotations

from collections.abc import Sequence
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, func, insert, select
from sqlalchemy.exc import DBAPIError

from examples.ecommerce import strategies, validation
from examples.ecommerce.checkout import checkout
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Base
from integrity_kit.errors import error_code
from integrity_kit.races.workload import Outcome, Pause, State

PRODUCT_ID = 1


class CheckoutWorkload:
    """The workload around :func:`examples.ecommerce.checkout.checkout`."""

    name = "examples.ecommerce.checkout"

    def strategies(self) -> Sequence[str]:
        return list(strategies.STRATEGIES)

    def isolation_level(self, strategy: str) -> str | None:
        return strategies.STRATEGIES[strategy].isolation_level

    def create(self, engine: Engine, *, stock: int, buyers: int,
               quantities: Sequence[int] | None = None) -> list[Any]:
        metadata = Base.metadata
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

    def checkout(self, engine: Engine, buyer: Any, strategy: str, pause: Pause | None = None) -> Outcome:
        def hook(_product_id: int) -> None:
            if pause is not None:
                pause()

        attempts = strategies.Attempts()

        def retried() -> tuple[str, ...]:
            # One reason per attempt that lost; the last attempt's loss (a give-up) ended the checkout, not a retry.
            return tuple((attempts.retried_because or [])[:max(attempts.count - 1, 0)])

        try:
            result = checkout(engine, buyer, strategy=strategy, pause=hook, attempts=attempts)
        except DomainError as error:
            status = "rejected" if error.code == "INSUFFICIENT_STOCK" else "error"
            return Outcome(status, code=error.code, detail=error.message, retried_because=retried())
        except DBAPIError as error:
            return Outcome("error", code=error_code(error), retried_because=retried(),
                           detail=str(error.orig).strip().splitlines()[0] if error.orig else str(error))
        units = sum(quantity for _, quantity, _ in result.lines)
        return Outcome("ordered", units=units, retried_because=retried())

    def state(self, engine: Engine) -> State:
        tables = Base.metadata.tables
        products, orders = tables["products"], tables["orders"]
        items, reservations = tables["order_items"], tables["stock_reservations"]
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
                orders.c.status.is_(None) | orders.c.status.not_in(validation.ORDER_STATUSES)
                | ((orders.c.status == "pending") & ~held))).scalar_one()
        return State(stock=int(stock) - int(reserved), units_ordered=int(ordered), orders=int(count),
                     orders_without_items=int(without_items), orders_without_payment_state=int(without_state))


workload = CheckoutWorkload()
