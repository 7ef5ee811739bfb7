"""The pytest plugin's race-risk check on an inner suite: a plain single-threaded test of a checkout that reads stock
and writes the computed value fails, the locked and the conditional versions pass, the marker and the baseline
accept a known one, and under pytest-xdist the workers' findings reach the controller.

The inner app reads its database URL from ``RR_INNER_URL`` (one schema per inner test on PostgreSQL, a database
per inner test on MariaDB, a file on SQLite with SQLAlchemy's explicit-BEGIN recipe, so SQLite's verdict is the
"errors instead" one).
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

APP = '''
import os

from sqlalchemy import Column, Integer, String, create_engine, event, select, text, update
from sqlalchemy.orm import Session, declarative_base

Base = declarative_base()


class Product(Base):
    __tablename__ = "products"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    stock = Column(Integer, nullable=False)


class CartLine(Base):
    __tablename__ = "cart_lines"
    id = Column(Integer, primary_key=True)
    cart_id = Column(Integer, nullable=False)
    product_id = Column(Integer, nullable=False)


def make_session(name, tmp_path):
    url = os.environ.get("RR_INNER_URL", "sqlite://")
    if url.startswith("postgresql"):
        admin = create_engine(url)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {name} CASCADE")
            connection.exec_driver_sql(f"CREATE SCHEMA {name}")
        admin.dispose()
        engine = create_engine(url, connect_args={"options": f"-csearch_path={name}"})
    elif url.startswith("mysql"):
        admin = create_engine(url)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {name}")
            connection.exec_driver_sql(f"CREATE DATABASE {name}")
        admin.dispose()
        engine = create_engine(url.rsplit("/", 1)[0] + "/" + name)
    else:
        engine = create_engine(f"sqlite:///{tmp_path}/shop.db")

        @event.listens_for(engine, "connect")
        def _connect(dbapi_connection, _record):
            dbapi_connection.isolation_level = None  # SQLAlchemy's recipe: we send BEGIN ourselves

        @event.listens_for(engine, "begin")
        def _begin(connection):
            connection.exec_driver_sql("BEGIN")

    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add(Product(id=1, name="last one", stock=5))
        session.commit()
    return engine


def take_naive(engine, quantity):
    with Session(engine) as session:
        product = session.get(Product, 1)
        if product.stock < quantity:
            raise ValueError("sold out")
        product.stock = product.stock - quantity
        session.commit()


def take_locked(engine, quantity):
    with Session(engine) as session:
        product = session.get(Product, 1, with_for_update=True)
        if product.stock < quantity:
            raise ValueError("sold out")
        product.stock = product.stock - quantity
        session.commit()


def take_conditional(engine, quantity):
    with Session(engine) as session:
        done = session.execute(update(Product).where(Product.id == 1, Product.stock >= quantity)
                               .values(stock=Product.stock - quantity))
        if done.rowcount != 1:
            raise ValueError("sold out")
        session.commit()


def add_line(engine, cart_id, product_id):
    with Session(engine) as session:
        found = session.scalars(select(CartLine).filter_by(cart_id=cart_id, product_id=product_id)).first()
        if found is None:
            session.add(CartLine(cart_id=cart_id, product_id=product_id))
        session.commit()
'''

CONFTEST = '''
import re

import pytest

from app import make_session


@pytest.fixture
def engine(request, tmp_path):
    engine = make_session("rr_" + re.sub(r"\\W", "_", request.node.name)[:40], tmp_path)
    yield engine
    engine.dispose()
'''

TESTS = '''
import pytest

from app import add_line, take_conditional, take_locked, take_naive


def test_naive(engine):
    take_naive(engine, 1)


def test_locked(engine):
    take_locked(engine, 1)


def test_conditional(engine):
    take_conditional(engine, 1)


def test_add_line(engine):
    add_line(engine, 1, 1)


@pytest.mark.allow_race_risk("products.stock")
def test_naive_accepted(engine):
    take_naive(engine, 1)
'''

NAIVE_WRITE = APP.splitlines().index("def take_naive(engine, quantity):") + 6


@pytest.fixture
def suite(pytester: pytest.Pytester, engine_url, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    url = engine_url.render_as_string(hide_password=False)
    monkeypatch.setenv("RR_INNER_URL", url if not url.startswith("sqlite") else "sqlite://")
    pytester.makepyfile(app=APP, conftest=CONFTEST, test_shop=TESTS)
    return pytester


def test_a_plain_test_fails_on_the_lost_update_it_would_allow(suite: pytest.Pytester, engine_name: str) -> None:
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "--detect-race-risks=fail")
    out = result.stdout.str()
    if engine_name == "sqlite":
        # One writer at a time: the second run errors instead of losing the update, so the tests pass and say so.
        result.assert_outcomes(passed=5)
        summary = out.split("race risks (integrity-kit)", 1)[1]
        assert "test_shop.py::test_naive: race risk (read-modify-write) on products (stock)" in summary
        assert "database is locked" in summary
        assert "test_add_line: race risk (check-then-insert) on cart_lines (cart_id, product_id)" in summary
        return
    result.assert_outcomes(passed=3, failed=2)
    assert "FAILED test_shop.py::test_naive" in out and "FAILED test_shop.py::test_add_line" in out
    assert "race risk (read-modify-write) on products (stock): two concurrent runs lose an update" in out
    assert f"write: app.py:{NAIVE_WRITE}" in out
    assert "race risk (check-then-insert) on cart_lines (cart_id, product_id)" in out
    assert "with_for_update" in out and "UniqueConstraint" in out
    for clean in ("test_locked", "test_conditional", "test_naive_accepted"):
        assert f"FAILED test_shop.py::{clean}" not in out
    assert "plugin errors" not in out


@pytest.mark.engines("postgresql")
def test_warn_lists_them_and_off_is_silent(suite: pytest.Pytester) -> None:
    warned = suite.runpytest_subprocess("-p", "no:cacheprovider", "--detect-race-risks=warn")
    warned.assert_outcomes(passed=5)
    summary = warned.stdout.str().split("N+1, duplicate queries and race risks (integrity-kit)", 1)[1]
    assert "test_shop.py::test_naive: race risk (read-modify-write)" in summary
    assert "test_naive_accepted" not in summary
    off = suite.runpytest_subprocess("-p", "no:cacheprovider")
    off.assert_outcomes(passed=5)
    assert "race risk" not in off.stdout.str()


@pytest.mark.engines("postgresql", "mariadb")
def test_a_baseline_accepts_what_it_recorded(suite: pytest.Pytester) -> None:
    written = suite.runpytest_subprocess("-p", "no:cacheprovider", "--detect-race-risks=fail",
                                         "--write-n-plus-one-baseline=baseline.json")
    written.assert_outcomes(passed=5)
    written.stdout.fnmatch_lines(["*wrote 0 N+1, 0 duplicate and 3 race-risk finding(s) to *baseline.json*"])
    entries = json.loads((suite.path / "baseline.json").read_text())["race_risks"]
    assert [(e["test"], e["what"], e["file"]) for e in entries] == [
        ("test_shop.py::test_add_line", "check-then-insert cart_lines(cart_id, product_id)", "app.py"),
        ("test_shop.py::test_naive", "read-modify-write products(stock)", "app.py"),
        ("test_shop.py::test_naive_accepted", "read-modify-write products(stock)", "app.py"),  # all are recorded
    ]
    assert entries[1]["location"] == f"app.py:{NAIVE_WRITE}" and entries[1]["read"].startswith("app.py:")
    again = suite.runpytest_subprocess("-p", "no:cacheprovider", "--detect-race-risks=fail",
                                       "--n-plus-one-baseline=baseline.json")
    again.assert_outcomes(passed=5)


@pytest.mark.engines("postgresql")
def test_xdist_workers_send_their_race_risks_to_the_controller(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--detect-race-risks=warn")
    result.assert_outcomes(passed=5)
    summary = result.stdout.str().split("race risks (integrity-kit)", 1)[1]
    assert "test_shop.py::test_naive: race risk (read-modify-write)" in summary
    assert "test_shop.py::test_add_line: race risk (check-then-insert)" in summary
