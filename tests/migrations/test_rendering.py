"""The SQL pass: the history is loaded and rendered once, cut per revision exactly as rendering each revision on its
own would give it; the dialect rendered is checked; what the project prints or logs never reaches our output."""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

from integrity_kit.migrations import lint, sql
from integrity_kit.migrations.source import parse_revision, read_history

FIXTURES = Path(__file__).with_name("fixtures")
DIALECTS = ("postgresql", "mysql", "sqlite")
ORIGINAL = ["safe", "unsafe", "merged", "two_heads", "broken_upgrade", "broken_downgrade"]


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("fixture", ORIGINAL)
def test_one_rendering_cut_per_revision_equals_rendering_each_revision(fixture: str, dialect: str) -> None:
    history = read_history(FIXTURES / fixture)
    rendering = sql.render_history(history.directory, history.files, dialect)
    assert rendering.notes == []  # these fixtures' env.py honours the URL: it renders
    compared = 0
    for file in history.files:
        revision = parse_revision(file, history.directory, dialect)
        if isinstance(revision.down_revision, tuple):
            continue  # a merge cannot be rendered on its own; rendered with the history it can
        try:
            alone = sql.render_revision(history.directory, revision, dialect)
        except Exception as error:  # noqa: BLE001 - the one-pass rendering must then say why it has nothing
            assert file.revision not in rendering.statements
            [entry] = [item for item in rendering.not_analysed if item["object"] == f"{file.shown} (rendered SQL)"]
            assert entry["reason"].startswith(f"rendering its upgrade() raised {type(error).__name__}")
            continue
        assert rendering.statements[file.revision] == alone, file.revision
        compared += 1
    assert compared >= len(history.files) - 3


def test_statements_keep_the_transaction_state_they_run_in() -> None:
    history = read_history(FIXTURES / "safe")
    statements = sql.render_history(history.directory, history.files, "postgresql").statements
    concurrently = [s for s in statements["s07_concurrently_autocommit"] if "CONCURRENTLY" in s.sql]
    assert concurrently and not any(s.in_transaction for s in concurrently)
    assert all(s.in_transaction for s in statements["s01_add_not_null"])


def test_each_revision_module_is_loaded_once(monkeypatch: pytest.MonkeyPatch) -> None:
    loaded: Counter[str] = Counter()
    load = sql.load_python_file

    def counting(directory: str, filename: str):
        loaded[filename] += 1
        return load(directory, filename)

    monkeypatch.setattr(sql, "load_python_file", counting)
    result = lint(FIXTURES / "unsafe")
    assert len(result.revisions) == 17
    assert set(loaded.values()) == {1} and len(loaded) == 17


def test_an_env_py_that_renders_another_dialect_is_replaced_and_said_so() -> None:
    result = lint(FIXTURES / "loading_env_url", dialect="postgresql")
    assert result.notes == ["env.py rendered sqlite SQL for --dialect postgresql; rendered with a generic offline "
                            "environment instead"]
    history = read_history(FIXTURES / "loading_env_url")
    statements = sql.render_history(history.directory, history.files, "postgresql").statements
    # PostgreSQL's rendering of an integer primary key, which SQLite's never writes
    assert any("id SERIAL NOT NULL" in s.sql for s in statements["e00_base"])
    assert lint(FIXTURES / "loading_env_url", dialect="sqlite").notes == []


def test_an_env_py_that_needs_the_application_falls_back_and_says_why() -> None:
    result = lint(FIXTURES / "loading_env_app")
    assert result.notes == ["env.py cannot run offline here: ModuleNotFoundError at line 4: No module named 'myapp'; "
                            "rendered with a generic offline environment instead"]
    assert result.sql_rendered == 3


def test_prints_and_logging_of_env_py_and_revisions_stay_out_of_our_output(capsys: pytest.CaptureFixture[str]) -> None:
    probe = logging.getLogger("integrity_kit.test_probe")
    root_handlers, root_level = list(logging.root.handlers), logging.root.level
    result = lint(FIXTURES / "loading_noisy")
    captured = capsys.readouterr()
    assert "NOISY" not in captured.out + captured.err
    assert result.sql_rendered == 4 and result.notes == []
    # fileConfig in env.py replaced the root handlers and disabled existing loggers: all put back
    assert logging.root.handlers == root_handlers and logging.root.level == root_level
    assert not probe.disabled
    loggers = [logging.root, *(logger for logger in logging.Logger.manager.loggerDict.values()
                               if isinstance(logger, logging.Logger))]
    formats = [handler.formatter._fmt for logger in loggers for handler in logger.handlers if handler.formatter]
    assert not any(fmt and fmt.startswith("NOISY") for fmt in formats)  # no handler of the project's is left


@pytest.mark.parametrize("output_format", ["json", "sarif"])
def test_machine_output_on_stdout_parses_despite_the_noise(output_format: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations",
                                str(FIXTURES / "loading_noisy"), "--format", output_format],
                               capture_output=True, text=True, timeout=120)
    assert completed.returncode == 1, completed.stderr
    assert completed.stderr == ""
    report = json.loads(completed.stdout)
    assert "NOISY" not in completed.stdout
    # two findings of its own and, as its env.py sets no lock_timeout, one IK816 per revision that locks a table
    if output_format == "json":
        assert report["summary"]["findings"] == 5 and report["summary"]["sql_rendered"] == 4
    else:
        assert len(report["runs"][0]["results"]) == 5


def test_text_output_carries_no_noise() -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations",
                                str(FIXTURES / "loading_noisy")], capture_output=True, text=True, timeout=120)
    assert "NOISY" not in completed.stdout + completed.stderr
    assert "4 revisions, 4 read by the Python pass, 4 SQL rendered" in completed.stdout


TRICKY = [
    "SELECT 'a;b'; SELECT 2;",
    "CREATE FUNCTION f() RETURNS int AS $$ BEGIN; RETURN 1;\n\n END $$ LANGUAGE plpgsql;\n\nSELECT 1;",
    "SELECT $tag$ x; $$ y; $tag$; SELECT 3",
    "-- a comment; with a semicolon\nSELECT 1; /* another; */ SELECT 2",
    "INSERT INTO t VALUES ('it''s; ok');",
    "INSERT INTO t VALUES ('it\\'s; ok');",
    'SELECT "a;b" FROM t;',
    "SELECT `a;b` FROM t;",
    "UPDATE t SET a = a - 1 WHERE b = 5/2; SELECT $1",
]


def _sqlparse_statements(text: str) -> list[str]:
    import sqlparse

    out = []
    for raw in sqlparse.split(text):
        statement = sqlparse.format(raw, strip_comments=True).strip().rstrip(";").strip()
        if statement:
            out.append(" ".join(statement.split()))
    return out


@pytest.mark.parametrize("text", TRICKY)
def test_statements_are_split_as_sqlparse_splits_them(text: str) -> None:
    assert sql.statements_of(text) == _sqlparse_statements(text)


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("fixture", ["safe", "unsafe"])
def test_rendered_revisions_split_as_sqlparse_splits_them(fixture: str, dialect: str) -> None:
    compared = 0
    for file in read_history(FIXTURES / fixture).files:
        target = file.revision if file.down_revision is None else f"{file.down_revision}:{file.revision}"
        try:
            text = sql.offline_sql(FIXTURES / fixture, target, dialect)
        except Exception:  # noqa: BLE001 - a revision SQLite cannot render offline has nothing to split
            continue
        assert sql.statements_of(text) == _sqlparse_statements(text), file.revision
        compared += 1
    assert compared >= 14
