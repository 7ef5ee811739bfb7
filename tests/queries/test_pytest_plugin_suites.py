"""The pytest plugin on suites shaped like real ones (issue 20): xdist workers, baselines written from another
directory, the plugin named with ``-p`` beside its entry point, duplicate queries, and long fixes in piped output.

Each scenario runs an inner suite with pytester. The inner app reads its database URL from ``N1B_INNER_URL``, so
the xdist and baseline scenarios run on SQLite and on PostgreSQL (one schema per inner test, since two workers
create their tables at the same time).
"""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

APP = '''
import os

from sqlalchemy import Column, ForeignKey, Integer, String, create_engine, select
from sqlalchemy.orm import Session, declarative_base, relationship

Base = declarative_base()


class Author(Base):
    __tablename__ = "authors"
    id = Column(Integer, primary_key=True)
    name = Column(String(50))
    books = relationship("Book", back_populates="author")


class Book(Base):
    __tablename__ = "books"
    id = Column(Integer, primary_key=True)
    author_id = Column(ForeignKey("authors.id"))
    author = relationship(Author, back_populates="books")


def make_session(schema):
    url = os.environ.get("N1B_INNER_URL", "sqlite://")
    if url.startswith("postgresql"):
        admin = create_engine(url)
        with admin.begin() as connection:
            connection.exec_driver_sql(f"DROP SCHEMA IF EXISTS {schema} CASCADE")
            connection.exec_driver_sql(f"CREATE SCHEMA {schema}")
        admin.dispose()
        engine = create_engine(url, connect_args={"options": f"-csearch_path={schema}"})
    else:
        engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    session = Session(engine)
    session.add_all([Author(name=f"author {i}", books=[Book(), Book()]) for i in range(3)])
    session.commit()
    return engine, session


def books_per_author(session):
    return [len(author.books) for author in session.scalars(select(Author))]


def same_author_twice(session):
    return [session.execute(select(Author.name).where(Author.id == 1)).scalar_one() for _ in range(2)]
'''

CONFTEST = '''
import re

import pytest

from app import make_session


@pytest.fixture
def session(request):
    engine, session = make_session("n1b_" + re.sub(r"\\W", "_", request.node.name)[:40])
    yield session
    session.close()
    engine.dispose()
'''

TESTS = '''
from app import books_per_author, same_author_twice


def test_books_a(session):
    assert books_per_author(session) == [2, 2, 2]


def test_books_b(session):
    assert books_per_author(session) == [2, 2, 2]


def test_books_c(session):
    assert books_per_author(session) == [2, 2, 2]


def test_same_author_twice(session):
    assert same_author_twice(session) == ["author 0", "author 0"]


def test_clean_one(session):
    from app import Author

    assert session.get(Author, 1).name == "author 0"


def test_clean_two(session):
    from app import Author, select

    assert session.scalar(select(Author.name).limit(1)) == "author 0"
'''

N_PLUS_ONE_LINE = APP.splitlines().index("def books_per_author(session):") + 2
DUPLICATE_LINE = APP.splitlines().index("def same_author_twice(session):") + 2


@pytest.fixture
def inner_url(engine_url, monkeypatch: pytest.MonkeyPatch) -> str:
    url = engine_url.render_as_string(hide_password=False)
    # SQLite's scratch file would be shared by two workers; the inner app uses an in-memory database per test.
    monkeypatch.setenv("N1B_INNER_URL", url if url.startswith("postgresql") else "sqlite://")
    return url


def _reported(output: str, finding: str) -> int:
    """How many times the inner run reports ``finding``, leaving out pytest's short test summary (whose lines are
    cut to the terminal's width, except under CI=true, where pytest prints them whole)."""
    return sum(finding in line for line in output.splitlines() if not line.startswith(("FAILED ", "ERROR ")))


def _suite(pytester: pytest.Pytester, folder: str = "") -> None:
    base = pytester.path / folder if folder else pytester.path
    base.mkdir(parents=True, exist_ok=True)
    (base / "app.py").write_text(APP)
    (base / "conftest.py").write_text(CONFTEST)
    tests = base / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "test_books.py").write_text(TESTS)


def _entries(path) -> dict[str, list[tuple[str, str, str]]]:
    data = json.loads(path.read_text())
    return {kind: [(e["test"], e["what"], e["file"]) for e in data[kind]] for kind in ("n_plus_one", "duplicates")}


