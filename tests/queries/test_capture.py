"""The capture itself: what a statement record holds, listener hygiene, nesting and engine scoping."""

from __future__ import annotations

import json
import os
import sys

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.engine import Engine
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import Session

from integrity_kit.queries import capture
from integrity_kit.queries.orm_context import note_orm_execute
from tests.queries.models import Base, Book, Tag, seed


@pytest.fixture
def memory_engine():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session)
    yield engine
    engine.dispose()


def _listening(target, cap) -> bool:
    return any(event.contains(target, name, fn) for name, fn in (
        ("before_cursor_execute", cap._before), ("after_cursor_execute", cap._after), ("handle_error", cap._error)))


def test_statement_records_sql_parameters_duration_rowcount_and_call_site(memory_engine) -> None:
    with capture(memory_engine) as log, memory_engine.begin() as connection:
        connection.execute(text("UPDATE books SET title = title WHERE author_id = :a"), {"a": 1})
        connection.execute(text("SELECT title FROM books WHERE id = :id"), {"id": 2}).all()
    update, select_ = log.statements
    assert update.rowcount == 3
    assert update.parameters == (1,)  # SQLite's qmark style, exactly as the driver received it
    assert select_.sql == "SELECT title FROM books WHERE id = ?"
    assert select_.duration > 0
    assert select_.location.startswith("tests/queries/test_capture.py:")
    assert select_.orm is None  # Core: no ORM context
    json.dumps(log.to_dict())


def test_orm_context_names_entity_and_kind(memory_engine) -> None:
    with Session(memory_engine) as session, capture(memory_engine) as log:
        book = session.scalars(select(Book).limit(1)).one()
        _ = book.author.name
    query, lazy = log.statements
    assert (query.orm.kind, query.orm.entity) == ("query", "Book")
    assert (lazy.orm.kind, lazy.orm.entity, lazy.orm.relationship) == ("lazy", "Author", "Book.author")


def test_an_autoflush_between_the_orm_event_and_the_query_keeps_its_own_context(memory_engine) -> None:
    # The ORM fires do_orm_execute for the SELECT, then flushes the pending change, then sends the SELECT: the
    # UPDATE must not be taken for the query, and the query must keep its facts.
    with Session(memory_engine) as session:
        book = session.get(Book, 1)
        book.title = "changed"
        with capture(memory_engine) as log:
            session.scalars(select(Book).where(Book.author_id == 1)).all()
    update, query = log.statements
    assert update.sql.startswith("UPDATE books") and update.orm is None
    assert (query.orm.kind, query.orm.entity) == ("query", "Book")


def test_a_lazy_load_inside_the_autoflush_keeps_both_contexts(memory_engine) -> None:
    # Deleting a tag makes the flush load its books (an ORM statement of its own) between the query's ORM event and
    # the query reaching the cursor: each statement must keep its own facts.
    with Session(memory_engine) as session:
        session.delete(session.get(Tag, 1))
        with capture(memory_engine) as log:
            session.scalars(select(Book).where(Book.author_id == 1)).all()
    kinds = [(s.orm.kind, s.orm.entity, s.orm.relationship) if s.orm else s.sql.split()[0] for s in log.statements]
    assert kinds[0] == ("lazy", "Book", "Tag.books")
    assert kinds[-1] == ("query", "Book", None)
    assert kinds[1:-1] and all(kind == "DELETE" for kind in kinds[1:-1])


def test_clear_forgets_what_was_recorded_and_keeps_recording(memory_engine) -> None:
    with capture(memory_engine) as log, memory_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        earlier = log.statements[0]
        log.clear()
        connection.execute(text("SELECT 2"))
    assert [s.sql for s in log.statements] == ["SELECT 2"]
    assert log.statements[0].duration > 0
    assert earlier.sql == "SELECT 1" and earlier.duration > 0  # a view handed out before clear() keeps its facts


