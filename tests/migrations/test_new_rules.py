"""The migration rules of issue 18: lock timeouts, serial/identity keys, primary keys added in one step, volatile
defaults and MySQL/MariaDB online DDL.

Each `fixtures/newrules_*` directory holds firing and quiet revisions (the first docstring line says which); the
expectations are the full set of (code, revision, line) of these rules per dialect (and per server version for
MySQL), so a missing finding and an extra one both fail. The other rules are left out of these sets: their own
fixtures are `unsafe/` and `safe/`. What the rules claim about the servers is checked on the real ones: PostgreSQL
rewrites the table (a new relfilenode) exactly where the rules say, and MariaDB refuses the algorithms the MySQL
rules say it cannot use.
"""

from __future__ import annotations

import ast
import re
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from integrity_kit.cli import cli
from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations import lint
from integrity_kit.migrations.model import LintContext
from integrity_kit.migrations.rules._helpers import sql_created_tables
from integrity_kit.migrations.rules.mysql_online import ServerVersion, Step, drop_column, parse_server_version, steps
from integrity_kit.migrations.rules.timeouts import env_sets_timeout
from integrity_kit.migrations.source import parse_revision, read_history
from integrity_kit.migrations.sql import offline_sql, split
from tests.servers import scratch_database

FIXTURES = Path(__file__).with_name("fixtures")
NEW = ["IK807", "IK816", "IK817", "IK818", "IK850", "IK851"]
PG, MY, LITE = "postgresql", "mysql", "sqlite"
ALL = (PG, MY, LITE)

# (code, revision, line, dialects)
TIMEOUT = [
    ("IK816", "t01_add_column", 17, (PG,)),
    ("IK816", "t03_timeout_too_late", 17, (PG,)),
    ("IK816", "t07_two_locks", 17, (PG,)),
    ("IK816", "t08_execute_ddl", 18, (PG,)),
    ("IK816", "t11_rename_table", 17, (PG,)),
    ("IK816", "t13_index_plain", 17, (PG,)),
    ("IK816", "t15_batch", 18, (PG,)),
    ("IK816", "t16_timeout_zero", 18, (PG,)),
    ("IK850", "t12_bind_execute", 19, (MY,)),  # the same history on MySQL: a foreign key with the checks on
]
KEYS = [
    ("IK817", "k01_add_pk_column", 17, (PG,)),
    ("IK817", "k02_add_identity", 17, (PG,)),
    ("IK817", "k03_sql_bigserial", 17, (PG,)),
    ("IK818", "k06_create_pk", 17, (PG,)),
    ("IK818", "k09_sql_add_pk", 17, (PG,)),
    ("IK818", "k10_batch_pk", 18, (PG,)),
    ("IK850", "k01_add_pk_column", 17, (MY,)),  # an auto-increment column: in place, but writes wait
    # k02 on MySQL: SQLAlchemy renders no Identity() there (a plain BIGINT NOT NULL column, added instantly)
    ("IK851", "k06_create_pk", 17, (MY,)),  # a new primary key rebuilds the table in place
    ("IK851", "k09_sql_add_pk", 17, (MY,)),
    ("IK851", "k10_batch_pk", 18, (MY,)),
]
DEFAULTS = [
    ("IK807", "d02_random", 17, (PG,)),
    ("IK807", "d03_gen_random_uuid", 17, (PG,)),
    ("IK807", "d04_func_uuid", 17, (PG,)),
    ("IK807", "d07_clock_timestamp", 18, (PG,)),
    ("IK807", "d08_sql_default", 17, (PG,)),
    ("IK807", "d11_nextval", 17, (PG,)),
    ("IK807", "d13_timeofday", 17, (PG,)),
]

