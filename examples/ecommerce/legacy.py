"""The schema a typical first project ships: the "before" picture every lesson and audit starts from.

Each flaw below is one the audit must find and a lesson fixes; they are on purpose, so do not fix them here:

- ``cart_items.product_id``, ``orders.user_id`` and ``order_items.product_id`` are plain integers with no foreign
  key, so orphans get in (only ``cart_items.cart_id`` and ``order_items.order_id`` were declared).
- Money is ``Float``: 0.1 + 0.2 is not 0.3, and totals drift.
- No index on the columns orders are looked up and sorted by (``user_id``, ``status``, ``created_at``), nor on
  the declared foreign keys.
- No uniqueness on cart lines, so the same product can sit in a cart twice.
- No CHECK on stock, price or quantity: negative stock is one bad UPDATE away.
- ``status`` is free text and timestamps carry no time zone.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from sqlalchemy import DateTime, Engine, Float, ForeignKey, Integer, String, Text, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, joinedload, mapped_column, relationship

from examples.ecommerce.serialization import SerializerMixin


class LegacyBase(DeclarativeBase):
    pass


class User(SerializerMixin, LegacyBase):
    __tablename__ = "users"

    id: Mapped[int] = mapped_column(primary_key=True)
    # The first project did get these two right.
    email: Mapped[str] = mapped_column(String(100), unique=True, nullable=False)
    phone_number: Mapped[str] = mapped_column(String(20), unique=True, nullable=False)
    full_name: Mapped[str | None] = mapped_column(String(120))
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)


class Category(SerializerMixin, LegacyBase):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str | None] = mapped_column(String(100))
    slug: Mapped[str | None] = mapped_column(String(120))
    parent_id: Mapped[int | None] = mapped_column(Integer)

    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(SerializerMixin, LegacyBase):
    __tablename__ = "products"

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str | None] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text)
    category_id: Mapped[int | None] = mapped_column(ForeignKey("categories.id"))
    price: Mapped[float] = mapped_column(Float, nullable=False)
    stock: Mapped[int | None] = mapped_column(Integer, default=0)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)

    category: Mapped[Category | None] = relationship(back_populates="products")


class Cart(SerializerMixin, LegacyBase):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id"), nullable=False)
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)

    items: Mapped[list[CartItem]] = relationship(back_populates="cart")


class CartItem(SerializerMixin, LegacyBase):
    __tablename__ = "cart_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity: Mapped[int | None] = mapped_column(Integer, default=1)

    cart: Mapped[Cart] = relationship(back_populates="items")
    # No FK in the database, so the ORM has to be told how to join.
    product: Mapped[Product] = relationship(primaryjoin="foreign(CartItem.product_id) == Product.id")


class Order(SerializerMixin, LegacyBase):
    __tablename__ = "orders"

    id: Mapped[int] = mapped_column(primary_key=True)
    user_id: Mapped[int] = mapped_column(Integer, nullable=False)
    total_amount: Mapped[float] = mapped_column(Float, nullable=False)
    status: Mapped[str | None] = mapped_column(String(20), default="pending")
    created_at: Mapped[dt.datetime | None] = mapped_column(DateTime, default=dt.datetime.now)

    items: Mapped[list[OrderItem]] = relationship(back_populates="order")


class OrderItem(SerializerMixin, LegacyBase):
    __tablename__ = "order_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id"), nullable=False)
    product_id: Mapped[int] = mapped_column(Integer, nullable=False)
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    price: Mapped[float] = mapped_column(Float, nullable=False)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(primaryjoin="foreign(OrderItem.product_id) == Product.id")


def list_products(engine: Engine, *, limit: int = 20, eager: bool = False) -> list[dict[str, Any]]:
    """The product page as a first project writes it: one query for the page, then, as each product is serialized
    with its category, one lazy load per product: an N+1 that grows with the page.

    ``eager=True`` is the one-line fix, ``joinedload(Product.category)``: the categories come in the same SELECT.
    """
    query = select(Product).order_by(Product.id).limit(limit)
    if eager:
        query = query.options(joinedload(Product.category))
    with Session(engine) as session:
        return [product.to_dict(include=("category",)) for product in session.scalars(query)]


def add_to_cart(engine: Engine, user_id: int, product_id: int, quantity: int = 1) -> int:
    """Put ``quantity`` of a product in the user's cart, the way a first project writes it; returns the line's id.

    Look for the line, add one if there is none, else bump its quantity. Two concurrent requests both find no line
    and both insert (``cart_items`` has no unique ``(cart_id, product_id)``), or both read the same quantity and the
    second write overwrites the first: the race risks ``integrity-kit`` flags from one plain test of this function.
    """
    with Session(engine) as session:
        cart = session.scalars(select(Cart).filter_by(user_id=user_id)).first()
        if cart is None:
            cart = Cart(user_id=user_id)
            session.add(cart)
            session.flush()
        item = session.scalars(select(CartItem).filter_by(cart_id=cart.id, product_id=product_id)).first()
        if item is None:
            item = CartItem(cart_id=cart.id, product_id=product_id, quantity=quantity)
            session.add(item)
        else:
            item.quantity = (item.quantity or 0) + quantity
        session.commit()
        return item.id
