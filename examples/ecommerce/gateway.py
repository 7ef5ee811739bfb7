"""The payment gateway interface and a fake gateway that can fail every way a real one does.

A gateway remembers every charge under its idempotency key, as real gateways do: charging again with the same key
returns the first answer, and :meth:`PaymentGateway.lookup` tells what happened to a key whose answer was lost.
"""

from __future__ import annotations

import itertools
import threading
from dataclasses import dataclass
from decimal import Decimal
from typing import Protocol


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

    def lookup(self, idempotency_key: str) -> Charge | None:
        """The answer the gateway gave (or would give) for this key; ``None`` when nothing was charged under it.
        Raises :class:`GatewayError` when the gateway cannot be asked."""
        ...


class FakeGateway:
    """An in-memory gateway. ``behaviour``: ``succeed``, ``decline``, ``timeout`` (charges, then loses the answer)
    or ``raise`` (fails before charging, and cannot be asked about keys either). Like real gateways it remembers
    idempotency keys."""

    BEHAVIOURS = ("succeed", "decline", "timeout", "raise")

    def __init__(self, behaviour: str = "succeed") -> None:
        if behaviour not in self.BEHAVIOURS:
            raise ValueError(f"behaviour must be one of {self.BEHAVIOURS}")
        self.behaviour = behaviour
        self.calls = 0
        self.lookups = 0
        self.charges: dict[str, tuple[Decimal, Charge]] = {}
        self._references = itertools.count(1)
        self._lock = threading.Lock()  # concurrent requests share one fake, as they share one real gateway

    @property
    def total_charged(self) -> Decimal:
        return sum((amount for amount, charge in self.charges.values() if charge.approved), Decimal("0.00"))

    def charge(self, amount: Decimal, *, idempotency_key: str, description: str) -> Charge:
        with self._lock:
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

    def lookup(self, idempotency_key: str) -> Charge | None:
        with self._lock:
            self.lookups += 1
            if self.behaviour == "raise":
                raise GatewayError("connection reset by the payment provider")
            found = self.charges.get(idempotency_key)
            return None if found is None else found[1]
