"""The pytest plugin on whatever SQLAlchemy is installed: active on 1.4.42 and newer, and below that one line saying
it is inactive while the suite runs on untouched.

The main suite runs this on SQLAlchemy 2.x; CI also runs it (with ``--noconftest``: the other tests need 2.0) in
venvs of its own holding SQLAlchemy 1.4.42 and 1.3.24, so only SQLAlchemy APIs those releases have are used here.
"""

from __future__ import annotations

import re

import pytest
import sqlalchemy

# pytester's in-process runs forget the modules an inner suite imported; SQLAlchemy's ORM cannot be imported twice
# in one process, so it is imported here, before any inner run (on 1.3 the inactive plugin never imports it).
import sqlalchemy.orm  # noqa: F401

pytest_plugins = ["pytester"]

VERSION = sqlalchemy.__version__
# Written out here rather than read from integrity_kit: the test states the supported range the docs promise.
SUPPORTED = tuple(int(part) for part in re.findall(r"\d+", VERSION)[:3]) >= (1, 4, 42)
INACTIVE = (f"integrity-kit: the pytest plugin is inactive: SQLAlchemy {VERSION} is installed; "
            "query capture needs 1.4.42 or newer")

SUITE = '''
from sqlalchemy import Column, ForeignKey, Integer, create_engine
from sqlalchemy.orm import Session, relationship

try:
    from sqlalchemy.orm import declarative_base
except ImportError:  # SQLAlchemy 1.3
    from sqlalchemy.ext.declarative import declarative_base

Base = declarative_base()


class Parent(Base):
    __tablename__ = "parents"
    id = Column(Integer, primary_key=True)
    children = relationship("Child")


class Child(Base):
    __tablename__ = "children"
    id = Column(Integer, primary_key=True)
    parent_id = Column(Integer, ForeignKey("parents.id"))


def make_session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    session = Session(bind=engine)
    session.add_all([Parent(children=[Child(), Child()]) for _ in range(3)])
    session.commit()
    return session


def test_naive():
    session = make_session()
    assert [len(parent.children) for parent in session.query(Parent).all()] == [2, 2, 2]


def test_plain():
    assert make_session().query(Child).count() == 6
'''


