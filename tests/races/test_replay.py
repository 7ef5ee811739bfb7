"""``--confirm``: the risky transaction replayed from two sessions in the dangerous interleaving, on a scratch copy
beside the URL; the verdict is what the database did (lost update, duplicate rows, blocked, aborted)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from sqlalchemy import Column, Connection, Integer, MetaData, Table, UniqueConstraint, create_engine, inspect, text
from sqlalchemy.engine import URL

from integrity_kit.errors import IntegrityKitError
from integrity_kit.queries import capture
from integrity_kit.races.replay import confirm_risk, confirm_risks

LEVELS = {"postgresql": "READ COMMITTED", "mariadb": "REPEATABLE READ", "sqlite": None}


@dataclass
class StandInStatement:
    """A recorded statement placed in a transaction, as the capture's Statement will be."""

    sql: str
    parameters: Any
    executemany: bool
    transaction: int | None


@dataclass
class StandInTransaction:
    id: int
    dialect: str
    isolation_level: str | None
    statements: list[Any]
    outcome: str = "commit"


@dataclass
class StandInRisk:
    pattern: str
    table: str
    columns: tuple[str, ...]
    read: Any
    write: Any
    transaction: StandInTransaction


@dataclass
class StandInLog:
    statements: list[Any]
    transactions: list[StandInTransaction] = field(default_factory=list)


def _dialect(url: URL) -> str:
    name = url.get_backend_name()
    return "mariadb" if name == "mysql" else name


def _recorded(url: URL, work: Callable[[Connection], None], *, level: str | None = None) -> Any:
    """The capture (its QueryLog) of ``work`` run in one transaction on its own engine."""
    engine = create_engine(url, **({"isolation_level": level} if level else {}))
    try:
        with capture(engine) as log, engine.connect() as connection:
            work(connection)
            connection.commit()
        return log
    finally:
        engine.dispose()


def _setup(url: URL, *statements: str) -> None:
    engine = create_engine(url)
    try:
        with engine.begin() as connection:
            for statement in statements:
                connection.execute(text(statement))
    finally:
        engine.dispose()


PRODUCTS = ("CREATE TABLE products (id INTEGER PRIMARY KEY, stock INTEGER NOT NULL, reserved INTEGER NOT NULL)",
            "INSERT INTO products (id, stock, reserved) VALUES (1, 10, 0)")


def _claim(*, lock: bool = False) -> Callable[[Connection], None]:
    def work(connection: Connection) -> None:
        query = "SELECT stock, reserved FROM products WHERE id = :id" + (" FOR UPDATE" if lock else "")
        row = connection.execute(text(query), {"id": 1}).one()
        connection.execute(text("UPDATE products SET reserved = :reserved WHERE id = :id"),
                           {"reserved": row.reserved + 1, "id": 1})

    return work


def _rmw_risk(url: URL, level: str | None, *, lock: bool = False) -> tuple[StandInRisk, Any]:
    log = _recorded(url, _claim(lock=lock), level=level)
    # Undo the capture's own write: the replay starts from the state the captured transaction started from.
    _setup(url, "UPDATE products SET reserved = 0")
    (transaction,) = log.transactions
    read, write = transaction.statements
    return StandInRisk("read-modify-write", "products", ("reserved",), read, write, transaction), log


def _reserved(url: URL) -> int:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            return int(connection.execute(text("SELECT reserved FROM products WHERE id = 1")).scalar_one())
    finally:
        engine.dispose()


def _scratch_gone(url: URL, name: str) -> bool:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                return connection.execute(text("SELECT count(*) FROM pg_database WHERE datname = :n"),
                                          {"n": name}).scalar_one() == 0
            if engine.dialect.name in ("mysql", "mariadb"):
                return connection.execute(text("SELECT count(*) FROM information_schema.schemata "
                                               "WHERE schema_name = :n"), {"n": name}).scalar_one() == 0
            raise AssertionError(engine.dialect.name)
    finally:
        engine.dispose()


