"""The N+1 scenario suite: every shape the issue lists, flagged or clean, on SQLite and PostgreSQL.

Each scenario is a small piece of application code. Lines that must be reported carry a ``# flag: NAME`` marker, and
the test checks that the finding points at exactly that line, names the relationship and offers the fix.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session, joinedload, selectinload, subqueryload

from integrity_kit.queries import capture
from tests.queries.models import Author, Book, Profile, Publisher, Review, Tag

pytestmark = pytest.mark.engines("sqlite", "postgresql")

_SOURCE = Path(__file__).read_text().splitlines()
_MARKERS = {
    m.group(1): i + 1 for i, line in enumerate(_SOURCE) if (m := re.search(r"# flag: (\w+)", line))
}


def line_of(marker: str) -> str:
    return f"{Path(__file__).name}:{_MARKERS[marker]}"


@dataclass
class Expect:
    marker: str
    fix: str
    relationship: str | None = None
    kind: str | None = None
    min_count: int = 2


@dataclass
class Scenario:
    run: object
    flagged: list[Expect] = field(default_factory=list)
    duplicates: int = 0
    threshold: int = 2


SCENARIOS: dict[str, Scenario] = {}


def scenario(*flagged: Expect, duplicates: int = 0, threshold: int = 2):
    def register(fn):
        SCENARIOS[fn.__name__] = Scenario(fn, list(flagged), duplicates, threshold)
        return fn

    return register


# --- flagged ------------------------------------------------------------------------------------------------------

@scenario(Expect("one_to_many", "selectinload(Author.books)", "Author.books", "lazy", 4))
def lazy_one_to_many(session: Session, engine) -> None:
    for author in session.scalars(select(Author)):
        len(author.books)  # flag: one_to_many


@scenario(Expect("many_to_one", "joinedload(Book.author)", "Book.author", "lazy", 4))
def lazy_many_to_one(session: Session, engine) -> None:
    for book in session.scalars(select(Book)):
        _ = book.author.name  # flag: many_to_one


@scenario(Expect("nullable_many_to_one", "joinedload(Book.publisher)", "Book.publisher", "lazy", 2))
def lazy_many_to_one_two_distinct_parents(session: Session, engine) -> None:
    for book in session.scalars(select(Book)):
        _ = book.publisher.name  # flag: nullable_many_to_one


@scenario(Expect("many_to_many", "selectinload(Book.tags)", "Book.tags", "lazy", 12))
def lazy_many_to_many_secondary(session: Session, engine) -> None:
    for book in session.scalars(select(Book)):
        [tag.name for tag in book.tags]  # flag: many_to_many


@scenario(Expect("many_to_many_reverse", "selectinload(Tag.books)", "Tag.books", "lazy", 3))
def lazy_many_to_many_reverse_side(session: Session, engine) -> None:
    for tag in session.scalars(select(Tag)):
        len(tag.books)  # flag: many_to_many_reverse


@scenario(Expect("one_to_one", "joinedload(Author.profile)", "Author.profile", "lazy", 4))
def lazy_one_to_one(session: Session, engine) -> None:
    for author in session.scalars(select(Author)):
        _ = author.profile.bio  # flag: one_to_one


@scenario(Expect("one_to_one_reverse", "joinedload(Profile.author)", "Profile.author", "lazy", 4))
def lazy_one_to_one_reverse(session: Session, engine) -> None:
    for profile in session.scalars(select(Profile)):
        _ = profile.author.name  # flag: one_to_one_reverse


@scenario(Expect("get_loop", "select(Book).where(Book.id.in_(keys))", None, "lookup", 12))
def session_get_loop(session: Session, engine) -> None:
    ids = session.scalars(select(Book.id)).all()
    session.expunge_all()
    for book_id in ids:
        session.get(Book, book_id)  # flag: get_loop


@scenario(Expect("manual_lookup", "select(Book).where(Book.author_id.in_(keys))", None, "lookup", 4))
def manual_query_per_row(session: Session, engine) -> None:
    for author in session.scalars(select(Author)).all():
        session.scalars(select(Book).where(Book.author_id == author.id)).all()  # flag: manual_lookup


@scenario(Expect("legacy_first", "Book.author_id.in_(keys)", None, "lookup", 4))
def legacy_query_first_per_row_is_not_pagination(session: Session, engine) -> None:
    for author in session.query(Author).all():
        session.query(Book).filter(Book.author_id == author.id).first()  # flag: legacy_first


@scenario(Expect("orm_count", "select(Book.author_id, func.count()).group_by(Book.author_id)", None, "count", 4))
def count_per_row_orm(session: Session, engine) -> None:
    for author in session.scalars(select(Author)).all():
        session.scalar(select(func.count()).select_from(Book).where(Book.author_id == author.id))  # flag: orm_count


@scenario(Expect("text_count", "GROUP BY reviews.book_id", None, "count", 12))
def count_per_row_text(session: Session, engine) -> None:
    with engine.connect() as connection:
        ids = connection.scalars(text("SELECT id FROM books")).all()
        for book_id in ids:
            connection.scalar(text("SELECT count(*) FROM reviews WHERE reviews.book_id = :b"),  # flag: text_count
                              {"b": book_id})


@scenario(Expect("core_lookup", "books.id IN", None, "lookup", 12))
def core_select_per_row(session: Session, engine) -> None:
    books = Book.__table__
    with engine.connect() as connection:
        for book_id in connection.scalars(select(books.c.id)).all():
            connection.execute(select(books).where(books.c.id == book_id)).first()  # flag: core_lookup


@scenario(Expect("deferred", "undefer(Book.summary)", None, "column", 12))
def deferred_column_per_row(session: Session, engine) -> None:
    for book in session.scalars(select(Book)).all():
        _ = book.summary  # flag: deferred


@scenario(Expect("expired", "expire_on_commit=False", None, "column", 12))
def expired_rows_after_commit(session: Session, engine) -> None:
    books = session.scalars(select(Book)).all()
    session.commit()
    for book in books:
        _ = book.title  # flag: expired


@scenario(
    Expect("alternating", "joinedload(Book.author)", "Book.author", "lazy", 4),
    Expect("alternating", "joinedload(Book.publisher)", "Book.publisher", "lazy", 2),
)
def two_alternating_statements_in_one_loop(session: Session, engine) -> None:
    for book in session.scalars(select(Book)):
        _ = (book.author.name, book.publisher.name)  # flag: alternating


@scenario(Expect("nested", "selectinload(Author.books).selectinload(Book.reviews)", "Book.reviews", "lazy", 12))
def lazy_load_below_an_eager_load_names_the_whole_path(session: Session, engine) -> None:
    for author in session.scalars(select(Author).options(selectinload(Author.books))):
        for book in author.books:
            len(book.reviews)  # flag: nested


def _title_of_author(book: Book) -> str:
    return book.author.name  # flag: helper


@scenario(Expect("helper", "joinedload(Book.author)", "Book.author", "lazy", 4))
def call_site_is_the_application_line_that_touched_the_attribute(session: Session, engine) -> None:
    for book in session.scalars(select(Book)):
        _title_of_author(book)


@scenario(Expect("threshold", "selectinload(Author.books)", "Author.books", "lazy", 4), threshold=4)
def threshold_reached(session: Session, engine) -> None:
    for author in session.scalars(select(Author)):
        len(author.books)  # flag: threshold


# --- clean --------------------------------------------------------------------------------------------------------

@scenario(threshold=5)
def threshold_not_reached(session: Session, engine) -> None:
    for author in session.scalars(select(Author)):
        len(author.books)


@scenario()
def selectinload_collection(session: Session, engine) -> None:
    for author in session.scalars(select(Author).options(selectinload(Author.books))):
        len(author.books)


@scenario()
def joinedload_many_to_one(session: Session, engine) -> None:
    for book in session.scalars(select(Book).options(joinedload(Book.author), joinedload(Book.publisher))):
        _ = (book.author.name, book.publisher.name)


@scenario()
def subqueryload_collection(session: Session, engine) -> None:
    for book in session.scalars(select(Book).options(subqueryload(Book.tags))):
        len(book.tags)


@scenario()
def selectinload_many_to_many_and_nested(session: Session, engine) -> None:
    stmt = select(Author).options(selectinload(Author.books).selectinload(Book.tags))
    for author in session.scalars(stmt):
        for book in author.books:
            len(book.tags)


@scenario()
def selectin_chunks_for_many_parents_are_one_batch_each(session: Session, engine) -> None:
    session.execute(insert(Review), [{"book_id": 1, "stars": 3} for _ in range(620)])
    session.commit()
    reviews = session.scalars(select(Review).options(selectinload(Review.book))).all()
    assert len(reviews) > 500  # more parents than one selectin chunk (500)


@scenario()
def identity_map_hits_send_no_sql(session: Session, engine) -> None:
    authors = session.scalars(select(Author)).all()  # kept alive: the identity map holds objects weakly
    for book in session.scalars(select(Book)):
        assert book.author in authors  # every author is already in the identity map


@scenario()
def same_parent_for_every_row_is_one_load(session: Session, engine) -> None:
    for book in session.scalars(select(Book).where(Book.author_id == 1)):
        _ = book.author.name  # one author: one lazy load, then identity-map hits


@scenario()
def single_one_plus_one(session: Session, engine) -> None:
    book = session.scalars(select(Book).limit(1)).one()
    _ = book.author.name


@scenario()
def limit_offset_pagination(session: Session, engine) -> None:
    for page in range(4):
        session.scalars(select(Book).order_by(Book.id).limit(3).offset(page * 3)).all()


@scenario()
def keyset_pagination(session: Session, engine) -> None:
    last = 0
    while True:
        page = session.scalars(select(Book).where(Book.id > last).order_by(Book.id).limit(5)).all()
        if not page:
            break
        last = page[-1].id


@scenario()
def get_of_the_same_row_hits_the_identity_map(session: Session, engine) -> None:
    book = session.get(Book, 1)
    for _ in range(5):
        assert session.get(Book, 1) is book


@scenario()
def one_lookup_per_call_site_is_not_a_loop(session: Session, engine) -> None:
    session.scalars(select(Book).where(Book.author_id == 1)).all()
    session.scalars(select(Book).where(Book.author_id == 2)).all()
    session.scalars(select(Book).where(Book.author_id == 3)).all()


@scenario()
def one_in_query_instead_of_a_loop(session: Session, engine) -> None:
    session.scalars(select(Book).where(Book.id.in_([1, 2, 3, 4, 5]))).all()


@scenario()
def inserts_in_a_loop_are_not_n_plus_one(session: Session, engine) -> None:
    for i in range(5):
        session.add(Publisher(name=f"extra {i}"))
        session.flush()


@scenario()
def executemany_insert(session: Session, engine) -> None:
    session.execute(insert(Publisher), [{"name": f"bulk {i}"} for i in range(10)])


@scenario()
def single_expired_row_refresh(session: Session, engine) -> None:
    book = session.get(Book, 1)
    session.commit()
    _ = book.title


@scenario(duplicates=1)
def same_row_read_twice_is_a_duplicate_not_n_plus_one(session: Session, engine) -> None:
    with engine.connect() as connection:
        for _ in range(3):
            connection.execute(text("SELECT name FROM authors WHERE id = :id"), {"id": 1}).all()


@scenario(duplicates=1)
def duplicate_across_call_sites(session: Session, engine) -> None:
    session.scalars(select(Book).where(Book.author_id == 2)).all()
    session.expire_all()
    session.scalars(select(Book).where(Book.author_id == 2)).all()


# --- the test -----------------------------------------------------------------------------------------------------

@pytest.mark.parametrize("name", list(SCENARIOS))
def test_scenario(name: str, engine, session: Session) -> None:
    case = SCENARIOS[name]
    with capture(engine, threshold=case.threshold) as log:
        case.run(session, engine)
    found = log.n_plus_one
    summary = [(f.relationship, f.kind, f.count, f.location, f.fix) for f in found]
    assert len(found) == len(case.flagged), summary
    for expect in case.flagged:
        matches = [f for f in found if expect.fix in f.fix]
        assert len(matches) == 1, (expect, summary)
        finding = matches[0]
        assert finding.location == f"tests/queries/{line_of(expect.marker)}", summary
        assert finding.relationship == expect.relationship, summary
        if expect.kind:
            assert finding.kind == expect.kind, summary
        assert finding.count >= expect.min_count, summary
        assert finding.sample_sql.lstrip().upper().startswith("SELECT")
    assert len(log.duplicates) == case.duplicates, [(d.sql, d.count) for d in log.duplicates]


def test_there_are_at_least_thirty_scenarios() -> None:
    assert len(SCENARIOS) >= 30
    assert sum(1 for s in SCENARIOS.values() if s.flagged) >= 15
    assert sum(1 for s in SCENARIOS.values() if not s.flagged) >= 15
