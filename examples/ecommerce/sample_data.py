"""Deterministic, realistic sample data for both schemas, loaded in bulk.

The same ``(rows, seed)`` always yields the same rows, so lessons and tests can rely on exact numbers. On the
legacy schema the data also carries the damage that schema lets in, recorded in :class:`Damage` so a test (or the
audit's data probes) can check every damaged row is found.

Every sample user of the reference schema can log in with :data:`SAMPLE_PASSWORD` (documented, for demos and
lessons: never load sample data into a database the public can reach). Hashing a million passwords with argon2
would take days, so the password is hashed once per load, with a salt derived from the seed, and every sample user
shares that one real hash; users who sign up through the API get their own random salt. The legacy schema has no
credentials at all.
"""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from functools import lru_cache
from hashlib import blake2b
from typing import Any

from argon2 import PasswordHasher
from argon2.low_level import hash_secret
from sqlalchemy import Engine, Table, func, select, text

from examples.ecommerce.legacy import LegacyBase
from examples.ecommerce.models import DEFAULT_ALERT_THRESHOLD, Base

DEFAULT_ROWS = 5_000
DEFAULT_SEED = 42
CHUNK = 2_000
MAX_LINES = 5
SAMPLE_PASSWORD = "sample-password"

_FIRST = [
    "Ada",
    "Alan",
    "Grace",
    "Linus",
    "Margaret",
    "Ken",
    "Barbara",
    "Edsger",
    "Frances",
    "Dennis",
    "Radia",
    "John",
    "Hedy",
    "Tim",
    "Katherine",
    "Donald",
    "Sophie",
    "Guido",
    "Annie",
    "Niklaus",
    "Karen",
    "Bjarne",
    "Jean",
    "Yukihiro",
    "Shafi",
    "Leslie",
    "Anita",
    "Fernando",
]
_LAST = [
    "Lovelace",
    "Turing",
    "Hopper",
    "Torvalds",
    "Hamilton",
    "Thompson",
    "Liskov",
    "Dijkstra",
    "Allen",
    "Ritchie",
    "Perlman",
    "Backus",
    "Lamarr",
    "Berners-Lee",
    "Johnson",
    "Knuth",
    "Wilson",
    "Rossum",
    "Easley",
    "Wirth",
    "Jones",
    "Stroustrup",
    "Sammet",
    "Matsumoto",
    "Goldwasser",
    "Lamport",
    "Borg",
    "Corbato",
]
_DEPARTMENTS = {
    "Electronics": ["Laptops", "Phones", "Audio", "Cameras"],
    "Home": ["Kitchen", "Furniture", "Lighting"],
    "Books": ["Fiction", "Science", "Children"],
    "Sports": ["Cycling", "Running", "Camping"],
    "Garden": ["Tools", "Plants"],
}
_ADJECTIVES = [
    "Compact",
    "Classic",
    "Rugged",
    "Silent",
    "Smart",
    "Wireless",
    "Deluxe",
    "Eco",
    "Pro",
    "Mini",
    "Ultra",
    "Solid",
    "Bright",
    "Swift",
]
_NOUNS = [
    "Lamp",
    "Kettle",
    "Speaker",
    "Backpack",
    "Tent",
    "Notebook",
    "Drill",
    "Blender",
    "Helmet",
    "Charger",
    "Chair",
    "Camera",
    "Jacket",
]
_STATUSES = (("delivered", 40), ("shipped", 15), ("paid", 20), ("pending", 15), ("cancelled", 5), ("payment_failed", 5))
_EPOCH = dt.datetime(2025, 1, 1, tzinfo=dt.timezone.utc)

TABLE_ORDER = ("users", "categories", "products", "carts", "cart_items", "orders", "order_items")