# MySQL: (code, revision, line, server versions it fires on); None is "no --server-version".
OLD_MYSQL, MID_MYSQL, NEW_MYSQL = "mysql-5.7.44", "mysql-8.0.20", "mysql-8.0.35"
OLD_MARIA, MID_MARIA, NEW_MARIA = "mariadb-10.2", "mariadb-10.3.7", "mariadb-10.11"
VERSIONS = (OLD_MYSQL, MID_MYSQL, NEW_MYSQL, OLD_MARIA, MID_MARIA, NEW_MARIA, None)
EVERY = VERSIONS
MYSQL = [
    ("IK850", "m01_int_to_bigint", 17, EVERY),
    ("IK850", "m02_varchar_to_text", 17, EVERY),
    ("IK850", "m04_varchar_across", 17, EVERY),  # crossing the 255-byte length prefix (MariaDB 10.11 too: measured)
    ("IK851", "m05_add_column", 17, (OLD_MYSQL, OLD_MARIA)),  # INSTANT from MySQL 8.0.12 / MariaDB 10.3.2
    ("IK851", "m06_drop_column", 17, (OLD_MYSQL, MID_MYSQL, OLD_MARIA, MID_MARIA)),  # 8.0.29 / 10.4
    ("IK850", "m07_add_fk", 17, EVERY),
    ("IK851", "m09_add_pk", 17, EVERY),
    ("IK850", "m10_drop_pk", 17, EVERY),
    ("IK851", "m13_sql_add_after", 17, (OLD_MYSQL, MID_MYSQL, OLD_MARIA, MID_MARIA)),
    ("IK850", "m15_fulltext", 17, EVERY),
    ("IK850", "m16_add_column_fk", 17, EVERY),
    ("IK851", "m16_add_column_fk", 17, (OLD_MYSQL, OLD_MARIA)),  # the column itself, before instant ADD COLUMN
    ("IK850", "m17_type_unknown_old", 17, EVERY),
    ("IK850", "m20_unnamed_fk", 17, EVERY),
]


def found(result) -> set[tuple[str, str, int]]:
    return {(f.code, f.revision, f.line) for f in result.findings}


def expected(table, key) -> set[tuple[str, str, int]]:
    return {(code, revision, line) for code, revision, line, keys in table if key in keys}


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize(("directory", "table"), [("newrules_timeout", TIMEOUT), ("newrules_keys", KEYS),
                                                  ("newrules_defaults", DEFAULTS)])
def test_each_fixture_gives_exactly_the_expected_findings(directory: str, table, dialect: str) -> None:
    result = lint(FIXTURES / directory, dialect=dialect, select=NEW)
    assert found(result) == expected(table, dialect)
    if dialect != LITE:  # SQLite cannot render ALTER of constraints outside batch mode: said, not hidden
        assert result.not_analysed == []


def test_every_fixture_revision_says_whether_it_fires() -> None:
    """A revision's docstring starts with FIRES or QUIET (or, for MySQL, the operation): the tables above and the
    files agree on which PostgreSQL revisions fire."""
    tables = {"newrules_timeout": TIMEOUT, "newrules_keys": KEYS, "newrules_defaults": DEFAULTS}
    for directory, table in tables.items():
        firing = {revision for _code, revision, _line, dialects in table if PG in dialects}
        for path in sorted((FIXTURES / directory / "versions").glob("*.py")):
            if path.name.startswith("00_"):
                continue
            first = path.read_text().splitlines()[0]
            revision = path.stem.split("_", 1)[1]
            assert first.startswith('"""FIRES') == (revision in firing), path.name
            assert first.startswith(('"""FIRES', '"""QUIET')), path.name


@pytest.mark.parametrize("version", VERSIONS)
def test_mysql_online_ddl_per_server_version(version: str | None) -> None:
    result = lint(FIXTURES / "newrules_mysql", dialect="mysql", select=NEW, server_version=version)
    assert found(result) == expected(MYSQL, version)
    shown = [str(parse_server_version(version, "mysql"))] if version else ["MySQL 8.4", "MariaDB 10.11"]
    assert all(name in f.message for f in result.findings for name in shown), [f.message for f in result.findings]
    assert all(("no --server-version given" in f.message) == (version is None) for f in result.findings)


