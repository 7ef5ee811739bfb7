"""Reading and restocking the catalog: a paginated listing without N+1, stock levels, bulk stock updates."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, case, func, select, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session, joinedload

from examples.ecommerce import validation
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Category, Product
from examples.ecommerce.strategies import rowcount

MAX_PER_PAGE = 100


@dataclass(frozen=True)
class Page:
    items: list[dict[str, Any]]
    total: int
    page: int
    per_page: int

    def to_dict(self) -> dict[str, Any]:
        pages = (self.total + self.per_page - 1) // self.per_page
        return {"items": self.items, "page": self.page, "per_page": self.per_page, "total": self.total,
                "pages": pages}


def _product_dict(product: Product) -> dict[str, Any]:
    data = product.to_dict(include=("category",), exclude=("version", "created_at"))
    data["available"] = product.available
    return data


def list_products(engine: Engine, *, category: str | int | None = None, min_price: Any = None,
                  max_price: Any = None, page: Any = 1, per_page: Any = 20) -> Page:
    """Products filtered by category (id or slug) and price range, one page at a time, in two queries.

    ``joinedload(Product.category)`` fetches each product's category in the same SELECT: without it, reading
    ``product.category`` for a page of 20 issues 20 more queries (see :func:`list_products_n_plus_one`).
    """
    page = validation.whole_number("page", page, minimum=1, maximum=1_000_000)
    per_page = validation.whole_number("per_page", per_page, minimum=1, maximum=MAX_PER_PAGE)
    filters = []
    if category is not None:
        if isinstance(category, int) or (isinstance(category, str) and category.isdigit()):
            filters.append(Product.category_id == int(category))
        else:
            filters.append(Product.category.has(Category.slug == category))
    if min_price is not None:
        filters.append(Product.price >= validation.money("min_price", min_price))
    if max_price is not None:
        filters.append(Product.price <= validation.money("max_price", max_price))
    with Session(engine) as session:
        total = session.scalar(select(func.count()).select_from(Product).where(*filters)) or 0
        products = session.scalars(
            select(Product).where(*filters).options(joinedload(Product.category))
            .order_by(Product.id).limit(per_page).offset((page - 1) * per_page)
        ).all()
        return Page([_product_dict(product) for product in products], total, page, per_page)


def list_products_n_plus_one(engine: Engine, *, limit: int = 20) -> list[dict[str, Any]]:
    """The same listing written the naive way: one query for the products, then one per product for its category.

    Kept on purpose for the N+1 lessons and the query-capture tests; use :func:`list_products`.
    """
    with Session(engine) as session:
        products = session.scalars(select(Product).order_by(Product.id).limit(limit)).all()
        return [_product_dict(product) for product in products]  # each .category is a lazy load


def stock_levels(engine: Engine, product_ids: Sequence[int]) -> list[dict[str, int]]:
    if not product_ids:
        return []
    with Session(engine) as session:
        rows = session.execute(
            select(Product.id, Product.stock, Product.reserved).where(Product.id.in_(product_ids)).order_by(Product.id)
        ).all()
    return [{"product_id": pid, "stock": stock, "reserved": reserved, "available": stock - reserved}
            for pid, stock, reserved in rows]


def stock_level(engine: Engine, product_id: Any) -> dict[str, int]:
    product_id = validation.whole_number("product_id", product_id, minimum=1, maximum=2**31 - 1)
    levels = stock_levels(engine, [product_id])
    if not levels:
        raise DomainError("NOT_FOUND", f"product {product_id} does not exist", {"product_id": product_id})
    return levels[0]


def bulk_update_stock(engine: Engine, new_stock: Mapping[int, Any]) -> int:
    """Set many products' stock in ONE ``UPDATE ... SET stock = CASE id WHEN ... END WHERE id IN (...)``.

    One statement is one round trip and atomic: either every product gets its new level or none does (a level
    below what is reserved trips the ``reserved <= stock`` CHECK and the whole update is refused).
    """
    levels = {validation.whole_number("product_id", pid, minimum=1, maximum=2**31 - 1):
              validation.whole_number("stock", value, minimum=0, maximum=validation.MAX_STOCK)
              for pid, value in new_stock.items()}
    if not levels:
        return 0
    with Session(engine) as session:
        try:
            updated = rowcount(session.execute(
                update(Product).where(Product.id.in_(levels))
                .values(stock=case(levels, value=Product.id), version=Product.version + 1)
                .execution_options(synchronize_session=False)
            ))
            session.commit()
        except DBAPIError as error:  # MariaDB reports CHECK failures as OperationalError, not IntegrityError
            session.rollback()
            if violation(error) is None:
                raise
            raise DomainError("CONFLICT", "a new stock level is below the units already reserved",
                              {"products": sorted(levels)}) from None
    return updated
