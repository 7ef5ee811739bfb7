"""Reserved stock: held at checkout, converted to a sale on payment, released on failure or expiry.

``products.reserved`` is changed only by relative updates (``reserved = reserved - :q``) in ascending product id,
so concurrent conversions and releases neither lose each other's changes nor deadlock. The CHECK constraints
``reserved >= 0`` and ``reserved <= stock`` make the database refuse any bookkeeping mistake.
"""

from __future__ import annotations

import datetime as dt

from sqlalchemy import Engine, select, text, update
from sqlalchemy.orm import Session

from examples.ecommerce.clock import Clock, for_database, utcnow
from examples.ecommerce.events import StockEvents, publish_levels
from examples.ecommerce.models import Order, Payment, Product, StockReservation

DEFAULT_HOLD = dt.timedelta(minutes=15)


def _active(session: Session, order_id: int) -> list[StockReservation]:
    return list(session.scalars(
        select(StockReservation)
        .where(StockReservation.order_id == order_id, StockReservation.status == "active")
        .order_by(StockReservation.product_id)
    ))


def convert(session: Session, order_id: int) -> list[int]:
    """Turn the order's active reservations into sales: the units leave stock and the hold. Returns product ids."""
    reservations = _active(session, order_id)
    for reservation in reservations:
        session.execute(
            update(Product).where(Product.id == reservation.product_id)
            .values(stock=Product.stock - reservation.quantity, reserved=Product.reserved - reservation.quantity,
                    version=Product.version + 1)
        )
        reservation.status = "converted"
    return [reservation.product_id for reservation in reservations]


def release(session: Session, order_id: int) -> list[int]:
    """Give the order's held units back to available stock. Returns the product ids touched."""
    reservations = _active(session, order_id)
    for reservation in reservations:
        session.execute(
            update(Product).where(Product.id == reservation.product_id)
            .values(reserved=Product.reserved - reservation.quantity, version=Product.version + 1)
        )
        reservation.status = "released"
    return [reservation.product_id for reservation in reservations]


def sweep_expired(engine: Engine, *, clock: Clock = utcnow, events: StockEvents | None = None) -> list[int]:
    """Cancel pending orders whose reservations expired and release their stock. Returns the cancelled order ids.

    Orders with a payment in flight are skipped: the gateway may be charging the card right now, and the payment
    step will convert or release the reservation itself when it hears back.
    """
    now = for_database(clock(), engine.dialect.name)
    cancelled: list[int] = []
    touched: list[int] = []
    with Session(engine) as session:
        if engine.dialect.name == "sqlite":
            session.execute(text("BEGIN IMMEDIATE"))  # no row locks on SQLite: take the write lock up front
        candidates = session.scalars(
            select(StockReservation.order_id)
            .where(StockReservation.status == "active", StockReservation.expires_at <= now)
            .distinct().order_by(StockReservation.order_id)
        ).all()
        for order_id in candidates:
            order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
            in_flight = session.scalar(
                select(Payment.id).where(Payment.order_id == order_id, Payment.status == "processing").limit(1)
            )
            if order is None or order.status != "pending" or in_flight is not None:
                continue
            touched += release(session, order_id)
            order.status = "cancelled"
            cancelled.append(order_id)
        session.commit()
    publish_levels(events, engine, touched, "reservation expired")
    return cancelled
