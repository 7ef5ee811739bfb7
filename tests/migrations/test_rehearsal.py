"""Issue 23, rehearsal: the pending revisions run on a scratch copy of the target under concurrent readers and
writers; each statement's lock window and the waits it caused are measured, the target is never written, and the
scratch database is dropped however the run ends."""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.engine import URL

from integrity_kit.cli import cli
from integrity_kit.migrations.rehearsal import Rehearsal, StatementRun, rehearse
from integrity_kit.migrations.rehearsal_copy import PREFIX
from tests.db import execute, statements_sent, writes

FIXTURES = Path(__file__).with_name("fixtures")
ROWS = 200_000
# Longest a writer may wait on CREATE INDEX CONCURRENTLY: normal writes here take a few ms (baseline max < 20 ms),
# the concurrent build of the fixture index about 0.5 s; a quarter second leaves a loaded 2-core CI ample margin.
CONCURRENT_WRITER_BOUND = 0.25

BASE = '''revision = "a1"
down_revision = None
import sqlalchemy as sa
from alembic import op


def upgrade():
    op.create_table("items", sa.Column("id", sa.Integer, primary_key=True), sa.Column("name", sa.String(128)),
                    sa.Column("qty", sa.Integer))


def downgrade():
    op.drop_table("items")
'''
PLAIN = '''revision = "b2"
down_revision = "a1"
from alembic import op


def upgrade():
    op.create_index("ix_items_name", "items", ["name"])


def downgrade():
    op.drop_index("ix_items_name", "items")
'''
CONCURRENT = '''revision = "c3"
down_revision = "b2"
from alembic import op


def upgrade():
    with op.get_context().autocommit_block():
        op.create_index("ix_items_name_qty", "items", ["name", "qty"], postgresql_concurrently=True)


def downgrade():
    op.drop_index("ix_items_name_qty", "items")
'''
UNIQUE = '''revision = "d4"
down_revision = "c3"
from alembic import op


def upgrade():
    op.create_index("ux_items_qty", "items", ["qty"], unique=True)
    op.create_index("ix_items_id_qty", "items", ["id", "qty"])


def downgrade():
    op.drop_index("ix_items_id_qty", "items")
    op.drop_index("ux_items_qty", "items")
'''
SLEEP = '''revision = "s9"
down_revision = "a1"
from alembic import op


def upgrade():
    op.execute("SELECT pg_sleep(60)")


def downgrade():
    pass
'''


