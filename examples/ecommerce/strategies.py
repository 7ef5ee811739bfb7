"""The five ways to take stock for a checkout, side by side: one unsafe, four safe.

Each strategy *claims* units of one product inside the caller's transaction (moves them from available to
reserved) and returns the unit price read under the same protection. The checkout claims its lines in ascending
product id, so two carts holding the same products lock them in the same order and cannot deadlock each other.

- ``naive``: read, check in Python, write the computed value. Two buyers that read the same row both pass the check
  and the second write overwrites the first (a lost update, then an oversell). Kept so the lessons can show it.
- ``for-update``: ``SELECT ... FOR UPDATE`` first, so the read-check-write runs with the row locked.
- ``conditional-update``: one ``UPDATE ... WHERE stock - reserved >= :q``; the database checks and writes
  atomically and ``rowcount`` says whether it did.
- ``optimistic``: read the row's ``version``, write ``WHERE version = :read``; 0 rows means someone else won, so
  the whole transaction is retried (a bounded number of times).
- ``serializable``: the naive code under SERIALIZABLE isolation; the engine aborts one of two conflicting
  transactions (PostgreSQL 40001/40P01, MySQL/MariaDB deadlock 1213), which is retried with backoff.

SQLite has no row locks at all: ``FOR UPDATE`` is silently dropped from the SQL. Strategies that need a write lock
start the transaction with ``BEGIN IMMEDIATE`` there, which takes the single database-wide write lock up front.
"""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from sqlalchemy import CursorResult, Engine, Result, select, text, update
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import Product

Pause = Callable[[int], None]
"""Called between a strategy's read and its write, with the product id (tests use it to force interleavings)."""

# Vendor codes that mean "this transaction lost a race; run it again".
PG_RETRYABLE = {"40001": "serialization failure", "40P01": "deadlock detected"}
MYSQL_RETRYABLE = {
    1213: "deadlock found",
    1205: "lock wait timeout",
    1020: "record has changed since last read",  # MariaDB with innodb_snapshot_isolation=ON
}
SQLITE_RETRYABLE = {5: "database is locked (SQLITE_BUSY)", 6: "table is locked (SQLITE_LOCKED)"}


def retryable(error: BaseException) -> str | None:
    """Why ``error`` is a transient concurrency failure worth retrying (e.g. ``"40001 serialization failure"``),
    or ``None`` when retrying would not help."""
    original = error.orig if isinstance(error, DBAPIError) else error
    if original is None:
        return None
    # The MySQL error number first: recent PyMySQL also sets `sqlstate`, and a deadlock's SQLSTATE there is
    # 40001, which would mislabel it a serialization failure.
    args = getattr(original, "args", ())
    if args and isinstance(args[0], int) and args[0] in MYSQL_RETRYABLE:
        return f"{args[0]} {MYSQL_RETRYABLE[args[0]]}"
    sqlstate = getattr(original, "sqlstate", None)
    if sqlstate in PG_RETRYABLE:
        return f"{sqlstate} {PG_RETRYABLE[sqlstate]}"
    code = getattr(original, "sqlite_errorcode", None)
    if code is not None:
        # Extended result codes (e.g. SQLITE_BUSY_SNAPSHOT = 517) carry the primary code in the low byte.
        primary = code & 0xFF
        if primary in SQLITE_RETRYABLE:
            return f"{primary} {SQLITE_RETRYABLE[primary]}"
    return None


class VersionConflict(Exception):
    """The optimistic strategy's write matched no row: the version it read is stale."""


def rowcount(result: Result[Any]) -> int:
    """Rows an UPDATE or DELETE matched. ``Session.execute`` returns a ``CursorResult`` for DML, though its
    signature promises only a ``Result``."""
    if not isinstance(result, CursorResult):
        raise TypeError(f"expected the CursorResult of a DML statement, got {type(result).__name__}")
    return result.rowcount


def insufficient(product_id: int, requested: int, available: int) -> DomainError:
    return DomainError("INSUFFICIENT_STOCK", f"only {max(available, 0)} left of product {product_id}",
                       {"product_id": product_id, "requested": requested, "available": max(available, 0)})


def _read(session: Session, product_id: int, *, lock: bool = False):
    query = select(Product.stock, Product.reserved, Product.version, Product.price).where(Product.id == product_id)
    if lock:
        query = query.with_for_update()
    row = session.execute(query).one_or_none()
    if row is None:
        raise DomainError("NOT_FOUND", f"product {product_id} does not exist", {"product_id": product_id})
    return row


def claim_naive(session: Session, product_id: int, quantity: int, pause: Pause) -> Decimal:
    row = _read(session, product_id)
    if row.stock - row.reserved < quantity:
        raise insufficient(product_id, quantity, row.stock - row.reserved)
    pause(product_id)
    # The bug: the new value was computed from a read that may already be stale.
    session.execute(update(Product).where(Product.id == product_id).values(reserved=row.reserved + quantity))
    return row.price


