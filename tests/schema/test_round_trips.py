"""Reflection cost per kind, not per table: PostgreSQL's and MariaDB's catalog queries do not grow with the schema."""

from __future__ import annotations

import pytest
from sqlalchemy import CheckConstraint, Column, ForeignKey, Index, Integer, MetaData, String, Table, create_engine

from tests.schema.conftest import snapshot_counting
from tests.servers import scratch_database


def make_tables(engine, count: int) -> None:
    metadata = MetaData()
    for number in range(count):
        columns = [Column("id", Integer, primary_key=True), Column("code", String(20), unique=True),
                   Column("qty", Integer), CheckConstraint("qty >= 0", name=f"ck_t{number}_qty")]
        if number:
            columns.append(Column("parent_id", Integer, ForeignKey(f"t{number - 1}.id", ondelete="CASCADE")))
        table = Table(f"t{number}", metadata, *columns)
        if number:
            Index(f"ix_t{number}_parent_id", table.c.parent_id)
    metadata.create_all(engine)


@pytest.mark.engines("postgresql", "mariadb")
def test_statement_count_does_not_grow_with_tables(tmp_path, engine_name):
    counts = {}
    for size in (5, 50):
        with scratch_database(engine_name, tmp_path / str(size)) as url:
            engine = create_engine(url)
            try:
                make_tables(engine, size)
                snapshot, statements = snapshot_counting(engine)
                assert len(snapshot.tables) == size
                assert sum(len(table.foreign_keys) for table in snapshot.tables) == size - 1
                assert sum(len(table.check_constraints) for table in snapshot.tables) == size
                counts[size] = len(statements)
            finally:
                engine.dispose()
    assert counts[5] == counts[50]
    # One query per reflection kind and per catalog extra, plus a handful of statements SQLAlchemy issues once
    # per connection (server version, default schema, sql_mode...).
    assert counts[50] <= 20


@pytest.mark.engines("sqlite")
def test_per_table_engines_stay_linear(engine, engine_name):
    # SQLAlchemy has no bulk reflection for SQLite: get_multi_* runs PRAGMAs table by table. They are calls into
    # the library in this process, not network round trips; guard the cost per table so a change that
    # multiplies it is caught.
    make_tables(engine, 5)
    _, five = snapshot_counting(engine)
    make_tables(engine, 25)  # creates t5..t24 next to t0..t4
    _, twenty_five = snapshot_counting(engine)
    per_table = (len(twenty_five) - len(five)) / 20
    assert per_table <= 9
