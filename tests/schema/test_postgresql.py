"""What only PostgreSQL has: NOT VALID constraints, invalid and partial indexes, partitions, schemas, extensions."""

from __future__ import annotations

import pytest
from sqlalchemy import exc
from sqlalchemy import types as sqltypes

from integrity_kit.errors import IntegrityKitError
from integrity_kit.schema import build_snapshot
from tests.schema.conftest import execute

pytestmark = pytest.mark.engines("postgresql")


@pytest.fixture
def catalog(engine, engine_name):
    execute(
        engine,
        "CREATE TABLE parent (id integer PRIMARY KEY)",
        "INSERT INTO parent SELECT generate_series(1, 100)",
        "CREATE TABLE child (id integer PRIMARY KEY, parent_id integer, code text)",
        "INSERT INTO child VALUES (1, 1, 'a'), (2, 999, 'a')",
        # Rows that break both constraints are already there: NOT VALID is how they get added anyway.
        "ALTER TABLE child ADD CONSTRAINT child_parent_fk FOREIGN KEY (parent_id) REFERENCES parent (id) "
        "ON DELETE CASCADE NOT VALID",
        "ALTER TABLE child ADD CONSTRAINT child_code_long CHECK (length(code) > 3) NOT VALID",
        "CREATE INDEX child_parent_live ON child (parent_id) WHERE parent_id IS NOT NULL",
        "CREATE INDEX child_code_lower ON child (lower(code)) INCLUDE (parent_id)",
        "CREATE TABLE measurements (id integer, taken date NOT NULL, value numeric) PARTITION BY RANGE (taken)",
        "CREATE TABLE measurements_2025 PARTITION OF measurements FOR VALUES FROM ('2025-01-01') TO ('2026-01-01')",
        "CREATE TABLE measurements_2026 PARTITION OF measurements FOR VALUES FROM ('2026-01-01') TO ('2027-01-01')",
        "CREATE INDEX measurements_taken ON measurements (taken)",
        "INSERT INTO measurements SELECT g, DATE '2025-06-01' + g, g FROM generate_series(1, 300) g",
        # The pre-PostgreSQL-10 way: children that INHERITS the parent and only add a CHECK. A child that adds
        # columns of its own is a table in its own right.
        "CREATE TABLE events (id integer PRIMARY KEY, at date NOT NULL, parent_id integer REFERENCES parent (id))",
        "CREATE TABLE events_2025 (CHECK (at >= DATE '2025-01-01' AND at < DATE '2026-01-01')) INHERITS (events)",
        "CREATE TABLE events_2026 (CHECK (at >= DATE '2026-01-01' AND at < DATE '2027-01-01')) INHERITS (events)",
        "INSERT INTO events_2025 VALUES (1, '2025-02-01', 1), (2, '2025-03-01', 2)",
        "INSERT INTO events_2026 VALUES (3, '2026-02-01', 1)",
        "CREATE TABLE special_events (note text) INHERITS (events)",
        "CREATE TABLE owned_by_extension (id integer)",
        "ALTER EXTENSION plpgsql ADD TABLE owned_by_extension",
        "CREATE TABLE places (id integer PRIMARY KEY, location point)",
        "CREATE SCHEMA other",
        "CREATE TABLE other.things (id integer PRIMARY KEY, parent_id integer REFERENCES public.parent (id))",
        "ANALYZE",
    )
    # A unique index built CONCURRENTLY over duplicate data fails and leaves an INVALID index behind.
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection, pytest.raises(exc.IntegrityError):
        connection.exec_driver_sql("CREATE UNIQUE INDEX CONCURRENTLY child_code_unique ON child (code)")
    return engine


