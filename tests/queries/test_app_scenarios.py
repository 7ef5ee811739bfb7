"""The classes of wrong finding seen on real applications' test suites (issue 20), each reproduced, on SQLite and
PostgreSQL: separate requests merged into one N+1, locations inside libraries and templates, dynamic collections,
fixes that select the wrong thing, ``now()`` parameters and schema reflection.

Lines a finding must point at carry a ``# at: NAME`` marker. Fixes are not only compared as text: each proposed
code is executed against the same data and must return what the loop computed.
"""

from __future__ import annotations

import datetime
import re
import string
import sys
import textwrap
from pathlib import Path

import pytest
from sqlalchemy import ForeignKey, MetaData, String, Table, create_engine, func, select
from sqlalchemy.orm import (
    DeclarativeBase,
    DynamicMapped,
    Mapped,
    Session,
    WriteOnlyMapped,
    aliased,
    deferred,
    mapped_column,
    relationship,
)

from integrity_kit.queries import capture

pytestmark = pytest.mark.engines("sqlite", "postgresql")
flask = pytest.importorskip("flask")

HERE = f"tests/queries/{Path(__file__).name}"
_MARKS = {m.group(1): i + 1 for i, line in enumerate(Path(__file__).read_text().splitlines())
          if (m := re.search(r"# at: (\w+)", line))}


def at(name: str) -> str:
    return f"{HERE}:{_MARKS[name]}"


class Base(DeclarativeBase):
    pass


class Member(Base):
    __tablename__ = "ika_members"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    bio: Mapped[str | None] = deferred(mapped_column(String(200)))
    posts: DynamicMapped[Post] = relationship(lazy="dynamic", cascade="all, delete-orphan",
                                              order_by="Post.id")
    notes: WriteOnlyMapped[Note] = relationship(passive_deletes=True)


class Post(Base):
    __tablename__ = "ika_posts"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ika_members.id"), index=True)
    amount: Mapped[int] = mapped_column()
    created: Mapped[datetime.datetime] = mapped_column()
    member: Mapped[Member] = relationship(overlaps="posts")


class Note(Base):
    __tablename__ = "ika_notes"
    id: Mapped[int] = mapped_column(primary_key=True)
    member_id: Mapped[int] = mapped_column(ForeignKey("ika_members.id", ondelete="CASCADE"))
    text: Mapped[str] = mapped_column(String(40))


MEMBERS = 4
T0 = datetime.datetime(2026, 1, 1)


@pytest.fixture
def engine(engine_url):
    engine = create_engine(engine_url)
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        for m in range(MEMBERS):
            member = Member(name=f"member {m}", bio=f"bio {m}")
            session.add(member)
            session.flush()
            for p in range(3):
                session.add(Post(member_id=member.id, amount=10 * m + p,
                                 created=T0 + datetime.timedelta(days=3 * m + (p * 7) % 3)))
            session.add(Note(member_id=member.id, text="hello"))
        session.commit()
    yield engine
    engine.dispose()


@pytest.fixture
def session(engine):
    with Session(engine) as session:
        yield session


def run_fix(code: str, session: Session, keys: list[int]):
    """Execute a proposed fix (an expression or statements ending in an assignment to ``rows``) and return it."""
    namespace = {"select": select, "func": func, "aliased": aliased, "session": session, "keys": keys,
                 "parent_ids": keys, **{cls.__name__: cls for cls in (Member, Post, Note)}}
    if "\n" in code or code.startswith("ranked ="):
        exec(code, namespace)
        return namespace["rows"]
    return eval(code, namespace)


# --- separate calls are not one N+1 ----------------------------------------------------------------------------------


def _first_post(session: Session, member_id: int) -> Post | None:
    return session.scalars(select(Post).where(Post.member_id == member_id)).first()  # at: helper


def make_app(engine):
    app = flask.Flask(__name__)

    @app.get("/member/<int:member_id>")
    def one_member(member_id: int):
        with Session(engine) as session:
            post = _first_post(session, member_id)  # each request calls the helper once
            return {"amount": post.amount if post else None}

    @app.get("/all")
    def every_member():
        with Session(engine) as session:
            ids = session.scalars(select(Member.id)).all()
            return {"amounts": [_first_post(session, i).amount for i in ids]}  # at: view_loop

    return app