def history(tmp_path: Path, *revisions: str) -> Path:
    directory = tmp_path / "migrations"
    (directory / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(FIXTURES / "safe" / name, directory / name)
    for number, source in enumerate((BASE, *revisions)):
        revision = re.search(r'revision = "(\w+)"', source)
        assert revision is not None
        (directory / "versions" / f"{number:02d}_{revision.group(1)}.py").write_text(source)
    return directory


def build_target(url: URL, rows: int) -> None:
    """The base revision's table with ``rows`` rows (names of 128 characters, so an index takes a while to build),
    at revision a1."""
    engine = create_engine(url)
    key = {"postgresql": "SERIAL PRIMARY KEY", "sqlite": "INTEGER PRIMARY KEY"}.get(engine.dialect.name,
                                                                        "INTEGER PRIMARY KEY AUTO_INCREMENT")
    if engine.dialect.name == "postgresql":
        series = f"SELECT repeat(md5(g::text), 4), mod(g, 100) FROM generate_series(1, {rows}) g"
    else:
        name, qty = (("repeat(md5(n), 4)", "mod(n, 100)") if engine.dialect.name != "sqlite"
                     else ("hex(randomblob(64))", "n % 100"))
        series = (f"WITH RECURSIVE g(n) AS (SELECT 1 UNION ALL SELECT n + 1 FROM g WHERE n < {rows}) "
                  f"SELECT {name}, {qty} FROM g")
    # MariaDB stops a recursive query after 1,000 iterations unless told otherwise.
    settings = [f"SET SESSION max_recursive_iterations = {rows + 1}"] if engine.dialect.name == "mysql" else []
    execute(engine, *settings, f"CREATE TABLE items (id {key}, name VARCHAR(128), qty INTEGER)",
            f"INSERT INTO items (name, qty) {series}",
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
            "INSERT INTO alembic_version (version_num) VALUES ('a1')")
    engine.dispose()




def scratch_databases(url: URL) -> list[str]:
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            if engine.dialect.name == "postgresql":
                query = "SELECT datname FROM pg_database WHERE datname LIKE :prefix"
            else:
                query = "SELECT schema_name FROM information_schema.schemata WHERE schema_name LIKE :prefix"
            return list(connection.execute(text(query), {"prefix": f"{PREFIX}%"}).scalars())
    finally:
        engine.dispose()


def statement(rehearsal: Rehearsal, start: str) -> StatementRun:
    return next(run for run in rehearsal.statements if run.sql.startswith(start))


def assert_nothing_written(sent: list[str]) -> None:
    assert sent, "the target was not read at all"
    assert any("items" in sql.lower() and sql.lstrip().upper().startswith("SELECT") for sql in sent)
    assert not writes(sent)


@pytest.mark.engines("postgresql")
def test_plain_create_index_blocks_writers_for_its_build_and_concurrently_does_not(engine_url: URL,
                                                                                   tmp_path: Path) -> None:
    build_target(engine_url, ROWS)
    with statements_sent(Engine, database=engine_url.database) as sent:
        rehearsal = rehearse(history(tmp_path, PLAIN, CONCURRENT), engine_url.render_as_string(hide_password=False),
                             max_rows=ROWS)
    assert_nothing_written(sent)
    assert scratch_databases(engine_url) == []
    assert rehearsal.revisions == ["b2", "c3"] and rehearsal.touched == ["items"]
    assert {table.name: (table.rows, table.copied) for table in rehearsal.tables}["items"] == (ROWS, ROWS)
    assert all(run.status == "ran" for run in rehearsal.statements)
    plain, concurrent = statement(rehearsal, "CREATE INDEX ix_"), statement(rehearsal, "CREATE INDEX CONCURRENTLY")
    assert plain.transaction is not None and concurrent.transaction is None
    baseline = rehearsal.baseline["writer"]
    assert baseline.operations > 10 and baseline.longest is not None
    print(f"\nplain: build {plain.duration:.3f} s, lock held {plain.lock_held:.3f} s, writer wait "
          f"{plain.writer_wait:.3f} s, reader wait {plain.reader_wait:.3f} s\nconcurrently: build "
          f"{concurrent.duration:.3f} s, writer wait {concurrent.writer_wait:.3f} s, reader wait "
          f"{concurrent.reader_wait:.3f} s\nbaseline writer max {baseline.longest:.4f} s, reader max "
          f"{rehearsal.baseline['reader'].longest:.4f} s")
    assert plain.duration is not None and plain.lock_held is not None and plain.writer_wait is not None
    assert plain.lock_held >= plain.duration
    assert plain.writer_wait >= 0.6 * plain.duration  # a writer queued behind the SHARE lock for most of the build
    assert plain.writer_wait > 10 * baseline.longest
    assert concurrent.duration is not None and concurrent.writer_wait is not None
    assert concurrent.duration > CONCURRENT_WRITER_BOUND, "the build is too short to tell blocking from noise"
    assert concurrent.writer_wait < CONCURRENT_WRITER_BOUND


def test_a_rehearsal_copies_runs_and_measures_on_every_engine(engine_name: str, engine_url: URL,
                                                              tmp_path: Path) -> None:
    build_target(engine_url, 1000)
    with statements_sent(Engine, database=engine_url.database) as sent:
        rehearsal = rehearse(history(tmp_path, PLAIN), engine_url.render_as_string(hide_password=False),
                             max_rows=300, baseline_seconds=0.3)
    assert_nothing_written(sent)
    if engine_name == "sqlite":
        assert not list(Path(tempfile.gettempdir()).glob(f"{rehearsal.scratch}*"))
    else:
        assert scratch_databases(engine_url) == []
    items = next(table for table in rehearsal.tables if table.name == "items")
    assert (items.rows, items.copied, items.sampled) == (1000, 300, True)
    assert any("holds a sample of items (first 300 of 1,000 rows" in note for note in rehearsal.notes)
    [run] = rehearsal.statements
    assert run.status == "ran" and run.duration is not None and run.lock_held is not None
    assert run.writer_wait is not None and run.reader_wait is not None
    assert set(rehearsal.baseline) == {"reader", "writer"}
    data = rehearsal.to_dict()
    assert data["statements"][0]["sql"].startswith("CREATE INDEX ix_items_name")
    assert data["tables"][-1]["sampled"] is True


def test_a_statement_that_fails_is_reported_and_the_rest_is_not_run(engine_name: str, engine_url: URL,
                                                                    tmp_path: Path) -> None:
    build_target(engine_url, 500)
    rehearsal = rehearse(history(tmp_path, PLAIN, CONCURRENT, UNIQUE), engine_url.render_as_string(
        hide_password=False), baseline_seconds=0.2)
    unique, after = statement(rehearsal, "CREATE UNIQUE INDEX"), statement(rehearsal, "CREATE INDEX ix_items_id_qty")
    assert unique.status == "failed" and unique.error and "\n" not in unique.error
    assert "(1062" not in unique.error  # PyMySQL's (code, message) pair reads as the message and its code
    assert not unique.may_come_from_sample  # the whole table was copied
    assert after.status == "not run" and after.duration is None
    assert rehearsal.failed == [unique]
    if engine_name != "sqlite":
        assert scratch_databases(engine_url) == []


def test_cli_json_has_a_rehearsal_key_and_a_failure_exits_1(tmp_path: Path) -> None:
    database = tmp_path / "target.db"
    build_target(URL.create("sqlite", database=str(database)), 200)
    result = CliRunner().invoke(cli, ["lint-migrations", str(history(tmp_path, PLAIN, CONCURRENT, UNIQUE)),
                                      "--database", f"sqlite:///{database}", "--rehearse", "--format", "json",
                                      "--select", "IK810"])
    assert result.exit_code == 1, result.output
    import json

    data = json.loads(result.stdout)
    assert [run["status"] for run in data["rehearsal"]["statements"]] == ["ran", "ran", "failed", "not run"]
    assert "rehearsal: running revision b2 (1 of 3)" in result.stderr


def test_rehearse_options_without_a_database_are_one_line_and_exit_2(tmp_path: Path) -> None:
    directory = history(tmp_path, PLAIN)
    for args in (["--rehearse"], ["--rehearse-rows", "10"], ["--scratch-url", "sqlite://"]):
        result = CliRunner().invoke(cli, ["lint-migrations", str(directory), *args])
        assert result.exit_code == 2
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output


@pytest.mark.engines("postgresql")
@pytest.mark.parametrize("signal_number", [signal.SIGINT, signal.SIGTERM])
def test_an_interrupted_rehearsal_ends_with_one_line_and_drops_its_database(engine_url: URL, tmp_path: Path,
                                                                            signal_number: int) -> None:
    build_target(engine_url, 100)
    command = [sys.executable, "-m", "integrity_kit", "lint-migrations", str(history(tmp_path, SLEEP)),
               "--database", engine_url.render_as_string(hide_password=False), "--rehearse"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "COLUMNS": "120"})
    assert process.stderr is not None
    lines: list[str] = []
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        line = process.stderr.readline()
        if not line:
            break
        lines.append(line.rstrip("\n"))
        if "running revision s9" in line:
            break
    assert any("running revision s9" in line for line in lines), lines
    name = next(line.split()[-1] for line in lines if "created the scratch database" in line)
    assert name in scratch_databases(engine_url)
    time.sleep(0.3)  # the statement is sent
    process.send_signal(signal_number)
    try:
        _stdout, rest = process.communicate(timeout=30)
    finally:
        process.kill()
    after = rest.strip().splitlines()
    assert process.returncode == 130
    assert after == ["integrity-kit: interrupted: the rehearsal's scratch database was dropped"], after
    assert scratch_databases(engine_url) == []