def claim_for_update(session: Session, product_id: int, quantity: int, pause: Pause) -> Decimal:
    row = _read(session, product_id, lock=True)
    if row.stock - row.reserved < quantity:
        raise insufficient(product_id, quantity, row.stock - row.reserved)
    pause(product_id)
    session.execute(update(Product).where(Product.id == product_id).values(reserved=row.reserved + quantity))
    return row.price


def claim_conditional(session: Session, product_id: int, quantity: int, pause: Pause) -> Decimal:
    pause(product_id)
    claimed = rowcount(session.execute(
        update(Product)
        .where(Product.id == product_id, Product.stock - Product.reserved >= quantity)
        .values(reserved=Product.reserved + quantity)
    ))
    row = _read(session, product_id)  # after our UPDATE this row is locked by us: the price cannot move
    if claimed != 1:
        raise insufficient(product_id, quantity, row.stock - row.reserved)
    return row.price


def claim_optimistic(session: Session, product_id: int, quantity: int, pause: Pause) -> Decimal:
    row = _read(session, product_id)
    if row.stock - row.reserved < quantity:
        raise insufficient(product_id, quantity, row.stock - row.reserved)
    pause(product_id)
    written = rowcount(session.execute(
        update(Product)
        .where(Product.id == product_id, Product.version == row.version)
        .values(reserved=row.reserved + quantity, version=row.version + 1)
    ))
    if written != 1:
        raise VersionConflict(product_id)
    return row.price


@dataclass(frozen=True)
class Strategy:
    name: str
    claim: Callable[[Session, int, int, Pause], Decimal]
    isolation_level: str | None = None
    # Take SQLite's database-wide write lock at BEGIN (SQLite has no row locks to take instead).
    sqlite_immediate: bool = False
    max_attempts: int = 1
    safe: bool = True


STRATEGIES: dict[str, Strategy] = {
    "naive": Strategy("naive", claim_naive, safe=False),
    "for-update": Strategy("for-update", claim_for_update, sqlite_immediate=True, max_attempts=5),
    "conditional-update": Strategy("conditional-update", claim_conditional, max_attempts=5),
    "optimistic": Strategy("optimistic", claim_optimistic, max_attempts=20),
    "serializable": Strategy("serializable", claim_naive, isolation_level="SERIALIZABLE", sqlite_immediate=True,
                             max_attempts=40),
}


SAFE_STRATEGIES = tuple(name for name, strategy in STRATEGIES.items() if strategy.safe)


def get_strategy(name: str) -> Strategy:
    try:
        return STRATEGIES[name]
    except KeyError:
        raise DomainError("VALIDATION_ERROR", f"unknown strategy {name!r}",
                          {"field": "strategy", "rule": "choice", "value": name, "allowed": list(STRATEGIES)}) from None


def get_safe_strategy(name: str) -> Strategy:
    """The strategy called ``name`` if it cannot oversell; what untrusted callers (the HTTP API) may choose from."""
    strategy = STRATEGIES.get(name)
    if strategy is None or not strategy.safe:
        reason = "unknown strategy" if strategy is None else "unsafe strategy (it can oversell), not offered"
        raise DomainError("VALIDATION_ERROR", f"{reason} {name!r}",
                          {"field": "strategy", "rule": "choice", "value": name, "allowed": list(SAFE_STRATEGIES)})
    return strategy


@dataclass
class Attempts:
    count: int = 0
    retried_because: list[str] | None = None


def run_transaction(engine: Engine, strategy: Strategy, work: Callable[[Session], object], *,
                    attempts: Attempts | None = None, sleep: Callable[[float], None] = time.sleep):
    """Run ``work(session)`` in one transaction under ``strategy``'s rules, retrying lost races.

    Retries on a stale optimistic version and on the engine's transient concurrency errors (see
    :func:`retryable`), with jittered exponential backoff so the losers do not collide again in lockstep. The
    unsafe ``naive`` strategy does not retry: it does not know it lost.
    """
    attempts = attempts or Attempts()
    attempts.retried_because = attempts.retried_because or []
    bind = engine
    if strategy.isolation_level and engine.dialect.name != "sqlite":
        bind = engine.execution_options(isolation_level=strategy.isolation_level)
    for attempt in range(1, strategy.max_attempts + 1):
        attempts.count = attempt
        session = Session(bind, expire_on_commit=False)
        try:
            if strategy.sqlite_immediate and engine.dialect.name == "sqlite":
                session.execute(text("BEGIN IMMEDIATE"))
            result = work(session)
            session.commit()
            return result
        except VersionConflict:
            session.rollback()
            reason = "version conflict"
        except DBAPIError as error:
            session.rollback()
            why = retryable(error)
            if why is None:
                raise
            reason = why
        except BaseException:
            session.rollback()
            raise
        finally:
            session.close()
        attempts.retried_because.append(reason)
        if attempt == strategy.max_attempts:
            break
        sleep(random.uniform(0, min(0.2, 0.002 * 2**attempt)))
    raise DomainError("CONFLICT", f"gave up after {strategy.max_attempts} attempts: too much contention",
                      {"strategy": strategy.name, "attempts": strategy.max_attempts,
                       "last_error": attempts.retried_because[-1] if attempts.retried_because else None})
