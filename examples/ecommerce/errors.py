"""The reference app's single domain error type, shaped like the API's error body."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    """A business rule was broken. ``code`` is machine-readable and matches the API's error codes.

    Codes in use: ``VALIDATION_ERROR``, ``INSUFFICIENT_STOCK``, ``PAYMENT_FAILED``, ``NOT_FOUND``, ``CONFLICT``,
    ``UNAUTHORIZED`` (no valid token, or wrong credentials), ``RATE_LIMITED`` (too many failures; ``details``
    has ``retry_after`` in seconds) and ``INTERNAL_ERROR`` (a bug: the body never carries a stack trace).
    """

    def __init__(self, code: str, message: str, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.code = code
        self.message = message
        self.details = details or {}

    def to_dict(self) -> dict[str, Any]:
        return {"error": {"code": self.code, "message": self.message, "details": self.details}}

    def __repr__(self) -> str:
        return f"DomainError({self.code!r}, {self.message!r}, {self.details!r})"


def validation_error(field: str, rule: str, value: Any, message: str, **limits: Any) -> DomainError:
    """A ``VALIDATION_ERROR`` whose details name the field, the rule that failed and the limits involved."""
    details = {"field": field, "rule": rule, "value": _jsonable(value), **limits}
    return DomainError("VALIDATION_ERROR", message, details)


def _jsonable(value: Any) -> Any:
    if value is None or isinstance(value, (bool, int, str)):
        return value
    return str(value)