@pytest.mark.engines("postgresql", "mariadb")
def test_read_modify_write_loses_the_update_at_the_default_level(engine_url, engine_name: str) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, LEVELS[engine_name])
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["reproduced"] is True and confirmed["outcome"] == "lost update", confirmed
    assert confirmed["detail"].startswith("B read reserved=0 before A committed reserved=1, then wrote "
                                          "reserved=1 over it"), confirmed["detail"]
    assert confirmed["error"] is None and len(confirmed["trace"]) == 6
    assert confirmed["setup"]["state"] == "copied from the URL" and confirmed["setup"]["tables"] == ["products"]
    assert _scratch_gone(engine_url, confirmed["setup"]["scratch"])
    assert _reserved(engine_url) == 0  # the user's database was only read


@pytest.mark.engines("postgresql")
@pytest.mark.parametrize("level", ["REPEATABLE READ", "SERIALIZABLE"])
def test_postgresql_aborts_one_side_above_read_committed(engine_url, level: str) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, level)
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "aborted"), confirmed
    assert confirmed["error"].startswith("40001 serialization failure"), confirmed
    assert "the engine aborted B at 'up to the write'" in confirmed["detail"]


@pytest.mark.engines("mariadb")
def test_mariadb_serializable_deadlocks_one_side(engine_url) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, "SERIALIZABLE")
    confirmed = confirm_risk(engine_url, risk, log)
    # InnoDB's SERIALIZABLE reads take shared locks: A's write waits for B's, B's write closes the cycle.
    assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "aborted"), confirmed
    assert confirmed["error"].startswith("1213 deadlock found"), confirmed
    assert "A's step 'up to the write' waited for a lock" in confirmed["detail"], confirmed["detail"]


@pytest.mark.engines("postgresql", "mariadb")
def test_a_locking_read_blocks_the_second_session(engine_url, engine_name: str) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, LEVELS[engine_name], lock=True)
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "blocked"), confirmed
    assert "B's step 'up to the read' waited for a lock until step 4" in confirmed["detail"], confirmed["detail"]
    assert "B read reserved=1 after A committed reserved=1: no update lost" in confirmed["detail"]


@pytest.mark.engines("sqlite")
def test_sqlite_deferred_transactions_abort_the_second_writer(engine_url) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, None)
    confirmed = confirm_risk(engine_url, risk, log)
    # A's COMMIT waits for B's shared lock; B's write then cannot take the write lock without a deadlock, so
    # SQLite refuses it at once.
    assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "aborted"), confirmed
    assert confirmed["error"].startswith("5 database is locked (SQLITE_BUSY)"), confirmed


def _cart_lines(url: URL, unique: bool) -> None:
    metadata = MetaData()
    Table("cart_lines", metadata, Column("id", Integer, primary_key=True), Column("cart_id", Integer, nullable=False),
          Column("product_id", Integer, nullable=False), Column("quantity", Integer, nullable=False),
          *([UniqueConstraint("cart_id", "product_id")] if unique else []))
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def _add_to_cart(connection: Connection) -> None:
    found = connection.execute(text("SELECT id FROM cart_lines WHERE cart_id = :c AND product_id = :p"),
                               {"c": 7, "p": 3}).first()
    if found is None:
        connection.execute(text("INSERT INTO cart_lines (cart_id, product_id, quantity) VALUES (:c, :p, 1)"),
                           {"c": 7, "p": 3})


def _cti_risk(url: URL, level: str | None) -> tuple[StandInRisk, Any]:
    log = _recorded(url, _add_to_cart, level=level)
    _setup(url, "DELETE FROM cart_lines")
    (transaction,) = log.transactions
    read, write = transaction.statements
    return StandInRisk("check-then-insert", "cart_lines", ("cart_id", "product_id"), read, write, transaction), log