def test_an_unnamed_foreign_key_is_named_by_its_columns() -> None:
    result = lint(FIXTURES / "newrules_mysql", dialect="mysql", select=["IK850"], since="m19_varchar_length_keyword")
    assert [f.message.split(" runs ")[0] for f in result.findings] == ["foreign key audit_log(id) -> users"]


@pytest.mark.parametrize(("dialect", "version"), [(PG, None), (MY, OLD_MYSQL), (MY, None), (LITE, None)])
def test_names_the_linter_cannot_read_are_said_so(dialect: str, version: str | None) -> None:
    """Tables, columns and indexes that come from a helper: every rule still fires where it should, and no message
    or fix reads "None" or a placeholder where a name should be."""
    result = lint(FIXTURES / "newrules_variables", dialect=dialect, select=NEW, server_version=version)
    codes = {f.code for f in result.findings}
    assert codes == {PG: {"IK807", "IK816", "IK817", "IK818"}, MY: {"IK850", "IK851"},
                     LITE: set()}[dialect]
    for finding in result.findings:
        assert "named by a variable" in finding.message or "an index" in finding.message, finding.message
        assert not re.search(r"\bNone\b|<\w+>", finding.message), finding.message
        assert "None" not in re.findall(r"\w+", finding.fix or ""), finding.fix


def test_mysql_rules_are_quiet_on_other_dialects() -> None:
    for dialect in (PG, LITE):
        assert found(lint(FIXTURES / "newrules_mysql", dialect=dialect, select=["IK850", "IK851"])) == set()


def test_servers_that_disagree_are_each_named() -> None:
    """Without --server-version the rules judge several servers at once; where they disagree, the message names
    the worst outcome and then each other one."""
    mysql, mariadb = ServerVersion("mysql", (8, 0, 20)), ServerVersion("mariadb", (10, 11, 0))
    step = Step(17, "users", "drop column users.legacy_notes",
                ((mysql, drop_column(mysql)), (mariadb, drop_column(mariadb))), assumed=True)
    assert step.worst.rebuild
    assert step.message() == ("drop column users.legacy_notes runs ALGORITHM=INPLACE with a table rebuild (writes go "
                              "on; every row and index is rewritten) on MySQL 8.0.20; it runs ALGORITHM=INSTANT on "
                              "MariaDB 10.11 (no --server-version given: assumed the oldest releases still supported)")


@pytest.mark.parametrize(("directory", "fires"), [("newrules_timeout_env", False),
                                                  ("newrules_timeout_connect_args", False),
                                                  ("newrules_timeout_mention", True)])
def test_a_timeout_set_in_env_py_covers_every_revision(directory: str, fires: bool) -> None:
    result = lint(FIXTURES / directory, dialect=PG, select=["IK816"])
    assert bool(result.findings) == fires
    assert len(result.revisions) >= 2


def test_what_counts_as_a_timeout_in_env_py(tmp_path: Path) -> None:
    cases = {
        'context.execute("SET lock_timeout TO 3000")\n': True,
        'engine = create_engine(url, connect_args={\n    "options": "-c statement_timeout=60s"})\n': True,
        'context.configure(connection=c, lock_timeout="5s")\n': True,
        'settings = {"lock_timeout": "5s"}\n': True,
        '"""We never SET lock_timeout: reviews catch it."""\n': False,  # a docstring only talks about it
        "# SET lock_timeout = '5s'\n": False,
        'context.execute("SET search_path TO app")\n': False,
        'connect_args = {"options": "-c lock_timeout=0"}\n': False,  # 0 turns the timeout off
    }
    for number, (source, sets) in enumerate(cases.items()):
        env = tmp_path / f"env{number}.py"
        env.write_text(source)
        assert env_sets_timeout(str(env)) is sets, source