def test_a_helper_each_of_two_requests_calls_once_is_not_n_plus_one(engine) -> None:
    client = make_app(engine).test_client()
    with capture(engine) as log:
        assert client.get("/member/1").status_code == 200
        assert client.get("/member/2").status_code == 200
        for member_id in (3, 4):  # the same test line, so only the request boundary tells them apart
            assert client.get(f"/member/{member_id}").status_code == 200
    assert len(log.statements) == 4
    assert log.n_plus_one == [], [(f.location, f.count) for f in log.n_plus_one]


def test_a_loop_inside_one_request_is_still_found_with_its_path(engine) -> None:
    client = make_app(engine).test_client()
    with capture(engine) as log:
        client.get("/member/1")
        client.get("/all")
        client.get("/all")
    # One finding per request that loops, each of its own loop's size: the two requests never merge into one of 8.
    assert [(f.location, f.count) for f in log.n_plus_one] == [(at("helper"), MEMBERS)] * 2
    for finding in log.n_plus_one:
        assert finding.callers[0] == at("view_loop")
        assert "Post.member_id.in_(keys)" in finding.fix


def test_the_same_helper_reached_from_two_lines_is_two_call_sites(session: Session) -> None:
    with capture(session.get_bind()) as log:
        _first_post(session, 1)
        _first_post(session, 2)
        for member_id in (1, 2, 3):
            _first_post(session, member_id)
    (finding,) = log.n_plus_one
    assert finding.count == 3 and finding.location == at("helper")


# --- locations: never a library, template lines named -------------------------------------------------------------

def test_a_stdlib_frame_is_never_the_location(session: Session) -> None:
    posts = session.scalars(select(Post)).all()
    session.expunge_all()
    posts = [session.merge(p, load=False) for p in posts]
    with capture(session.get_bind()) as log:
        names = [string.Formatter().format("{0.member.name}", p) for p in posts]  # at: formatter
    assert len(set(names)) == MEMBERS
    (finding,) = log.n_plus_one
    assert finding.location == at("formatter"), finding.location
    assert finding.relationship == "Post.member"


def test_a_site_packages_frame_is_never_the_location(session: Session, tmp_path, monkeypatch) -> None:
    package = tmp_path / "lib" / "site-packages" / "ika_fake_helpers"
    package.mkdir(parents=True)
    (package / "__init__.py").write_text(textwrap.dedent("""
        def names(rows):
            return [row.member.name for row in rows]
    """))
    monkeypatch.syspath_prepend(str(package.parent))
    import ika_fake_helpers

    posts = session.scalars(select(Post)).all()
    with capture(session.get_bind()) as log:
        ika_fake_helpers.names(posts)  # at: installed
    sys.modules.pop("ika_fake_helpers", None)
    (finding,) = log.n_plus_one
    assert finding.location == at("installed"), finding.location


def test_a_jinja2_template_loop_names_the_template_file_and_line(session: Session, tmp_path) -> None:
    jinja2 = pytest.importorskip("jinja2")
    (tmp_path / "members.html").write_text(
        "<h1>Posts</h1>\n{% for post in posts %}\n  <p>{{ post.amount }}</p>\n"
        "  <p>{{ post.member.name }}</p>\n{% endfor %}\n")
    env = jinja2.Environment(loader=jinja2.FileSystemLoader(str(tmp_path)))
    posts = session.scalars(select(Post)).all()
    with capture(session.get_bind()) as log:
        html = env.get_template("members.html").render(posts=posts)
    assert html.count("member ") == 3 * MEMBERS
    (finding,) = log.n_plus_one
    assert finding.location == f"{tmp_path / 'members.html'}:4", finding.location  # the {{ post.member.name }} line
    assert finding.relationship == "Post.member" and finding.fix == "joinedload(Post.member)"


# --- dynamic and write-only collections --------------------------------------------------------------------------

def test_a_dynamic_collection_per_row_names_the_relationship_and_a_working_fix(session: Session) -> None:
    members = session.scalars(select(Member).order_by(Member.id)).all()
    with capture(session.get_bind()) as log:
        per_member = {m.id: [p.id for p in m.posts] for m in members}  # at: dynamic
    (finding,) = log.n_plus_one
    assert (finding.location, finding.relationship, finding.kind) == (at("dynamic"), "Member.posts", "dynamic")
    rows = run_fix(finding.fix, session, list(per_member))
    assert sorted(p.id for p in rows) == sorted(i for ids in per_member.values() for i in ids)


