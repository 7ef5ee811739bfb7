"""Scratch databases on the test servers: one fresh database per test, dropped afterwards.

Settings come from ``IK_TEST_POSTGRES_URL`` and ``IK_TEST_MYSQL_URL``. A server that cannot be reached skips the
test locally but fails it when ``CI=true``, so CI can never go green by skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import URL, make_url

ENGINES = ("sqlite", "postgresql", "mariadb")

SERVER_URLS = {
    "postgresql": os.environ.get("IK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"),
    "mariadb": os.environ.get("IK_TEST_MYSQL_URL", "mysql+pymysql://root@127.0.0.1:3306/test"),
}


def in_ci() -> bool:
    return os.environ.get("CI", "").strip().lower() in {"1", "true", "yes"}


@cache
def _unreachable_reason(engine_name: str) -> str | None:
    url = make_url(SERVER_URLS[engine_name])
    engine = create_engine(url, connect_args={"connect_timeout": 3})
    try:
        with engine.connect():
            return None
    except Exception as error:  # any failure to connect means "no server here"
        return f"{engine_name} at {url.render_as_string(hide_password=True)} is unreachable: {error}".splitlines()[0]
    finally:
        engine.dispose()


def require_server(engine_name: str) -> None:
    """Skip (locally) or fail (in CI) when the server for ``engine_name`` cannot be reached."""
    if engine_name == "sqlite":
        return
    reason = _unreachable_reason(engine_name)
    if reason:
        if in_ci():
            pytest.fail(f"{reason} (CI=true: a missing server is a failure, not a skip)")
        pytest.skip(reason)


@contextmanager
def scratch_database(engine_name: str, tmp_path) -> Iterator[URL]:
    """A URL for a brand-new empty database on ``engine_name``, dropped when the block exits."""
    if engine_name == "sqlite":
        tmp_path.mkdir(parents=True, exist_ok=True)
        yield make_url(f"sqlite:///{tmp_path / 'scratch.db'}")
        return
    require_server(engine_name)
    server = make_url(SERVER_URLS[engine_name])
    name = f"ik_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    try:
        with admin.connect() as connection:
            connection.execute(text(f"CREATE DATABASE {name}"))
        try:
            yield server.set(database=name)
        finally:
            drop = f"DROP DATABASE IF EXISTS {name}"
            if engine_name == "postgresql":
                drop += " WITH (FORCE)"  # a leaked connection must not keep the scratch database alive
            with admin.connect() as connection:
                connection.execute(text(drop))
    finally:
        admin.dispose()

