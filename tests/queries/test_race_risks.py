"""Race-risk detection on parsed statement shapes: the SQL each driver sends, matched by the parameters' values."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Column, Index, Integer, MetaData, String, Table, UniqueConstraint, create_engine

from integrity_kit.queries.race_risks import (
    CTA,
    CTI,
    RMW,
    find_race_risks,
    unique_keys_from_engine,
    unique_keys_from_metadata,
)
from integrity_kit.queries.sqlshape import Ref, shape, values


@dataclass
class Prop:
    uselist: bool


@dataclass
class Orm:
    kind: str
    entity: str | None
    prop: Prop | None = None
    relationship: str | None = None


@dataclass
class Stmt:
    sql: str
    parameters: Any = ()
    executemany: bool = False
    lineno: int = 0
    orm: Orm | None = None
    filename: str = "app.py"

    @property
    def location(self) -> str:
        return f"{self.filename}:{self.lineno}"


@dataclass
class Savepoint:
    name: str
    outcome: str
    statements: list[Stmt] = field(default_factory=list)


@dataclass
class Txn:
    statements: list[Stmt]
    dialect: str = "postgresql"
    isolation_level: str | None = "READ COMMITTED"
    outcome: str = "commit"
    id: int = 1
    connection: int = 1
    savepoints: list[Savepoint] = field(default_factory=list)
    seen_begin: bool = True


def txn(*statements: Stmt, **kwargs: Any) -> Txn:
    for n, statement in enumerate(statements, start=1):
        statement.lineno = statement.lineno or n * 10
    return Txn(list(statements), **kwargs)


# -- shapes ---------------------------------------------------------------------------------------------------------

@pytest.mark.parametrize(("sql", "key"), [
    ("SELECT products.id, products.stock FROM products WHERE products.id = ?", 0),
    ("SELECT products.id, products.stock FROM products WHERE products.id = %s", 0),
    ("SELECT products.id, products.stock FROM products WHERE products.id = %(pk_1)s", "pk_1"),
    ("SELECT products.id, products.stock FROM products WHERE products.id = :pk", "pk"),
    ("SELECT products.id, products.stock FROM products WHERE ? = products.id", 0),
    ("SELECT p.id, p.stock FROM shop.products AS p WHERE p.id = $1", 0),
])
def test_every_paramstyle_names_the_key_parameter(sql: str, key: Any) -> None:
    s = shape(sql)
    assert (s.kind, s.table, s.locks) == ("select", "products", False)
    assert s.key_columns("products") == {"id": (Ref(key=key),)}
    assert s.selected_columns("products") == {"id", "stock"}


def test_quoted_identifiers_and_schema() -> None:
    s = shape('SELECT "order".id FROM "Shop"."order" WHERE "order".status = \'paid\'')
    assert (s.table, s.schema) == ("order", "shop")
    assert s.key_columns("order") == {"status": (Ref(literal="paid"),)}
    s = shape("SELECT `order`.id FROM `order` WHERE `order`.id = %s FOR UPDATE")
    assert (s.table, s.locks) == ("order", True)


@pytest.mark.parametrize("tail", ["FOR UPDATE", "FOR SHARE", "FOR NO KEY UPDATE", "FOR KEY SHARE",
                                  "LOCK IN SHARE MODE", "FOR UPDATE OF products SKIP LOCKED", "FOR UPDATE NOWAIT"])
def test_locking_reads(tail: str) -> None:
    assert shape(f"SELECT products.stock FROM products WHERE products.id = ? {tail}").locks


def test_update_assignments_bound_and_relative_and_guards() -> None:
    s = shape("UPDATE products SET reserved=(products.reserved + ?), stock=?, version=? "
              "WHERE products.id = ? AND products.version = ? AND products.stock >= ?")
    assert [(a.column, a.kind) for a in s.assignments] == [
        ("reserved", "relative"), ("stock", "bound"), ("version", "bound")]
    assert set(s.key_columns("products")) == {"id", "version"}
    assert s.guards == (("stock",),)


def test_insert_shapes() -> None:
    s = shape("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?)")
    assert (s.table, s.columns, s.upsert) == ("cart_items", ("cart_id", "product_id", "quantity"), None)
    assert s.rows == ((Ref(key=0), Ref(key=1), Ref(key=2)),)
    for sql, upsert in [
        ("INSERT INTO t (a) VALUES (?) ON CONFLICT (a) DO NOTHING", "ON CONFLICT"),
        ("INSERT INTO t (a) VALUES (%s) ON DUPLICATE KEY UPDATE a = VALUES(a)", "ON DUPLICATE KEY UPDATE"),
        ("INSERT OR IGNORE INTO t (a) VALUES (?)", "OR IGNORE"),
        ("INSERT OR REPLACE INTO t (a) VALUES (?)", "OR REPLACE"),
        ("INSERT IGNORE INTO t (a) VALUES (%s)", "IGNORE"),
        ("REPLACE INTO t (a) VALUES (%s)", "REPLACE"),
    ]:
        assert shape(sql).upsert == upsert, sql
    many = shape("INSERT INTO t (a, b) SELECT p0::INTEGER, p1::VARCHAR FROM (VALUES (%(a__0)s, %(b__0)s, 0), "
                 "(%(a__1)s, %(b__1)s, 1)) AS imp_sen(p0, p1, sen_counter) ORDER BY sen_counter RETURNING t.id")
    assert many.rows == ((Ref(key="a__0"), Ref(key="b__0")), (Ref(key="a__1"), Ref(key="b__1")))


def test_aggregates_joins_exists_and_in_lists() -> None:
    s = shape("SELECT count(*) AS count_1 FROM bookings WHERE bookings.room_id = ? AND bookings.day = ?")
    assert s.aggregates == ("count",) and set(s.key_columns("bookings")) == {"room_id", "day"}
    s = shape("SELECT products.id, categories_1.name FROM products LEFT OUTER JOIN categories AS categories_1 "
              "ON categories_1.id = products.category_id WHERE products.id IN (?, ?)")
    assert s.reads_table("categories") and s.key_columns("products") == {"id": (Ref(key=0), Ref(key=1))}
    s = shape("SELECT EXISTS (SELECT * FROM cart_items WHERE cart_items.cart_id = ?) AS anon_1")
    assert s.table == "cart_items" and set(s.key_columns("cart_items")) == {"cart_id"}
    assert values((Ref(key=0), Ref(key=1)), [(1, 2), (3, 4)], True) == {1, 2, 3, 4}


def test_transaction_control_shapes() -> None:
    assert (shape("BEGIN IMMEDIATE").kind, shape("BEGIN IMMEDIATE").mode) == ("begin", "IMMEDIATE")
    assert shape("SAVEPOINT sa_savepoint_1").mode == "sa_savepoint_1"
    assert shape("ROLLBACK TO SAVEPOINT sa_savepoint_1").kind == "rollback_to"
    assert shape("RELEASE SAVEPOINT sa_savepoint_1").kind == "release"
    assert shape("SET TRANSACTION ISOLATION LEVEL SERIALIZABLE").mode == "SERIALIZABLE"


def test_or_in_where_gives_no_keys() -> None:
    s = shape("UPDATE t SET n = ? WHERE a = ? OR b = ?")
    assert s.keys == () and s.where_unparsed


# -- detection ------------------------------------------------------------------------------------------------------

READ = "SELECT products.id, products.stock FROM products WHERE products.id = %(pk_1)s"
WRITE = "UPDATE products SET stock=%(stock)s WHERE products.id = %(products_id)s"


def test_read_modify_write_on_the_same_row() -> None:
    read, write = Stmt(READ, {"pk_1": 1}, orm=Orm("query", "Product")), Stmt(WRITE, {"stock": 4, "products_id": 1})
    [risk] = find_race_risks([txn(read, write)])
    assert (risk.pattern, risk.table, risk.columns, risk.verdict) == (RMW, "products", ("stock",), "risk")
    assert (risk.read_location, risk.write_location) == ("app.py:10", "app.py:20")
    assert "postgresql READ COMMITTED" in risk.breaks_on and "mariadb REPEATABLE READ" in risk.breaks_on
    assert "postgresql REPEATABLE READ" in risk.retry_needed_on
    assert "select(Product).where(Product.id == id).with_for_update()" in risk.fix
    assert set(risk.to_dict()) >= {"pattern", "table", "columns", "read_location", "write_location",
                                   "isolation_level", "breaks_on", "fix", "confirmed", "verdict"}


def test_different_rows_do_not_match() -> None:
    assert find_race_risks([txn(Stmt(READ, {"pk_1": 1}), Stmt(WRITE, {"stock": 4, "products_id": 2}))]) == []


def test_relative_guarded_and_locked_writes_are_exempt() -> None:
    read = Stmt(READ, {"pk_1": 1})
    relative = Stmt("UPDATE products SET stock=(products.stock - %(q)s) WHERE products.id = %(products_id)s",
                    {"q": 1, "products_id": 1})
    guarded = Stmt("UPDATE products SET stock=%(stock)s WHERE products.id = %(products_id)s AND "
                   "products.stock >= %(q)s", {"stock": 4, "products_id": 1, "q": 1})
    version = Stmt("UPDATE products SET stock=%(stock)s, version=%(v)s WHERE products.id = %(products_id)s AND "
                   "products.version = %(v0)s", {"stock": 4, "products_id": 1, "v": 2, "v0": 1})
    for write in (relative, guarded, version):
        assert find_race_risks([txn(Stmt(READ, {"pk_1": 1}), write)]) == [], write.sql
    locked = Stmt(READ + " FOR UPDATE", {"pk_1": 1})
    assert find_race_risks([txn(locked, Stmt(WRITE, {"stock": 4, "products_id": 1}))]) == []
    # A row this transaction already wrote is locked by it: the read after is safe.
    first = Stmt(WRITE, {"stock": 5, "products_id": 1})
    assert find_race_risks([txn(first, read, Stmt(WRITE, {"stock": 4, "products_id": 1}))]) == []


@pytest.mark.parametrize(("dialect", "level", "verdict"), [
    ("postgresql", None, "risk"), ("postgresql", "READ COMMITTED", "risk"),
    ("postgresql", "REPEATABLE READ", "safe-with-retry"), ("postgresql", "SERIALIZABLE", "safe-with-retry"),
    ("mariadb", None, "risk"), ("mariadb", "REPEATABLE READ", "risk"), ("mysql", "SERIALIZABLE", "safe-with-retry"),
    ("postgresql", "AUTOCOMMIT", "risk"),
])
def test_verdict_by_engine_and_level(dialect: str, level: str | None, verdict: str) -> None:
    [risk] = find_race_risks([txn(Stmt(READ, {"pk_1": 1}), Stmt(WRITE, {"stock": 4, "products_id": 1}),
                                  dialect=dialect, isolation_level=level)])
    assert risk.verdict == verdict


def test_sqlite_begin_modes() -> None:
    read, write = "SELECT t.id, t.n FROM t WHERE t.id = ?", "UPDATE t SET n=? WHERE t.id = ?"
    [legacy] = find_race_risks([txn(Stmt(read, (1,)), Stmt(write, (2, 1)), dialect="sqlite")])
    assert legacy.verdict == "risk" and "pysqlite" in (legacy.note or "")
    [deferred] = find_race_risks([txn(Stmt("BEGIN"), Stmt(read, (1,)), Stmt(write, (2, 1)), dialect="sqlite")])
    assert deferred.verdict == "errors-on-sqlite"
    assert find_race_risks([txn(Stmt("BEGIN IMMEDIATE"), Stmt(read, (1,)), Stmt(write, (2, 1)),
                                dialect="sqlite")]) == []


def test_check_then_insert_and_uniqueness() -> None:
    look = Stmt("SELECT cart_items.id, cart_items.quantity FROM cart_items WHERE cart_items.cart_id = ? AND "
                "cart_items.product_id = ? LIMIT ? OFFSET ?", (7, 3, 1, 0), orm=Orm("query", "CartItem"))
    add = Stmt("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?)", (7, 3, 1))
    [risk] = find_race_risks([txn(look, add, dialect="sqlite", isolation_level=None)])
    assert (risk.pattern, risk.columns) == (CTI, ("cart_id", "product_id"))
    assert "uniqueness not checked" in (risk.note or "")
    assert 'UniqueConstraint("cart_id", "product_id"' in risk.fix and "on_conflict_do_nothing" in risk.fix
    unique = {"cart_items": [frozenset({"id"}), frozenset({"cart_id", "product_id"})]}
    assert find_race_risks([txn(look, add)], unique_keys=unique) == []
    [still] = find_race_risks([txn(look, add)], unique_keys={"cart_items": [frozenset({"id"})]})
    assert "uniqueness not checked" not in (still.note or "")
    other = Stmt("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?)", (7, 4, 1))
    assert find_race_risks([txn(look, other)]) == []
    upsert = Stmt("INSERT INTO cart_items (cart_id, product_id, quantity) VALUES (?, ?, ?) "
                  "ON CONFLICT (cart_id, product_id) DO NOTHING", (7, 3, 1))
    assert find_race_risks([txn(look, upsert)]) == []


def test_a_collection_load_is_reported_without_a_unique_key_on_its_foreign_key_alone() -> None:
    children = "SELECT person.id, person.name FROM person WHERE ? = person.project_id"
    collection = Orm("lazy", "Person", Prop(uselist=True), "Project.members")
    [risk] = find_race_risks([txn(Stmt(children, (3,), orm=collection),
                                  Stmt("INSERT INTO person (project_id, name) VALUES (?, ?)", (3, "ann")))])
    assert (risk.pattern, risk.columns) == (CTI, ("project_id",))
    assert "Project.members collection" in (risk.note or "") and '"project_id", "<column>"' in risk.fix
    # A many-to-one load or the application's own query by that key gets the plain unique-key fix.
    for orm in (Orm("lazy", "Person", Prop(uselist=False)), Orm("query", "Person")):
        [risk] = find_race_risks([txn(Stmt(children, (3,), orm=orm),
                                      Stmt("INSERT INTO person (project_id, name) VALUES (?, ?)", (3, "ann")))])
        assert (risk.pattern, risk.columns) == (CTI, ("project_id",))
        assert 'UniqueConstraint("project_id", name=' in risk.fix


def test_two_calls_from_a_test_function_are_not_paired() -> None:
    def at(filename: str, lineno: int, *callers: tuple[str, int], sql: str, parameters: Any) -> Stmt:
        statement = Stmt(sql, parameters, lineno=lineno, filename=filename)
        statement.callers = callers  # type: ignore[attr-defined]
        return statement

    def pair(read_outer: tuple[str, int], write_outer: tuple[str, int], *, read_file: str = "/app/views.py",
             test_line_read: bool = False) -> list[Any]:
        inner = () if test_line_read else (("/app/views.py", 5),)
        read = (at(read_outer[0], read_outer[1], sql=READ, parameters={"pk_1": 1}) if test_line_read else
                at(read_file, 40, *inner, read_outer, sql=READ, parameters={"pk_1": 1}))
        write = at("/app/views.py", 90, ("/app/views.py", 6), write_outer, sql=WRITE,
                   parameters={"stock": 4, "products_id": 1})
        return find_race_risks([txn(read, write)])

    # Two requests from two lines of a test: the view that read had returned before the view that wrote began.
    assert pair(("/app/tests/test_views.py", 10), ("/app/tests/test_views.py", 12)) == []
    assert pair(("/app/tests/views_test.py", 10), ("/app/tests/views_test.py", 12)) == []
    # The same two calls made by one application function (a view, a service) are a finding.
    assert [r.pattern for r in pair(("/app/service.py", 10), ("/app/service.py", 12))] == [RMW]
    # The test's own query, then a request: the view that wrote never saw the test's rows.
    assert pair(("/app/tests/test_views.py", 10), ("/app/tests/test_views.py", 12), test_line_read=True) == []
    # The test's own lines reading and writing are its own read-modify-write.
    own = [Stmt(READ, {"pk_1": 1}, lineno=10, filename="/app/tests/test_views.py"),
           Stmt(WRITE, {"stock": 4, "products_id": 1}, lineno=12, filename="/app/tests/test_views.py")]
    for statement in own:
        statement.callers = ()  # type: ignore[attr-defined]
    assert [r.pattern for r in find_race_risks([txn(*own)])] == [RMW]


def test_aggregate_check_then_act() -> None:
    count = Stmt("SELECT count(*) AS count_1 FROM bookings WHERE bookings.room_id = %s", (5,))
    book = Stmt("INSERT INTO bookings (room_id, guest) VALUES (%s, %s)", (5, "ann"))
    [risk] = find_race_risks([txn(count, book, dialect="mariadb", isolation_level="REPEATABLE READ")])
    assert (risk.pattern, risk.columns, risk.verdict) == (CTA, ("room_id",), "risk")
    [safe] = find_race_risks([txn(count, book, dialect="postgresql", isolation_level="SERIALIZABLE")])
    assert safe.verdict == "safe-with-retry"
    # PostgreSQL's REPEATABLE READ is snapshot isolation: write skew gets through.
    [skew] = find_race_risks([txn(count, book, isolation_level="REPEATABLE READ")])
    assert skew.verdict == "risk"


def test_savepoint_rolled_back_removes_the_write() -> None:
    read, write = Stmt(READ, {"pk_1": 1}), Stmt(WRITE, {"stock": 4, "products_id": 1})
    rolled = txn(read, Stmt("SAVEPOINT sa_savepoint_1"), write, Stmt("ROLLBACK TO SAVEPOINT sa_savepoint_1"))
    assert find_race_risks([rolled]) == []
    write2 = Stmt(WRITE, {"stock": 4, "products_id": 1})
    released = txn(Stmt(READ, {"pk_1": 1}), Stmt("SAVEPOINT sa_savepoint_1"), write2,
                   Stmt("RELEASE SAVEPOINT sa_savepoint_1"))
    assert [r.pattern for r in find_race_risks([released])] == [RMW]


def test_autocommit_spans_statements_of_one_connection() -> None:
    first = Txn([Stmt(READ + " FOR UPDATE", {"pk_1": 1}, lineno=3)], isolation_level="AUTOCOMMIT", id=1)
    second = Txn([Stmt(WRITE, {"stock": 4, "products_id": 1}, lineno=4)], isolation_level="AUTOCOMMIT", id=2)
    [risk] = find_race_risks([first, second])
    assert risk.verdict == "risk" and "AUTOCOMMIT" in (risk.note or "")
    other = Txn([Stmt(WRITE, {"stock": 4, "products_id": 1}, lineno=4)], isolation_level="AUTOCOMMIT", id=2,
                connection=2)
    assert find_race_risks([first, other]) == []


def test_delete_after_read_and_rolled_back_transaction() -> None:
    look = Stmt("SELECT cart_items.id FROM cart_items WHERE cart_items.cart_id = ?", (1,))
    assert find_race_risks([txn(look, Stmt("DELETE FROM cart_items WHERE cart_items.cart_id = ?", (1,)))]) == []
    [risk] = find_race_risks([txn(Stmt(READ, {"pk_1": 1}), Stmt(WRITE, {"stock": 4, "products_id": 1}),
                                  outcome="rollback")])
    assert "rolled back" in (risk.note or "")


def test_executemany_and_in_lists_match_by_value() -> None:
    read = Stmt("SELECT products.id, products.stock FROM products WHERE products.id IN (?, ?)", (1, 2))
    bulk = Stmt("UPDATE products SET stock=? WHERE products.id = ?", [(0, 2), (0, 9)], executemany=True)
    assert [r.pattern for r in find_race_risks([txn(read, bulk)])] == [RMW]
    elsewhere = Stmt("UPDATE products SET stock=? WHERE products.id = ?", [(0, 8), (0, 9)], executemany=True)
    assert find_race_risks([txn(read, elsewhere)]) == []


def test_unique_keys_from_metadata_and_engine(tmp_path) -> None:
    metadata = MetaData()
    Table("cart_items", metadata, Column("id", Integer, primary_key=True), Column("cart_id", Integer),
          Column("product_id", Integer), Column("sku", String(10), unique=True),
          UniqueConstraint("cart_id", "product_id"))
    Table("tags", metadata, Column("id", Integer, primary_key=True), Column("name", String(10)),
          Index("ix_tags_name", "name", unique=True), Index("ix_tags_part", "id", "name", unique=True,
                                                              sqlite_where=Column("name") != "x"))
    keys = unique_keys_from_metadata(metadata)
    assert set(keys["cart_items"]) == {frozenset({"id"}), frozenset({"sku"}), frozenset({"cart_id", "product_id"})}
    assert set(keys["tags"]) == {frozenset({"id"}), frozenset({"name"})}
    engine = create_engine(f"sqlite:///{tmp_path / 'u.db'}")
    metadata.create_all(engine)
    live = unique_keys_from_engine(engine, ["cart_items", "tags", "missing"])
    assert set(live["cart_items"]) == set(keys["cart_items"]) and set(live["tags"]) == set(keys["tags"])
    engine.dispose()


def test_ten_thousand_statements_in_well_under_a_second() -> None:
    transactions = []
    for n in range(2500):
        statements = [Stmt(READ, {"pk_1": n}), Stmt("SELECT users.id FROM users WHERE users.id = %(pk_1)s",
                                                     {"pk_1": n}),
                      Stmt(WRITE, {"stock": 1, "products_id": n}),
                      Stmt("INSERT INTO orders (user_id) VALUES (%(user_id)s)", {"user_id": n})]
        for i, statement in enumerate(statements):
            statement.lineno = i + 1
        transactions.append(Txn(statements, id=n))
    started = time.perf_counter()
    risks = find_race_risks(transactions)
    elapsed = time.perf_counter() - started
    assert len(risks) == 1  # the same pair of lines, reported once
    assert elapsed < 0.5, elapsed
