"""The pytest plugin, exercised end to end with pytester."""

from __future__ import annotations

import json

import pytest

pytest_plugins = ["pytester"]

APP = '''
from __future__ import annotations

import pytest
from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship, selectinload


class Base(DeclarativeBase):
    pass


class Parent(Base):
    __tablename__ = "parents"
    id: Mapped[int] = mapped_column(primary_key=True)
    children: Mapped[list[Child]] = relationship(back_populates="parent")


class Child(Base):
    __tablename__ = "children"
    id: Mapped[int] = mapped_column(primary_key=True)
    parent_id: Mapped[int] = mapped_column(ForeignKey("parents.id"))
    parent: Mapped[Parent] = relationship(back_populates="children")


@pytest.fixture
def session():
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Parent(children=[Child(), Child()]) for _ in range(3)])
        session.commit()
        yield session
    engine.dispose()


def naive(session):
    return [len(parent.children) for parent in session.scalars(select(Parent))]


def fixed(session):
    return [len(p.children) for p in session.scalars(select(Parent).options(selectinload(Parent.children)))]
'''


NAIVE_LINE = APP.splitlines().index("def naive(session):") + 1  # makepyfile drops the leading newline


@pytest.fixture
def app(pytester: pytest.Pytester) -> pytest.Pytester:
    pytester.makepyfile(app=APP)
    pytester.makeconftest("from app import session  # noqa: F401\n")
    return pytester


def test_query_capture_fixture_and_budget_failure_lists_every_statement(app: pytest.Pytester) -> None:
    app.makepyfile(test_budget='''
        from app import naive, fixed

        def test_fixed_fits(session, query_capture):
            fixed(session)
            query_capture.assert_max_queries(2)
            assert query_capture.n_plus_one == []

        def test_naive_over_budget(session, query_capture):
            naive(session)
            query_capture.assert_max_queries(2)
    ''')
    result = app.runpytest()
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([
        "*expected at most 2 queries, 4 were sent:*",
        f"*1. app.py:{NAIVE_LINE}  SELECT parents.id FROM parents*",
        f"*2. app.py:{NAIVE_LINE} [[]lazy Parent.children[]]  SELECT children.*",
    ])


def test_assert_max_queries_context_manager(app: pytest.Pytester) -> None:
    app.makepyfile(test_block='''
        from integrity_kit.queries import assert_max_queries
        from app import naive, fixed

        def test_block_within_budget(session):
            with assert_max_queries(2):
                fixed(session)

        def test_block_over_budget(session, assert_max_queries):
            with assert_max_queries(1):
                naive(session)

        def test_method_form(session, query_capture):
            with query_capture.max_queries(1):
                naive(session)
    ''')
    result = app.runpytest()
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines(["*expected at most 1 query, 4 were sent*"])


def test_detect_fail_mode_fails_naive_and_passes_fixed(app: pytest.Pytester) -> None:
    app.makepyfile(test_mode='''
        from app import naive, fixed

        def test_naive(session):
            naive(session)

        def test_fixed(session):
            fixed(session)

        def test_real_failure_is_still_a_real_failure(session):
            assert 1 == 2
    ''')
    result = app.runpytest("--detect-n-plus-one=fail")
    result.assert_outcomes(passed=1, failed=2)
    result.stdout.fnmatch_lines([
        f"*N+1: 3 similar queries (Parent.children) from app.py:{NAIVE_LINE}*",
        "*fix: selectinload(Parent.children)*",
    ])
    assert "assert 1 == 2" in result.stdout.str()


def test_off_by_default_and_warn_mode_reports_in_summary(app: pytest.Pytester) -> None:
    app.makepyfile(test_mode='''
        from app import naive

        def test_naive(session):
            naive(session)
    ''')
    app.runpytest().assert_outcomes(passed=1)
    result = app.runpytest("--detect-n-plus-one=warn")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*N+1 and duplicate queries (integrity-kit)*",
                                 f"*test_naive*Parent.children*app.py:{NAIVE_LINE}*"])


def test_ini_option_turns_detection_on(app: pytest.Pytester) -> None:
    app.makeini("[pytest]\ndetect_n_plus_one = fail\n")
    app.makepyfile(test_ini='''
        from app import naive

        def test_naive(session):
            naive(session)
    ''')
    app.runpytest().assert_outcomes(failed=1)


def test_allow_marker(app: pytest.Pytester) -> None:
    app.makepyfile(test_allow='''
        import pytest
        from app import naive

        @pytest.mark.allow_n_plus_one
        def test_everything_allowed(session):
            naive(session)

        @pytest.mark.allow_n_plus_one("Parent.children")
        def test_this_relationship_allowed(session):
            naive(session)

        @pytest.mark.allow_n_plus_one("Child.parent")
        def test_other_relationship_allowed_only(session):
            naive(session)
    ''')
    result = app.runpytest("--detect-n-plus-one=fail", "--strict-markers")
    result.assert_outcomes(passed=2, failed=1)
    result.stdout.fnmatch_lines(["*FAILED test_allow.py::test_other_relationship_allowed_only*"])


def test_baseline_round_trip(app: pytest.Pytester) -> None:
    app.makepyfile(test_base='''
        from app import naive

        def test_known(session):
            naive(session)
    ''')
    result = app.runpytest("--detect-n-plus-one=fail", "--write-n-plus-one-baseline=baseline.json")
    result.assert_outcomes(passed=1)
    data = json.loads((app.path / "baseline.json").read_text())
    assert [(e["test"], e["what"], e["file"]) for e in data["n_plus_one"]] == [
        ("test_base.py::test_known", "Parent.children", "app.py")]
    app.runpytest("--detect-n-plus-one=fail", "--n-plus-one-baseline=baseline.json").assert_outcomes(passed=1)

    app.makepyfile(test_new='''
        from app import naive

        def test_new_offender(session):
            naive(session)
    ''')
    result = app.runpytest("--detect-n-plus-one=fail", "--n-plus-one-baseline=baseline.json")
    result.assert_outcomes(passed=1, failed=1)


def test_bad_baseline_is_a_usage_error(app: pytest.Pytester) -> None:
    (app.path / "bad.json").write_text("not json")
    result = app.runpytest("--n-plus-one-baseline=bad.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*N+1 baseline file bad.json is not valid*"])


def test_internal_error_never_fails_a_user_test(app: pytest.Pytester) -> None:
    app.makeconftest('''
        import sys

        from app import session  # noqa: F401

        import integrity_kit.queries  # noqa: F401

        capture_module = sys.modules["integrity_kit.queries.capture"]

        def _broken(self):
            raise RuntimeError("detector exploded")

        capture_module.QueryLog.n_plus_one = property(_broken)
    ''')
    app.makepyfile(test_broken='''
        from app import naive

        def test_naive(session):
            naive(session)
    ''')
    # A subprocess: the conftest breaks the detector for real, and must not leak into this process.
    result = app.runpytest_subprocess("--detect-n-plus-one=fail")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["*integrity-kit plugin errors*", "*detector exploded*"])


@pytest.mark.parametrize(("ini", "message"), [
    ("n_plus_one_threshold = many", "*n_plus_one_threshold must be a whole number, not 'many'*"),
    ("detect_duplicates = sometimes", "*detect_duplicates must be one of fail, warn, off, not 'sometimes'*"),
])
def test_bad_ini_values_are_usage_errors(app: pytest.Pytester, ini: str, message: str) -> None:
    app.makeini(f"[pytest]\n{ini}\n")
    result = app.runpytest()
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([message])
    assert "Traceback" not in result.stderr.str()
