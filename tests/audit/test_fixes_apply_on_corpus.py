"""Every fix the audit proposes on the real corpus schemas (chinook, sakila on every engine, employees on MariaDB),
as they ship and with their foreign key clauses removed, is applied on a copy: the SQL of each finding one by one,
and separately the generated fix migration with Alembic. Each succeeds, and the audit afterwards no longer reports
what was fixed (issue 19, "Done when")."""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from sqlalchemy import URL, create_engine, inspect
from sqlalchemy.engine import make_url

from integrity_kit.audit import Report, audit
from integrity_kit.audit.apply import apply_revision
from integrity_kit.audit.migration import plan_fixes, write_fix_migration
from integrity_kit.audit.model import Finding
from tests.audit.corpus import load, script
from tests.servers import scratch_database

COMBINATIONS = [("chinook", "sqlite"), ("chinook", "postgresql"), ("chinook", "mariadb"), ("sakila", "sqlite"),
                ("sakila", "postgresql"), ("sakila", "mariadb"), ("employees", "mariadb")]
# A table-level foreign key clause, with its optional name and actions (SQLite keeps them in CREATE TABLE).
_FK_CLAUSE = re.compile(r",\s*(?:CONSTRAINT\s+\S+\s+)?FOREIGN\s+KEY\s*\([^)]*\)\s*REFERENCES\s+\S+\s*\([^)]*\)"
                        r"(?:\s+ON\s+(?:DELETE|UPDATE)\s+(?:NO\s+ACTION|CASCADE|RESTRICT|SET\s+NULL|SET\s+DEFAULT))*",
                        re.IGNORECASE)


def load_corpus(schema: str, engine_name: str, url: URL, *, without_foreign_keys: bool) -> None:
    """Load a corpus schema; ``without_foreign_keys`` loads it as if its FK clauses had been removed (SQLite: from
    the script, as SQLite cannot drop a constraint; servers: dropped after loading, their indexes kept)."""
    if engine_name == "sqlite" and without_foreign_keys:
        import sqlite3

        stripped = _FK_CLAUSE.sub("", script(schema, engine_name))
        connection = sqlite3.connect(url.database or "")
        try:
            connection.executescript(stripped)
        finally:
            connection.close()
        return
    load(schema, engine_name, url)
    if without_foreign_keys and engine_name != "sqlite":
        drop_foreign_keys(url)


def drop_foreign_keys(url: URL) -> None:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        drops = [(table, fk["name"]) for table in inspector.get_table_names()
                 for fk in inspector.get_foreign_keys(table) if fk.get("name")]
        with engine.begin() as connection:
            preparer = engine.dialect.identifier_preparer
            for table, name in drops:
                clause = "DROP FOREIGN KEY" if engine.dialect.name in ("mysql", "mariadb") else "DROP CONSTRAINT"
                connection.exec_driver_sql(f"ALTER TABLE {preparer.quote(table)} {clause} {preparer.quote(name)}")
    finally:
        engine.dispose()


def foreign_key_count(url: URL) -> int:
    engine = create_engine(url)
    try:
        inspector = inspect(engine)
        return sum(len(inspector.get_foreign_keys(table)) for table in inspector.get_table_names())
    finally:
        engine.dispose()


@contextmanager
def corpus_copy(schema: str, engine_name: str, tmp_path: Path, *, without_foreign_keys: bool) -> Iterator[URL]:
    with scratch_database(engine_name, tmp_path) as url:
        load_corpus(schema, engine_name, url, without_foreign_keys=without_foreign_keys)
        yield url


