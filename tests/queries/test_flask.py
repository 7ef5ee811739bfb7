"""The Flask integration: per-request counts and N+1 findings, in the log and (debug) in headers."""

from __future__ import annotations

import logging

import pytest
from sqlalchemy import create_engine, event, select
from sqlalchemy.orm import Session, joinedload

from integrity_kit.queries.flask import init_app
from integrity_kit.queries.orm_context import note_orm_execute
from tests.queries.models import Base, Book, seed

flask = pytest.importorskip("flask")


@pytest.fixture
def engine():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session)
    yield engine
    engine.dispose()


def make_app(engine, **options):
    app = flask.Flask(__name__)

    @app.get("/naive")
    def naive():
        with Session(engine) as session:
            return {"books": [[b.title, b.author.name] for b in session.scalars(select(Book))]}

    @app.get("/fixed")
    def fixed():
        with Session(engine) as session:
            stmt = select(Book).options(joinedload(Book.author))
            return {"books": [[b.title, b.author.name] for b in session.scalars(stmt)]}

    @app.get("/boom")
    def boom():
        with Session(engine) as session:
            session.scalars(select(Book)).all()
        raise RuntimeError("view failed")

    init_app(app, engine, **options)
    return app


def test_headers_in_debug_name_the_relationship_and_fix(engine) -> None:
    app = make_app(engine)
    app.debug = True
    response = app.test_client().get("/naive")
    assert response.status_code == 200
    assert response.headers["X-Integrity-Kit-Queries"] == "5"
    assert "Book.author x4" in response.headers["X-Integrity-Kit-N-Plus-One"]
    assert "joinedload(Book.author)" in response.headers["X-Integrity-Kit-N-Plus-One"]
    fixed = app.test_client().get("/fixed")
    assert fixed.headers["X-Integrity-Kit-Queries"] == "1"
    assert fixed.headers["X-Integrity-Kit-N-Plus-One"] == "none"


def test_no_headers_outside_debug_but_findings_are_logged(engine, caplog) -> None:
    app = make_app(engine)
    with caplog.at_level(logging.INFO, logger="integrity_kit.queries"):
        response = app.test_client().get("/naive")
    assert "X-Integrity-Kit-Queries" not in response.headers
    assert "GET /naive: 5 queries, 1 N+1" in caplog.text
    assert "fix: joinedload(Book.author)" in caplog.text


def test_failing_view_leaves_no_listener_behind(engine) -> None:
    app = make_app(engine)
    app.config["PROPAGATE_EXCEPTIONS"] = False
    assert app.test_client().get("/boom").status_code == 500
    assert not engine.dispatch.before_cursor_execute
    assert not engine.dispatch.after_cursor_execute
    assert not event.contains(Session, "do_orm_execute", note_orm_execute)


def test_a_multi_line_fix_fits_in_one_header_line(engine) -> None:
    app = flask.Flask(__name__)

    @app.get("/newest")
    def newest():
        with Session(engine) as session:
            ids = session.scalars(select(Book.author_id).distinct()).all()
            return {"newest": [session.scalars(select(Book).where(Book.author_id == i)
                                               .order_by(Book.id.desc()).limit(1)).one().title for i in ids]}

    init_app(app, engine, headers=True)
    header = app.test_client().get("/newest").headers["X-Integrity-Kit-N-Plus-One"]
    assert "row_number().over(partition_by=Book.author_id" in header and "; rows = " in header
