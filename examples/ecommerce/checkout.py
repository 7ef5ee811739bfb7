"""Checkout: one transaction that holds stock for every cart line, creates the order and empties the cart.

Either all of it commits or none of it does. Lines are claimed in ascending product id (the fixed lock order that
keeps two checkouts from deadlocking), prices are copied onto the order items as they are at purchase time, and
the total is summed in ``Decimal``. Stock is *reserved* here, not sold: payment converts the hold into a sale
(:mod:`examples.ecommerce.payments`) and failure or expiry releases it (:mod:`examples.ecommerce.reservations`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, delete, select
from sqlalchemy.orm import Session

from examples.ecommerce import validation
from examples.ecommerce.clock import Clock, for_database, utcnow
from examples.ecommerce.errors import DomainError
from examples.ecommerce.events import StockEvents, publish_levels
from examples.ecommerce.models import Cart, CartItem, Order, OrderItem, StockReservation, User
from examples.ecommerce.reservations import DEFAULT_HOLD
from examples.ecommerce.strategies import Attempts, Pause, get_strategy, run_transaction

DEFAULT_STRATEGY = "conditional-update"


@dataclass(frozen=True)
class CheckoutResult:
    order_id: int
    total: Decimal
    lines: list[tuple[int, int, Decimal]]  # (product_id, quantity, unit_price)
    expires_at: dt.datetime
    attempts: int = 1
    retried_because: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "status": "pending", "total": str(self.total),
                "reserved_until": self.expires_at.isoformat(),
                "items": [{"product_id": pid, "quantity": q, "unit_price": str(price)}
                          for pid, q, price in self.lines]}


def _no_pause(_product_id: int) -> None:
    return None


def checkout(engine: Engine, user_id: Any, *, strategy: str = DEFAULT_STRATEGY, clock: Clock = utcnow,
             hold: dt.timedelta = DEFAULT_HOLD, pause: Pause | None = None,
             events: StockEvents | None = None, attempts: Attempts | None = None) -> CheckoutResult:
    """Reserve the user's cart and turn it into a pending order, all or nothing.

    ``attempts``, when given, is filled in even when the checkout fails, so a caller can count its retries."""
    chosen = get_strategy(strategy)
    user_id = validation.whole_number("user_id", user_id, minimum=1, maximum=2**31 - 1)
    pause = pause or _no_pause

    def work(session: Session) -> CheckoutResult:
        if session.get(User, user_id) is None:
            raise DomainError("NOT_FOUND", f"user {user_id} does not exist", {"user_id": user_id})
        # Lock the cart first: a double-clicked checkout waits here and then finds the cart already empty.
        cart = session.scalar(select(Cart).where(Cart.user_id == user_id).with_for_update())
        lines = [] if cart is None else session.execute(
            select(CartItem.product_id, CartItem.quantity)
            .where(CartItem.cart_id == cart.id).order_by(CartItem.product_id)
        ).all()
        if cart is None or not lines:
            raise DomainError("VALIDATION_ERROR", "the cart is empty",
                              {"field": "cart", "rule": "required", "value": None})
        priced = [(product_id, quantity, chosen.claim(session, product_id, quantity, pause))
                  for product_id, quantity in lines]
        total = sum((price * quantity for _, quantity, price in priced), Decimal("0.00"))
        expires_at = clock() + hold
        order = Order(user_id=user_id, status="pending", total_amount=total)
        order.items = [OrderItem(product_id=pid, quantity=q, unit_price=price) for pid, q, price in priced]
        session.add(order)
        session.flush()
        session.add_all(StockReservation(order_id=order.id, product_id=pid, quantity=q, status="active",
                                         expires_at=for_database(expires_at, engine.dialect.name))
                        for pid, q, _ in priced)
        session.execute(delete(CartItem).where(CartItem.cart_id == cart.id))
        return CheckoutResult(order.id, total, priced, expires_at)

    attempts = attempts if attempts is not None else Attempts()
    result = run_transaction(engine, chosen, work, attempts=attempts)
    publish_levels(events, engine, [pid for pid, _, _ in result.lines], "checkout")
    return CheckoutResult(result.order_id, result.total, result.lines, result.expires_at, attempts.count,
                          list(attempts.retried_because or []))
