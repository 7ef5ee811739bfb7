"""Payment as a state machine over the ``payments`` row, with a way out of every state.

``process_payment`` never holds a database transaction open while the gateway works (a slow gateway must not keep
rows locked). An attempt goes through these states (``status``, with ``failure_reason`` marking a call that ended
without an answer):

========================  ==========================================  ============================================
state                     meaning                                     the way out
========================  ==========================================  ============================================
``processing``            claimed under its idempotency key; the      the same request settles it; anyone may ask
                          gateway call may be in flight               the gateway (``lookup``) and settle what it
                                                                      says; after ``STALE_AFTER`` with nothing at
                                                                      the gateway, the call is presumed dead
``processing`` + reason   the call ended without an answer            ask the gateway: settle what it says; if it
                          (timeout, gateway error, or the settle      has nothing, a retry with the same key
                          itself failed after an approval)            charges again under it, anything else
                                                                      resolves it as *not charged*
``succeeded``             charged; the order is paid, units sold      final (a retry replays it)
``declined``              not charged (declined, or the gateway       final; a decline also fails the order and
                          confirmed nothing under the key)            releases its units
========================  ==========================================  ============================================

An unknown outcome is never deleted: the row keeps the key the gateway knows the charge by, so there is never a
charge without a record. Before a new key may claim an order, the order's unresolved attempt is reconciled, so a
retry with a new key after a timeout cannot charge twice. :func:`resolve_stale` is the sweep for attempts nobody
retried (a process killed mid-payment); the reservation sweep skips orders with an attempt in flight, so their
units stay held until the attempt is resolved, then are sold or released.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examples.ecommerce import reservations, validation
from examples.ecommerce.clock import Clock, as_utc, for_database, utcnow
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError
from examples.ecommerce.events import StockEvents, publish_levels
from examples.ecommerce.gateway import Charge, FakeGateway, GatewayError, GatewayTimeout, PaymentGateway
from examples.ecommerce.models import Order, Payment, StockReservation

__all__ = ["Charge", "FakeGateway", "GatewayError", "GatewayTimeout", "PaymentGateway", "PaymentResult",
           "STALE_AFTER", "process_payment", "reconcile", "resolve_stale"]

# Longer than any gateway call may take: an attempt claimed this long ago is no longer in flight.
STALE_AFTER = dt.timedelta(minutes=5)
NOT_CHARGED = "not charged"


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


@dataclass(frozen=True)
class _Claimed:
    """A new attempt, recorded as ``processing``: charge it."""

    payment_id: int
    amount: Decimal


@dataclass(frozen=True)
class _Unresolved:
    """An attempt already ``processing`` (under this key or another one) that must be reconciled first."""

    payment_id: int
    same_key: bool


@dataclass(frozen=True)
class _Attempt:
    """What an unlocked read saw of a ``processing`` row; a transition re-checks it under the lock."""

    payment_id: int
    order_id: int
    key: str
    amount: Decimal
    reason: str | None
    claimed_at: dt.datetime


def _result(payment: Payment, *, replayed: bool) -> PaymentResult:
    return PaymentResult(payment.order_id, payment.id, payment.status, payment.amount, payment.gateway_reference,
                         payment.failure_reason, replayed)


def _conflict(message: str, **details: Any) -> DomainError:
    return DomainError("CONFLICT", message, details)


def _unknown(order_id: int, payment_id: int, reason: str) -> DomainError:
    return DomainError("PAYMENT_FAILED", f"the payment could not be completed ({reason}); retry with the same "
                       "idempotency key", {"order_id": order_id, "payment_id": payment_id, "reason": reason,
                                           "status": "processing", "retryable": True})


def _begin(session: Session) -> None:
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))  # SQLite has no row locks; take the database write lock


def _lock(session: Session, order_id: int, payment_id: int) -> tuple[Order | None, Payment | None]:
    # Order first, then payment: the same order as the claim, so two transitions cannot deadlock.
    order = session.scalar(select(Order).where(Order.id == order_id).with_for_update())
    payment = session.scalar(select(Payment).where(Payment.id == payment_id).with_for_update())
    return order, payment


def _claim(engine: Engine, order_id: int, key: str, now: dt.datetime) -> PaymentResult | _Claimed | _Unresolved:
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
                return _Unresolved(existing.id, same_key=True)
            return _result(existing, replayed=True)
        if order is None:
            raise DomainError("NOT_FOUND", f"order {order_id} does not exist", {"order_id": order_id})
        if order.status != "pending":
            raise _conflict(f"order {order_id} is {order.status}, not pending", order_id=order_id,
                            status=order.status)
        in_flight = session.scalar(select(Payment.id).where(Payment.order_id == order_id,
                                                            Payment.status == "processing"))
        if in_flight is not None:
            return _Unresolved(in_flight, same_key=False)
        held = session.scalars(select(StockReservation).where(StockReservation.order_id == order_id,
                                                              StockReservation.status == "active")).all()
        if not held or any(as_utc(reservation.expires_at) <= now for reservation in held):
            raise _conflict("the stock reservation for this order has expired; check out again",
                            order_id=order_id, status="expired")
        # The claim time comes from the app's clock: it is what the stale-attempt sweep compares against.
        payment = Payment(order_id=order_id, idempotency_key=key, status="processing", amount=order.total_amount,
                          created_at=for_database(now, engine.dialect.name))
        session.add(payment)
        try:
            session.commit()
        except IntegrityError as error:
            found = violation(error)
            if found is not None and found.kind == "unique":
                raise _conflict("this payment is already being processed", order_id=order_id) from None
            raise
        return _Claimed(payment.id, payment.amount)


def _settle(engine: Engine, attempt: _Attempt, charge: Charge,
            events: StockEvents | None) -> PaymentResult:
    """Record the gateway's answer: paid and sold, or declined and released. Idempotent: a settled row replays."""
    with Session(engine, expire_on_commit=False) as session:
        _begin(session)
        order, payment = _lock(session, attempt.order_id, attempt.payment_id)
        if payment is None or order is None:
            raise AssertionError(f"payment {attempt.payment_id} vanished")  # payments are never deleted
        if payment.status != "processing":
            return _result(payment, replayed=True)
        touched: list[int] = []
        if charge.approved:
            payment.status, payment.gateway_reference, payment.failure_reason = "succeeded", charge.reference, None
            if order.status == "pending":
                order.status = "paid"
                touched = reservations.convert(session, order.id)
        else:
            payment.status, payment.failure_reason = "declined", charge.reason or "declined"
            if order.status == "pending":
                order.status = "payment_failed"
                touched = reservations.release(session, order.id)
        session.commit()
        result = _result(payment, replayed=False)
    publish_levels(events, engine, touched, "payment" if charge.approved else "payment declined")
    return result