def test_fixes_are_python_and_name_the_safe_sequence() -> None:
    findings = [f for name in ("newrules_timeout", "newrules_keys", "newrules_defaults")
                for f in lint(FIXTURES / name, dialect=PG, select=NEW).findings]
    findings += lint(FIXTURES / "newrules_mysql", dialect=MY, select=NEW, server_version=OLD_MYSQL).findings
    assert findings and all(f.fix for f in findings)
    for finding in findings:
        ast.parse(finding.fix or "")  # comments and op.* calls only: pasteable into a revision
        assert "None" not in re.findall(r"\w+", finding.fix or ""), finding.fix
    fixes = {(f.code, f.revision): f.fix or "" for f in findings}
    assert "SET lock_timeout" in fixes["IK816", "t01_add_column"] and "env.py" in fixes["IK816", "t01_add_column"]
    assert "PRIMARY KEY USING INDEX" in fixes["IK818", "k06_create_pk"]
    assert "postgresql_concurrently=True" in fixes["IK818", "k06_create_pk"]
    assert "VALIDATE CONSTRAINT" in fixes["IK817", "k01_add_pk_column"]
    assert 'server_default=sa.text("gen_random_uuid()")' in fixes["IK807", "d03_gen_random_uuid"]
    assert "foreign_key_checks = 0" in fixes["IK850", "m07_add_fk"]


def test_server_version_option(tmp_path: Path) -> None:
    runner = CliRunner()
    path = str(FIXTURES / "newrules_mysql")
    new = runner.invoke(cli, ["lint-migrations", path, "--dialect", "mysql", "--server-version", "mysql-8.0.35",
                              "--select", "IK851"])
    old = runner.invoke(cli, ["lint-migrations", path, "--dialect", "mysql", "--server-version", "5.7.44",
                              "--select", "IK851"])
    assert new.output.count("IK851") < old.output.count("IK851")
    assert "MySQL 5.7.44" in old.output
    for bad in (["--server-version", "eight"], ["--server-version", "postgresql-16"]):
        result = runner.invoke(cli, ["lint-migrations", path, "--dialect", "mysql", *bad])
        assert result.exit_code == 2, result.output
        assert "--server-version" in result.output and "Traceback" not in result.output


def test_server_version_spellings() -> None:
    assert parse_server_version("mariadb-10.11", "mysql") == ServerVersion("mariadb", (10, 11, 0))
    assert parse_server_version("10.11.6-MariaDB", "mysql") == ServerVersion("mariadb", (10, 11, 6))
    assert parse_server_version("8.0.35", "mysql") == ServerVersion("mysql", (8, 0, 35))
    assert parse_server_version("postgresql-16", "postgresql") == ServerVersion("postgresql", (16, 0, 0))
    assert parse_server_version(None, "mysql") is None
    with pytest.raises(IntegrityKitError):
        parse_server_version("mysql-8", "sqlite")


# --- the claims, on the real servers --------------------------------------------------------------------------


def _relfilenode(connection, table: str) -> int:
    return connection.execute(text("SELECT relfilenode FROM pg_class WHERE oid = CAST(:t AS regclass)"),
                              {"t": table}).scalar_one()


