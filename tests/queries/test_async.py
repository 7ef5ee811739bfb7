"""Async scenarios: capture on an AsyncEngine/AsyncSession, with the call site in the application's ``async def``.

AsyncSession runs the ORM inside a greenlet, so the cursor events fire on a stack that holds only SQLAlchemy
frames; the finding must still point at the line of the coroutine that awaited. Lines that must be reported carry a
``# flag: NAME`` marker, as in ``test_scenarios.py``. Runs on sqlite+aiosqlite and postgresql+psycopg (async).
"""

from __future__ import annotations

import asyncio
import re
from pathlib import Path

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, create_async_engine
from sqlalchemy.orm import Session, selectinload

from integrity_kit.queries import capture
from integrity_kit.queries.orm_context import note_orm_execute
from tests.queries.models import Author, Base, Book, seed

pytest.importorskip("greenlet")  # SQLAlchemy's asyncio layer needs it (the dev extras install it)

pytestmark = pytest.mark.engines("sqlite", "postgresql")

_SOURCE = Path(__file__).read_text().splitlines()
_MARKERS = {m.group(1): i + 1 for i, line in enumerate(_SOURCE) if (m := re.search(r"# flag: (\w+)", line))}


def line_of(marker: str) -> str:
    return f"tests/queries/{Path(__file__).name}:{_MARKERS[marker]}"


def _async_url(url):
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}[url.get_backend_name()]
    return url.set(drivername=driver)


@pytest.fixture
def async_engine(engine_url):
    """An AsyncEngine on a fresh seeded database; every test drives it with ``asyncio.run``."""
    engine = create_async_engine(_async_url(engine_url))

    async def prepare() -> None:
        async with engine.begin() as connection:
            await connection.run_sync(Base.metadata.create_all)
        async with AsyncSession(engine) as session:
            await session.run_sync(seed)

    asyncio.run(prepare())
    yield engine
    asyncio.run(engine.dispose())


def run(engine: AsyncEngine, scenario, **capture_options):
    """Run ``scenario(session)`` in a fresh AsyncSession under capture; return the log."""

    async def main():
        async with AsyncSession(engine) as session:
            with capture(engine, **capture_options) as log:
                await scenario(session)
        return log

    return asyncio.run(main())


def summary(log) -> list:
    return [(f.relationship, f.kind, f.count, f.location, f.fix) for f in log.n_plus_one]


def assert_one_finding(log, marker: str, fix: str, relationship: str | None, kind: str, count: int) -> None:
    found = log.n_plus_one
    assert len(found) == 1, summary(log)
    finding = found[0]
    assert finding.location == line_of(marker), summary(log)
    assert fix in finding.fix, summary(log)
    assert (finding.relationship, finding.kind, finding.count) == (relationship, kind, count), summary(log)


# --- flagged ------------------------------------------------------------------------------------------------------