def _transition(engine: Engine, attempt: _Attempt, now: dt.datetime, *, reopen: bool) -> bool:
    """Move an attempt the gateway has nothing for: ``reopen`` it for a new call under the same key (claimed
    again now), or resolve it as not charged. False when someone else moved it since ``attempt`` was read."""
    with Session(engine) as session:
        _begin(session)
        _order, payment = _lock(session, attempt.order_id, attempt.payment_id)
        if payment is None or payment.status != "processing" or payment.failure_reason != attempt.reason \
                or as_utc(payment.created_at) != attempt.claimed_at:
            return False
        if reopen:
            payment.failure_reason = None
            payment.created_at = for_database(now, engine.dialect.name)
        else:
            payment.status = "declined"
            payment.failure_reason = f"{NOT_CHARGED} ({attempt.reason or 'abandoned'})"
        session.commit()
        return True


def _mark_ended(engine: Engine, payment_id: int, reason: str) -> None:
    """Note that the call ended without an answer, so a retry need not wait for the stale bound. Best effort: when
    the database is the thing that failed, the row stays plain ``processing`` and the bound applies."""
    try:
        with Session(engine) as session:
            payment = session.get(Payment, payment_id)
            if payment is not None and payment.status == "processing":
                payment.failure_reason = reason
                session.commit()
    except Exception:  # noqa: BLE001 (the caller reports the original failure; this note is optional)
        return


def _read(engine: Engine, payment_id: int) -> Payment:
    with Session(engine, expire_on_commit=False) as session:
        payment = session.get(Payment, payment_id)
        if payment is None:
            raise AssertionError(f"payment {payment_id} vanished")  # payments are never deleted
        return payment


def _attempt(payment: Payment) -> _Attempt:
    return _Attempt(payment.id, payment.order_id, payment.idempotency_key, payment.amount, payment.failure_reason,
                    as_utc(payment.created_at))


