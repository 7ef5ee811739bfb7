"""Cart operations with business validation. One line per product: adding a product again merges the line.

The checks here are friendly early answers; stock is only *promised* by the checkout, which re-checks it under
its strategy's protection. The unique constraint on ``cart_items(cart_id, product_id)`` backs up the merge rule:
two concurrent "add" clicks that both find no line get an IntegrityError on the second insert, which is retried
once as a merge instead of becoming a duplicate line.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session, selectinload

from examples.ecommerce import validation
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Cart, CartItem, Product, User

MAX_PER_USER_PER_PRODUCT = 10


@dataclass(frozen=True)
class CartLine:
    product_id: int
    name: str
    quantity: int
    unit_price: Decimal

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity

    def to_dict(self) -> dict[str, Any]:
        return {"product_id": self.product_id, "name": self.name, "quantity": self.quantity,
                "unit_price": str(self.unit_price), "line_total": str(self.line_total)}


@dataclass(frozen=True)
class CartView:
    user_id: int
    lines: list[CartLine]

    @property
    def total(self) -> Decimal:
        return sum((line.line_total for line in self.lines), Decimal("0.00"))

    def to_dict(self) -> dict[str, Any]:
        return {"user_id": self.user_id, "lines": [line.to_dict() for line in self.lines], "total": str(self.total)}


def _quantity(value: Any) -> int:
    return validation.whole_number("quantity", value, minimum=1, maximum=validation.MAX_LINE_QUANTITY)


def _user(session: Session, user_id: Any) -> User:
    user_id = validation.whole_number("user_id", user_id, minimum=1, maximum=2**31 - 1)
    user = session.get(User, user_id)
    if user is None:
        raise DomainError("NOT_FOUND", f"user {user_id} does not exist", {"user_id": user_id})
    return user


def _product(session: Session, product_id: Any) -> Product:
    product_id = validation.whole_number("product_id", product_id, minimum=1, maximum=2**31 - 1)
    product = session.get(Product, product_id)
    if product is None:
        raise DomainError("NOT_FOUND", f"product {product_id} does not exist", {"product_id": product_id})
    return product


def _cart(session: Session, user: User) -> Cart:
    cart = session.scalar(select(Cart).where(Cart.user_id == user.id))
    if cart is None:
        cart = Cart(user_id=user.id)
        session.add(cart)
        session.flush()
    return cart


def _begin_write(session: Session) -> None:
    # SQLite cannot upgrade a read lock while another writer waits (it answers "database is locked" at once, no
    # busy wait), so a read-then-write transaction takes the write lock up front there.
    if session.get_bind().dialect.name == "sqlite":
        session.execute(text("BEGIN IMMEDIATE"))


def _check_limits(product: Product, quantity: int) -> None:
    if quantity > MAX_PER_USER_PER_PRODUCT:
        raise DomainError("VALIDATION_ERROR", f"at most {MAX_PER_USER_PER_PRODUCT} of one product per customer",
                          {"field": "quantity", "rule": "max_per_user", "value": quantity,
                           "maximum": MAX_PER_USER_PER_PRODUCT, "product_id": product.id})
    if quantity > product.available:
        raise DomainError("INSUFFICIENT_STOCK", f"only {product.available} left of {product.name}",
                          {"product_id": product.id, "requested": quantity, "available": product.available})


def add_item(engine: Engine, user_id: Any, product_id: Any, quantity: Any = 1) -> CartView:
    """Add ``quantity`` of a product to the user's cart, merging with an existing line."""
    quantity = _quantity(quantity)
    for attempt in (1, 2):
        # One session for the change and the view: a second session opened while this one still holds its
        # connection is how 20 concurrent writers exhaust the pool and wait on each other.
        with Session(engine) as session:
            _begin_write(session)
            try:
                user = _user(session, user_id)
                owner = user.id
                product = _product(session, product_id)
                cart = _cart(session, user)
                line = session.scalar(select(CartItem).where(CartItem.cart_id == cart.id,
                                                             CartItem.product_id == product.id))
                merged = quantity + (line.quantity if line else 0)
                _check_limits(product, merged)
                if line is None:
                    session.add(CartItem(cart_id=cart.id, product_id=product.id, quantity=merged))
                else:
                    line.quantity = merged
                session.commit()
            except IntegrityError as error:
                session.rollback()
                found = violation(error)
                # A concurrent add created the line (or the cart) first: run again, this time as a merge.
                if attempt == 1 and found is not None and found.kind == "unique":
                    continue
                raise
            return _view(session, owner)
    raise AssertionError("unreachable")


def set_quantity(engine: Engine, user_id: Any, product_id: Any, quantity: Any) -> CartView:
    """Set a line's quantity; 0 removes the line."""
    if quantity != 0 or isinstance(quantity, bool):
        quantity = _quantity(quantity)
    with Session(engine) as session:
        _begin_write(session)
        user = _user(session, user_id)
        owner = user.id
        product = _product(session, product_id)
        line = session.scalar(select(CartItem).join(Cart).where(Cart.user_id == user.id,
                                                                CartItem.product_id == product.id))
        if line is None:
            raise DomainError("NOT_FOUND", f"product {product.id} is not in the cart", {"product_id": product.id})
        if quantity == 0:
            session.delete(line)
        else:
            _check_limits(product, quantity)
            line.quantity = quantity
        session.commit()
        return _view(session, owner)


def remove_item(engine: Engine, user_id: Any, product_id: Any) -> CartView:
    return set_quantity(engine, user_id, product_id, 0)


def view_cart(engine: Engine, user_id: Any) -> CartView:
    with Session(engine) as session:
        return _view(session, _user(session, user_id).id)


def _view(session: Session, user_id: int) -> CartView:
    """The cart as committed, read in the caller's session (so a request never holds two connections)."""
    cart = session.scalar(
        select(Cart).where(Cart.user_id == user_id)
        .options(selectinload(Cart.items).selectinload(CartItem.product))
    )
    items = cart.items if cart else []
    lines = [CartLine(item.product_id, item.product.name, item.quantity, item.product.price)
             for item in sorted(items, key=lambda item: item.product_id)]
    view = CartView(user_id, lines)
    session.commit()  # end the read transaction now: nothing of this request stays "idle in transaction"
    return view