@pytest.mark.engines("sqlite", "postgresql")
def test_xdist_workers_send_their_findings_to_the_controller(pytester: pytest.Pytester, inner_url: str) -> None:
    _suite(pytester)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--detect-n-plus-one=fail")
    result.assert_outcomes(passed=3, failed=3)
    out = result.stdout.str()
    for name in ("test_books_a", "test_books_b", "test_books_c"):
        assert f"FAILED tests/test_books.py::{name}" in out
    assert _reported(out, f"N+1: 3 similar queries (Author.books) from app.py:{N_PLUS_ONE_LINE}") == 3
    # Unasked, duplicates are counted: the worker that found one told the controller.
    result.stdout.fnmatch_lines(["integrity-kit: 1 duplicate query (the same SQL and parameters sent again) not "
                                 "listed: --detect-duplicates=warn lists them*"])
    assert "plugin errors" not in out

    warned = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--detect-n-plus-one=warn",
                                           "--detect-duplicates=warn")
    warned.assert_outcomes(passed=6)
    summary = warned.stdout.str().split("N+1 and duplicate queries (integrity-kit)", 1)[1]
    for name in ("test_books_a", "test_books_b", "test_books_c"):
        assert f"tests/test_books.py::{name}: N+1: 3 similar queries (Author.books)" in summary
    # The controller collects and runs nothing itself: all of this came from the workers.
    assert (f"tests/test_books.py::test_same_author_twice: duplicate query: sent 2 times with the same parameters "
            f"from app.py:{DUPLICATE_LINE}") in summary


@pytest.mark.engines("sqlite", "postgresql")
def test_a_baseline_written_under_xdist_equals_the_serial_one(pytester: pytest.Pytester, inner_url: str) -> None:
    _suite(pytester)
    pytester.runpytest_subprocess("-p", "no:cacheprovider", "--write-n-plus-one-baseline=serial.json") \
        .assert_outcomes(passed=6)
    result = pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider",
                                           "--write-n-plus-one-baseline=xdist.json")
    result.assert_outcomes(passed=6)
    result.stdout.fnmatch_lines(["*wrote 3 N+1 and 1 duplicate finding(s) to *xdist.json*"])
    serial, xdist = (pytester.path / "serial.json").read_text(), (pytester.path / "xdist.json").read_text()
    assert xdist == serial
    entries = _entries(pytester.path / "xdist.json")
    assert entries["n_plus_one"] == [(f"tests/test_books.py::{name}", "Author.books", "app.py")
                                     for name in ("test_books_a", "test_books_b", "test_books_c")]
    [(test, what, file)] = entries["duplicates"]
    # PostgreSQL's driver adds a cast to the placeholder (``= ?::INTEGER``).
    assert (test, file) == ("tests/test_books.py::test_same_author_twice", "app.py")
    assert what.startswith("SELECT authors.name FROM authors WHERE authors.id = ?")
    # Read back under xdist, the baseline covers every finding, duplicates failing included.
    pytester.runpytest_subprocess("-n", "2", "-p", "no:cacheprovider", "--detect-n-plus-one=fail",
                                  "--detect-duplicates=fail", "--n-plus-one-baseline=xdist.json") \
        .assert_outcomes(passed=6)