def test_captured_queries_are_replayed_with_their_parameters(engine_name: str, engine_url: URL,
                                                             tmp_path: Path) -> None:
    from integrity_kit.queries import capture
    from integrity_kit.report.queries_json import render

    build_target(engine_url, 300)
    app = create_engine(engine_url)
    with capture(app) as log, app.connect() as connection:
        for key in (3, 7, 11):
            connection.execute(text("SELECT name, qty FROM items WHERE id = :id"), {"id": key}).all()
            connection.execute(text("UPDATE items SET qty = qty + 1 WHERE id = :id"), {"id": key})
        connection.execute(text("SELECT version_num FROM alembic_version")).all()  # not a touched table
        connection.rollback()
    app.dispose()
    queries = tmp_path / "queries.json"
    queries.write_text(render(log))
    rehearsal = rehearse(history(tmp_path, PLAIN), engine_url.render_as_string(hide_password=False),
                         queries=[queries], baseline_seconds=0.3)
    assert rehearsal.sessions == ["3 captured reads", "3 captured writes (rolled back)"]
    assert any("6 of 7 captured statements touch the migrated tables" in note for note in rehearsal.notes)
    assert rehearsal.session_errors == {}
    assert rehearsal.baseline["reader"].operations > 3 and rehearsal.baseline["writer"].failed == 0
    assert rehearsal.statements[0].status == "ran"


