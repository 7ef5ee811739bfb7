"""The reference API under concurrent shoppers: requests per second, 5xx answers and the pool at the end.

    python benchmarks/api_load.py [--url sqlite:///shop.db | postgresql+psycopg://postgres@127.0.0.1/bench]
                                  [--users 20,100] [--requests 2000] [--rows 3000] [--json FILE]

The app from ``create_app`` is served by Werkzeug's threaded server on 127.0.0.1 (a thread per request, as
``python -m examples.ecommerce serve`` runs it) over a freshly built reference database (the URL's app tables are
dropped and recreated, so point it at a scratch database; without ``--url`` a SQLite file in a temporary
directory). For each user count, that many simulated shoppers, each a thread with its own HTTP connections, log in
as sample users and then browse, add to their cart, view it, check out and pay, until ``--requests`` requests have
been made in total. A ``429`` is waited out as its ``Retry-After`` says (logins beyond the hashing cap get it). The
table gives requests per second, answers by class, the 5xx count, the pool's checked-out connections once the
shoppers are done, and on PostgreSQL the sessions left idle in a transaction.
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import logging
import platform
import random
import tempfile
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, text
from sqlalchemy.pool import QueuePool
from werkzeug.serving import make_server

from examples.ecommerce import database, sample_data
from examples.ecommerce.api import create_app
from examples.ecommerce.models import Product, User
from examples.ecommerce.security import QuietRequestHandler
from integrity_kit.connect import mask_url


@dataclass
class Tally:
    """Answers counted across shoppers (one lock: the counters are shared by every thread)."""

    budget: int
    statuses: Counter[int] = field(default_factory=Counter)
    errors: Counter[str] = field(default_factory=Counter)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def take(self) -> bool:
        with self.lock:
            if self.budget <= 0:
                return False
            self.budget -= 1
            return True

    def record(self, status: int) -> None:
        with self.lock:
            self.statuses[status] += 1


class Shopper:
    def __init__(self, port: int, email: str, products: list[int], tally: Tally, seed: int) -> None:
        self.port, self.email, self.products, self.tally = port, email, products, tally
        self.token: str | None = None
        self.rng = random.Random(seed)
        self.keys = itertools.count(1)

    def call(self, method: str, path: str, body: object = None) -> tuple[int, Any]:
        """One request (waiting out 429s, which do not use up the budget twice)."""
        headers = {"Content-Type": "application/json"}
        if self.token:
            headers["Authorization"] = f"Bearer {self.token}"
        while True:
            connection = http.client.HTTPConnection("127.0.0.1", self.port, timeout=120)
            try:
                connection.request(method, path, body=None if body is None else json.dumps(body), headers=headers)
                response = connection.getresponse()
                payload = response.read()
                status, retry_after = response.status, response.headers.get("Retry-After")
            except OSError as error:
                self.tally.errors[type(error).__name__] += 1
                return 0, None
            finally:
                connection.close()
            self.tally.record(status)
            if status == 429 and retry_after:
                time.sleep(float(retry_after))
                continue
            return status, json.loads(payload) if payload else None

    def run(self) -> None:
        if not self.tally.take():
            return
        status, body = self.call("POST", "/api/auth/login", {"email": self.email,
                                                             "password": sample_data.SAMPLE_PASSWORD})
        if status != 200:
            return
        self.token = body["token"]
        while self.tally.take():
            step = self.rng.random()
            product = self.rng.choice(self.products)
            if step < 0.3:
                self.call("GET", f"/api/products?page={self.rng.randint(1, 5)}&per_page=20")
            elif step < 0.45:
                self.call("GET", f"/api/products/{product}/stock")
            elif step < 0.7:
                self.call("POST", "/api/cart/items", {"product_id": product, "quantity": 1})
            elif step < 0.85:
                self.call("GET", "/api/cart")
            else:
                status, order = self.call("POST", "/api/checkout")
                if status == 201 and self.tally.take():
                    self.call("POST", "/api/payment/process", {"order_id": order["id"],
                                                               "idempotency_key": f"pay-{next(self.keys)}"})


@contextmanager
def serving(engine: Engine) -> Iterator[int]:
    server = make_server("127.0.0.1", 0, create_app(engine), threaded=True, request_handler=QuietRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        thread.join(timeout=30)


def idle_in_transaction(engine: Engine) -> int | None:
    if engine.dialect.name != "postgresql":
        return None
    with engine.connect() as connection:
        return connection.execute(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND state LIKE 'idle in transaction%'")).scalar_one()


def run(engine: Engine, users: int, requests: int) -> dict[str, Any]:
    with engine.connect() as connection:
        emails = list(connection.execute(select(User.email).order_by(User.id).limit(users)).scalars())
        products = list(connection.execute(select(Product.id).where(Product.stock > 0).order_by(Product.id)
                                           .limit(50)).scalars())
    if len(emails) < users:
        raise SystemExit(f"only {len(emails)} sample users: raise --rows")
    tally = Tally(requests)
    with serving(engine) as port:
        shoppers = [Shopper(port, email, products, tally, seed) for seed, email in enumerate(emails)]
        threads = [threading.Thread(target=shopper.run) for shopper in shoppers]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
    made = sum(tally.statuses.values())
    pool = engine.pool
    return {"users": users, "requests": made, "seconds": round(elapsed, 2), "requests_per_s": round(made / elapsed, 1),
            "by_class": {f"{klass}xx": sum(n for s, n in tally.statuses.items() if s // 100 == klass)
                         for klass in (2, 4, 5)},
            "http_429": tally.statuses[429], "server_errors": sum(n for s, n in tally.statuses.items() if s >= 500),
            "connection_errors": dict(tally.errors),
            "pool_checked_out": pool.checkedout() if isinstance(pool, QueuePool) else None,
            "idle_in_transaction": idle_in_transaction(engine)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", help="a scratch database (its app tables are recreated); default a SQLite file")
    parser.add_argument("--users", default="20,100", help="comma-separated shopper counts")
    parser.add_argument("--requests", type=int, default=2000, help="requests per run, across all shoppers")
    parser.add_argument("--rows", type=int, default=3000, help="approximate sample rows (enough users for --users)")
    parser.add_argument("--json", type=Path, help="also write the results here")
    args = parser.parse_args()
    logging.getLogger("werkzeug").setLevel(logging.WARNING)  # one access-log line per request would drown the table
    with tempfile.TemporaryDirectory() as scratch:
        url = args.url or f"sqlite:///{scratch}/shop.db"
        engine = database.make_engine(url)
        results = []
        try:
            for users in (int(value) for value in args.users.split(",")):
                database.drop_schema(engine)
                database.create_schema(engine)
                sample_data.load(engine, args.rows)
                results.append(run(engine, users, args.requests))
        finally:
            database.drop_schema(engine)
            engine.dispose()
    header = (f"{'users':>5}  {'requests':>8}  {'req/s':>7}  {'2xx':>5}  {'4xx':>5}  {'429':>4}  {'5xx':>4}  "
              f"{'pool checked out':>16}  {'idle in txn':>11}")
    print(f"API load on {mask_url(engine.url)} ({engine.dialect.name}), Python {platform.python_version()}")
    print(header)
    for row in results:
        idle = "-" if row["idle_in_transaction"] is None else row["idle_in_transaction"]
        print(f"{row['users']:>5}  {row['requests']:>8}  {row['requests_per_s']:>7}  {row['by_class']['2xx']:>5}  "
              f"{row['by_class']['4xx']:>5}  {row['http_429']:>4}  {row['server_errors']:>4}  "
              f"{row['pool_checked_out']!s:>16}  {idle!s:>11}")
    if args.json:
        args.json.write_text(json.dumps({"dialect": engine.dialect.name, "results": results}, indent=2) + "\n")


if __name__ == "__main__":
    main()
