"""The reference app's product listing: the naive form is flagged with ``Product.category`` and its fix, the
shipped form is clean. Runs the real ``examples/ecommerce`` code on its real schema (the Alembic migrations)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from examples.ecommerce import catalog, sample_data, serialization
from examples.ecommerce.database import create_schema
from examples.ecommerce.models import Category, Product
from integrity_kit.queries import capture
from integrity_kit.queries.flask import init_app

pytestmark = pytest.mark.engines("sqlite", "postgresql")

PAGE = 20


def _line(path: Path, needle: str) -> int:
    return next(i + 1 for i, line in enumerate(path.read_text().splitlines()) if needle in line)


# The lazy load of the naive listing happens where the app's serializer reads the relationship.
SERIALIZER_LINE = f"examples/ecommerce/serialization.py:{_line(Path(serialization.__file__), 'getattr(self, name)')}"


@pytest.fixture
def store(app_engine):
    create_schema(app_engine)
    sample_data.load(app_engine, 400, 3)
    return app_engine


def categories_on_first_page(engine) -> int:
    with Session(engine) as session:
        first_page = select(Product.category_id).order_by(Product.id).limit(PAGE).subquery()
        return session.scalar(select(func.count(func.distinct(first_page.c.category_id))))


def test_naive_listing_is_flagged_with_product_category_and_the_fix(store) -> None:
    with capture(store) as log:
        items = catalog.list_products_n_plus_one(store, limit=PAGE)
    assert len(items) == PAGE
    (finding,) = log.n_plus_one
    assert finding.relationship == "Product.category"
    assert finding.fix == "joinedload(Product.category)"
    assert finding.kind == "lazy"
    assert finding.count == categories_on_first_page(store) >= 2  # identity-map hits for repeated categories
    assert finding.location == SERIALIZER_LINE
    assert finding.sample_sql.lstrip().upper().startswith("SELECT")
    assert "categories" in finding.sample_sql
    assert len(log.statements) == 1 + finding.count
    assert log.duplicates == []


def test_naive_loop_in_application_code_points_at_its_own_line(store) -> None:
    with Session(store) as session, capture(store) as log:
        for product in session.scalars(select(Product).order_by(Product.id).limit(PAGE)):
            _ = product.category.name  # the naive loop
    (finding,) = log.n_plus_one
    assert (finding.relationship, finding.fix) == ("Product.category", "joinedload(Product.category)")
    assert finding.location == f"tests/queries/test_reference_app.py:{_line(Path(__file__), '# the naive loop')}"


def test_shipped_listing_is_clean(store) -> None:
    with capture(store) as log:
        page = catalog.list_products(store, per_page=PAGE)
    assert len(page.items) == PAGE
    assert all(item["category"]["id"] for item in page.items)
    assert log.n_plus_one == [] and log.duplicates == []
    assert len(log.statements) == 2  # the count and the page, categories joined in


def test_shipped_listing_filtered_by_category_slug_is_clean(store) -> None:
    with Session(store) as session:
        slug = session.scalar(select(Category.slug).join(Product).order_by(Product.id).limit(1))
    with capture(store) as log:
        page = catalog.list_products(store, category=slug, per_page=PAGE)
    assert page.total > 0
    assert log.n_plus_one == [] and len(log.statements) == 2


def test_reference_api_listing_reports_two_queries_and_no_n_plus_one(store) -> None:
    from examples.ecommerce.api import create_app

    app = create_app(store)
    init_app(app, store, headers=True)
    response = app.test_client().get(f"/api/products?per_page={PAGE}")
    assert response.status_code == 200
    assert len(response.get_json()["items"]) == PAGE
    assert response.headers["X-Integrity-Kit-Queries"] == "2"
    assert response.headers["X-Integrity-Kit-N-Plus-One"] == "none"
