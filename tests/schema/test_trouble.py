"""Trouble with one object is reported in ``not_analysed``; it neither stops the snapshot nor vanishes."""

from __future__ import annotations

import pytest
from sqlalchemy import exc
from sqlalchemy.engine import Inspector

from examples.ecommerce.database import create_schema
from integrity_kit.errors import IntegrityKitError
from integrity_kit.schema import build_snapshot
from tests.schema.conftest import execute


@pytest.mark.engines("sqlite")
def test_sqlite_expression_index_is_reported(engine, engine_name):
    execute(
        engine,
        "CREATE TABLE people (id INTEGER PRIMARY KEY, email TEXT NOT NULL)",
        "CREATE UNIQUE INDEX ix_people_email_lower ON people (lower(email))",
        "CREATE INDEX ix_people_email ON people (email) WHERE email <> ''",
    )
    snapshot = build_snapshot(engine)
    people = snapshot.table("people")
    # SQLAlchemy cannot reflect SQLite expression indexes; the snapshot says so instead of pretending.
    assert [(entry.object, "expression index" in entry.reason) for entry in snapshot.not_analysed] == [
        ("index ix_people_email_lower", True)
    ]
    (partial,) = people.indexes
    assert partial.name == "ix_people_email" and partial.predicate == "email <> ''"


@pytest.mark.engines("sqlite", "mariadb")
def test_one_table_that_cannot_be_read_is_reported(engine, engine_name, monkeypatch):
    create_schema(engine, legacy=True)
    single = Inspector.get_foreign_keys

    def broken_bulk(self, *args, **kwargs):
        raise RuntimeError("bulk read failed")

    def broken_for_orders(self, table_name, *args, **kwargs):
        if table_name == "order_items":
            raise RuntimeError("cannot parse this table")
        return single(self, table_name, *args, **kwargs)

    if engine_name == "mariadb":
        # Reach SQLAlchemy's per-table reflection, the path taken when information_schema cannot be read.
        monkeypatch.setattr("integrity_kit.schema.reflect.read_mariadb", _information_schema_denied)
    monkeypatch.setattr(Inspector, "get_multi_foreign_keys", broken_bulk)
    monkeypatch.setattr(Inspector, "get_foreign_keys", broken_for_orders)
    snapshot = build_snapshot(engine)
    assert len(snapshot.tables) == 7
    assert [fk.referred_table for fk in snapshot.table("cart_items").foreign_keys] == ["carts"]
    assert snapshot.table("order_items").foreign_keys == ()
    assert [(entry.object, entry.reason) for entry in snapshot.not_analysed] == [
        ("order_items", "foreign keys cannot be reflected: cannot parse this table")
    ]


def _information_schema_denied(*args, **kwargs):
    raise exc.OperationalError("SELECT ... FROM information_schema.COLUMNS", {}, Exception("access denied"))


@pytest.mark.engines("postgresql")
def test_failed_bulk_read_on_postgresql_is_one_clear_error(engine, engine_name, monkeypatch):
    create_schema(engine, legacy=True)

    def broken_bulk(self, *args, **kwargs):
        raise RuntimeError("catalog query failed\nwith detail")

    monkeypatch.setattr(Inspector, "get_multi_foreign_keys", broken_bulk)
    with pytest.raises(IntegrityKitError, match=r"^reflecting foreign keys in schema 'public' failed: catalog query "
                                                r"failed$"):
        build_snapshot(engine)