@pytest.fixture
def suite(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(test_suite=SUITE)
    return pytester


def test_the_suite_runs_with_detection_on(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider", "--detect-n-plus-one=fail")
    out = result.stdout.str()
    if SUPPORTED:
        result.assert_outcomes(passed=1, failed=1)
        result.stdout.fnmatch_lines(["*N+1: 3 similar queries (Parent.children) from test_suite.py:*",
                                     "*fix: selectinload(Parent.children)*"])
        assert "inactive" not in out
    else:
        result.assert_outcomes(passed=2)
        assert result.stdout.lines.count(INACTIVE) == 1, out
        assert result.stderr.str() == ""


def test_the_suite_runs_with_the_plugin_merely_installed(suite: pytest.Pytester) -> None:
    result = suite.runpytest("-p", "no:cacheprovider")
    result.assert_outcomes(passed=2)
    assert result.stdout.lines.count(INACTIVE) == (0 if SUPPORTED else 1), result.stdout.str()


def test_under_xdist_it_is_said_once(suite: pytest.Pytester) -> None:
    result = suite.runpytest_subprocess("-p", "no:cacheprovider", "-n", "2", "--detect-n-plus-one=warn")
    result.assert_outcomes(passed=2)
    if SUPPORTED:
        result.stdout.fnmatch_lines(["*test_suite.py::test_naive: N+1: 3 similar queries (Parent.children)*"])
    else:
        assert result.stdout.lines.count(INACTIVE) == 1, result.stdout.str()


def test_the_fixture_names_the_reason_when_it_cannot_capture(suite: pytest.Pytester) -> None:
    suite.makepyfile(test_fixture='''
        from test_suite import Parent, make_session

        def test_counts(query_capture):
            session = make_session()
            query_capture.clear()
            [len(parent.children) for parent in session.query(Parent).all()]
            assert len(query_capture) == 4
    ''')
    result = suite.runpytest("-p", "no:cacheprovider", "test_fixture.py")
    if SUPPORTED:
        result.assert_outcomes(passed=1)
    else:
        result.assert_outcomes(errors=1)
        result.stdout.fnmatch_lines([f"*query_capture cannot run: SQLAlchemy {VERSION} is installed*"])


AUDIT_READY = tuple(int(part) for part in re.findall(r"\d+", VERSION)[:3]) >= (2, 0, 30)


def test_commands_that_need_a_newer_sqlalchemy_refuse_in_one_line(tmp_path) -> None:
    import subprocess
    import sys

    def run(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run([sys.executable, "-m", "integrity_kit.cli", *args], capture_output=True, text=True,
                              cwd=tmp_path, timeout=120)

    rules = run("rules")
    if AUDIT_READY:
        assert rules.returncode == 0, rules.stderr
    else:
        assert rules.returncode == 2
        assert rules.stderr.strip().splitlines() == [
            f"integrity-kit: error: integrity-kit rules needs SQLAlchemy 2.0.30 or newer; {VERSION} is installed"
            + (" (on this release only query capture and the pytest plugin work)" if SUPPORTED else "")]
    (tmp_path / "naive.py").write_text(SUITE + "\n\ntest_naive()\n")
    queries = run("queries", "--", "python", "naive.py")
    if SUPPORTED:  # `integrity-kit queries` is query capture: it runs on 1.4
        assert queries.returncode == 1, queries.stderr
        assert "N+1 #1 Parent.children: 3 similar queries from naive.py:" in queries.stdout
    else:
        assert queries.returncode == 2
        assert queries.stderr.strip().splitlines() == [
            f"integrity-kit: error: SQLAlchemy {VERSION} is installed; query capture needs 1.4.42 or newer"]


FLASK_APP = '''
from flask import Flask, jsonify
from flask_sqlalchemy import SQLAlchemy

app = Flask(__name__)
app.config["SQLALCHEMY_DATABASE_URI"] = "sqlite://"
app.config["SQLALCHEMY_TRACK_MODIFICATIONS"] = False
db = SQLAlchemy(app)


class Shelf(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    volumes = db.relationship("Volume")


class Volume(db.Model):
    id = db.Column(db.Integer, primary_key=True)
    shelf_id = db.Column(db.Integer, db.ForeignKey("shelf.id"))


@app.route("/shelves")
def shelves():
    return jsonify([len(shelf.volumes) for shelf in Shelf.query.all()])


def test_shelves():
    with app.app_context():
        db.create_all()
        db.session.add_all([Shelf(volumes=[Volume(), Volume()]) for _ in range(3)])
        db.session.commit()
    assert app.test_client().get("/shelves").get_json() == [2, 2, 2]
'''


def test_a_flask_sqlalchemy_app_of_this_era(pytester: pytest.Pytester) -> None:
    """The issue's application: Flask-SQLAlchemy on the SQLAlchemy it was pinned to (CI: 3.0 on 1.4, 2.5 on 1.3)."""
    pytester.makepyfile(test_flask_app=FLASK_APP)
    view_line = FLASK_APP.splitlines().index('@app.route("/shelves")') + 2
    # A subprocess: Flask-SQLAlchemy is imported by the inner suite only, once.
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--detect-n-plus-one=fail")
    if SUPPORTED:
        result.assert_outcomes(failed=1)
        result.stdout.fnmatch_lines([f"*N+1: 3 similar queries (Shelf.volumes) from test_flask_app.py:{view_line}*"])
    else:
        result.assert_outcomes(passed=1)
        assert result.stdout.lines.count(INACTIVE) == 1, result.stdout.str()


def test_an_inactive_plugin_never_overwrites_a_baseline(suite: pytest.Pytester) -> None:
    suite.runpytest("-p", "no:cacheprovider", "--write-n-plus-one-baseline=baseline.json").assert_outcomes(passed=2)
    written = (suite.path / "baseline.json").read_text() if SUPPORTED else None
    if SUPPORTED:
        assert '"Parent.children"' in written
    else:  # it saw nothing, so it writes nothing rather than an empty baseline
        assert not (suite.path / "baseline.json").exists()