@pytest.mark.engines("postgresql")
def test_postgresql_rewrites_the_table_exactly_where_the_rules_say(engine_name: str, tmp_path: Path) -> None:
    """Each fixture revision's own SQL on a table with rows: the table gets a new file (a rewrite) for the
    volatile-default and serial-key revisions, and keeps its file for the quiet ones."""
    directories = {"newrules_defaults": DEFAULTS, "newrules_keys": KEYS}
    checked = {"rewritten": 0, "kept": 0}
    for directory, table in directories.items():
        firing = {revision for code, revision, _line, dialects in table
                  if PG in dialects and code in {"IK807", "IK817"}}
        with scratch_database(engine_name, tmp_path / directory) as url:
            engine = create_engine(url)
            try:
                with engine.begin() as connection:
                    _execute(connection, offline_sql(FIXTURES / directory, "r00_base", PG))
                    _seed(connection)
                for revision in _revisions(FIXTURES / directory, PG)[1:]:
                    if revision.revision.startswith("k08"):
                        continue  # needs an index the fixture history never builds: linted only
                    sql = offline_sql(FIXTURES / directory, f"{revision.down_revision}:{revision.revision}", PG)
                    statements = [s.sql for s in split(sql, origin="rendered")]
                    tables = {m.group(1) for s in statements for m in [re.match(r"ALTER TABLE (\w+) ADD", s)] if m}
                    tables -= sql_created_tables(revision)
                    if len(tables) != 1 or revision.upgrade[0].name not in {"add_column", "execute"}:
                        with engine.begin() as connection:
                            _execute(connection, sql)
                        continue
                    target = tables.pop()
                    with engine.begin() as connection:
                        connection.execute(text("CREATE SEQUENCE IF NOT EXISTS tickets_seq"))
                        connection.execute(text("CREATE EXTENSION IF NOT EXISTS \"uuid-ossp\""))
                        before = _relfilenode(connection, target)
                        _execute(connection, sql)
                        after = _relfilenode(connection, target)
                    rewritten = before != after
                    assert rewritten == (revision.revision in firing), (revision.revision, statements)
                    checked["rewritten" if rewritten else "kept"] += 1
            finally:
                engine.dispose()
    assert checked["rewritten"] >= 8 and checked["kept"] >= 5, checked


def _revisions(directory: Path, dialect: str):
    return [parse_revision(file, directory, dialect) for file in read_history(directory).files]


def _execute(connection, sql: str) -> None:
    for statement in split(sql, origin="rendered"):
        connection.exec_driver_sql(statement.sql.replace("%", "%%"))


def _seed(connection) -> None:
    connection.execute(text("INSERT INTO users (id, email, name) VALUES (1, 'a@example.org', 'A'), "
                            "(2, 'b@example.org', 'B')"))
    connection.execute(text("INSERT INTO products (id, name, sku, price) VALUES (1, 'mug', 'M-1', 9.5)"))
    connection.execute(text("INSERT INTO orders (id, user_id, product_id, status, total) VALUES "
                            "(1, 1, 1, 'new', 9.5), (2, 2, 1, NULL, 19)"))
    connection.execute(text("INSERT INTO cart_items (id, product_id) VALUES (1, 1), (2, 1)"))


# What the server does with one statement, from the most to the least restrictive request that it accepts.
PROBES = (("INSTANT", "ALGORITHM=INSTANT"), ("NOCOPY", "ALGORITHM=NOCOPY, LOCK=NONE"),
          ("REBUILD", "ALGORITHM=INPLACE, LOCK=NONE"), ("BLOCKS", "ALGORITHM=INPLACE"), ("COPY", None))
BADNESS = {"INSTANT": 0, "NOCOPY": 0, "REBUILD": 1, "BLOCKS": 2, "COPY": 3}


def _observe(connection, statement: str) -> str:
    """Run ``statement`` with each ALGORITHM/LOCK request in turn; the first one the server accepts says how it
    runs it (and applies it)."""
    for name, clause in PROBES:
        if clause is None:
            connection.exec_driver_sql(statement)
            return name
        joined = f"{statement} {clause.replace(', ', ' ')}" if statement.upper().startswith("CREATE") \
            else f"{statement}, {clause}"
        try:
            connection.exec_driver_sql(joined)
            return name
        except DBAPIError as error:
            if "ALGORITHM" not in str(error) and "LOCK" not in str(error):
                raise
    raise AssertionError("unreachable")


