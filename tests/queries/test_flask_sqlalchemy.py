"""Capture with a Flask-SQLAlchemy app: ``db.engine``, the ``db`` object itself, ``db.session``, binds, init_app."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, String, select
from sqlalchemy.orm import DeclarativeBase, Mapped, joinedload, mapped_column, relationship

from integrity_kit.queries import capture
from integrity_kit.queries.flask import init_app

flask = pytest.importorskip("flask")
flask_sqlalchemy = pytest.importorskip("flask_sqlalchemy")

HERE = f"tests/queries/{Path(__file__).name}"


class Base(DeclarativeBase):
    pass


db = flask_sqlalchemy.SQLAlchemy(model_class=Base)


class Shelf(db.Model):
    __tablename__ = "fsa_shelves"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))


class Item(db.Model):
    __tablename__ = "fsa_items"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    shelf_id: Mapped[int] = mapped_column(ForeignKey("fsa_shelves.id"))
    shelf: Mapped[Shelf] = relationship()


class Note(db.Model):
    """Lives on a second bind, as apps with an audit or analytics database do."""

    __tablename__ = "fsa_notes"
    __bind_key__ = "notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    text: Mapped[str] = mapped_column(String(40))


def naive_listing() -> list[list[str]]:
    return [[item.name, item.shelf.name] for item in db.session.scalars(select(Item))]  # the N+1 line


def fixed_listing() -> list[list[str]]:
    return [[item.name, item.shelf.name] for item in db.session.scalars(select(Item).options(joinedload(Item.shelf)))]


NAIVE_LINE = next(i + 1 for i, line in enumerate(Path(__file__).read_text().splitlines()) if "# the N+1 line" in line)


@pytest.fixture
def app(engine_url, tmp_path):
    app = flask.Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = engine_url.render_as_string(hide_password=False)
    app.config["SQLALCHEMY_BINDS"] = {"notes": f"sqlite:///{tmp_path / 'notes.db'}"}
    db.init_app(app)

    @app.get("/items")
    def items():
        return {"items": naive_listing()}

    @app.get("/items/fixed")
    def items_fixed():
        return {"items": fixed_listing()}

    with app.app_context():
        db.create_all()
        shelves = [Shelf(name=f"shelf {i}") for i in range(3)]
        db.session.add_all(Item(name=f"item {i}", shelf=shelves[i % 3]) for i in range(6))
        db.session.add(Note(text="hello"))
        db.session.commit()
        db.session.remove()
    yield app
    with app.app_context():
        db.session.remove()
        for engine in db.engines.values():
            engine.dispose()


@pytest.mark.engines("sqlite", "postgresql")
def test_capture_on_db_engine_flags_the_listing(app) -> None:
    with app.app_context():
        with capture(db.engine) as log:
            naive_listing()
        (finding,) = log.n_plus_one
        assert (finding.relationship, finding.count, finding.fix) == ("Item.shelf", 3, "joinedload(Item.shelf)")
        assert finding.location == f"{HERE}:{NAIVE_LINE}"
        with capture(db.engine) as fixed:
            fixed_listing()
        assert fixed.n_plus_one == [] and len(fixed.statements) == 1


@pytest.mark.engines("sqlite")
def test_capture_accepts_the_extension_object(app) -> None:
    with app.app_context(), capture(db) as log:
        naive_listing()
    assert [f.relationship for f in log.n_plus_one] == ["Item.shelf"]


@pytest.mark.engines("sqlite")
def test_each_bind_is_its_own_engine_and_capture_without_engine_sees_all(app) -> None:
    with app.app_context():
        with capture(db.engine) as default_only:
            naive_listing()
            db.session.scalars(select(Note)).all()
        with capture() as everything:
            naive_listing()
            db.session.scalars(select(Note)).all()
    assert not any("fsa_notes" in s.sql for s in default_only.statements)
    assert sum("fsa_notes" in s.sql for s in everything.statements) == 1
    assert len(everything.statements) == len(default_only.statements) + 1


@pytest.mark.engines("sqlite", "postgresql")
def test_init_app_with_the_extension_reports_per_request(app) -> None:
    init_app(app, db, headers=True)
    client = app.test_client()
    naive = client.get("/items")
    assert naive.status_code == 200
    assert naive.headers["X-Integrity-Kit-Queries"] == "4"
    assert "Item.shelf x3" in naive.headers["X-Integrity-Kit-N-Plus-One"]
    assert "joinedload(Item.shelf)" in naive.headers["X-Integrity-Kit-N-Plus-One"]
    fixed = client.get("/items/fixed")
    assert (fixed.headers["X-Integrity-Kit-Queries"], fixed.headers["X-Integrity-Kit-N-Plus-One"]) == ("1", "none")
    with app.app_context():
        assert not db.engine.dispatch.before_cursor_execute  # every request's capture unhooked itself
