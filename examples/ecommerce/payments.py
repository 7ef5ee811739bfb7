"""Payment: a small gateway interface, a fake gateway that can fail every way, and idempotent processing.

``process_payment`` never holds a database transaction open while the gateway works (a slow gateway must not keep
rows locked). It runs in three steps:

1. *claim*: lock the order, check it is pending with a live reservation, and record a ``processing`` payment under
   the idempotency key (unique in the database, so a second request with the same key cannot claim again);
2. *charge*: call the gateway with the same idempotency key, so a retry after a lost answer cannot charge twice;
3. *settle*: success marks the order paid and converts the reservation into a sale; a decline marks it
   ``payment_failed`` and releases the stock. If the gateway raised or timed out, the outcome is unknown: the
   attempt is undone (the ``processing`` row removed, leaving the database as it was before the call) and the
   caller may retry; the reservation stays until it is paid or expires.

Calling again with a key that already settled returns the stored result without calling the gateway.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Protocol

from sqlalchemy import Engine, delete, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examples.ecommerce import reservations, validation
from examples.ecommerce.clock import Clock, as_utc, utcnow
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError
from examples.ecommerce.events import StockEvents, publish_levels
from examples.ecommerce.models import Order, Payment, StockReservation


@dataclass(frozen=True)
class Charge:
    approved: bool
    reference: str | None = None
    reason: str | None = None


class GatewayError(Exception):
    """The gateway failed; whether the card was charged is unknown."""


class GatewayTimeout(GatewayError):
    """No answer in time; the charge may or may not have happened."""


class PaymentGateway(Protocol):
    def charge(self, amount: Decimal, *, idempotency_key: str, description: str) -> Charge: ...


class FakeGateway:
    """An in-memory gateway. ``behaviour``: ``succeed``, ``decline``, ``timeout`` (charges, then loses the answer)
    or ``raise`` (fails before charging). Like real gateways it remembers idempotency keys."""

    BEHAVIOURS = ("succeed", "decline", "timeout", "raise")

    def __init__(self, behaviour: str = "succeed") -> None:
        if behaviour not in self.BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {self.BEHAVIOURS}")
        self.behaviour = behaviour
        self.calls = 0
        self.charges: dict[str, tuple[Decimal, Charge]] = {}
        self._references = itertools.count(1)

    @property
    def total_charged(self) -> Decimal:
        return sum((amount for amount, charge in self.charges.values() if charge.approved), Decimal("0.00"))

    def charge(self, amount: Decimal, *, idempotency_key: str, description: str) -> Charge:
        self.calls += 1
        if idempotency_key in self.charges:
            return self.charges[idempotency_key][1]
        if self.behaviour == "raise":
            raise GatewayError("connection reset by the payment provider")
        if self.behaviour == "decline":
            result = Charge(False, reason="card declined")
        else:
            result = Charge(True, reference=f"fake_{next(self._references):06d}")
        self.charges[idempotency_key] = (amount, result)
        if self.behaviour == "timeout":
            raise GatewayTimeout("no answer from the payment provider within the time limit")
        return result


@dataclass(frozen=True)
class PaymentResult:
    order_id: int
    payment_id: int
    status: str  # "succeeded" or "declined"
    amount: Decimal
    reference: str | None
    reason: str | None
    replayed: bool = False

    @property
    def succeeded(self) -> bool:
        return self.status == "succeeded"

    def to_dict(self) -> dict[str, Any]:
        return {"order_id": self.order_id, "payment_id": self.payment_id, "status": self.status,
                "amount": str(self.amount), "reference": self.reference, "reason": self.reason,
                "replayed": self.replayed}


def _result(payment: Payment, *, replayed: bool) -> PaymentResult:
    return PaymentResult(payment.order_id, payment.id, payment.status, payment.amount, payment.gateway_reference,
                         payment.failure_reason, replayed)


def _conflict(message: str, **details: Any) -> DomainError:
    return DomainError("CONFLICT", message, details)


def _begin(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))  # SQLite has no row locks; take the database write lock


def _claim(engine: Engine, order_id: int, key: str, now) -> PaymentResult | tuple[int, Decimal]:
    with Session(engine, expire_on_commit=False) as session:
        _begin(session)
        # The order lock comes first: it serializes two requests for the same order, and on MariaDB a locking
        # read does not pin the snapshot, so the reads below see whatever the other request committed.
        order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        existing = session.scalar(select(Payment).where(Payment.idempotency_key == key))
        if existing is not None:
            if existing.order_id != order_id:
                raise _conflict("this idempotency key was used for another order", order_id=existing.order_id)
            if existing.status == "processing":
                raise _conflict("this payment is already being processed", order_id=order_id)
            return _result(existing, replayed=True)
        if order is None:
            raise DomainError("NOT_FOUND", f"order {order_id} does not exist", {"order_id": order_id})
        if order.status != "pending":
            raise _conflict(f"order {order_id} is {order.status}, not pending", order_id=order_id,
                            status=order.status)
        if session.scalar(select(Payment.id).where(Payment.order_id == order_id, Payment.status == "processing")):
            raise _conflict("another payment for this order is being processed", order_id=order_id)
        held = session.scalars(select(StockReservation).where(StockReservation.order_id == order_id,
                                                              StockReservation.status == "active")).all()
        if not held or any(as_utc(reservation.expires_at) <= now for reservation in held):
            raise _conflict("the stock reservation for this order has expired; check out again",
                            order_id=order_id, status="expired")
        payment = Payment(order_id=order_id, idempotency_key=key, status="processing", amount=order.total_amount)
        session.add(payment)
        try:
            session.commit()
        except IntegrityError as error:
            found = violation(error)
            if found is not None and found.kind == "unique":
                raise _conflict("this payment is already being processed", order_id=order_id) from None
            raise
        return payment.id, payment.amount


def process_payment(engine: Engine, order_id: Any, idempotency_key: Any, gateway: PaymentGateway, *,
                    clock: Clock = utcnow, events: StockEvents | None = None) -> PaymentResult:
    """Charge for a pending order once per idempotency key; see the module docstring for the steps."""
    order_id = validation.whole_number("order_id", order_id, minimum=1, maximum=2**31 - 1)
    key = validation.text("idempotency_key", idempotency_key, max_length=100)
    claimed = _claim(engine, order_id, key, clock())
    if isinstance(claimed, PaymentResult):
        return claimed
    payment_id, amount = claimed
    try:
        charge = gateway.charge(amount, idempotency_key=key, description=f"order {order_id}")
    except Exception as error:
        with Session(engine) as session:
            session.execute(delete(Payment).where(Payment.id == payment_id, Payment.status == "processing"))
            session.commit()
        reason = "timeout" if isinstance(error, GatewayTimeout) else "gateway error"
        raise DomainError("PAYMENT_FAILED", f"the payment could not be completed ({reason}); retry with the same "
                          "idempotency key", {"order_id": order_id, "reason": reason, "retryable": True}) from error
    with Session(engine, expire_on_commit=False) as session:
        _begin(session)
        order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
        payment = session.get(Payment, payment_id)
        if charge.approved:
            payment.status, payment.gateway_reference = "succeeded", charge.reference
            order.status = "paid"
            touched = reservations.convert(session, order_id)
        else:
            payment.status, payment.failure_reason = "declined", charge.reason or "declined"
            order.status = "payment_failed"
            touched = reservations.release(session, order_id)
        session.commit()
        result = _result(payment, replayed=False)
    publish_levels(events, engine, touched, "payment" if charge.approved else "payment declined")
    return result