def test_a_dynamic_cascade_on_delete_is_named_at_the_application_line(session: Session) -> None:
    with capture(session.get_bind()) as log:
        for member in session.scalars(select(Member)).all():
            session.delete(member)  # at: cascade
        session.flush()
    locations = {(f.location, f.relationship) for f in log.n_plus_one}
    assert (at("cascade"), "Member.posts") in locations, locations
    assert all(f.location.startswith(HERE) for f in log.n_plus_one), locations


def test_a_write_only_collection_per_row_names_the_relationship(session: Session) -> None:
    members = session.scalars(select(Member)).all()
    with capture(session.get_bind()) as log:
        for member in members:
            session.scalars(member.notes.select()).all()  # at: write_only
    (finding,) = log.n_plus_one
    assert (finding.location, finding.relationship) == (at("write_only"), "Member.notes")
    assert len(run_fix(finding.fix, session, [m.id for m in members])) == MEMBERS


# --- fixes select what the query selects -----------------------------------------------------------------------------

def test_a_sum_per_row_gets_a_grouped_aggregate_that_returns_the_same_totals(session: Session) -> None:
    ids = session.scalars(select(Member.id)).all()
    with capture(session.get_bind()) as log:
        totals = {i: session.scalar(select(func.sum(Post.amount)).where(Post.member_id == i)) for i in ids}  # at: sum
    (finding,) = log.n_plus_one
    assert finding.location == at("sum") and finding.kind == "count"
    assert "func.sum(Post.amount)" in finding.fix and "group_by(Post.member_id)" in finding.fix
    assert dict(session.execute(run_fix(finding.fix, session, ids)).all()) == totals


def test_newest_row_per_group_gets_a_window_function_that_returns_the_same_rows(session: Session) -> None:
    ids = session.scalars(select(Member.id)).all()
    with capture(session.get_bind()) as log:
        newest = {i: session.scalars(select(Post).where(Post.member_id == i)  # at: newest
                                     .order_by(Post.created.desc(), Post.id).limit(1)).one().id for i in ids}
    (finding,) = log.n_plus_one
    assert finding.location == at("newest") and finding.kind == "top-per-group"
    assert "row_number().over(partition_by=Post.member_id" in finding.fix
    assert "select(Member)" not in finding.fix and len(finding.fix) < 400
    rows = run_fix(finding.fix, session, ids)
    assert {p.member_id: p.id for p in rows} == newest


def test_a_lookup_is_keyed_by_the_column_whose_value_changes(session: Session) -> None:
    amounts = [0, 1, 2]
    with capture(session.get_bind()) as log:
        found = [session.scalars(select(Post).where(Post.member_id == 1, Post.amount == a)).first() for a in amounts]
    (finding,) = log.n_plus_one
    # Keyed by amount, not member_id (the same for every statement), and member_id's value is kept.
    assert finding.fix == "session.scalars(select(Post).where(Post.member_id == 1, Post.amount.in_(keys))).all()"
    assert {p.id for p in run_fix(finding.fix, session, amounts)} == {p.id for p in found if p}


def test_raw_sql_in_a_fix_is_short_and_names_the_table_behind_an_alias(engine) -> None:
    from sqlalchemy import text

    sql = text("SELECT ika_posts_1.id, ika_posts_1.amount, ika_posts_1.created, ika_posts_1.member_id "
               "FROM ika_posts AS ika_posts_1 WHERE ika_posts_1.member_id = :m ORDER BY ika_posts_1.id, "
               "ika_posts_1.amount, ika_posts_1.created")
    with engine.connect() as connection, capture(engine) as log:
        for member_id in range(1, MEMBERS + 1):
            connection.execute(sql, {"m": member_id}).all()
    (finding,) = log.n_plus_one
    assert finding.fix == "SELECT … FROM ika_posts AS ika_posts_1 WHERE ika_posts_1.member_id IN (:keys)"


def test_rows_expired_by_a_commit_get_expire_on_commit_never_undefer(session: Session) -> None:
    members = session.scalars(select(Member)).all()
    session.commit()
    with capture(session.get_bind()) as log:
        [m.name for m in members]  # at: expired
    (finding,) = log.n_plus_one
    assert finding.location == at("expired") and finding.kind == "column"
    assert finding.fix == "sessionmaker(..., expire_on_commit=False)"
    assert "undefer" not in finding.fix


def test_a_deferred_column_gets_undefer(session: Session) -> None:
    members = session.scalars(select(Member)).all()
    with capture(session.get_bind()) as log:
        [m.bio for m in members]  # at: deferred
    (finding,) = log.n_plus_one
    assert finding.location == at("deferred") and finding.fix == "undefer(Member.bio)"


