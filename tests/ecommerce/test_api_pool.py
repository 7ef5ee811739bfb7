"""The API under concurrent cart writes keeps one connection per request, and survives a database restart.

Twenty writers share a pool of two connections on purpose: a request that held one connection while asking for a
second would wait for the others forever (until the pool timeout, then 500)."""

from __future__ import annotations

import threading

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.pool import NullPool, QueuePool

from examples.ecommerce.database import make_engine
from tests.ecommerce import shop
from tests.ecommerce.apiclient import as_user

pytestmark = pytest.mark.engines("postgresql", "mariadb")

WRITERS = 20


@pytest.fixture
def small_pool(engine_url):
    engine = make_engine(engine_url, pool_size=2, max_overflow=0, pool_timeout=10)
    shop.build(engine, users=0, products=(("10.00", 1000), ("2.50", 1000)))
    writers = shop.add_users(engine, WRITERS)
    yield engine, writers
    engine.dispose()


@pytest.fixture
def admin(engine_url):
    engine = create_engine(engine_url, poolclass=NullPool)
    yield engine
    engine.dispose()


def _idle_in_transaction(admin: Engine) -> int:
    """Sessions of the test database (other than ours) with a transaction open and no statement running."""
    with admin.connect() as connection:
        if admin.dialect.name == "postgresql":
            return connection.execute(text(
                "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")).scalar_one()
        return connection.execute(text(
            "SELECT count(*) FROM information_schema.innodb_trx t JOIN information_schema.processlist p "
            "ON p.id = t.trx_mysql_thread_id WHERE p.db = DATABASE() AND p.id <> CONNECTION_ID() "
            "AND p.command = 'Sleep'")).scalar_one()


def _app_connections(admin: Engine) -> list[int]:
    with admin.connect() as connection:
        if admin.dialect.name == "postgresql":
            return list(connection.execute(text(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database() "
                "AND pid <> pg_backend_pid()")).scalars())
        return list(connection.execute(text(
            "SELECT id FROM information_schema.processlist WHERE db = DATABASE() AND id <> CONNECTION_ID()"
        )).scalars())


def _kill(admin: Engine, ids: list[int]) -> None:
    with admin.connect() as connection:
        for backend in ids:
            if admin.dialect.name == "postgresql":
                connection.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": backend})
            else:
                connection.execute(text(f"KILL CONNECTION {int(backend)}"))


def _write_concurrently(engine: Engine, writers: list[int]) -> list[int]:
    """Every writer adds, sets and reads three times at once; the statuses of all their requests."""
    app = shop.api(engine)
    app.testing = False  # an exception becomes the 500 a client would get, not a crash of the writer thread
    clients = [as_user(app, user_id) for user_id in writers]
    start = threading.Barrier(len(writers))
    statuses: list[list[int]] = [[] for _ in writers]

    def shop_for(index: int) -> None:
        client = clients[index]
        start.wait(timeout=30)
        for round_ in range(3):
            statuses[index].append(client.post("/api/cart/items", json={"product_id": 1, "quantity": 1}).status_code)
            statuses[index].append(client.put("/api/cart/items/1", json={"quantity": 2 + round_}).status_code)
            statuses[index].append(client.get("/api/products/2/stock").status_code)

    threads = [threading.Thread(target=shop_for, args=(index,)) for index in range(len(writers))]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=180)
    assert not any(thread.is_alive() for thread in threads), "a writer hung"
    return [status for per_writer in statuses for status in per_writer]


def test_twenty_concurrent_cart_writers_share_a_small_pool(small_pool, admin) -> None:
    engine, writers = small_pool
    flat = _write_concurrently(engine, writers)
    assert len(flat) == WRITERS * 9 and not [status for status in flat if status >= 500], flat
    assert isinstance(engine.pool, QueuePool) and engine.pool.checkedout() == 0
    assert _idle_in_transaction(admin) == 0
    assert shop.count(engine, "cart_items") == WRITERS


@pytest.mark.engines("sqlite")
def test_twenty_concurrent_cart_writers_on_sqlite_wait_for_the_write_lock(small_pool) -> None:
    """SQLite cannot upgrade a read lock while another writer waits: a cart write takes the write lock first."""
    engine, writers = small_pool
    flat = _write_concurrently(engine, writers)
    assert len(flat) == WRITERS * 9 and not [status for status in flat if status >= 500], flat
    assert shop.count(engine, "cart_items") == WRITERS


def test_the_first_request_after_a_database_restart_succeeds(small_pool, admin) -> None:
    engine, _writers = small_pool
    client = shop.api(engine).test_client()
    assert client.get("/api/products").status_code == 200
    _kill(admin, _app_connections(admin))  # what a restart does to every pooled connection
    assert client.get("/api/products").status_code == 200