@pytest.mark.engines("postgresql", "mariadb")
@pytest.mark.parametrize("unique", [False, True])
def test_check_then_insert(engine_url, engine_name: str, unique: bool) -> None:
    _cart_lines(engine_url, unique)
    risk, log = _cti_risk(engine_url, LEVELS[engine_name])
    confirmed = confirm_risk(engine_url, risk, log)
    if unique:
        assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "not reproduced"), confirmed
        assert confirmed["detail"].startswith("not reproduced (a unique constraint stopped it)")
        assert confirmed["error"].split()[0] in ("23505", "1062")
    else:
        assert (confirmed["reproduced"], confirmed["outcome"]) == (True, "duplicate rows"), confirmed
        assert "2 rows with cart_id=7, product_id=3 now" in confirmed["detail"]


def test_rows_written_inside_the_capture_are_replayed_not_copied(engine_url) -> None:
    """The capture inserted the product itself: the scratch copy gets the schema and that INSERT, not the URL's
    rows (which already hold the captured transaction's own write)."""
    _setup(engine_url, PRODUCTS[0])
    engine = create_engine(engine_url, **({"isolation_level": "READ COMMITTED"}
                                          if engine_url.get_backend_name() == "postgresql" else {}))
    try:
        with capture(engine) as recorded:
            with engine.begin() as connection:
                connection.execute(text("INSERT INTO products (id, stock, reserved) VALUES (1, 10, 0)"))
            with engine.connect() as connection:
                _claim()(connection)
                connection.commit()
    finally:
        engine.dispose()
    inserted, claimed = recorded.transactions
    assert [len(inserted.statements), len(claimed.statements)] == [1, 2]
    risk = StandInRisk("read-modify-write", "products", ("reserved",), *claimed.statements, claimed)
    log = recorded
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["setup"]["state"] == "replayed from the capture"
    assert confirmed["setup"]["replayed_statements"] == 1 and confirmed["setup"]["copied"][0]["copied"] == 0
    if engine_url.get_backend_name() == "sqlite":
        assert confirmed["outcome"] == "aborted"
    else:
        assert confirmed["outcome"] == "lost update"
        assert confirmed["detail"].startswith("B read reserved=0 before A committed reserved=1")


def test_dialect_mismatch_is_one_line(engine_url, tmp_path) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, None)
    other = "postgresql" if engine_url.get_backend_name() == "sqlite" else "sqlite"
    risk.transaction.dialect = other
    with pytest.raises(IntegrityKitError) as raised:
        confirm_risks(engine_url, [risk], log)
    assert str(raised.value) == f"not replayed: captured on {other}, --confirm URL is " \
                                f"{engine_url.get_backend_name()}"


def test_unreachable_url_is_one_line_with_the_password_masked(tmp_path) -> None:
    url = URL.create("postgresql+psycopg", "ik", "s3cret", "127.0.0.1", 1, "nowhere")
    transaction = StandInTransaction(1, "postgresql", None, [])
    risk = StandInRisk("read-modify-write", "products", ("reserved",), None, None, transaction)
    with pytest.raises(IntegrityKitError) as raised:
        confirm_risk(url, risk, StandInLog([]))
    message = str(raised.value)
    assert message.startswith("cannot connect to postgresql+psycopg://ik:***@127.0.0.1:1/nowhere")
    assert "s3cret" not in message and "\n" not in message
    with pytest.raises(IntegrityKitError, match="not a database URL"):
        confirm_risk("::nonsense::", risk, StandInLog([]))


@pytest.mark.engines("sqlite")
def test_sqlite_scratch_file_is_removed(engine_url) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, None)
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["setup"]["dialect"] == "sqlite"
    import glob
    import tempfile

    assert not glob.glob(f"{tempfile.gettempdir()}/{confirmed['setup']['scratch']}*")
    assert inspect(create_engine(engine_url)).get_table_names() == ["products"]


