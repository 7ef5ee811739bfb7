"""The reference app as ``integrity-kit demo`` sees it: build the legacy shop, say what damage went in, and serve
its product page both ways."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Engine

from examples.ecommerce import database, legacy, sample_data
from integrity_kit.demo.shop import Built, Planted


class ReferenceShop:
    def make_engine(self, url: str) -> Engine:
        return database.make_engine(url)

    def existing_tables(self, engine: Engine) -> list[str]:
        return database.existing_tables(engine)

    def drop(self, engine: Engine) -> None:
        database.drop_schema(engine)

    def expected_rows(self, rows: int) -> int:
        return sample_data.expected_total(rows)

    def build_legacy(self, engine: Engine, rows: int, on_progress: Callable[[str, int], None]) -> Built:
        database.create_schema(engine, legacy=True)
        loaded = sample_data.load(engine, rows, legacy=True, on_progress=on_progress)
        damage = loaded.damage
        return Built(dict(loaded.counts), [
            Planted("orphan cart items", "cart_items", list(damage.orphan_cart_items)),
            Planted("duplicate cart lines", "cart_items", list(damage.duplicate_cart_lines)),
            Planted("products with negative stock", "products", list(damage.negative_stock_products)),
            Planted("orders whose total disagrees with their items", "orders", list(damage.mistotalled_orders)),
        ])

    def list_products(self, engine: Engine, *, limit: int, eager: bool) -> list[dict[str, Any]]:
        return legacy.list_products(engine, limit=limit, eager=eager)


shop = ReferenceShop()