@dataclass
class Damage:
    """The rows the legacy data breaks on purpose, by key."""

    orphan_cart_items: list[int] = field(default_factory=list)
    duplicate_cart_lines: list[tuple[int, int]] = field(default_factory=list)  # (cart_id, product_id)
    negative_stock_products: list[int] = field(default_factory=list)
    mistotalled_orders: list[int] = field(default_factory=list)

    def is_empty(self) -> bool:
        return not (
            self.orphan_cart_items
            or self.duplicate_cart_lines
            or self.negative_stock_products
            or self.mistotalled_orders
        )


@dataclass(frozen=True)
class Plan:
    users: int
    categories: int
    products: int
    carts: int
    orders: int

    @classmethod
    def for_rows(cls, rows: int) -> Plan:
        """Table sizes whose total is close to ``rows`` (order and cart lines average ~2.4 and ~2.5 per parent)."""
        rows = max(rows, 100)
        return cls(
            users=max(10, rows * 12 // 100),
            categories=sum(1 + len(children) for children in _DEPARTMENTS.values()),
            products=max(10, rows * 10 // 100),
            carts=max(5, rows * 6 // 100),
            orders=max(5, rows * 17 // 100),
        )


@dataclass
class LoadResult:
    counts: dict[str, int]
    damage: Damage


def generate(
    rows: int = DEFAULT_ROWS, seed: int = DEFAULT_SEED, *, legacy: bool = False
) -> tuple[dict[str, Iterator[Any]], Damage, Plan]:
    """Row chunks per table (lazy, so millions of rows never sit in memory at once) and the damage planted.

    Each stream yields lists of rows, except ``orders_and_items``, which yields ``(table name, rows)`` pairs so
    every order's items follow it."""
    plan = Plan.for_rows(rows)
    damage = Damage()
    streams = {
        "users": _chunks(_users(plan, seed, legacy)),
        "categories": _chunks(_categories()),
        "products": _chunks(_products(plan, seed, legacy, damage)),
        "carts": _chunks(_carts(plan, seed, legacy)),
        "cart_items": _chunks(_cart_items(plan, seed, legacy, damage)),
        "orders_and_items": _orders(plan, seed, legacy, damage),
    }
    return streams, damage, plan


def load(
    engine: Engine,
    rows: int = DEFAULT_ROWS,
    seed: int = DEFAULT_SEED,
    *,
    legacy: bool = False,
    on_progress: Callable[[str, int], None] | None = None,
) -> LoadResult:
    """Insert the sample data in one transaction (all or nothing) with executemany batches."""
    metadata = LegacyBase.metadata if legacy else Base.metadata
    streams, damage, _plan = generate(rows, seed, legacy=legacy)
    counts = dict.fromkeys(TABLE_ORDER, 0)
    with engine.begin() as connection:
        for name in ("users", "categories", "products", "carts", "cart_items"):
            for chunk in streams[name]:
                connection.execute(metadata.tables[name].insert(), chunk)
                counts[name] += len(chunk)
                if on_progress:
                    on_progress(name, len(chunk))
        for name, chunk in streams["orders_and_items"]:
            connection.execute(metadata.tables[name].insert(), chunk)
            counts[name] += len(chunk)
            if on_progress:
                on_progress(name, len(chunk))
        if connection.dialect.name == "postgresql":
            for name in TABLE_ORDER:
                _advance_sequence(connection, metadata.tables[name])
    return LoadResult(counts=counts, damage=damage)


def expected_total(rows: int = DEFAULT_ROWS) -> int:
    """The number of rows ``load`` inserts on average (lines per cart and per order are random), for a progress bar."""
    plan = Plan.for_rows(rows)
    cart_lines = plan.carts * 5 // 2  # 1 to 4 lines per cart
    order_lines = plan.orders * 3  # 1 to 5 lines per order
    return plan.users + plan.categories + plan.products + plan.carts + plan.orders + cart_lines + order_lines


def _advance_sequence(connection, table: Table) -> None:
    # Explicit ids leave PostgreSQL's serial sequences at 1; the next app insert would collide.
    highest = connection.execute(select(func.max(table.c.id))).scalar()
    if highest is not None:
        connection.execute(
            text("SELECT setval(pg_get_serial_sequence(:table, 'id'), :value)"),
            {"table": table.name, "value": highest},
        )


def _chunks(rows: Iterator[dict]) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) >= CHUNK:
            yield chunk
            chunk = []
    if chunk:
        yield chunk


def _rng(seed: int, stream: str) -> random.Random:
    # One generator per table, so changing how one table is generated does not reshuffle the others.
    return random.Random(f"{seed}:{stream}")


def _timestamp(rng: random.Random, legacy: bool, *, after: dt.datetime | None = None) -> dt.datetime:
    start = after or _EPOCH
    moment = start + dt.timedelta(seconds=rng.randrange(0, 365 * 24 * 3600))
    return moment.replace(tzinfo=None) if legacy else moment


def _money(cents: int, legacy: bool) -> Decimal | float:
    amount = Decimal(cents) / 100
    return float(amount) if legacy else amount


@lru_cache(maxsize=8)
def sample_password_hash(seed: int) -> str:
    """The argon2id hash of :data:`SAMPLE_PASSWORD` every sample user of this seed shares (same parameters as the
    API's hasher, so a login verifies it like any other). The salt comes from the seed, so the rows stay
    deterministic."""
    hasher = PasswordHasher()
    salt = blake2b(f"sample-users:{seed}".encode(), digest_size=hasher.salt_len).digest()
    return hash_secret(SAMPLE_PASSWORD.encode(), salt, time_cost=hasher.time_cost, memory_cost=hasher.memory_cost,
                       parallelism=hasher.parallelism, hash_len=hasher.hash_len, type=hasher.type).decode()


def _users(plan: Plan, seed: int, legacy: bool) -> Iterator[dict]:
    rng = _rng(seed, "users")
    password_hash = None if legacy else sample_password_hash(seed)
    for user_id in range(1, plan.users + 1):
        first, last = rng.choice(_FIRST), rng.choice(_LAST)
        row = {
            "id": user_id,
            "email": f"{first}.{last}.{user_id}@example.com".lower(),
            "phone_number": f"+1 555 {user_id:07d}",
            "full_name": f"{first} {last}",
            "created_at": _timestamp(rng, legacy),
        }
        if password_hash is not None:
            row["password_hash"] = password_hash
        yield row


def _categories() -> Iterator[dict]:
    category_id = 0
    for department, children in _DEPARTMENTS.items():
        category_id += 1
        parent_id = category_id
        yield {"id": parent_id, "name": department, "slug": department.lower(), "parent_id": None}
        for child in children:
            category_id += 1
            yield {
                "id": category_id,
                "name": f"{department}: {child}",
                "slug": f"{department}-{child}".lower(),
                "parent_id": parent_id,
            }


def _leaf_categories() -> list[int]:
    leaves, category_id = [], 0
    for children in _DEPARTMENTS.values():
        category_id += 1
        for _child in children:
            category_id += 1
            leaves.append(category_id)
    return leaves


def _product_cents(seed: int, product_id: int) -> int:
    # Prices are needed again when orders are generated; derive them instead of keeping them all in memory.
    return random.Random(f"{seed}:price:{product_id}").randrange(199, 49_999)


def _products(plan: Plan, seed: int, legacy: bool, damage: Damage) -> Iterator[dict]:
    rng = _rng(seed, "products")
    leaves = _leaf_categories()
    negative = {plan.products // 2} if legacy else set()
    damage.negative_stock_products.extend(sorted(negative))
    for product_id in range(1, plan.products + 1):
        name = f"{rng.choice(_ADJECTIVES)} {rng.choice(_NOUNS)} {product_id}"
        row = {
            "id": product_id,
            "sku": f"SKU-{product_id:08d}",
            "name": name,
            "description": f"The {name.lower()}, sample item number {product_id}.",
            "category_id": rng.choice(leaves),
            "price": _money(_product_cents(seed, product_id), legacy),
            "stock": -3 if product_id in negative else rng.choice((0, 2, 5, 12, 40, 75, 150, 300)),
            "created_at": _timestamp(rng, legacy),
        }
        if not legacy:
            row["stock_alert_threshold"] = DEFAULT_ALERT_THRESHOLD
            row["version"] = 1
        yield row


def _carts(plan: Plan, seed: int, legacy: bool) -> Iterator[dict]:
    rng = _rng(seed, "carts")
    owners = sorted(rng.sample(range(1, plan.users + 1), plan.carts))
    for cart_id, user_id in enumerate(owners, start=1):
        yield {"id": cart_id, "user_id": user_id, "created_at": _timestamp(rng, legacy)}


def _cart_items(plan: Plan, seed: int, legacy: bool, damage: Damage) -> Iterator[dict]:
    rng = _rng(seed, "cart_items")
    item_id = 0
    orphan_carts = {1, plan.carts // 2, plan.carts} if legacy else set()
    duplicate_carts = {2, plan.carts // 3} if legacy else set()
    for cart_id in range(1, plan.carts + 1):
        products = rng.sample(range(1, plan.products + 1), rng.randint(1, min(4, plan.products)))
        for product_id in products:
            item_id += 1
            row: dict[str, Any] = {"id": item_id, "cart_id": cart_id, "product_id": product_id,
                                   "quantity": rng.randint(1, 3)}
            added_at = _timestamp(rng, legacy)  # drawn either way, so both schemas get the same lines
            if not legacy:
                row["added_at"] = added_at
            yield row
        if cart_id in duplicate_carts:
            # The same product added twice: a second line instead of a merged quantity.
            item_id += 1
            damage.duplicate_cart_lines.append((cart_id, products[0]))
            yield {"id": item_id, "cart_id": cart_id, "product_id": products[0], "quantity": 1}
        if cart_id in orphan_carts:
            # A product deleted after it was put in a cart; nothing stopped the delete.
            item_id += 1
            damage.orphan_cart_items.append(item_id)
            yield {"id": item_id, "cart_id": cart_id, "product_id": plan.products + 1000 + item_id, "quantity": 1}


def _orders(plan: Plan, seed: int, legacy: bool, damage: Damage) -> Iterator[tuple[str, list[dict]]]:
    rng = _rng(seed, "orders")
    statuses = [status for status, _weight in _STATUSES]
    weights = [weight for _status, weight in _STATUSES]
    mistotalled = {plan.orders // 4} if legacy else set()
    orders: list[dict] = []
    items: list[dict] = []
    item_id = 0
    for order_id in range(1, plan.orders + 1):
        lines = rng.sample(range(1, plan.products + 1), rng.randint(1, min(MAX_LINES, plan.products)))
        total_cents = 0
        for product_id in lines:
            item_id += 1
            quantity = rng.randint(1, 4)
            cents = _product_cents(seed, product_id)
            total_cents += cents * quantity
            price_column = "price" if legacy else "unit_price"
            items.append(
                {
                    "id": item_id,
                    "order_id": order_id,
                    "product_id": product_id,
                    "quantity": quantity,
                    price_column: _money(cents, legacy),
                }
            )
        if order_id in mistotalled:
            # A total computed before a line was edited: the order disagrees with its own items.
            total_cents += 1000
            damage.mistotalled_orders.append(order_id)
        orders.append(
            {
                "id": order_id,
                "user_id": rng.randint(1, plan.users),
                "status": rng.choices(statuses, weights)[0],
                "total_amount": _money(total_cents, legacy),
                "created_at": _timestamp(rng, legacy),
            }
        )
        if len(orders) >= CHUNK:
            yield "orders", orders
            yield "order_items", items
            orders, items = [], []
    if orders:
        yield "orders", orders
        yield "order_items", items