def _checkout_risk(engine_url: URL, strategy: str, level: str | None) -> tuple[StandInRisk, Any]:
    """The reference app's shop built and one checkout run inside a capture; the risky transaction is the
    checkout's, the one that writes ``products``."""
    from examples.ecommerce.database import make_engine
    from examples.ecommerce.race_workload import workload

    engine = make_engine(engine_url, **({"isolation_level": level} if level else {}))
    try:
        with capture(engine) as recorded:
            workload.create(engine, stock=5, buyers=1)
            assert workload.checkout(engine, 1, strategy).status == "ordered"
    finally:
        engine.dispose()
    (transaction,) = [t for t in recorded.transactions
                      if any(s.sql.lstrip().upper().startswith("UPDATE PRODUCTS") for s in t.statements)]
    assert transaction.outcome == "commit"
    if level is not None:
        assert transaction.isolation_level == level
    read = next(s for s in transaction.statements
                if s.sql.lstrip().upper().startswith("SELECT") and "products.reserved" in s.sql)
    write = next(s for s in transaction.statements if s.sql.lstrip().upper().startswith("UPDATE PRODUCTS"))
    return StandInRisk("read-modify-write", "products", ("reserved",), read, write, transaction), recorded


CHECKOUT = {
    ("naive", "postgresql", "READ COMMITTED"): "lost update",
    ("naive", "postgresql", "REPEATABLE READ"): "aborted",
    ("naive", "mariadb", "READ COMMITTED"): "lost update",
    ("naive", "mariadb", "REPEATABLE READ"): "lost update",
    ("naive", "mariadb", "SERIALIZABLE"): "aborted",
    ("serializable", "postgresql", "SERIALIZABLE"): "aborted",
    ("for-update", "postgresql", "READ COMMITTED"): "blocked",
    ("for-update", "mariadb", "REPEATABLE READ"): "blocked",
}


def _check_checkout(engine_url: URL, strategy: str, level: str | None, expected: str) -> None:
    risk, log = _checkout_risk(engine_url, strategy, level)
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["outcome"] == expected, confirmed
    assert confirmed["reproduced"] is (expected == "lost update")
    assert confirmed["setup"]["state"] == "replayed from the capture"
    assert _scratch_gone(engine_url, confirmed["setup"]["scratch"]) if _dialect(engine_url) != "sqlite" else True
    if expected == "lost update":
        assert confirmed["detail"].startswith("B read reserved=0 before A committed reserved=1, then wrote "
                                              "reserved=1 over it"), confirmed["detail"]
        # B's copies of A's order lines reuse A's generated order id: skipped, and said so.
        assert any("order_items" in skipped for skipped in confirmed["skipped"]), confirmed["skipped"]
    print(strategy, _dialect(engine_url), level, confirmed["outcome"], confirmed["error"], confirmed["detail"],
          confirmed["duration_s"], *confirmed["trace"], *confirmed["skipped"], sep="\n  ")


def _cases(engine: str) -> list[tuple[str, str | None, str]]:
    return [(strategy, level, outcome) for (strategy, name, level), outcome in CHECKOUT.items() if name == engine]


@pytest.mark.engines("postgresql")
@pytest.mark.parametrize("strategy, level, expected", _cases("postgresql"))
def test_the_reference_checkout_on_postgresql(engine_url, strategy: str, level: str, expected: str) -> None:
    _check_checkout(engine_url, strategy, level, expected)


@pytest.mark.engines("mariadb")
@pytest.mark.parametrize("strategy, level, expected", _cases("mariadb"))
def test_the_reference_checkout_on_mariadb(engine_url, strategy: str, level: str, expected: str) -> None:
    _check_checkout(engine_url, strategy, level, expected)


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize("strategy, expected", [("naive", "aborted"), ("for-update", "blocked")])
def test_the_reference_checkout_on_sqlite(engine_url, strategy: str, expected: str) -> None:
    # naive: A's COMMIT waits for B's shared lock and B's write is refused at once (SQLITE_BUSY); for-update:
    # B's recorded BEGIN IMMEDIATE waits for A's write lock.
    _check_checkout(engine_url, strategy, None, expected)