def _charge_and_settle(engine: Engine, attempt: _Attempt, gateway: PaymentGateway,
                       events: StockEvents | None) -> PaymentResult:
    try:
        charge = gateway.charge(attempt.amount, idempotency_key=attempt.key, description=f"order {attempt.order_id}")
    except Exception as error:
        reason = "timeout" if isinstance(error, GatewayTimeout) else "gateway error"
        _mark_ended(engine, attempt.payment_id, reason)
        raise _unknown(attempt.order_id, attempt.payment_id, reason) from error
    try:
        return _settle(engine, attempt, charge, events)
    except Exception as error:
        # The gateway answered but the database did not take it: the row keeps the key, a retry reconciles.
        _mark_ended(engine, attempt.payment_id, "not recorded")
        raise _unknown(attempt.order_id, attempt.payment_id, "not recorded") from error


def reconcile(engine: Engine, payment_id: int, gateway: PaymentGateway, *, clock: Clock = utcnow,
              events: StockEvents | None = None, retry_same_key: bool = False,
              stale_after: dt.timedelta = STALE_AFTER) -> PaymentResult | None:
    """Bring a ``processing`` attempt to a final state by asking the gateway what happened under its key.

    Returns the final result, or ``None`` when the attempt was resolved as not charged (the order is unchanged
    and may be paid under another key). With ``retry_same_key`` an attempt the gateway has nothing for is charged
    again under its own key instead. Raises ``CONFLICT`` while the attempt may still be in flight, and
    ``PAYMENT_FAILED`` (retryable) when the gateway cannot be asked.
    """
    for _ in range(3):  # a transition lost to a concurrent one re-reads the row and decides again
        payment = _read(engine, payment_id)
        if payment.status != "processing":
            return _result(payment, replayed=True)
        attempt = _attempt(payment)
        try:
            charge = gateway.lookup(attempt.key)
        except Exception as error:
            raise _unknown(attempt.order_id, attempt.payment_id, "gateway unreachable") from error
        if charge is not None:
            try:
                return _settle(engine, attempt, charge, events)
            except Exception as error:
                raise _unknown(attempt.order_id, attempt.payment_id, "not recorded") from error
        now = clock()
        if attempt.reason is None and now - attempt.claimed_at < stale_after:
            raise _conflict("this payment is already being processed", order_id=attempt.order_id)
        if _transition(engine, attempt, now, reopen=retry_same_key):
            if not retry_same_key:
                return None
            reopened = _attempt(_read(engine, payment_id))
            return _charge_and_settle(engine, reopened, gateway, events)
    raise _conflict("this payment is being changed by another request; retry", order_id=payment.order_id)


def process_payment(engine: Engine, order_id: Any, idempotency_key: Any, gateway: PaymentGateway, *,
                    clock: Clock = utcnow, events: StockEvents | None = None) -> PaymentResult:
    """Charge for a pending order once per idempotency key; see the module docstring for the states."""
    order_id = validation.whole_number("order_id", order_id, minimum=1, maximum=2**31 - 1)
    key = validation.text("idempotency_key", idempotency_key, max_length=100)
    for _ in range(3):  # at most: reconcile another key's attempt, then claim
        claimed = _claim(engine, order_id, key, clock())
        if isinstance(claimed, PaymentResult):
            return claimed
        if isinstance(claimed, _Unresolved):
            result = reconcile(engine, claimed.payment_id, gateway, clock=clock, events=events,
                               retry_same_key=claimed.same_key)
            if claimed.same_key and result is not None:
                return result
            continue  # the other attempt is final now: claim again (a paid order answers CONFLICT)
        return _charge_and_settle(engine, _attempt(_read(engine, claimed.payment_id)), gateway, events)
    raise _conflict("another payment for this order is being processed", order_id=order_id)


def resolve_stale(engine: Engine, gateway: PaymentGateway, *, clock: Clock = utcnow,
                  events: StockEvents | None = None, older_than: dt.timedelta = STALE_AFTER) -> list[int]:
    """The sweep: reconcile every attempt claimed more than ``older_than`` ago. Returns the payment ids it
    resolved; attempts the gateway cannot be asked about now are left for the next sweep."""
    cutoff = clock() - older_than
    with Session(engine) as session:
        candidates = [(payment_id, as_utc(claimed_at)) for payment_id, claimed_at in session.execute(
            select(Payment.id, Payment.created_at).where(Payment.status == "processing").order_by(Payment.id))]
    resolved: list[int] = []
    for payment_id, claimed_at in candidates:
        if claimed_at > cutoff:
            continue
        try:
            reconcile(engine, payment_id, gateway, clock=clock, events=events, stale_after=older_than)
        except DomainError:
            continue
        resolved.append(payment_id)
    return resolved
