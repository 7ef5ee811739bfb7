"""What a column's name says it holds: the vocabulary several rules share."""

from __future__ import annotations

from integrity_kit.audit.naming import words

MONEY_WORDS = frozenset({"price", "amount", "total", "cost", "balance", "fee", "tax", "subtotal", "discount",
                         "salary", "wage", "refund", "revenue", "payment", "charge", "paid", "money"})
# Columns whose values identify one row in the real world: two rows with the same one are a bug.
NATURAL_KEYS = frozenset({"email", "email_address", "username", "user_name", "login", "sku", "slug", "isbn",
                          "ean", "upc", "handle", "idempotency_key"})
COUNT_WORDS = frozenset({"stock", "quantity", "qty", "inventory", "units", "reserved"})


def is_money(name: str) -> bool:
    return bool(set(words(name)) & MONEY_WORDS) and not name.lower().endswith(("_id", "_count", "_type"))


def is_natural_key(name: str) -> bool:
    return name.lower() in NATURAL_KEYS


def is_count(name: str) -> bool:
    parts = words(name)
    return bool(parts) and parts[-1] in COUNT_WORDS


def is_status(name: str) -> bool:
    return name.lower() in ("status", "state")