def _bookings(url: URL) -> None:
    metadata = MetaData()
    Table("bookings", metadata, Column("id", Integer, primary_key=True), Column("room", Integer, nullable=False),
          Column("guest", Integer, nullable=False))
    engine = create_engine(url)
    metadata.create_all(engine)
    engine.dispose()


def _book(connection: Connection) -> None:
    taken = connection.execute(text("SELECT COUNT(*) FROM bookings WHERE room = :room"), {"room": 4}).scalar_one()
    if taken < 1:  # the count guards the insert: one booking per room
        connection.execute(text("INSERT INTO bookings (room, guest) VALUES (:room, :guest)"), {"room": 4, "guest": 9})


CHECK_THEN_ACT = {
    ("postgresql", "READ COMMITTED"): ("write skew", None),
    ("postgresql", "REPEATABLE READ"): ("write skew", None),
    ("postgresql", "SERIALIZABLE"): ("aborted", "40001"),
    ("mariadb", "REPEATABLE READ"): ("write skew", None),
    ("mariadb", "SERIALIZABLE"): ("aborted", "1213"),
}


@pytest.mark.engines("postgresql", "mariadb")
@pytest.mark.parametrize("level", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_check_then_act_on_an_aggregate(engine_url, engine_name: str, level: str) -> None:
    expected, code = CHECK_THEN_ACT.get((engine_name, level), ("write skew", None))
    _bookings(engine_url)
    log = _recorded(engine_url, _book, level=level)
    _setup(engine_url, "DELETE FROM bookings")
    (transaction,) = log.transactions
    risk = StandInRisk("check-then-act", "bookings", ("room",), *transaction.statements, transaction)
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["outcome"] == expected, confirmed
    assert confirmed["reproduced"] is (expected == "write skew")
    if code is not None:
        assert confirmed["error"].startswith(code), confirmed
    else:
        assert "each read the same aggregate" in confirmed["detail"]


def _legacy_add_to_cart(url: URL, base: Any) -> tuple[StandInRisk, Any]:
    """An add-to-cart written with the ORM: look the line up, insert it when missing."""
    from sqlalchemy import select
    from sqlalchemy.orm import Session

    models = {mapper.class_.__name__: mapper.class_ for mapper in base.registry.mappers}
    cart_item = models["CartItem"]
    engine = create_engine(url)
    try:
        base.metadata.create_all(engine)
        with engine.begin() as connection:
            connection.execute(text("INSERT INTO users (id, email, phone_number, full_name) "
                                    "VALUES (1, 'a@example.com', '+1 555 0000001', 'A')"))
            connection.execute(text("INSERT INTO carts (id, user_id) VALUES (1, 1)"))
        with capture(engine) as recorded, Session(engine) as session:
            line = session.scalar(select(cart_item).where(cart_item.cart_id == 1, cart_item.product_id == 5))
            if line is None:
                session.add(cart_item(cart_id=1, product_id=5, quantity=1))
            session.commit()
        with engine.begin() as connection:
            connection.execute(text("DELETE FROM cart_items"))
    finally:
        engine.dispose()
    (transaction,) = recorded.transactions
    assert transaction.isolation_level == LEVELS[_dialect(url)]
    insert = next(s for s in transaction.statements if s.sql.lstrip().upper().startswith("INSERT"))
    risk = StandInRisk("check-then-insert", "cart_items", ("cart_id", "product_id"), transaction.statements[0],
                       insert, transaction)
    return risk, recorded


@pytest.mark.engines("postgresql", "mariadb")
def test_the_legacy_cart_gets_duplicate_lines_and_the_app_schema_does_not(engine_url, tmp_path) -> None:
    from examples.ecommerce.legacy import LegacyBase

    risk, log = _legacy_add_to_cart(engine_url, LegacyBase)
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (True, "duplicate rows"), confirmed
    assert "2 rows with cart_id=1, product_id=5 now" in confirmed["detail"]
    assert sorted(confirmed["setup"]["tables"]) == ["cart_items", "carts", "users"]


@pytest.mark.engines("postgresql")
def test_autocommit_statements_race_too(engine_url) -> None:
    _setup(engine_url, *PRODUCTS)
    risk, log = _rmw_risk(engine_url, "AUTOCOMMIT")
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (True, "lost update"), confirmed


@pytest.mark.engines("sqlite")
def test_sqlite_begin_immediate_blocks_the_second_session(engine_url) -> None:
    _setup(engine_url, *PRODUCTS)

    def claim(connection: Connection) -> None:
        connection.exec_driver_sql("BEGIN IMMEDIATE")
        _claim()(connection)

    engine = create_engine(engine_url)
    from integrity_kit.races.engines import real_sqlite_transactions

    real_sqlite_transactions(engine)
    try:
        with capture(engine) as recorded, engine.connect() as connection:
            claim(connection)
            connection.commit()
    finally:
        engine.dispose()
    _setup(engine_url, "UPDATE products SET reserved = 0")
    (transaction,) = recorded.transactions
    begin, read, write = transaction.statements
    assert begin.sql == "BEGIN IMMEDIATE"
    risk = StandInRisk("read-modify-write", "products", ("reserved",), read, write, transaction)
    confirmed = confirm_risk(engine_url, risk, recorded)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "blocked"), confirmed
    assert "B read reserved=1 after A committed reserved=1" in confirmed["detail"]