def test_flask_sqlalchemy_models_get_the_session_options_spelling(engine_url) -> None:
    flask_sqlalchemy = pytest.importorskip("flask_sqlalchemy")

    class FsaBase(DeclarativeBase):
        pass

    db = flask_sqlalchemy.SQLAlchemy(model_class=FsaBase)

    class Gadget(db.Model):
        __tablename__ = "ika_gadgets"
        id: Mapped[int] = mapped_column(primary_key=True)
        name: Mapped[str] = mapped_column(String(40))

    app = flask.Flask(__name__)
    app.config["SQLALCHEMY_DATABASE_URI"] = engine_url.render_as_string(hide_password=False)
    db.init_app(app)
    with app.app_context():
        db.create_all()
        db.session.add_all([Gadget(name=f"g{i}") for i in range(3)])
        db.session.commit()
        gadgets = db.session.scalars(select(Gadget)).all()
        db.session.commit()
        with capture(db.engine) as log:
            [g.name for g in gadgets]
        db.session.remove()  # end its transaction first: PostgreSQL's DROP waits for it
        db.drop_all()
    (finding,) = log.n_plus_one
    assert finding.fix == 'SQLAlchemy(session_options={"expire_on_commit": False})'
    assert "undefer" not in finding.explanation


# --- parameters that vary by time ---------------------------------------------------------------------------------

def test_a_now_cutoff_does_not_make_one_row_look_like_many(session: Session) -> None:
    with capture(session.get_bind()) as log:
        for _ in range(4):
            cutoff = datetime.datetime.now() - datetime.timedelta(days=3650)
            session.scalars(select(Post).where(Post.member_id == 1, Post.created > cutoff)).all()
    assert len({str(s.parameters) for s in log.statements}) == 4  # every statement's parameters differ
    assert log.n_plus_one == []


def test_a_now_cutoff_with_a_changing_key_is_still_n_plus_one(session: Session) -> None:
    ids = session.scalars(select(Member.id)).all()
    with capture(session.get_bind()) as log:
        for member_id in ids:
            cutoff = datetime.datetime.now() - datetime.timedelta(days=3650)
            session.scalars(select(Post).where(Post.member_id == member_id, Post.created > cutoff)).all()  # at: cut
    (finding,) = log.n_plus_one
    assert finding.location == at("cut") and finding.count == MEMBERS


# --- loops that are not the application's ------------------------------------------------------------------------

def test_a_flush_hook_querying_once_per_autoflush_is_not_the_applications_n_plus_one(session: Session) -> None:
    from sqlalchemy import event

    def versioning_hook(flushing: Session, _context) -> None:  # what a versioning extension does after each flush
        for obj in list(flushing.new) + list(flushing.dirty):
            connection = flushing.connection()
            connection.execute(select(Post.id).where(Post.member_id == obj.id)).all()  # Core, like Continuum
            flushing.scalars(select(Note).where(Note.member_id == obj.id)).all()  # and through the session
            with Session(bind=connection) as versions:  # and through a session of its own, like Continuum
                versions.scalars(select(Post).where(Post.member_id == obj.id)).all()

    event.listen(session, "after_flush", versioning_hook)
    try:
        with capture(session.get_bind()) as log:
            for i in range(3):
                session.add(Member(name=f"new {i}"))
                session.scalars(select(Member).where(Member.id == 1)).all()  # autoflush, so the hook runs
    finally:
        event.remove(session, "after_flush", versioning_hook)
    assert sum(1 for s in log.statements if "ika_notes" in s.sql) == 3  # the hook did run once per autoflush
    assert sum(1 for s in log.statements if "ika_posts" in s.sql) == 6
    assert log.n_plus_one == [], [(f.location, f.sample_sql[:60]) for f in log.n_plus_one]


# --- schema reflection -----------------------------------------------------------------------------------------------

def test_schema_reflection_at_start_up_is_neither_n_plus_one_nor_duplicate(engine) -> None:
    with capture(engine) as log:
        for _ in range(2):  # an app and its test fixture both reflecting, table by table
            metadata = MetaData()
            for name in ("ika_members", "ika_posts", "ika_notes"):
                Table(name, metadata, autoload_with=engine)
        MetaData().reflect(engine)
    assert any(s.is_select for s in log.statements) or engine.dialect.name == "sqlite"
    assert log.n_plus_one == [], [(f.location, f.sample_sql[:80]) for f in log.n_plus_one]
    assert log.duplicates == [], [(d.sql[:80], d.count) for d in log.duplicates]