def test_awaitable_attrs_many_to_one_per_row(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        for book in (await session.scalars(select(Book))).all():
            author = await book.awaitable_attrs.author  # flag: awaitable_many_to_one
            _ = author.name

    log = run(async_engine, scenario)
    assert_one_finding(log, "awaitable_many_to_one", "joinedload(Book.author)", "Book.author", "lazy", 4)


def test_awaitable_attrs_collection_per_row(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        for author in (await session.scalars(select(Author))).all():
            len(await author.awaitable_attrs.books)  # flag: awaitable_collection

    log = run(async_engine, scenario)
    assert_one_finding(log, "awaitable_collection", "selectinload(Author.books)", "Author.books", "lazy", 4)


def test_session_get_in_a_loop(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        ids = (await session.scalars(select(Book.id))).all()
        session.expunge_all()
        for book_id in ids:
            await session.get(Book, book_id)  # flag: async_get

    log = run(async_engine, scenario)
    assert_one_finding(log, "async_get", "select(Book).where(Book.id.in_(keys))", None, "lookup", 12)


def test_select_per_row(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        for author in (await session.scalars(select(Author))).all():
            (await session.scalars(select(Book).where(Book.author_id == author.id))).all()  # flag: async_lookup

    log = run(async_engine, scenario)
    assert_one_finding(log, "async_lookup", "Book.author_id.in_(keys)", None, "lookup", 4)


def test_count_per_row(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        for author in (await session.scalars(select(Author))).all():
            await session.scalar(select(func.count()).select_from(Book)  # flag: async_count
                                 .where(Book.author_id == author.id))

    log = run(async_engine, scenario)
    assert_one_finding(log, "async_count", "group_by(Book.author_id)", None, "count", 4)


async def _first_title(session: AsyncSession, author: Author) -> str:
    books = await author.awaitable_attrs.books  # flag: async_helper
    return books[0].title


def test_call_site_is_the_awaiting_helper_coroutine(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        for author in (await session.scalars(select(Author))).all():
            await _first_title(session, author)

    log = run(async_engine, scenario)
    assert_one_finding(log, "async_helper", "selectinload(Author.books)", "Author.books", "lazy", 4)


def _sync_lazy_loads(session: Session) -> None:
    for book in session.scalars(select(Book)):
        _ = book.author.name  # flag: run_sync


def test_lazy_loads_inside_run_sync_point_at_the_sync_function(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        await session.run_sync(_sync_lazy_loads)

    log = run(async_engine, scenario)
    assert_one_finding(log, "run_sync", "joinedload(Book.author)", "Book.author", "lazy", 4)


def test_concurrent_tasks_each_fetching_one_row(async_engine) -> None:
    async def fetch(author_id: int) -> Author | None:
        async with AsyncSession(async_engine) as own:
            return await own.get(Author, author_id)  # flag: gather

    async def scenario(session: AsyncSession) -> None:
        ids = (await session.scalars(select(Author.id))).all()
        await asyncio.gather(*(fetch(i) for i in ids))

    log = run(async_engine, scenario)
    assert_one_finding(log, "gather", "select(Author).where(Author.id.in_(keys))", None, "lookup", 4)


# --- clean --------------------------------------------------------------------------------------------------------

def test_selectinload_is_clean(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        stmt = select(Author).options(selectinload(Author.books).selectinload(Book.reviews))
        for author in (await session.scalars(stmt)).all():
            for book in author.books:
                len(book.reviews)

    log = run(async_engine, scenario)
    assert log.n_plus_one == [], summary(log)
    assert len(log.statements) == 3
    assert [s.orm.kind for s in log.statements] == ["query", "batch", "batch"]


def test_identity_map_hits_are_clean(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        authors = (await session.scalars(select(Author))).all()
        for book in (await session.scalars(select(Book))).all():
            assert await book.awaitable_attrs.author in authors

    log = run(async_engine, scenario)
    assert log.n_plus_one == [] and len(log.statements) == 2, summary(log)


def test_threshold_applies_to_async_loops(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        for author in (await session.scalars(select(Author))).all():
            len(await author.awaitable_attrs.books)

    assert run(async_engine, scenario, threshold=5).n_plus_one == []


# --- the capture itself -------------------------------------------------------------------------------------------

def test_every_statement_has_an_application_call_site(async_engine) -> None:
    async def scenario(session: AsyncSession) -> None:
        book = await session.get(Book, 1)
        await book.awaitable_attrs.author
        async with async_engine.connect() as connection:
            await connection.execute(select(func.count()).select_from(Book))

    log = run(async_engine, scenario)
    assert len(log.statements) == 3
    assert all(s.location.startswith("tests/queries/test_async.py:") for s in log.statements), log.statements
    assert {s.function for s in log.statements} == {"scenario"}
    assert log.statements[1].orm.relationship == "Book.author"


def test_async_with_capture_and_listeners_removed_after_an_error(async_engine) -> None:
    async def main():
        cap = capture(async_engine)
        with pytest.raises(ZeroDivisionError):
            async with cap as log, AsyncSession(async_engine) as session:
                await session.get(Book, 1)
                _ = 1 / 0
        return log

    log = asyncio.run(main())
    assert len(log.statements) == 1
    assert not async_engine.sync_engine.dispatch.before_cursor_execute
    assert not async_engine.sync_engine.dispatch.after_cursor_execute
    assert not event.contains(Session, "do_orm_execute", note_orm_execute)