@pytest.mark.engines("mariadb")
def test_mariadb_runs_each_operation_the_way_the_rules_say(engine_name: str, tmp_path: Path) -> None:
    """Every ALTER of the MySQL fixtures on the MariaDB test server, for that server's version: the algorithm it
    accepts is the one the rules predict (INSTANT or in place without a rebuild: quiet; rebuild: IK851; writes
    blocked or COPY: IK850)."""
    with scratch_database(engine_name, tmp_path) as url:
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        directory = tmp_path / "scripts"
        shutil.copytree(FIXTURES / "newrules_mysql", directory)
        try:
            with engine.connect() as connection:
                version = connection.exec_driver_sql("SELECT VERSION()").scalar_one()
                server = parse_server_version(version, "mysql")
                assert server is not None and server.family == "mariadb"
                _execute(connection, offline_sql(directory, "r00_base", MY))
                _seed(connection)
                compared = 0
                for revision in _revisions(directory, MY)[1:]:
                    sql = offline_sql(directory, f"{revision.down_revision}:{revision.revision}", MY)
                    statements = [s.sql for s in split(sql, origin="rendered")]
                    created = sql_created_tables(revision)
                    observed = 0
                    for statement in statements:
                        touched = re.match(r"(?:ALTER TABLE|CREATE (?:FULLTEXT )?INDEX \w+ ON) (\w+)", statement)
                        if touched is None or touched.group(1) in created or "ALGORITHM=" in statement:
                            connection.exec_driver_sql(statement)
                            continue
                        observed = max(observed, BADNESS[_observe(connection, statement)])
                    revision.statements = split(sql, origin="rendered")
                    context = LintContext(dialect=MY, server_version=version)
                    predicted = max((_badness(step.worst) for step in steps(revision, context)), default=0)
                    assert observed == predicted, (revision.revision, statements, observed, predicted)
                    compared += 1
                assert compared >= 15
        finally:
            engine.dispose()


def _badness(outcome) -> int:
    return 3 if outcome.algorithm == "COPY" else 2 if outcome.blocks_writes else 1 if outcome.rebuild else 0


@pytest.mark.engines("postgresql")
@pytest.mark.parametrize("with_timeout", [False, True])
def test_postgresql_queues_reads_behind_a_waiting_alter_unless_it_has_a_lock_timeout(
        engine_name: str, with_timeout: bool, tmp_path: Path) -> None:
    """The claim of strong-lock-without-timeout and its fix: an ALTER waiting behind an open transaction makes a
    plain SELECT from a third session wait too; with the fix's SET lock_timeout the ALTER gives up and the SELECT
    runs."""
    import threading
    import time

    fix = lint(FIXTURES / "newrules_timeout", dialect=PG, select=["IK816"]).findings[0].fix or ""
    set_timeout = re.search(r'op\.execute\("(SET lock_timeout = [^"]+)"\)', fix)
    assert set_timeout is not None
    with scratch_database(engine_name, tmp_path) as url:
        engine = create_engine(url)
        errors: list[str] = []
        try:
            with engine.begin() as connection:
                connection.execute(text("CREATE TABLE accounts (id integer PRIMARY KEY)"))
                connection.execute(text("INSERT INTO accounts VALUES (1), (2)"))
            with engine.connect() as holder, engine.connect() as migrator, engine.connect() as reader:
                holder.execute(text("SELECT count(*) FROM accounts"))  # an open transaction holds ACCESS SHARE
                pid = migrator.execute(text("SELECT pg_backend_pid()")).scalar_one()
                if with_timeout:
                    migrator.execute(text(set_timeout.group(1).replace("5s", "300ms")))

                def alter() -> None:
                    try:
                        migrator.execute(text("ALTER TABLE accounts ADD COLUMN note text"))
                    except DBAPIError as error:
                        errors.append(str(error.orig))
                        migrator.rollback()

                thread = threading.Thread(target=alter)
                thread.start()
                deadline = time.monotonic() + 10
                while time.monotonic() < deadline and not with_timeout:
                    waiting = reader.execute(text("SELECT count(*) FROM pg_locks WHERE pid = :pid AND NOT granted"),
                                             {"pid": pid}).scalar_one()
                    reader.rollback()
                    if waiting:
                        break
                    time.sleep(0.05)
                if with_timeout:
                    thread.join(10)
                reader.execute(text("SET statement_timeout = '1s'"))
                try:
                    rows = reader.execute(text("SELECT count(*) FROM accounts")).scalar_one()
                except DBAPIError as error:
                    rows = None
                    assert "statement timeout" in str(error.orig)
                    reader.rollback()
                holder.rollback()  # the ALTER (if still waiting) gets its lock and finishes
                thread.join(10)
                migrator.commit()
        finally:
            engine.dispose()
    if with_timeout:
        assert rows == 2 and errors and "lock timeout" in errors[0]
    else:
        assert rows is None and errors == []  # the SELECT queued behind the waiting ALTER until it gave up


