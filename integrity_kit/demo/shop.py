"""What the demo needs from the shop it tells its story about, and where it finds the reference app's.

The toolkit never imports the reference app at module level (it depends on the toolkit, not the reverse): the demo
loads it by import path, the way ``integrity-kit race`` loads its default workload.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

from sqlalchemy import Engine

from integrity_kit.importing import load_object

DEFAULT_SHOP = "examples.ecommerce.demo_shop:shop"


@dataclass(frozen=True)
class Planted:
    """One kind of damage the build put in on purpose: the audit must name each of ``keys`` in ``table``."""

    label: str
    table: str
    keys: list[Any]


@dataclass(frozen=True)
class Built:
    counts: dict[str, int]
    planted: list[Planted]


class DemoShop(Protocol):
    def make_engine(self, url: str) -> Engine: ...

    def existing_tables(self, engine: Engine) -> list[str]: ...

    def drop(self, engine: Engine) -> None: ...

    def expected_rows(self, rows: int) -> int: ...

    def build_legacy(self, engine: Engine, rows: int, on_progress: Callable[[str, int], None]) -> Built: ...

    def list_products(self, engine: Engine, *, limit: int, eager: bool) -> list[dict[str, Any]]:
        """The product page; ``eager=False`` the way a first project writes it (an N+1), ``True`` fixed."""
        ...


def load_shop(spec: str = DEFAULT_SHOP) -> DemoShop:
    return load_object(spec, "the demo's shop", DEFAULT_SHOP)
