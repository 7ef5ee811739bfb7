"""redundant-index: an index is covered only by one that serves every lookup it serves. One test per dimension
(collation, operator class, expression, predicate, method, INCLUDE, uniqueness, prefix length) on each engine where
the dimension exists; where a drop would have hurt, the query plan with only the other index shows it."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine

from integrity_kit.audit import audit
from integrity_kit.schema import build_snapshot
from tests.db import execute

NAMES = ("CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100), nick VARCHAR(100), age INTEGER, "
         "active BOOLEAN)")


def redundant(engine: Engine) -> set[tuple[str, str]]:
    """(index, covering index) for every redundant-index finding."""
    report = audit(engine, select=["redundant-index"])
    assert report.not_analysed == []
    return {(f.evidence["index"], f.evidence["covered_by"]) for f in report.findings}


def plan(engine: Engine, query: str) -> str:
    """PostgreSQL's plan for ``query`` with sequential scans made as unattractive as they can be: a Seq Scan in it
    means no index can serve the query at all."""
    with engine.begin() as connection:
        connection.exec_driver_sql("SET LOCAL enable_seqscan = off")
        rows = connection.exec_driver_sql(f"EXPLAIN (COSTS OFF) {query}").scalars().all()
    return "\n".join(rows)


def sqlite_plan(engine: Engine, query: str) -> str:
    with engine.connect() as connection:
        return "\n".join(str(row[-1]) for row in connection.exec_driver_sql(f"EXPLAIN QUERY PLAN {query}"))


def fill(engine: Engine, rows: int = 2000) -> None:
    execute(engine, *(f"INSERT INTO people VALUES ({i}, 'n{i}', 'k{i}', {i % 90}, {'TRUE' if i % 2 else 'FALSE'})"
                      for i in range(1, rows + 1)))


# Collation ---------------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql")
def test_collation_postgresql(engine) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_name ON people (name)",
            'CREATE INDEX ix_name_c ON people (name COLLATE "C", age)')
    fill(engine)
    execute(engine, "ANALYZE people")
    snapshot = build_snapshot(engine)
    collated = next(i for i in snapshot.table("people").indexes if i.name == "ix_name_c")
    assert collated.collations[0] == "C"
    assert redundant(engine) == set()
    # Were ix_name dropped as covered by ix_name_c, `WHERE name = ?` would read the whole table:
    execute(engine, "DROP INDEX ix_name")
    shown = plan(engine, "SELECT * FROM people WHERE name = 'n5'")
    print(shown)
    assert shown.startswith("Seq Scan on people") and "ix_name_c" not in shown
    assert "Index Scan using ix_name_c" in plan(engine, "SELECT * FROM people WHERE name COLLATE \"C\" = 'n5'")
    # The same collation twice is a true duplicate.
    execute(engine, 'CREATE INDEX ix_name_c_only ON people (name COLLATE "C")')
    assert redundant(engine) == {("ix_name_c_only", "ix_name_c")}


@pytest.mark.engines("sqlite")
def test_collation_sqlite(engine) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_name ON people (name)",
            "CREATE INDEX ix_name_nocase ON people (name COLLATE NOCASE, age)")
    fill(engine, 50)
    snapshot = build_snapshot(engine)
    assert next(i for i in snapshot.table("people").indexes if i.name == "ix_name_nocase").collations == \
        ("NOCASE", None)
    assert redundant(engine) == set()
    execute(engine, "DROP INDEX ix_name")
    shown = sqlite_plan(engine, "SELECT * FROM people WHERE name = 'n5'")
    print(shown)
    assert shown.startswith("SCAN") and "ix_name_nocase" not in shown
    execute(engine, "CREATE INDEX ix_name_nocase_only ON people (name COLLATE NOCASE)")
    assert redundant(engine) == {("ix_name_nocase_only", "ix_name_nocase")}


# Operator class ----------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql")
def test_operator_class_postgresql(engine) -> None:
    execute(engine, NAMES, "ALTER TABLE people ADD COLUMN doc JSONB",
            "CREATE INDEX ix_name ON people (name)",
            "CREATE INDEX ix_name_pattern ON people (name varchar_pattern_ops, age)",
            "CREATE INDEX ix_nick_pattern ON people (nick text_pattern_ops)",
            "CREATE INDEX ix_nick ON people (nick, age)",
            "CREATE INDEX ix_doc ON people USING gin (doc)",
            "CREATE INDEX ix_doc_path ON people USING gin (doc jsonb_path_ops)")
    fill(engine)
    execute(engine, "UPDATE people SET doc = jsonb_build_object('a', id)", "ANALYZE people")
    assert redundant(engine) == set()
    execute(engine, "DROP INDEX ix_name", "DROP INDEX ix_doc")
    # Without them: ordering by name needs a sort (the pattern index does not hold the order), and a key-exists
    # test cannot use the jsonb_path_ops index at all.
    ordered = plan(engine, "SELECT name FROM people ORDER BY name LIMIT 5")
    exists = plan(engine, "SELECT * FROM people WHERE doc ? 'a'")
    print(ordered, exists, sep="\n")
    assert "Sort" in ordered
    assert exists.startswith("Seq Scan on people")
    execute(engine, "CREATE INDEX ix_nick_pattern_again ON people (nick text_pattern_ops, id)")
    assert redundant(engine) == {("ix_nick_pattern", "ix_nick_pattern_again")}


# Expression --------------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql")
def test_expression_postgresql(engine) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_name ON people (name)",
            "CREATE INDEX ix_lower_name ON people (lower(name), age)")
    fill(engine)
    assert redundant(engine) == set()
    execute(engine, "ANALYZE people", "DROP INDEX ix_name")
    shown = plan(engine, "SELECT * FROM people WHERE name = 'n5'")
    print(shown)
    assert shown.startswith("Seq Scan on people")
    # The same expression leading a wider index is covered by it.
    execute(engine, "CREATE INDEX ix_lower_name_only ON people (lower(name))")
    assert redundant(engine) == {("ix_lower_name_only", "ix_lower_name")}


@pytest.mark.engines("sqlite")
def test_expression_sqlite_is_not_analysed_rather_than_guessed(engine) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_name ON people (name)",
            "CREATE INDEX ix_lower_name ON people (lower(name), age)")
    report = audit(engine, select=["redundant-index"])
    assert report.findings == []
    assert [item.object for item in report.not_analysed] == ["index ix_lower_name"]


# Predicate ---------------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql", "sqlite")
def test_predicate(engine, engine_name: str) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_age_active ON people (age) WHERE active",
            "CREATE INDEX ix_age_name ON people (age, name)",
            "CREATE INDEX ix_name_active ON people (name, age) WHERE active",
            "CREATE INDEX ix_name ON people (name)")
    # Neither way: the partial one is smaller for its queries, the full one serves rows the partial one lacks.
    assert redundant(engine) == set()
    execute(engine, "CREATE INDEX ix_age_active_too ON people (age, id) WHERE active")
    assert redundant(engine) == {("ix_age_active", "ix_age_active_too")}
    if engine_name == "postgresql":
        fill(engine)
        execute(engine, "ANALYZE people", "DROP INDEX ix_age_name", "DROP INDEX ix_age_active_too")
        # Were the full index dropped as covered by the partial one, rows outside its predicate lose the index.
        shown = plan(engine, "SELECT * FROM people WHERE age = 5")
        print(shown)
        assert "ix_age_active" not in shown


# Method ------------------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql")
def test_method_postgresql(engine) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_age_hash ON people USING hash (age)",
            "CREATE INDEX ix_age_brin ON people USING brin (age)",
            "CREATE INDEX ix_age_name ON people (age, name)",
            "CREATE INDEX ix_age ON people (age)")
    found = redundant(engine)
    assert found == {("ix_age", "ix_age_name")}  # btree beside btree only
    execute(engine, "CREATE INDEX ix_age_hash_again ON people USING hash (age)")
    assert ("ix_age_hash_again", "ix_age_hash") in redundant(engine)


@pytest.mark.engines("mariadb")
def test_method_mariadb(engine) -> None:
    execute(engine, "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100), bio TEXT, age INTEGER) "
                    "ENGINE=InnoDB",
            "CREATE FULLTEXT INDEX ft_name ON people (name)", "CREATE INDEX ix_name_age ON people (name, age)",
            "CREATE FULLTEXT INDEX ft_bio ON people (bio)", "CREATE INDEX ix_bio ON people (bio(20))")
    assert redundant(engine) == set()
    execute(engine, "CREATE INDEX ix_name ON people (name)")
    assert redundant(engine) == {("ix_name", "ix_name_age")}


# Prefix length (MySQL/MariaDB) -------------------------------------------------------------------------------


@pytest.mark.engines("mariadb")
def test_prefix_length_mariadb(engine) -> None:
    execute(engine, "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(100), age INTEGER) ENGINE=InnoDB",
            "CREATE INDEX ix_name_10 ON people (name(10), age)", "CREATE INDEX ix_name ON people (name)")
    # A 10-character prefix does not serve what the whole column does (index-only reads, ORDER BY name).
    assert redundant(engine) == set()
    execute(engine, "CREATE INDEX ix_name_20_age ON people (name(20), age, id)",
            "CREATE INDEX ix_name_whole_age ON people (name, age)")
    # The whole column covers both the whole column and a prefix of it, a longer prefix covers a shorter one.
    assert redundant(engine) == {("ix_name", "ix_name_whole_age"), ("ix_name_10", "ix_name_whole_age")}
    execute(engine, "DROP INDEX ix_name_whole_age ON people")
    assert redundant(engine) == {("ix_name_10", "ix_name_20_age")}


# INCLUDE -----------------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql")
def test_include_postgresql(engine) -> None:
    execute(engine, NAMES, "CREATE INDEX ix_age_incl_name ON people (age) INCLUDE (name)",
            "CREATE INDEX ix_age_nick ON people (age, nick)")
    fill(engine)
    execute(engine, "ANALYZE people", "VACUUM people", autocommit=True)
    assert redundant(engine) == set()
    # Only the INCLUDE index answers this from the index alone.
    shown = plan(engine, "SELECT age, name FROM people WHERE age = 5")
    print(shown)
    assert "Index Only Scan using ix_age_incl_name" in shown
    execute(engine, "CREATE INDEX ix_age_name_nick ON people (age, name, nick)")
    assert redundant(engine) == {("ix_age_incl_name", "ix_age_name_nick")}


# Uniqueness --------------------------------------------------------------------------------------------------


@pytest.mark.engines("postgresql", "sqlite", "mariadb")
def test_uniqueness(engine, engine_name: str) -> None:
    execute(engine, "CREATE TABLE people (id INTEGER PRIMARY KEY, email VARCHAR(100), name VARCHAR(100), "
                    "CONSTRAINT uq_people_email UNIQUE (email))",
            "CREATE UNIQUE INDEX uq_people_name ON people (name)",
            "CREATE INDEX ix_people_name_email ON people (name, email)")
    # The wider index does not enforce that names are unique; the constraint's index is never proposed for a drop.
    assert redundant(engine) == set()
    execute(engine, "CREATE UNIQUE INDEX uq_people_email_again ON people (email)")
    found = redundant(engine)
    assert ("uq_people_email", "uq_people_email_again") not in found
    if engine_name == "postgresql":  # elsewhere the constraint is not an index of its own in the snapshot
        assert found == {("uq_people_email_again", "uq_people_email")}
