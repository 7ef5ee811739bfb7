"""The audit's connection discipline, shared by every command that reads a user's database: a transaction the
database itself keeps read-only, a per-statement time budget and a shorter bound on lock waits."""

from __future__ import annotations

import contextlib
import math
from collections.abc import Iterator
from dataclasses import dataclass

from sqlalchemy import Connection


@dataclass(frozen=True)
class Budget:
    """The audit's time limits in seconds: per statement, and per wait for another session's lock."""

    statement: float
    lock: float


@contextlib.contextmanager
def read_only(connection: Connection, budget: Budget) -> Iterator[None]:
    """A transaction the database itself keeps read-only, with a per-statement time budget and a shorter bound on
    lock waits; always rolled back."""
    name = connection.dialect.name
    milliseconds = max(1, int(budget.statement * 1000))
    if name == "postgresql":
        connection.exec_driver_sql("SET TRANSACTION READ ONLY")
        connection.exec_driver_sql(f"SET LOCAL statement_timeout = {milliseconds}")
        connection.exec_driver_sql(f"SET LOCAL lock_timeout = {max(1, int(budget.lock * 1000))}")
    elif name in ("mysql", "mariadb"):
        if getattr(connection.dialect, "is_mariadb", False):
            connection.exec_driver_sql(f"SET SESSION max_statement_time = {budget.statement:.3f}")
        else:
            connection.exec_driver_sql(f"SET SESSION max_execution_time = {milliseconds}")
        # Metadata locks (SHOW CREATE TABLE, information_schema) wait this long; it counts in whole seconds.
        connection.exec_driver_sql(f"SET SESSION lock_wait_timeout = {max(1, math.ceil(budget.lock))}")
        connection.commit()  # START TRANSACTION must open the transaction itself
        connection.exec_driver_sql("START TRANSACTION READ ONLY")
    elif name == "sqlite":
        connection.exec_driver_sql("PRAGMA query_only = ON")
    try:
        yield
    finally:
        connection.rollback()
        if name == "sqlite":
            connection.exec_driver_sql("PRAGMA query_only = OFF")
            connection.rollback()