def test_a_baseline_outside_the_rootdir_matches_from_any_directory(pytester: pytest.Pytester,
                                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N1B_INNER_URL", "sqlite://")
    _suite(pytester, "project")
    (pytester.path / "project" / "pytest.ini").write_text("[pytest]\n")
    (pytester.path / "baselines").mkdir()
    project = pytester.path / "project"
    monkeypatch.chdir(project)  # written from the project, whose pytest.ini makes it the rootdir
    written = pytester.runpytest("-p", "no:cacheprovider", "--write-n-plus-one-baseline=../baselines/n1.json")
    written.assert_outcomes(passed=6)
    baseline = pytester.path / "baselines" / "n1.json"
    assert {test for test, _, _ in _entries(baseline)["n_plus_one"]} == {
        f"../project/tests/test_books.py::test_books_{x}" for x in "abc"}

    strict = ("-p", "no:cacheprovider", "--detect-n-plus-one=fail", "--detect-duplicates=fail")
    # Read back from the parent folder with the parent as rootdir: every node id and location path differs.
    monkeypatch.chdir(pytester.path)
    moved = pytester.runpytest(*strict, "--rootdir", str(pytester.path), "-c", "/dev/null",
                               "--n-plus-one-baseline=baselines/n1.json", "project/tests")
    moved.assert_outcomes(passed=6)
    assert "none of the" not in moved.stdout.str()
    # And from inside the tests folder.
    monkeypatch.chdir(project / "tests")
    pytester.runpytest(*strict, "--n-plus-one-baseline=../../baselines/n1.json").assert_outcomes(passed=6)


def test_a_baseline_that_names_no_collected_test_is_reported(pytester: pytest.Pytester,
                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N1B_INNER_URL", "sqlite://")
    _suite(pytester)
    (pytester.path / "stale.json").write_text(json.dumps({"n_plus_one": [
        {"test": "elsewhere/tests/test_books.py::test_books_a", "what": "Author.books", "file": "elsewhere/app.py"},
    ]}))
    result = pytester.runpytest("-p", "no:cacheprovider", "--detect-n-plus-one=fail",
                                "--n-plus-one-baseline=stale.json")
    result.assert_outcomes(passed=3, failed=3)
    result.stdout.fnmatch_lines([
        "integrity-kit: warning: none of the 1 test(s) named in the baseline *stale.json was collected "
        "(e.g. elsewhere/tests/test_books.py::test_books_a; ids are relative to the baseline's folder *), "
        "so it ignores nothing",
    ])
    # A baseline that does match says nothing of the kind.
    pytester.runpytest("-p", "no:cacheprovider", "--write-n-plus-one-baseline=good.json")
    matched = pytester.runpytest("-p", "no:cacheprovider", "--detect-n-plus-one=fail",
                                 "--n-plus-one-baseline=good.json")
    matched.assert_outcomes(passed=6)
    assert "none of the" not in matched.stdout.str()


@pytest.mark.parametrize("how", ["-p", "conftest"])
def test_naming_the_plugin_beside_its_entry_point_registers_it_once(pytester: pytest.Pytester,
                                                                  monkeypatch: pytest.MonkeyPatch, how: str) -> None:
    monkeypatch.setenv("N1B_INNER_URL", "sqlite://")
    _suite(pytester)
    args = ["-p", "no:cacheprovider", "--detect-n-plus-one=fail", "tests/test_books.py::test_books_a"]
    if how == "-p":
        args = ["-p", "integrity_kit.queries.pytest_plugin", *args]
    else:
        (pytester.path / "conftest.py").write_text(
            CONFTEST + '\npytest_plugins = ["integrity_kit.queries.pytest_plugin"]\n')
    result = pytester.runpytest_subprocess(*args)
    assert "already registered" not in result.stderr.str() + result.stdout.str()
    result.assert_outcomes(failed=1)
    assert _reported(result.stdout.str(), "N+1: 3 similar queries (Author.books)") == 1


def test_the_entry_point_can_still_be_turned_off(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N1B_INNER_URL", "sqlite://")
    _suite(pytester)
    result = pytester.runpytest_subprocess("-p", "no:integrity_kit", "-p", "no:cacheprovider",
                                           "--detect-n-plus-one=fail")
    assert result.ret == pytest.ExitCode.USAGE_ERROR  # the option is gone with the plugin
    result.stderr.fnmatch_lines(["*unrecognized arguments: --detect-n-plus-one=fail*"])


def test_duplicates_can_fail_warn_be_allowed_or_be_off(pytester: pytest.Pytester,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("N1B_INNER_URL", "sqlite://")
    _suite(pytester)
    (pytester.path / "tests" / "test_allowed.py").write_text('''
import pytest

from app import same_author_twice


@pytest.mark.allow_duplicate_queries
def test_allowed_all(session):
    same_author_twice(session)


@pytest.mark.allow_duplicate_queries("app.py")
def test_allowed_by_location(session):
    same_author_twice(session)


@pytest.mark.allow_duplicate_queries("SELECT authors.name FROM authors WHERE authors.id = ?")
def test_allowed_by_fingerprint(session):
    same_author_twice(session)


@pytest.mark.allow_duplicate_queries("other.py")
def test_other_location_allowed_only(session):
    same_author_twice(session)
''')
    base = ("-p", "no:cacheprovider", "--strict-markers", "-k", "same_author or allowed")
    failed = pytester.runpytest(*base, "--detect-duplicates=fail")
    failed.assert_outcomes(passed=3, failed=2)
    failed.stdout.fnmatch_lines([
        "*FAILED tests/test_allowed.py::test_other_location_allowed_only*",
        "*FAILED tests/test_books.py::test_same_author_twice*",
    ])
    assert "sql: SELECT authors.name FROM authors WHERE authors.id = ?" in failed.stdout.str()
    listed = pytester.runpytest(*base, "--detect-duplicates=warn")
    listed.assert_outcomes(passed=5)
    listed.stdout.fnmatch_lines(["*test_other_location_allowed_only: duplicate query: sent 2 times*"])
    # N+1 detection on: duplicates that are not allowed are counted; turned off, they are not mentioned at all.
    pytester.runpytest(*base, "--detect-n-plus-one=fail").stdout.fnmatch_lines(["integrity-kit: 2 duplicate queries*"])
    off = pytester.runpytest(*base, "--detect-n-plus-one=fail", "--detect-duplicates=off")
    off.assert_outcomes(passed=5)
    assert "duplicate query" not in off.stdout.str()
    # The fixture reports them too.
    (pytester.path / "tests" / "test_fixture.py").write_text('''
from app import same_author_twice


def test_fixture_sees_duplicates(session, query_capture):
    same_author_twice(session)
    assert [d.count for d in query_capture.duplicates] == [2]
    query_capture.assert_no_duplicates()
''')
    fixture = pytester.runpytest("-p", "no:cacheprovider", "tests/test_fixture.py")
    fixture.assert_outcomes(failed=1)
    fixture.stdout.fnmatch_lines(["*AssertionError: duplicate query: sent 2 times*"])


LONG_APP = '''
from sqlalchemy import Column, ForeignKey, Integer, create_engine, select
from sqlalchemy.orm import Session, declarative_base, relationship

Base = declarative_base()


class ParentModelWithAQuiteLongNameForWrapping(Base):
    __tablename__ = "parents"
    id = Column(Integer, primary_key=True)
    children_under_a_long_relationship_name = relationship("ChildModelWithAQuiteLongName")


class ChildModelWithAQuiteLongName(Base):
    __tablename__ = "children"
    id = Column(Integer, primary_key=True)
    parent_id = Column(ForeignKey("parents.id"))


def test_long_names():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([ParentModelWithAQuiteLongNameForWrapping(
            children_under_a_long_relationship_name=[ChildModelWithAQuiteLongName()]) for _ in range(3)])
        session.commit()
        for parent in session.scalars(select(ParentModelWithAQuiteLongNameForWrapping)):
            parent.children_under_a_long_relationship_name
'''
LONG_FIX = "selectinload(ParentModelWithAQuiteLongNameForWrapping.children_under_a_long_relationship_name)"


def test_a_long_fix_stays_on_one_line_when_piped(pytester: pytest.Pytester) -> None:
    pytester.makepyfile(test_long=LONG_APP)
    # A subprocess: its output goes to a pipe, not a terminal.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--detect-n-plus-one=warn")
    result.assert_outcomes(passed=1)
    assert len(LONG_FIX) > 80
    assert f"    fix: {LONG_FIX}" in result.stdout.lines


def test_the_queries_report_written_to_a_file_keeps_long_fixes_whole(tmp_path) -> None:
    from click.testing import CliRunner

    from integrity_kit.cli import cli

    program = tmp_path / "long.py"
    program.write_text(LONG_APP + "\n\ntest_long_names()\n")
    report = tmp_path / "report.txt"
    result = CliRunner().invoke(cli, ["queries", "--output", str(report), "--", "python", str(program)])
    assert result.exit_code == 1, result.output
    assert f"  fix: {LONG_FIX}" in report.read_text().splitlines()


def test_every_plugin_option_ini_key_and_marker_is_documented() -> None:
    import re
    from pathlib import Path

    import integrity_kit.queries.pytest_plugin as plugin

    source = Path(plugin.__file__).read_text()
    page = (Path(__file__).resolve().parents[2] / "docs" / "pytest-plugin.md").read_text()
    names = re.findall(r'addoption\("(--[\w-]+)"', source) + re.findall(r'addini\("(\w+)"', source)
    names += re.findall(r'"(allow_\w+)\(\*patterns\)', source)
    assert len(names) >= 10
    # Quoted as code: `--option`, `ini_key`, `@pytest.mark.marker(...)`.
    assert [name for name in names if not re.search(rf"[`.]{re.escape(name)}\b", page)] == []
