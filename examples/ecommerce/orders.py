"""Reading one's own orders. Every lookup is scoped to the owner in the query itself: an order that belongs to
someone else is indistinguishable from one that does not exist."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session, selectinload

from examples.ecommerce import validation
from examples.ecommerce.catalog import MAX_PER_PAGE, Page
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


def list_orders(engine: Engine, user_id: int, *, page: Any = 1, per_page: Any = 20) -> Page:
    """The user's orders, newest first, one page at a time (``ix_orders_user_id_status_created_at`` leads with
    ``user_id``, so both queries stay within the user's own rows)."""
    page = validation.whole_number("page", page, minimum=1, maximum=1_000_000)
    per_page = validation.whole_number("per_page", per_page, minimum=1, maximum=MAX_PER_PAGE)
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Order).where(Order.user_id == user_id)) or 0
        rows = session.scalars(select(Order).where(Order.user_id == user_id)
                               .order_by(Order.created_at.desc(), Order.id.desc())
                               .limit(per_page).offset((page - 1) * per_page)).all()
        return Page([order.to_dict() for order in rows], total, page, per_page)