def test_a_bad_queries_file_is_one_line_and_exit_2(tmp_path: Path) -> None:
    database = tmp_path / "target.db"
    build_target(URL.create("sqlite", database=str(database)), 10)
    bad = tmp_path / "bad.json"
    bad.write_text('{"summary": {}}')
    result = CliRunner().invoke(cli, ["lint-migrations", str(history(tmp_path, PLAIN)), "--database",
                                      f"sqlite:///{database}", "--rehearse", "--queries", str(bad)])
    assert result.exit_code == 2
    assert 'no "statements" list' in result.stderr and "Traceback" not in result.output


@pytest.mark.engines("postgresql", "mariadb")
def test_a_sample_that_breaks_a_foreign_key_still_copies(engine_name: str, engine_url: URL, tmp_path: Path) -> None:
    build_target(engine_url, 100)
    engine = create_engine(engine_url)
    # Children point at the last parents, which a sample of the first 10 parents leaves out.
    execute(engine, "CREATE TABLE notes (id INTEGER PRIMARY KEY, item_id INTEGER NOT NULL, body VARCHAR(20), "
                    "CONSTRAINT fk_notes_item FOREIGN KEY (item_id) REFERENCES items (id))",
            "INSERT INTO notes (id, item_id, body) SELECT id, 101 - id, 'x' FROM items")
    engine.dispose()
    revision = PLAIN.replace('"items", ["name"]', '"notes", ["body"]').replace("ix_items_name", "ix_notes_body")
    rehearsal = rehearse(history(tmp_path, revision), engine_url.render_as_string(hide_password=False),
                         max_rows=10, baseline_seconds=0.2)
    copies = {table.name: (table.copied, table.why) for table in rehearsal.tables}
    assert copies["notes"] == (10, "touched") and copies["items"] == (10, "referenced by a touched table")
    assert rehearsal.statements[0].status == "ran"
    if engine_name == "postgresql":
        assert any("fk_notes_item added NOT VALID" in note for note in rehearsal.notes)


@pytest.mark.engines("mariadb")
def test_mariadb_targets_rehearse_mariadb_sql(engine_name: str, engine_url: URL, tmp_path: Path) -> None:
    build_target(engine_url, 50)
    checks = PLAIN.replace('op.create_index("ix_items_name", "items", ["name"])',
                           'op.create_check_constraint("ck_items_qty", "items", "qty >= 0")\n'
                           '    op.drop_constraint("ck_items_qty", "items", type_="check")')
    rehearsal = rehearse(history(tmp_path, checks), engine_url.render_as_string(hide_password=False),
                         baseline_seconds=0.2)
    # MySQL's rendering says DROP CHECK, a syntax error on MariaDB, which drops a check with DROP CONSTRAINT.
    assert [run.status for run in rehearsal.statements] == ["ran", "ran"], rehearsal.failed
    assert "DROP CONSTRAINT" in rehearsal.statements[1].sql.upper()