def test_orm_context_stays_with_its_thread(tmp_path) -> None:
    import threading

    engine = create_engine(f"sqlite:///{tmp_path / 'shared.db'}")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        seed(session)
    barrier = threading.Barrier(2)
    finished = []

    def lazy_loads() -> None:
        with Session(engine) as session:
            books = session.scalars(select(Book)).all()
            barrier.wait()  # both threads lazy-load at the same time
            for book in books:
                _ = book.author.name
        finished.append(True)

    with capture(engine) as log:
        threads = [threading.Thread(target=lazy_loads) for _ in range(2)]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    engine.dispose()
    assert finished == [True, True]
    kinds = [(statement.orm.kind, statement.orm.relationship) for statement in log.statements]
    assert kinds.count(("query", None)) == 2
    assert len(kinds) > 2 and all(kind == ("lazy", "Book.author") for kind in kinds if kind[0] != "query")


def test_durations_and_rowcounts_stay_with_their_statements_across_threads(tmp_path) -> None:
    import threading

    engines = {}
    for rows in (1, 3):  # each thread updates its own table, so each UPDATE's rowcount says whose it is
        engine = engines[rows] = create_engine(f"sqlite:///{tmp_path / f't{rows}.db'}")
        with engine.begin() as connection:
            connection.execute(text(f"CREATE TABLE t{rows} (x INTEGER)"))
            connection.execute(text(f"INSERT INTO t{rows} VALUES " + ", ".join(["(0)"] * rows)))
    barrier = threading.Barrier(2)

    def updates(rows: int) -> None:
        with engines[rows].begin() as connection:
            barrier.wait()
            for _ in range(200):
                connection.execute(text(f"UPDATE t{rows} SET x = x + 1"))

    with capture() as log:
        threads = [threading.Thread(target=updates, args=(rows,)) for rows in engines]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
    for engine in engines.values():
        engine.dispose()
    assert len(log.statements) == 400
    assert all(s.rowcount == int(s.sql.split()[1][1:]) and s.duration > 0 for s in log.statements)


def test_call_sites_stay_with_their_statements_across_threads() -> None:
    import threading

    engines = {name: create_engine("sqlite://") for name in "ab"}
    barrier = threading.Barrier(2)

    def from_a() -> None:
        with engines["a"].connect() as connection:
            barrier.wait()
            for _ in range(300):
                connection.execute(text("SELECT 'a'"))

    def from_b() -> None:
        with engines["b"].connect() as connection:
            barrier.wait()
            for _ in range(300):
                connection.execute(text("SELECT 'b'"))

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # switch threads as often as Python allows, inside the capture's hot path too
    try:
        with capture() as log:
            threads = [threading.Thread(target=from_a), threading.Thread(target=from_b)]
            for thread in threads:
                thread.start()
            for thread in threads:
                thread.join()
    finally:
        sys.setswitchinterval(interval)
    for engine in engines.values():
        engine.dispose()
    assert len(log.statements) == 600
    assert all(s.function == f"from_{s.sql[-2]}" for s in log.statements)


def test_listeners_removed_on_exit_and_on_exception(memory_engine) -> None:
    cap = capture(memory_engine)
    with cap:
        assert _listening(memory_engine, cap)
        assert event.contains(Session, "do_orm_execute", note_orm_execute)
    assert not _listening(memory_engine, cap)
    assert not event.contains(Session, "do_orm_execute", note_orm_execute)

    cap = capture(memory_engine)
    with pytest.raises(ZeroDivisionError), cap:
        _ = 1 / 0
    assert not _listening(memory_engine, cap)
    assert not event.contains(Session, "do_orm_execute", note_orm_execute)


def test_failed_statement_is_recorded_and_capture_stays_clean(memory_engine) -> None:
    with capture(memory_engine) as log, memory_engine.connect() as connection, pytest.raises(OperationalError):
        connection.execute(text("SELECT * FROM no_such_table"))
    assert [s.sql for s in log.statements] == ["SELECT * FROM no_such_table"]


