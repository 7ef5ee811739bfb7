"""Reading one's own orders. Every lookup is scoped to the owner in the query itself: an order that belongs to
someone else is indistinguishable from one that does not exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session, selectinload

from examples.ecommerce import validation
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Order


def _not_found(order_id: Any) -> DomainError:
    return DomainError("NOT_FOUND", f"order {order_id} does not exist", {"order_id": order_id})


def _order_id(order_id: Any) -> int:
    return validation.whole_number("order_id", order_id, minimum=1, maximum=2**31 - 1)


def require_owned(engine: Engine, user_id: int, order_id: Any) -> int:
    """``order_id`` when it is the user's order; ``NOT_FOUND`` otherwise (whether it exists or not)."""
    order_id = _order_id(order_id)
    with Session(engine) as session:
        if session.scalar(select(Order.id).where(Order.id == order_id, Order.user_id == user_id)) is None:
            raise _not_found(order_id)
    return order_id


def get_order(engine: Engine, user_id: int, order_id: Any) -> dict[str, Any]:
    """The user's order with its lines and payment attempts."""
    order_id = _order_id(order_id)
    with Session(engine) as session:
        order = session.scalar(
            select(Order).where(Order.id == order_id, Order.user_id == user_id)
            .options(selectinload(Order.items), selectinload(Order.payments))
        )
        if order is None:
            raise _not_found(order_id)
        data = order.to_dict()
        data["items"] = [item.to_dict(exclude=("order_id",)) for item in order.items]
        data["payments"] = [payment.to_dict(exclude=("order_id", "idempotency_key")) for payment in order.payments]
        return data