def test_a_large_table_is_sampled_and_says_so(engine_url, monkeypatch) -> None:
    from integrity_kit.races import replay

    monkeypatch.setattr(replay, "MAX_ROWS", 3)
    _setup(engine_url, *PRODUCTS, *(f"INSERT INTO products (id, stock, reserved) VALUES ({i}, 1, 0)"
                                    for i in range(2, 8)))
    risk, log = _rmw_risk(engine_url, LEVELS[_dialect(engine_url)])
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["setup"]["sampled"] == ["products"]
    assert confirmed["setup"]["copied"] == [{"table": "products", "rows": 7, "copied": 3, "sampled": True,
                                             "why": "touched"}]


@pytest.mark.engines("postgresql", "mariadb")
def test_plain_stand_in_objects_are_enough(engine_url, engine_name: str) -> None:
    """A risk rebuilt from plain objects (JSON, say): the read and the write are found by their SQL and
    parameters, and a statement the transaction does not hold is reported, not raised."""
    _setup(engine_url, *PRODUCTS)
    recorded = _recorded(engine_url, _claim(), level=LEVELS[engine_name])
    _setup(engine_url, "UPDATE products SET reserved = 0")
    statements = [StandInStatement(s.sql, s.parameters, s.executemany, 1) for s in recorded.statements]
    transaction = StandInTransaction(1, engine_name, LEVELS[engine_name], statements)
    log = StandInLog(list(statements), [transaction])
    copies = [StandInStatement(s.sql, s.parameters, s.executemany, 1) for s in statements]
    risk = StandInRisk("read-modify-write", "products", ("reserved",), copies[0], copies[1], transaction)
    (confirmed,) = confirm_risks(engine_url, [risk], log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (True, "lost update"), confirmed
    stranger = StandInStatement("SELECT 1", None, False, 1)
    risk = StandInRisk("read-modify-write", "products", ("reserved",), stranger, copies[1], transaction)
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (False, "not reproduced")
    assert confirmed["detail"] == "not replayed: the statement 'SELECT 1' is not in its transaction"


@pytest.mark.engines("postgresql", "mariadb")
def test_a_write_inside_a_savepoint_is_replayed_with_it(engine_url, engine_name: str) -> None:
    _setup(engine_url, *PRODUCTS)

    def claim(connection: Connection) -> None:
        row = connection.execute(text("SELECT stock, reserved FROM products WHERE id = :id"), {"id": 1}).one()
        with connection.begin_nested():
            connection.execute(text("UPDATE products SET reserved = :reserved WHERE id = :id"),
                               {"reserved": row.reserved + 1, "id": 1})
        connection.execute(text("UPDATE products SET stock = stock WHERE id = :id"), {"id": 1})

    log = _recorded(engine_url, claim, level=LEVELS[engine_name])
    _setup(engine_url, "UPDATE products SET reserved = 0")
    (transaction,) = log.transactions
    read, savepoint, write, release, touch = transaction.statements
    assert savepoint.sql.startswith("SAVEPOINT") and release.sql.startswith("RELEASE")
    risk = StandInRisk("read-modify-write", "products", ("reserved",), read, write, transaction)
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (True, "lost update"), confirmed
    assert confirmed["skipped"] == []


@pytest.mark.engines("postgresql", "mariadb", "sqlite")
def test_the_detectors_own_risks_for_the_naive_checkout(engine_url, engine_name: str) -> None:
    """End to end: the checkout captured once, the risks the capture finds, each replayed."""
    from examples.ecommerce.database import make_engine
    from examples.ecommerce.race_workload import workload

    engine = make_engine(engine_url)
    try:
        with capture(engine) as log:
            workload.create(engine, stock=5, buyers=1)
            assert workload.checkout(engine, 1, "naive").status == "ordered"
    finally:
        engine.dispose()
    risks = [risk for risk in log.race_risks if risk.table == "products"]
    assert risks and all(risk.pattern == "read-modify-write" for risk in risks)
    results = confirm_risks(engine_url, risks, log)
    expected = {"postgresql": "lost update", "mariadb": "lost update", "sqlite": "aborted"}[engine_name]
    assert {confirmed["outcome"] for confirmed in results} == {expected}, results
    for risk, confirmed in zip(risks, results, strict=True):
        risk.confirmed = confirmed
        assert risk.to_dict()["confirmed"]["reproduced"] is (expected == "lost update")
        assert _scratch_gone(engine_url, confirmed["setup"]["scratch"]) if engine_name != "sqlite" else True


@pytest.mark.engines("postgresql")
def test_rows_that_already_hold_the_written_value_say_so(engine_url) -> None:
    """Copied after the capture, the row already holds what the recorded write sets: the schedule still loses
    B's update, but the values cannot show it, and the detail says that."""
    _setup(engine_url, *PRODUCTS)
    log = _recorded(engine_url, _claim(), level="READ COMMITTED")  # the URL's row now holds reserved=1
    (transaction,) = log.transactions
    risk = StandInRisk("read-modify-write", "products", ("reserved",), *transaction.statements, transaction)
    confirmed = confirm_risk(engine_url, risk, log)
    assert (confirmed["reproduced"], confirmed["outcome"]) == (True, "lost update"), confirmed
    assert confirmed["detail"] == ("B read reserved=1 before A committed reserved=1, then wrote reserved=1 over it "
                                   "(A's recorded write leaves these values as they were in the scratch copy, so "
                                   "the loss shows in the schedule, not in the values)")


CHECK_THEN_INSERT = {
    ("postgresql", "REPEATABLE READ"): ("duplicate rows", None),
    ("postgresql", "SERIALIZABLE"): ("aborted", "40001"),
    ("mariadb", "READ COMMITTED"): ("duplicate rows", None),
    # SERIALIZABLE makes the lookup a shared next-key lock: A's insert waits for B's, B's closes the cycle.
    ("mariadb", "SERIALIZABLE"): ("aborted", "1213"),
}


@pytest.mark.engines("postgresql", "mariadb")
@pytest.mark.parametrize("level", ["READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE"])
def test_check_then_insert_by_level(engine_url, engine_name: str, level: str) -> None:
    expected, code = CHECK_THEN_INSERT.get((engine_name, level), ("duplicate rows", None))
    _cart_lines(engine_url, False)
    risk, log = _cti_risk(engine_url, level)
    confirmed = confirm_risk(engine_url, risk, log)
    assert confirmed["outcome"] == expected, confirmed
    if code is not None:
        assert confirmed["error"].startswith(code), confirmed