def test_statements_keep_the_offline_scripts_transactions(tmp_path: Path) -> None:
    from integrity_kit.migrations.source import read_history
    from integrity_kit.migrations.sql import render_history

    two = PLAIN.replace('op.create_index("ix_items_name", "items", ["name"])',
                        'op.create_index("ix_items_name", "items", ["name"])\n'
                        '    op.execute("UPDATE items SET name = name || \'%\' WHERE id < 0")')
    loaded = read_history(history(tmp_path, two, CONCURRENT))
    rendering = render_history(loaded.directory, loaded.files, "postgresql")
    [b2_index, b2_update], [c3_index] = rendering.transactions["b2"], rendering.transactions["c3"]
    assert b2_index == b2_update is not None  # one revision, one transaction
    assert c3_index is None  # the autocommit_block
    assert rendering.transactions["a1"][0] not in (None, b2_index)  # each revision commits on its own


@pytest.mark.engines("postgresql", "mariadb")
def test_a_percent_sign_reaches_the_scratch_database_as_the_revision_wrote_it(engine_name: str, engine_url: URL,
                                                                             tmp_path: Path) -> None:
    build_target(engine_url, 20)
    # The offline script doubles "%" for the driver; run as written, the row would hold "%%" and break the check.
    percent = PLAIN.replace('op.create_index("ix_items_name", "items", ["name"])',
                            'op.execute("UPDATE items SET name = \'%\' WHERE id = 1")\n'
                            '    op.create_check_constraint("ck_items_name", "items", "length(name) <> 2")')
    rehearsal = rehearse(history(tmp_path, percent), engine_url.render_as_string(hide_password=False),
                         baseline_seconds=0.2)
    assert "'%%'" in rehearsal.statements[0].sql
    assert [run.status for run in rehearsal.statements] == ["ran", "ran"], rehearsal.failed


@pytest.mark.engines("postgresql")
def test_postgresql_enums_identities_json_and_arrays_are_copied(engine_url: URL, tmp_path: Path) -> None:
    engine = create_engine(engine_url)
    execute(engine, "CREATE TYPE mood AS ENUM ('happy', 'sad')",
            "CREATE TABLE items (id INTEGER GENERATED ALWAYS AS IDENTITY PRIMARY KEY, name VARCHAR(128), "
            "qty INTEGER, m mood, doc JSONB, tags TEXT[])",
            "INSERT INTO items (name, qty, m, doc, tags) SELECT md5(g::text), g, 'sad', jsonb_build_object('a', g), "
            "ARRAY['x'] FROM generate_series(1, 50) g",
            "CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL PRIMARY KEY)",
            "INSERT INTO alembic_version (version_num) VALUES ('a1')")
    engine.dispose()
    # The revision inserts a row without an id: the identity goes on after the copied keys.
    insert = PLAIN.replace('op.create_index("ix_items_name", "items", ["name"])',
                           'op.execute("INSERT INTO items (name, m, doc) VALUES (\'new\', \'happy\', \'{}\')")')
    rehearsal = rehearse(history(tmp_path, insert), engine_url.render_as_string(hide_password=False),
                         baseline_seconds=0.2)
    assert {table.name: table.copied for table in rehearsal.tables}["items"] == 50
    assert [run.status for run in rehearsal.statements] == ["ran"], rehearsal.failed
    assert any("GENERATED BY DEFAULT in the scratch copy" in note for note in rehearsal.notes)
    assert rehearsal.session_errors == {}


def test_a_revision_that_does_not_render_stops_the_rehearsal_there_with_why(tmp_path: Path) -> None:
    database = tmp_path / "target.db"
    build_target(URL.create("sqlite", database=str(database)), 10)
    block = "    with op.get_context().autocommit_block():"
    broken = CONCURRENT.replace(block, f"    raise RuntimeError('needs the app')\n{block}")
    rehearsal = rehearse(history(tmp_path, PLAIN, broken, UNIQUE), f"sqlite:///{database}", baseline_seconds=0.2)
    assert [run.revision for run in rehearsal.statements] == ["b2"]
    assert rehearsal.statements[0].status == "ran"
    [item] = rehearsal.not_analysed
    assert "02_c3.py" in item["object"] and "03_d4.py" in item["object"]
    assert "RuntimeError" in item["reason"] and "needs the app" in item["reason"]
