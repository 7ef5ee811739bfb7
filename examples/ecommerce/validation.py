"""Business limits and the checks that enforce them in Python, before the database has to.

The database's CHECK constraints enforce the same floor (stock >= 0, price > 0, quantity > 0, status in a set);
these functions add the ceilings a database should not have to know ("absurd" values) and friendlier errors.
"""

from __future__ import annotations

import math
import re
from decimal import Decimal, InvalidOperation
from typing import Any

from examples.ecommerce.errors import validation_error

MAX_STOCK = 1_000_000
MAX_PRICE = Decimal("100000.00")
MAX_LINE_QUANTITY = 1_000
MAX_ALERT_THRESHOLD = 10_000
MONEY_QUANTUM = Decimal("0.01")

ORDER_STATUSES = ("pending", "paid", "payment_failed", "cancelled", "shipped", "delivered", "refunded")

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_PHONE = re.compile(r"^\+?[0-9][0-9 ()-]{5,18}[0-9]$")


def whole_number(field: str, value: Any, *, minimum: int, maximum: int) -> int:
    """An ``int`` within [minimum, maximum]; bools and floats with a fraction are refused, not truncated."""
    if isinstance(value, bool) or not isinstance(value, (int, float, Decimal)):
        raise validation_error(field, "type", value, f"{field} must be a whole number")
    if isinstance(value, (float, Decimal)):
        if not _finite(value) or value != int(value):
            raise validation_error(field, "type", value, f"{field} must be a whole number")
        value = int(value)
    if value < minimum:
        raise validation_error(field, "min", value, f"{field} must be at least {minimum}", minimum=minimum)
    if value > maximum:
        raise validation_error(field, "max", value, f"{field} must be at most {maximum}", maximum=maximum)
    return value


def money(field: str, value: Any, *, maximum: Decimal = MAX_PRICE, allow_zero: bool = False) -> Decimal:
    """A positive (or, with ``allow_zero``, non-negative) ``Decimal`` with at most two decimal places.

    Floats go through ``str`` so 0.1 stays 0.1 instead of 0.1000000000000000055511151231257827.
    """
    if isinstance(value, bool):
        raise validation_error(field, "type", value, f"{field} must be a decimal amount")
    try:
        amount = Decimal(str(value)) if isinstance(value, (int, float, str)) else value
    except InvalidOperation:
        amount = None
    if not isinstance(amount, Decimal) or not amount.is_finite():
        raise validation_error(field, "type", value, f"{field} must be a decimal amount")
    if amount < 0 or (amount == 0 and not allow_zero):
        bound = "at least 0" if allow_zero else "greater than 0"
        raise validation_error(field, "positive", value, f"{field} must be {bound}")
    if amount > maximum:
        raise validation_error(field, "max", value, f"{field} must be at most {maximum}", maximum=str(maximum))
    if amount != amount.quantize(MONEY_QUANTUM):
        raise validation_error(field, "precision", value, f"{field} cannot have more than two decimal places")
    return amount.quantize(MONEY_QUANTUM)


def one_of(field: str, value: Any, allowed: tuple[str, ...]) -> str:
    if value not in allowed:
        raise validation_error(field, "choice", value, f"{field} must be one of {', '.join(allowed)}",
                               allowed=list(allowed))
    return value


def email(value: Any) -> str:
    if not isinstance(value, str) or len(value) > 255 or not _EMAIL.match(value):
        raise validation_error("email", "format", value, "email must look like name@example.com")
    return value.strip().lower()


def phone_number(value: Any) -> str:
    if not isinstance(value, str) or not _PHONE.match(value):
        raise validation_error("phone_number", "format", value, "phone_number must be digits, e.g. +1 555 0100")
    return value


def text(field: str, value: Any, *, max_length: int) -> str:
    if not isinstance(value, str) or not value.strip():
        raise validation_error(field, "required", value, f"{field} must be a non-empty string")
    if len(value) > max_length:
        raise validation_error(field, "max_length", value, f"{field} must be at most {max_length} characters",
                               maximum=max_length)
    return value.strip()


def _finite(value: float | Decimal) -> bool:
    return value.is_finite() if isinstance(value, Decimal) else math.isfinite(value)
