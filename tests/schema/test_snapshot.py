"""The Snapshot's data classes: immutable, slotted, and the lookups the rules use."""

from __future__ import annotations

import dataclasses

import pytest
from sqlalchemy import Integer

from integrity_kit.schema import Column, ForeignKey, Index, PrimaryKey, Snapshot, Table, UniqueConstraint


def _column(name: str) -> Column:
    return Column(name=name, type=Integer(), type_sql="INTEGER", nullable=False)


@pytest.fixture
def snapshot() -> Snapshot:
    users = Table("users", columns=(_column("id"),), primary_key=PrimaryKey(("id",)))
    lines = Table(
        "lines",
        columns=(_column("id"), _column("order_id"), _column("product_id"), _column("user_id")),
        primary_key=PrimaryKey(("id",)),
        foreign_keys=(
            ForeignKey(("user_id",), None, "users", ("id",), name="fk_user"),
            ForeignKey(("order_id",), "sales", "orders", ("id",), name="fk_order"),
        ),
        unique_constraints=(UniqueConstraint(("product_id", "order_id")),),
        indexes=(
            Index("ix_user_partial", ("user_id",), predicate="user_id IS NOT NULL"),
            Index("ix_user_created", ("user_id", "id")),
            Index("ix_lower", (None,), expressions=("lower(x)",)),
        ),
    )
    orders = Table("orders", schema="sales", columns=(_column("id"),), primary_key=PrimaryKey(("id",)))
    return Snapshot(dialect="postgresql", tables=(users, lines, orders), default_schema="public",
                    schemas=(None, "sales"))


def test_everything_is_frozen_and_slotted(snapshot):
    table = snapshot.table("users")
    for obj, field in ((snapshot, "dialect"), (table, "name"), (table.columns[0], "nullable"),
                       (table.primary_key, "columns")):
        assert not hasattr(obj, "__dict__")
        with pytest.raises(dataclasses.FrozenInstanceError):
            setattr(obj, field, "changed")
    with pytest.raises(TypeError):
        table._columns_by_name["new"] = _column("new")  # read-only mapping


def test_table_lookup_by_schema(snapshot):
    assert snapshot.table("users") is snapshot.table("users", schema="public")
    assert snapshot.table("orders", schema="sales").qualified_name == "sales.orders"
    assert not snapshot.has_table("orders")
    with pytest.raises(KeyError):
        snapshot.table("nope")


def test_columns_and_foreign_key_lookups(snapshot):
    lines = snapshot.table("lines")
    assert lines.column("order_id").name == "order_id"
    assert lines.has_column("user_id") and not lines.has_column("missing")
    assert lines.column_names == ("id", "order_id", "product_id", "user_id")
    users = snapshot.table("users")
    assert [(table.name, fk.name) for table, fk in snapshot.foreign_keys_to(users)] == [("lines", "fk_user")]
    orders = snapshot.table("orders", schema="sales")
    assert [fk.name for _, fk in snapshot.foreign_keys_to(orders)] == ["fk_order"]
    assert snapshot.referred_table(lines.foreign_keys[1]) is orders
    assert lines.foreign_keys[1].referred == "sales.orders"


def test_covering_uses_leading_columns_in_any_order(snapshot):
    lines = snapshot.table("lines")
    assert [key.name for key in lines.covering(["user_id"])] == ["ix_user_partial", "ix_user_created"]
    assert [type(key).__name__ for key in lines.covering(["order_id", "product_id"])] == ["UniqueConstraint"]
    # product_id leads the unique constraint, order_id does not lead anything.
    assert lines.covering(["order_id"]) == ()
    assert [key.columns for key in lines.covering(["product_id"])] == [("product_id", "order_id")]
    assert lines.covering(["id"]) == (lines.primary_key,)
    assert [index.name for index in lines.indexes_leading_with(["user_id", "id"])] == ["ix_user_created"]
    assert lines.covering([]) == ()
    (expression,) = [index for index in lines.indexes if index.has_expressions]
    assert expression.columns == (None,) and not expression.is_partial