def test_nothing_recorded_outside_the_block(memory_engine) -> None:
    with capture(memory_engine) as log, memory_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
    with memory_engine.connect() as connection:
        connection.execute(text("SELECT 2"))
    assert [s.sql for s in log.statements] == ["SELECT 1"]


def test_nested_captures_each_see_their_own_window(memory_engine) -> None:
    with capture(memory_engine) as outer, memory_engine.connect() as connection:
        connection.execute(text("SELECT 1"))
        with capture(memory_engine) as inner:
            connection.execute(text("SELECT 2"))
        connection.execute(text("SELECT 3"))
    assert [s.sql for s in outer.statements] == ["SELECT 1", "SELECT 2", "SELECT 3"]
    assert [s.sql for s in inner.statements] == ["SELECT 2"]
    assert not event.contains(Session, "do_orm_execute", note_orm_execute)


def test_nested_captures_both_get_orm_context(memory_engine) -> None:
    with Session(memory_engine) as session, capture() as outer, capture(memory_engine) as inner:
        for book in session.scalars(select(Book)):
            _ = book.author.name
    assert outer.n_plus_one[0].relationship == inner.n_plus_one[0].relationship == "Book.author"


def test_engine_scoped_capture_ignores_other_engines(memory_engine) -> None:
    other = create_engine("sqlite://")
    with capture(memory_engine) as log, other.connect() as connection:
        connection.execute(text("SELECT 'other'"))
    assert log.statements == []
    other.dispose()


def test_global_capture_sees_every_engine_and_unhooks(memory_engine) -> None:
    other = create_engine("sqlite://")
    cap = capture()
    with cap as log:
        with other.connect() as connection:
            connection.execute(text("SELECT 'other'"))
        with memory_engine.connect() as connection:
            connection.execute(text("SELECT 'mine'"))
    assert [s.sql for s in log.statements] == ["SELECT 'other'", "SELECT 'mine'"]
    assert not _listening(Engine, cap)
    other.dispose()


def test_capture_cannot_be_started_twice(memory_engine) -> None:
    cap = capture(memory_engine)
    with cap, pytest.raises(RuntimeError):
        cap.start()


def test_rejects_things_that_are_not_engines() -> None:
    with pytest.raises(TypeError):
        capture("sqlite://")


def test_an_internal_error_while_recording_never_fails_the_query(memory_engine, monkeypatch) -> None:
    capture_module = sys.modules["integrity_kit.queries.capture"]

    def broken(filename: str) -> bool:
        raise RuntimeError("call-site lookup exploded")

    monkeypatch.setattr(capture_module, "library_files", {})  # force the lookup for every frame
    monkeypatch.setattr(capture_module, "is_library_file", broken)
    with Session(memory_engine) as session, capture(memory_engine) as log:
        titles = [book.title for book in session.scalars(select(Book).where(Book.id < 3))]
    assert titles == ["Book 0", "Book 1"]
    (statement,) = log.statements  # still counted, only its call site is unknown
    assert statement.location is None and statement.rowcount == -1 and statement.duration >= 0


def test_library_frames_are_never_the_call_site(tmp_path) -> None:
    """Migrations run through code generated at run time (SQLAlchemy's ``<sqlalchemy generated cache() wrapper …>``,
    Alembic's ``op`` proxies in ``<string>``): the statements belong to the application's lines (its migration
    scripts, and the line that ran them), never to a library or a pseudo file."""
    from examples.ecommerce import database

    engine = database.make_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    try:
        with capture(engine) as log:
            database.create_schema(engine)
    finally:
        engine.dispose()
    files = {statement.location.rsplit(":", 1)[0] for statement in log.statements}
    app = os.path.join("examples", "ecommerce", "")
    assert files and all(name.startswith(app) for name in files), files
    assert os.path.join(app, "migrations", "env.py") in files
    assert os.path.join(app, "migrations", "versions", "0002_stock_alert_threshold.py") in files  # batch reflection