def statements(sql: str) -> list[str]:
    """The executable statements of a finding's fix SQL (its ``--`` lines are notes for the reader)."""
    code = "\n".join(line.split("  -- ")[0] for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [part.strip() for part in code.split(";\n") if part.strip().rstrip(";")]


def applicable(finding: Finding) -> bool:
    """Whether the finding's SQL has statements to run: not a template waiting for a person's values (a status
    set), not a note alone (SQLite's table rebuilds)."""
    return finding.fix is not None and "…" not in finding.fix.sql and bool(statements(finding.fix.sql))


def cleared_by_its_sql(finding: Finding) -> bool:
    """Whether running the SQL is the whole fix: not when part of it is a rebuild left to the fix migration
    (SQLite cannot add a key to a table), nor a per-connection setting (SQLite's pragma)."""
    assert finding.fix is not None
    notes = [line for line in finding.fix.sql.splitlines() if line.lstrip().startswith("--")]
    runnable = statements(finding.fix.sql)
    return not any("rebuild" in note for note in notes) and not all(
        line.upper().startswith("PRAGMA") for line in runnable)


def _triggers_and_views(engine) -> set[tuple[str, str]]:
    if engine.dialect.name == "sqlite":
        query = "SELECT type, name FROM sqlite_master WHERE type IN ('trigger', 'view')"
    elif engine.dialect.name == "postgresql":
        query = ("SELECT 'view', table_name FROM information_schema.views WHERE table_schema = 'public' UNION "
                 "SELECT 'trigger', trigger_name FROM information_schema.triggers WHERE trigger_schema = 'public'")
    else:
        query = ("SELECT 'view', table_name FROM information_schema.views WHERE table_schema = DATABASE() UNION "
                 "SELECT 'trigger', trigger_name FROM information_schema.triggers WHERE trigger_schema = DATABASE()")
    with engine.connect() as connection:
        return {(kind, name) for kind, name in connection.exec_driver_sql(query).all()}


def _url(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def _audited(url: URL) -> Report:
    return audit(_url(url))


@pytest.mark.parametrize("without_foreign_keys", [False, True], ids=["as-shipped", "fk-clauses-removed"])
@pytest.mark.parametrize(("schema", "dialect"), COMBINATIONS, ids=[f"{s}-{e}" for s, e in COMBINATIONS])
def test_every_sql_fix_applies_one_by_one_and_clears_its_finding(schema: str, dialect: str,
                                                                  without_foreign_keys: bool, tmp_path: Path) -> None:
    engine_name = dialect
    with corpus_copy(schema, engine_name, tmp_path / "copy", without_foreign_keys=without_foreign_keys) as url:
        if without_foreign_keys:
            assert foreign_key_count(url) == 0
        before = _audited(url)
        fixable = [finding for finding in before.findings if applicable(finding)]
        if without_foreign_keys:  # the removed keys come back as findings whose fix is runnable SQL
            assert any(f.rule == "missing-foreign-key" for f in fixable) or engine_name == "sqlite"
        engine = create_engine(url, isolation_level="AUTOCOMMIT")
        try:
            with engine.connect() as connection:
                for finding in fixable:
                    assert finding.fix is not None
                    for statement in statements(finding.fix.sql):
                        try:
                            connection.exec_driver_sql(statement.rstrip(";"))
                        except Exception as error:  # name the finding whose fix failed, then fail the test
                            pytest.fail(f"{finding.rule} {finding.table}{finding.columns}: {statement!r} "
                                        f"failed: {str(error).splitlines()[0]}")
        finally:
            engine.dispose()
        after = {finding.fingerprint for finding in _audited(url).findings}
    still = [f"{f.rule} {f.table}{f.columns}" for f in fixable if cleared_by_its_sql(f) and f.fingerprint in after]
    assert still == []


@pytest.mark.parametrize("without_foreign_keys", [False, True], ids=["as-shipped", "fk-clauses-removed"])
@pytest.mark.parametrize(("schema", "dialect"), COMBINATIONS, ids=[f"{s}-{e}" for s, e in COMBINATIONS])
def test_the_fix_migration_applies_with_alembic_and_clears_what_it_fixes(
        schema: str, dialect: str, without_foreign_keys: bool, tmp_path: Path) -> None:
    engine_name = dialect
    with corpus_copy(schema, engine_name, tmp_path / "copy", without_foreign_keys=without_foreign_keys) as url:
        before = _audited(url)
        assert before.snapshot is not None
        plan = plan_fixes(before.findings, before.snapshot)
        text = write_fix_migration(before.findings, before.snapshot, _url(url))
        compile(text, "fix.py", "exec")
        engine = create_engine(url)
        try:
            kept = _triggers_and_views(engine)
            apply_revision(engine, text, tmp_path / "alembic")
            assert _triggers_and_views(engine) == kept  # SQLite's rebuilds must not drop them with the table
        finally:
            engine.dispose()
        after = {finding.fingerprint for finding in _audited(url).findings}
    # A SQLite pragma finding is "fixed" by a note about connection code: the file cannot carry it.
    fixed = [f for f in plan.fixed if not (f.rule == "foreign-key-not-enforced" and engine_name == "sqlite")]
    if without_foreign_keys:
        assert any(f.rule == "missing-foreign-key" for f in fixed)
    still = [f"{f.rule} {f.table}{f.columns}" for f in fixed if f.fingerprint in after]
    assert still == []


def test_removing_the_clauses_leaves_the_sqlite_scripts_loadable_without_keys(tmp_path: Path) -> None:
    for schema in ("chinook", "sakila"):
        url = make_url(f"sqlite:///{tmp_path / f'{schema}.db'}")
        load_corpus(schema, "sqlite", url, without_foreign_keys=True)
        assert foreign_key_count(url) == 0
        copy = tmp_path / f"{schema}-intact.db"
        load(schema, "sqlite", make_url(f"sqlite:///{copy}"))
        assert foreign_key_count(make_url(f"sqlite:///{copy}")) > 0
        shutil.rmtree(tmp_path / "unused", ignore_errors=True)