def test_not_valid_constraints_and_index_details(catalog):
    snapshot = build_snapshot(catalog)
    child = snapshot.table("child")
    (fk,) = child.foreign_keys
    assert (fk.name, fk.columns, fk.referred_table, fk.on_delete) == ("child_parent_fk", ("parent_id",), "parent",
                                                                      "CASCADE")
    assert fk.validated is False and fk.enforced is True
    (check,) = child.check_constraints
    assert check.name == "child_code_long" and check.validated is False

    indexes = {index.name: index for index in child.indexes}
    assert indexes["child_code_unique"].valid is False
    assert indexes["child_code_unique"].unique
    assert indexes["child_parent_live"].valid
    assert indexes["child_parent_live"].predicate == "(parent_id IS NOT NULL)"
    assert indexes["child_parent_live"].is_partial
    assert indexes["child_parent_live"].method == "btree"
    lowered = indexes["child_code_lower"]
    assert lowered.columns == (None,) and lowered.expressions == ("lower(code)",)
    assert lowered.include == ("parent_id",)
    assert not lowered.is_partial and lowered.has_expressions
    # The partial index on the FK column covers it; whether that counts is the rule's call.
    assert [key.name for key in child.covering(["parent_id"])] == ["child_parent_live"]

    assert snapshot.table("parent").row_estimate == 100
    assert snapshot.table("parent").primary_key.columns == ("id",)
    assert snapshot.server_version.startswith(str(catalog.dialect.server_version_info[0]))


def test_partitions_are_reported_under_their_parent(catalog):
    snapshot = build_snapshot(catalog)
    names = {table.name for table in snapshot.tables}
    assert names == {"parent", "child", "measurements", "places", "events", "special_events"}
    measurements = snapshot.table("measurements")
    assert measurements.partitioned
    assert measurements.partitions == ("measurements_2025", "measurements_2026")
    assert measurements.row_estimate == 300
    events = snapshot.table("events")
    assert events.partitioned and events.partitions == ("events_2025", "events_2026")
    assert events.row_estimate == 3
    assert not snapshot.table("special_events").partitioned
    assert snapshot.table("special_events").column_names == ("id", "at", "parent_id", "note")
    # Before the parent itself is analysed, its estimate is the sum of its partitions'.
    with catalog.begin() as connection:
        connection.exec_driver_sql("UPDATE pg_class SET reltuples = -1 WHERE relname = 'measurements'")
    assert build_snapshot(catalog).table("measurements").row_estimate == 300
    assert [index.name for index in measurements.indexes] == ["measurements_taken"]


def test_extension_owned_tables_are_skipped(catalog):
    snapshot = build_snapshot(catalog)
    assert not snapshot.has_table("owned_by_extension")
    assert "owned_by_extension" not in {entry.object for entry in snapshot.not_analysed}


def test_unknown_type_is_kept_and_reported(catalog):
    snapshot = build_snapshot(catalog)
    location = snapshot.table("places").column("location")
    assert isinstance(location.type, sqltypes.NullType)
    assert location.type_sql == "point"
    (entry,) = snapshot.not_analysed
    assert entry.object == "places.location"
    assert "'point'" in entry.reason


def test_second_schema(catalog):
    snapshot = build_snapshot(catalog, schemas=["public", "other"])
    assert snapshot.default_schema == "public"
    assert snapshot.schemas == (None, "other")
    things = snapshot.table("things", schema="other")
    assert things.qualified_name == "other.things"
    (fk,) = things.foreign_keys
    assert (fk.referred_schema, fk.referred_table) == (None, "parent")
    parent = snapshot.table("parent", schema="public")
    assert {(table.qualified_name, fk.columns) for table, fk in snapshot.foreign_keys_to(parent)} == {
        ("child", ("parent_id",)),
        ("events", ("parent_id",)),
        ("other.things", ("parent_id",)),
    }
    assert snapshot.referred_table(fk) is parent

    only_other = build_snapshot(catalog, schemas=["other"])
    assert [table.qualified_name for table in only_other.tables] == ["other.things"]
    assert only_other.referred_table(only_other.tables[0].foreign_keys[0]) is None


def test_unknown_schema_is_one_clear_error(catalog):
    with pytest.raises(IntegrityKitError, match="no schema named 'missing'"):
        build_snapshot(catalog, schemas=["missing"])
