"""A 400-table schema shaped like a real application's: connected components of the sizes real schemas have (one
large core, a few mid-sized modules, many small ones), most references declared and some only named
(``<table>_id`` without a constraint, which the audit infers), and a few isolated tables.

Deterministic: the same seed always gives the same schema, so a browser test can name a table and know its
neighbours.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field

from sqlalchemy.engine import Engine

from tests.db import execute

# Component sizes: 375 tables in 22 components, then 25 tables that refer to nothing and nothing refers to.
SIZES = (90, 60, 45, 34, 26, 20, 16, 13, 11, 9, 8, 7, 6, 5, 5, 4, 4, 3, 3, 2, 2, 2)
ISOLATED = 25
MODULES = ("core", "billing", "crm", "stock", "hr", "cms", "ship", "audit", "forum", "geo", "media", "ads", "tax",
           "sso", "wiki", "poll", "chat", "faq", "tag", "job", "mail", "blog")
NOUNS = ("account", "customer", "order", "order_line", "invoice", "payment", "product", "category", "supplier",
         "warehouse", "shipment", "address", "contact", "employee", "department", "project", "task", "comment",
         "attachment", "price", "discount", "coupon", "review", "session", "event", "message", "thread", "post",
         "page", "asset", "region", "country", "currency", "rate", "ledger", "entry", "batch", "setting", "role",
         "permission", "grant", "note", "schedule", "slot", "ticket", "vendor", "contract", "term", "plan", "quota")


@dataclass
class Schema:
    """What the generator made: every table's name, and each reference as (child, parent, declared)."""

    tables: list[str] = field(default_factory=list)
    references: list[tuple[str, str, bool]] = field(default_factory=list)
    components: list[list[str]] = field(default_factory=list)

    def neighbours(self, table: str) -> set[str]:
        return ({child for child, parent, _d in self.references if parent == table}
                | {parent for child, parent, _d in self.references if child == table})


def build(engine: Engine, seed: int = 400) -> Schema:
    """Create the 400 tables on ``engine`` (an empty database) and say what was created."""
    rng = random.Random(seed)
    schema = Schema()
    statements: list[str] = []
    for module, size in zip(MODULES, SIZES, strict=True):
        names = [f"{module}_{noun}" for noun in rng.sample(NOUNS, min(size, len(NOUNS)))]
        names += [f"{module}_{noun}_{index}" for index, noun in enumerate(rng.choices(NOUNS, k=size - len(names)))]
        schema.components.append(names)
        for index, name in enumerate(names):
            # Each table refers to one or two earlier ones, the first few (the module's hubs) most often.
            parents: list[str] = []
            if index:
                count = 1 if index < 3 or rng.random() < 0.6 else 2
                for _ in range(count):
                    parent = names[min(int(rng.paretovariate(1.2)) - 1, index - 1)] if rng.random() < 0.6 \
                        else names[rng.randrange(index)]
                    if parent not in parents:
                        parents.append(parent)
            columns = ["id INTEGER PRIMARY KEY", "name VARCHAR(80) NOT NULL", "created_at TIMESTAMP"]
            columns += [f"{extra} VARCHAR(40)" for extra in rng.sample(("code", "label", "state", "kind", "remark",
                                                                          "source", "owner"), rng.randrange(0, 5))]
            for parent in parents:
                declared = rng.random() < 0.7
                columns.append(f"{parent}_id INTEGER" + (f" REFERENCES {parent} (id)" if declared else ""))
                schema.references.append((name, parent, declared))
            statements.append(f"CREATE TABLE {name} ({', '.join(columns)})")
            schema.tables.append(name)
    for index in range(ISOLATED):
        name = f"legacy_import_{index:02d}"
        statements.append(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, payload TEXT, loaded_at TIMESTAMP)")
        schema.tables.append(name)
        schema.components.append([name])
    execute(engine, *statements)
    return schema
