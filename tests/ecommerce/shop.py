"""Helpers that build a small shop on a migrated scratch database."""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from argon2 import PasswordHasher
from sqlalchemy import Engine, func, select
from sqlalchemy.orm import Session

from examples.ecommerce import database
from examples.ecommerce.models import Base, Cart, CartItem, Category, Product, User

T = Base.metadata.tables
PASSWORD = "correct horse battery"
# argon2id with the least work it allows: the tests check what the API does with hashes, not their cost, and the
# recommended parameters cost a fifth of a second per login (test_auth checks the API's default is memory-hard).
FAST_HASHER = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)


@lru_cache(maxsize=1)
def password_hash() -> str:
    """One real hash of PASSWORD for every test user."""
    return FAST_HASHER.hash(PASSWORD)


def build(engine: Engine, *, users: int = 3, products: tuple[tuple[str, int], ...] = (("9.99", 10), ("25.00", 5),
                                                                                    ("3.50", 100))) -> None:
    database.create_schema(engine)
    with Session(engine) as session:
        session.add_all([Category(name="Books", slug="books"), Category(name="Games", slug="games")])
        session.flush()
        session.add_all(User(email=f"u{i}@example.com", phone_number=f"+1 555 {i:07d}", full_name=f"User {i}",
                             password_hash=password_hash())
                        for i in range(1, users + 1))
        session.add_all(Product(sku=f"SKU-{i}", name=f"Product {i}", category_id=1 + i % 2, price=Decimal(price),
                                stock=stock)
                        for i, (price, stock) in enumerate(products, start=1))
        session.commit()


def add_users(engine: Engine, count: int, start: int = 1000) -> list[int]:
    with Session(engine) as session:
        users = [User(email=f"b{i}@example.com", phone_number=f"+1 556 {i:07d}", full_name=f"Buyer {i}")
                 for i in range(start, start + count)]
        session.add_all(users)
        session.commit()
        return [user.id for user in users]


def fill_cart(engine: Engine, user_id: int, lines: dict[int, int]) -> None:
    """Put lines straight into a cart (bypassing the cart service's limits, as a test setup may)."""
    with Session(engine) as session:
        cart = session.scalar(select(Cart).where(Cart.user_id == user_id))
        if cart is None:
            cart = Cart(user_id=user_id)
            session.add(cart)
            session.flush()
        for product_id, quantity in lines.items():
            session.add(CartItem(cart_id=cart.id, product_id=product_id, quantity=quantity))
        session.commit()


def snapshot(engine: Engine) -> dict[str, list[tuple]]:
    """Every row of every app table, ordered, for before/after comparisons."""
    with engine.connect() as connection:
        return {name: [tuple(row) for row in connection.execute(select(table).order_by(*table.primary_key.columns))]
                for name, table in T.items()}


def product_row(engine: Engine, product_id: int) -> tuple[int, int]:
    with engine.connect() as connection:
        return tuple(connection.execute(
            select(T["products"].c.stock, T["products"].c.reserved).where(T["products"].c.id == product_id)).one())


def count(engine: Engine, table: str, **where) -> int:
    query = select(func.count()).select_from(T[table])
    for column, value in where.items():
        query = query.where(T[table].c[column] == value)
    with engine.connect() as connection:
        return connection.execute(query).scalar()


def api(engine: Engine, **options):
    """The reference API over ``engine`` for tests: a fake gateway that succeeds, a fake clock, the cheap hasher."""
    from examples.ecommerce.api import create_app
    from examples.ecommerce.clock import FakeClock
    from examples.ecommerce.payments import FakeGateway

    settings = {"gateway": FakeGateway(), "clock": FakeClock(), "password_hasher": FAST_HASHER, **options}
    application = create_app(engine, **settings)
    application.testing = True
    return application


def contested(engine_url, buyers: int, units: int) -> tuple[Engine, list[int]]:
    """One product with ``units`` in stock and ``buyers`` users with one in their cart, on a pool big enough for all
    of them at once."""
    engine = database.make_engine(engine_url, pool_size=buyers + 2, max_overflow=0)
    build(engine, users=0, products=(("10.00", units),))
    user_ids = add_users(engine, buyers)
    for user_id in user_ids:
        fill_cart(engine, user_id, {1: 1})
    return engine, user_ids
