"""Issue 23, first step: ``lint-migrations --database URL`` lints only the revisions the database has not applied,
reading ``alembic_version`` without writing anything."""

from __future__ import annotations

from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text

from examples.ecommerce.database import MIGRATIONS, upgrade
from integrity_kit.cli import cli
from integrity_kit.migrations import lint
from integrity_kit.migrations.source import read_history
from integrity_kit.migrations.sql import render_history
from integrity_kit.migrations.target import read_target
from tests.db import statements_sent, writes
from tests.servers import scratch_database

ALL = [file.revision for file in read_history(MIGRATIONS).files]


def run(*args: str):
    return CliRunner().invoke(cli, ["lint-migrations", *map(str, args)])


def test_only_pending_revisions_are_linted_and_nothing_is_written(engine_name: str, tmp_path) -> None:
    with scratch_database(engine_name, tmp_path) as url:
        state = read_target(url.render_as_string(hide_password=False))
        assert not state.has_version_table
        result = lint(MIGRATIONS, dialect=state.dialect, target=state, render_sql=False)
        assert result.revisions == ALL
        assert any("no alembic_version table" in note for note in result.notes)

        engine = create_engine(url)
        upgrade(engine, ALL[3])
        engine.dispose()
        with statements_sent(Engine) as sent:
            state = read_target(url.render_as_string(hide_password=False))
        assert state.current == (ALL[3],)
        assert sent and not writes(sent)
        result = lint(MIGRATIONS, dialect=state.dialect, target=state, render_sql=False)
        assert result.revisions == ALL[4:]
        assert {finding.revision for finding in result.findings} <= set(ALL[4:])
        assert any(f"{len(ALL) - 4} of {len(ALL)} revisions are pending" in note for note in result.notes)


def test_a_revision_the_history_does_not_hold_is_one_line_and_exit_2(tmp_path) -> None:
    database = tmp_path / "other.db"
    with create_engine(f"sqlite:///{database}").begin() as connection:
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version VALUES ('ffffdeadbeef')"))
    result = run(MIGRATIONS, "--database", f"sqlite:///{database}")
    assert result.exit_code == 2
    assert "ffffdeadbeef, which is not in the history" in result.output
    assert "Traceback" not in result.output


def test_bad_database_options_are_usage_errors(tmp_path) -> None:
    unreachable = run(MIGRATIONS, "--database", "postgresql+psycopg://app:s3cret@127.0.0.1:1/shop")
    assert unreachable.exit_code == 2
    assert "cannot connect" in unreachable.output and "s3cret" not in unreachable.output
    url = f"sqlite:///{tmp_path / 'empty.db'}"
    both = run(MIGRATIONS, "--database", url, "--since", ALL[2])
    assert both.exit_code == 2 and "give one of them" in both.output
    mismatch = run(MIGRATIONS, "--database", url, "--dialect", "postgresql")
    assert mismatch.exit_code == 2 and "does not match --database" in mismatch.output


def test_a_mariadb_target_renders_mariadb_sql(tmp_path, monkeypatch) -> None:
    """MySQL spells dropping a CHECK ``DROP CHECK``, a syntax error on MariaDB: a MariaDB target's revisions are
    checked in the SQL MariaDB would run."""
    from integrity_kit.migrations import linter

    rendered = []

    def spy(*args, **kwargs):
        rendering = render_history(*args, **kwargs)
        rendered.append(rendering)
        return rendering

    monkeypatch.setattr(linter, "render_history", spy)
    with scratch_database("mariadb", tmp_path) as url:
        state = read_target(url.render_as_string(hide_password=False))
        assert state.mariadb and state.dialect == "mysql"
        result = lint(MIGRATIONS, dialect=state.dialect, target=state)
    assert result.sql_rendered == len(ALL)
    drops = [s.sql for s in rendered[0].statements["0005_alert_threshold_not_null"] if " DROP " in s.sql]
    assert drops == ["ALTER TABLE products DROP CONSTRAINT ck_products_stock_alert_threshold_not_null"]
