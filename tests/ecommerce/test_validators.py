"""Model validators mirror the database rules in Python and raise one domain error type with a code."""

from __future__ import annotations

from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import CartItem, Order, OrderItem, Product, User


def _refused(make, field: str, rule: str) -> DomainError:
    with pytest.raises(DomainError) as raised:
        make()
    error = raised.value
    assert error.code == "VALIDATION_ERROR"
    assert error.details["field"] == field
    assert error.details["rule"] == rule
    assert error.to_dict()["error"]["code"] == "VALIDATION_ERROR"
    return error


@pytest.mark.parametrize(("value", "rule"), [(-1, "min"), (10**9, "max"), (1.5, "type"), (True, "type"),
                                             ("3", "type"), (float("nan"), "type")])
def test_stock_refuses(value, rule) -> None:
    _refused(lambda: Product(stock=value), "stock", rule)


@pytest.mark.parametrize(("value", "rule"), [(0, "positive"), (-3, "positive"), ("100000.01", "max"),
                                             ("1.999", "precision"), ("abc", "type"), (float("inf"), "type"),
                                             (None, "type")])
def test_price_refuses(value, rule) -> None:
    _refused(lambda: Product(price=value), "price", rule)


def test_price_keeps_cents_exact() -> None:
    assert Product(price=0.1).price == Decimal("0.10")
    assert Product(price="19.90").price == Decimal("19.90")
    assert Product(price=7).price == Decimal("7.00")


@pytest.mark.parametrize("model", [CartItem, OrderItem])
@pytest.mark.parametrize(("value", "rule"), [(0, "min"), (-1, "min"), (1001, "max")])
def test_line_quantity_refuses(model, value, rule) -> None:
    _refused(lambda: model(quantity=value), "quantity", rule)


def test_status_must_be_known() -> None:
    error = _refused(lambda: Order(status="lost"), "status", "choice")
    assert "pending" in error.details["allowed"]
    assert Order(status="paid").status == "paid"


def test_order_total_may_be_zero_but_not_negative() -> None:
    assert Order(total_amount=0).total_amount == Decimal("0.00")
    _refused(lambda: Order(total_amount="-0.01"), "total_amount", "positive")


@pytest.mark.parametrize(("field", "value"), [("email", "not-an-email"), ("email", 42),
                                              ("phone_number", "call me"), ("full_name", "   ")])
def test_user_fields(field, value) -> None:
    with pytest.raises(DomainError) as raised:
        User(**{field: value})
    assert raised.value.details["field"] == field


def test_email_is_normalised() -> None:
    assert User(email=" Ada@Example.COM ".strip()).email == "ada@example.com"


@given(st.integers(min_value=0, max_value=1_000_000))
def test_every_stock_in_range_is_accepted(stock: int) -> None:
    assert Product(stock=stock).stock == stock


@given(st.decimals(min_value=Decimal("0.01"), max_value=Decimal("100000"), places=2))
def test_every_price_in_range_is_accepted(price: Decimal) -> None:
    assert Product(price=price).price == price
