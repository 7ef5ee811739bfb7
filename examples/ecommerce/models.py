"""The reference schema: every constraint a careful engineer declares, and why.

Deliberate choices:
- Money is ``Numeric(12, 2)``: exact cents, never binary floating point.
- Every foreign key has an explicit ``ON DELETE``: carts and their lines go with their owner (CASCADE), while
  orders are financial records that must block deleting the user or product they refer to (RESTRICT).
- Every foreign key column is indexed (a unique constraint or composite index whose leading column is the FK
  counts), so joins and the database's own FK checks on delete do not scan.
- CHECK constraints hold the floor of every business rule; ``@validates`` mirrors them in Python with friendlier
  errors and adds ceilings. The database stays the last line of defence.
- Timestamps are timezone-aware and filled by the server.
- ``products.version`` is a plain counter that the optimistic checkout compares and bumps itself; it is not a
  mapper ``version_id_col`` because the unsafe strategies must be able to show what happens without one.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from sqlalchemy import (
    CheckConstraint,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    Numeric,
    String,
    Text,
    UniqueConstraint,
    func,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship, validates

from examples.ecommerce import validation
from examples.ecommerce.serialization import SerializerMixin

# Stable constraint names: migrations, error handling and the audit all refer to constraints by name.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

Money = Numeric(12, 2)
DEFAULT_ALERT_THRESHOLD = 5
MAX_ORDER_TOTAL = validation.MAX_PRICE * validation.MAX_LINE_QUANTITY


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def _created_at() -> Mapped[dt.datetime]:
    return mapped_column(DateTime(timezone=True), nullable=False, server_default=func.now())


# What ``users.password_hash`` holds for an account that has no password (rows from before migration 0008, users
# created by scripts): no argon2 hash ever equals it, so nobody can log in as that user until a password is set.
NO_PASSWORD = "!"
PHONE_LENGTH = 20


class User(SerializerMixin, Base):
    __tablename__ = "users"
    __table_args__ = (CheckConstraint("token_version >= 0", name="token_version_non_negative"),)
    # The hash never leaves the model through to_dict() (an API response, a log line).
    serialize_exclude = ("password_hash", "token_version")

    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(255), nullable=False, unique=True)
    phone_number: Mapped[str] = mapped_column(String(PHONE_LENGTH), nullable=False, unique=True)
    full_name: Mapped[str] = mapped_column(String(120), nullable=False)
    created_at: Mapped[dt.datetime] = _created_at()
    # An argon2id hash in PHC format (algorithm, parameters and the per-user salt travel with it), or NO_PASSWORD.
    password_hash: Mapped[str] = mapped_column(String(255), nullable=False, server_default=NO_PASSWORD)
    # Signed tokens carry the version they were issued under; logout and password change bump it, so every
    # earlier token stops working at once without a server-side token list.
    token_version: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")

    cart: Mapped[Cart | None] = relationship(back_populates="user", cascade="all, delete-orphan",
                                             passive_deletes=True)
    orders: Mapped[list[Order]] = relationship(back_populates="user")

    @validates("email")
    def _validate_email(self, key: str, value: str) -> str:
        return validation.email(value)

    @validates("phone_number")
    def _validate_phone(self, key: str, value: str) -> str:
        # The pattern alone lets 21 characters through; the column holds 20 (found by fuzzing on PostgreSQL,
        # where an over-long value is an error, not silently kept as on SQLite).
        return validation.text(key, validation.phone_number(value), max_length=PHONE_LENGTH)

    @validates("full_name")
    def _validate_name(self, key: str, value: str) -> str:
        return validation.text(key, value, max_length=120)


class Category(SerializerMixin, Base):
    __tablename__ = "categories"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    slug: Mapped[str] = mapped_column(String(120), nullable=False, unique=True)
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("categories.id", ondelete="SET NULL"), nullable=True, index=True
    )

    parent: Mapped[Category | None] = relationship(remote_side=[id], back_populates="children")
    children: Mapped[list[Category]] = relationship(back_populates="parent")
    products: Mapped[list[Product]] = relationship(back_populates="category")


class Product(SerializerMixin, Base):
    __tablename__ = "products"
    __table_args__ = (
        CheckConstraint("price > 0", name="price_positive"),
        CheckConstraint("stock >= 0", name="stock_non_negative"),
        CheckConstraint("stock_alert_threshold >= 0", name="alert_threshold_non_negative"),
        CheckConstraint("version >= 1", name="version_positive"),
        CheckConstraint("reserved >= 0", name="reserved_non_negative"),
        # Units held for unpaid orders come out of stock on hand, so they can never exceed it. (Named to sort after
        # stock_non_negative: PostgreSQL checks in name order, and a negative stock should report that rule.)
        CheckConstraint("reserved <= stock", name="stock_not_below_reserved"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    sku: Mapped[str] = mapped_column(String(64), nullable=False, unique=True)
    name: Mapped[str] = mapped_column(String(200), nullable=False)
    description: Mapped[str | None] = mapped_column(Text, nullable=True)
    # RESTRICT: a category with products cannot vanish from under them.
    category_id: Mapped[int] = mapped_column(
        ForeignKey("categories.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    price: Mapped[Decimal] = mapped_column(Money, nullable=False)
    stock: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    stock_alert_threshold: Mapped[int] = mapped_column(
        Integer, nullable=False, default=DEFAULT_ALERT_THRESHOLD, server_default=str(DEFAULT_ALERT_THRESHOLD)
    )
    version: Mapped[int] = mapped_column(Integer, nullable=False, default=1, server_default="1")
    # Units held by active reservations (orders waiting for payment); available = stock - reserved.
    reserved: Mapped[int] = mapped_column(Integer, nullable=False, default=0, server_default="0")
    created_at: Mapped[dt.datetime] = _created_at()

    category: Mapped[Category] = relationship(back_populates="products")
    cart_items: Mapped[list[CartItem]] = relationship(back_populates="product")
    order_items: Mapped[list[OrderItem]] = relationship(back_populates="product")

    @validates("price")
    def _validate_price(self, key: str, value: object) -> Decimal:
        return validation.money(key, value)

    @validates("stock")
    def _validate_stock(self, key: str, value: object) -> int:
        return validation.whole_number(key, value, minimum=0, maximum=validation.MAX_STOCK)

    @validates("stock_alert_threshold")
    def _validate_threshold(self, key: str, value: object) -> int:
        return validation.whole_number(key, value, minimum=0, maximum=validation.MAX_ALERT_THRESHOLD)

    @validates("sku", "name")
    def _validate_text(self, key: str, value: object) -> str:
        return validation.text(key, value, max_length=64 if key == "sku" else 200)

    @property
    def available(self) -> int:
        return self.stock - self.reserved

    @property
    def needs_restock(self) -> bool:
        return self.stock <= self.stock_alert_threshold


class Cart(SerializerMixin, Base):
    __tablename__ = "carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    # One cart per user; the unique constraint also serves as the FK's index.
    user_id: Mapped[int] = mapped_column(
        ForeignKey("users.id", ondelete="CASCADE"), nullable=False, unique=True
    )
    created_at: Mapped[dt.datetime] = _created_at()

    user: Mapped[User] = relationship(back_populates="cart")
    items: Mapped[list[CartItem]] = relationship(back_populates="cart", cascade="all, delete-orphan",
                                                 passive_deletes=True, order_by="CartItem.id")


class CartItem(SerializerMixin, Base):
    __tablename__ = "cart_items"
    __table_args__ = (
        # One line per product per cart: adding the same product again must merge, never duplicate.
        UniqueConstraint("cart_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("carts.id", ondelete="CASCADE"), nullable=False)
    # A product removed from the catalog disappears from carts, not from order history (see OrderItem).
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="CASCADE"), nullable=False, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    added_at: Mapped[dt.datetime] = _created_at()

    cart: Mapped[Cart] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(back_populates="cart_items")

    @validates("quantity")
    def _validate_quantity(self, key: str, value: object) -> int:
        return validation.whole_number(key, value, minimum=1, maximum=validation.MAX_LINE_QUANTITY)


_STATUS_LIST = ", ".join(f"'{status}'" for status in validation.ORDER_STATUSES)


class Order(SerializerMixin, Base):
    __tablename__ = "orders"
    __table_args__ = (
        CheckConstraint(f"status IN ({_STATUS_LIST})", name="status_known"),
        CheckConstraint("total_amount >= 0", name="total_non_negative"),
        # "This user's orders in this state, newest first": the lookup the order history page makes.
        # Its leading column also indexes the user_id foreign key.
        Index("ix_orders_user_id_status_created_at", "user_id", "status", "created_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: order history is a financial record; deleting a user must not silently erase it.
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="RESTRICT"), nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="pending",
                                        server_default="pending")
    total_amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    created_at: Mapped[dt.datetime] = _created_at()

    user: Mapped[User] = relationship(back_populates="orders")
    items: Mapped[list[OrderItem]] = relationship(back_populates="order", cascade="all, delete-orphan",
                                                  passive_deletes=True, order_by="OrderItem.id")
    reservations: Mapped[list[StockReservation]] = relationship(back_populates="order",
                                                                order_by="StockReservation.product_id")
    payments: Mapped[list[Payment]] = relationship(back_populates="order", order_by="Payment.id")

    @validates("status")
    def _validate_status(self, key: str, value: object) -> str:
        return validation.one_of(key, value, validation.ORDER_STATUSES)

    @validates("total_amount")
    def _validate_total(self, key: str, value: object) -> Decimal:
        return validation.money(key, value, maximum=MAX_ORDER_TOTAL, allow_zero=True)


class OrderItem(SerializerMixin, Base):
    __tablename__ = "order_items"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint("unit_price > 0", name="unit_price_positive"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    # The price at purchase time; later catalog price changes must not rewrite history.
    unit_price: Mapped[Decimal] = mapped_column(Money, nullable=False)

    order: Mapped[Order] = relationship(back_populates="items")
    product: Mapped[Product] = relationship(back_populates="order_items")

    @validates("quantity")
    def _validate_quantity(self, key: str, value: object) -> int:
        return validation.whole_number(key, value, minimum=1, maximum=validation.MAX_LINE_QUANTITY)

    @validates("unit_price")
    def _validate_unit_price(self, key: str, value: object) -> Decimal:
        return validation.money(key, value)

    @property
    def line_total(self) -> Decimal:
        return self.unit_price * self.quantity


RESERVATION_STATUSES = ("active", "converted", "released")
PAYMENT_STATUSES = ("processing", "succeeded", "declined")


def _in_set(column: str, values: tuple[str, ...]) -> str:
    return f"{column} IN ({', '.join(repr(value) for value in values)})"


class StockReservation(SerializerMixin, Base):
    """Units of one product held for one unpaid order until payment converts them or expiry releases them."""

    __tablename__ = "stock_reservations"
    __table_args__ = (
        UniqueConstraint("order_id", "product_id"),
        CheckConstraint("quantity > 0", name="quantity_positive"),
        CheckConstraint(_in_set("status", RESERVATION_STATUSES), name="status_known"),
        # The expiry sweep asks "active reservations that expired before now".
        Index("ix_stock_reservations_status_expires_at", "status", "expires_at"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="CASCADE"), nullable=False)
    product_id: Mapped[int] = mapped_column(
        ForeignKey("products.id", ondelete="RESTRICT"), nullable=False, index=True
    )
    quantity: Mapped[int] = mapped_column(Integer, nullable=False)
    status: Mapped[str] = mapped_column(String(20), nullable=False, default="active", server_default="active")
    expires_at: Mapped[dt.datetime] = mapped_column(DateTime(timezone=True), nullable=False)
    created_at: Mapped[dt.datetime] = _created_at()

    order: Mapped[Order] = relationship(back_populates="reservations")
    product: Mapped[Product] = relationship()


class Payment(SerializerMixin, Base):
    """One payment attempt. The unique idempotency key is what makes a double click charge once."""

    __tablename__ = "payments"
    __table_args__ = (
        CheckConstraint(_in_set("status", PAYMENT_STATUSES), name="status_known"),
        CheckConstraint("amount >= 0", name="amount_non_negative"),
    )

    id: Mapped[int] = mapped_column(primary_key=True)
    # RESTRICT: a payment is a financial record, like the order it pays for.
    order_id: Mapped[int] = mapped_column(ForeignKey("orders.id", ondelete="RESTRICT"), nullable=False, index=True)
    idempotency_key: Mapped[str] = mapped_column(String(100), nullable=False, unique=True)
    status: Mapped[str] = mapped_column(String(20), nullable=False)
    amount: Mapped[Decimal] = mapped_column(Money, nullable=False)
    gateway_reference: Mapped[str | None] = mapped_column(String(100), nullable=True)
    failure_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    created_at: Mapped[dt.datetime] = _created_at()

    order: Mapped[Order] = relationship(back_populates="payments")
