"""The snapshot only reads, never puts a name into SQL, and reports what it cannot read instead of failing."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import Column, ForeignKey, Index, Integer, MetaData, String, Table, inspect
from sqlalchemy import types as sqltypes

from examples.ecommerce.database import create_schema
from integrity_kit.schema import build_snapshot
from tests.schema.conftest import execute, snapshot_counting

HOSTILE = 'x"; DROP TABLE users; --'
HOSTILE_COLUMN = "y`); DROP TABLE users; --"

# Every statement reflection may send: reads of the catalog, nothing else.
READ_ONLY = re.compile(r"^\s*(SELECT|WITH|SHOW|PRAGMA|DESCRIBE)\b", re.IGNORECASE)


def test_hostile_names_are_reflected_not_executed(engine, engine_name):
    _check_hostile_names(engine)


@pytest.mark.engines("mariadb")
def test_hostile_names_through_show_create_table(engine, engine_name, monkeypatch):
    # MariaDB's second path (SQLAlchemy's SHOW CREATE TABLE parser) doubles backticks in names; fixups undo it.
    monkeypatch.setattr("integrity_kit.schema.reflect._SchemaReader._mariadb_bulk", lambda self: None)
    _check_hostile_names(engine)


def _check_hostile_names(engine) -> None:
    create_schema(engine, legacy=True)
    metadata = MetaData()
    users = Table("users", metadata, Column("id", Integer, primary_key=True))
    hostile = Table(
        HOSTILE,
        metadata,
        Column("id", Integer, primary_key=True),
        Column(HOSTILE_COLUMN, String(20), unique=True),
        Column("user_id", Integer, ForeignKey(users.c.id, name="fk_hostile_user")),
    )
    Index("ix_hostile_user", hostile.c.user_id)
    hostile.create(engine)

    snapshot, statements = snapshot_counting(engine)

    assert snapshot.not_analysed == ()
    table = snapshot.table(HOSTILE)
    assert table.column_names == ("id", HOSTILE_COLUMN, "user_id")
    assert [unique.columns for unique in table.unique_constraints] == [(HOSTILE_COLUMN,)]
    assert [(fk.columns, fk.referred_table) for fk in table.foreign_keys] == [(("user_id",), "users")]
    assert [index.columns for index in table.indexes if not index.unique] == [("user_id",)]
    assert inspect(engine).has_table("users")
    not_reads = [statement for statement in statements if not READ_ONLY.match(statement)]
    assert not_reads == []


def test_snapshot_reads_inside_a_read_only_transaction(engine, engine_name):
    create_schema(engine, legacy=True)
    with engine.connect() as connection:
        if engine_name == "postgresql":
            connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        elif engine_name == "mariadb":
            connection.exec_driver_sql("START TRANSACTION READ ONLY")
        else:
            connection.exec_driver_sql("PRAGMA query_only = ON")
        snapshot = build_snapshot(connection)
        assert len(snapshot.tables) == 7
        connection.rollback()


def test_unknown_type_on_sqlite_is_reported(engine, engine_name):
    if engine_name != "sqlite":
        return
    execute(engine, "CREATE TABLE odd (id INTEGER PRIMARY KEY, anything)")
    snapshot = build_snapshot(engine)
    column = snapshot.table("odd").column("anything")
    assert isinstance(column.type, sqltypes.NullType)
    assert [entry.object for entry in snapshot.not_analysed] == ["odd.anything"]