@pytest.mark.engines("postgresql")
def test_the_printed_fixes_run_on_postgresql_and_do_what_they_promise(engine_name: str, tmp_path: Path) -> None:
    """The safe sequences the key rules and the volatile-default rule print, pasted as revisions (split at "# next
    revision") after the tables they are about, run on PostgreSQL with rows in the tables: each table ends with its
    primary key, old rows get their volatile value; linted again, the pasted revisions give none of these
    findings."""
    from alembic import command
    from alembic.config import Config

    findings = {f.revision: f for f in lint(FIXTURES / "newrules_keys", dialect=PG, select=["IK817", "IK818"]).findings}
    volatile = lint(FIXTURES / "newrules_defaults", dialect=PG, select=["IK807"]).findings
    fixes = [findings["k01_add_pk_column"].fix or "", findings["k06_create_pk"].fix or "",
             next(f.fix or "" for f in volatile if f.revision == "d03_gen_random_uuid")]
    directory = tmp_path / "scripts"
    shutil.copytree(FIXTURES / "newrules_keys", directory, ignore=shutil.ignore_patterns("__pycache__"))
    for path in (directory / "versions").glob("*.py"):
        if not path.name.startswith(("00_", "01_")):
            path.unlink()  # keep r00 and k00 (the tables without a key)
    down = "k00_tables_without_key"
    parts = [part for fix in fixes for part in re.split(r"^# next revision.*$", fix, flags=re.M)]
    for number, part in enumerate(parts, start=2):
        revision = f"fix{number:02d}"
        body = "".join(f"    {line}\n" for line in part.strip().splitlines()) or "    pass\n"
        (directory / "versions" / f"{number:02d}_{revision}.py").write_text(
            f'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "{revision}"\ndown_revision = "{down}"\n'
            f"\n\ndef upgrade():\n{body}\n\ndef downgrade():\n    pass\n")
        down = revision
    assert lint(directory, dialect=PG, select=["IK807", "IK817", "IK818"]).findings == []
    with scratch_database(engine_name, tmp_path / "db") as url:
        engine = create_engine(url)
        try:
            config = Config()
            config.set_main_option("script_location", str(directory))
            with engine.connect() as connection:
                config.attributes["connection"] = connection
                command.upgrade(config, "k00_tables_without_key")
                connection.commit()
                connection.execute(text("INSERT INTO audit_log (id, note) VALUES (1, 'a'), (2, 'b')"))
                connection.execute(text("INSERT INTO event_log (id, note) VALUES (1, 'a'), (2, 'b')"))
                _seed(connection)
                connection.commit()
                command.upgrade(config, "head")
                connection.commit()
                keys = dict(connection.execute(text(
                    "SELECT conrelid::regclass::text, pg_get_constraintdef(oid) FROM pg_constraint "
                    "WHERE contype = 'p' AND conrelid::regclass::text IN ('audit_log', 'event_log')")).all())
                connection.execute(text("INSERT INTO users (id, email) VALUES (3, 'c@example.org')"))
                ids = connection.execute(text("SELECT public_id FROM users ORDER BY id")).scalars().all()
        finally:
            engine.dispose()
    assert keys == {"audit_log": "PRIMARY KEY (line_id)", "event_log": "PRIMARY KEY (id)"}
    assert len(ids) == 3 and None not in ids and len(set(ids)) == 3  # old rows backfilled, the new one defaulted
