"""Names an attacker chooses never become code: the fix migration for a schema of hostile, reserved and
mixed-case names compiles, calls only what we generate, applies with Alembic, and the printed fix SQL runs."""

from __future__ import annotations

import ast
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import URL, Column, Engine, Float, Integer, MetaData, String, Table, create_engine, insert

from integrity_kit.audit import audit
from integrity_kit.audit.apply import apply_revision
from integrity_kit.audit.migration import write_fix_migration

MARKER = Path("/tmp/pwned")
INJECTION = '"+__import__("os").system("touch /tmp/pwned")+"'
NAMES = {"injection": INJECTION, "newline": "new\nline", "quotes": "back\\slash'quote\"", "mixed": "MixedCase"}
# The only names a generated revision may use.
ALLOWED_NAMES = {"op", "sa", "mysql", "batch", "revision", "down_revision", "branch_labels", "depends_on",
                 "trigger"}  # SQLite rebuilds recreate the saved triggers in a loop


def hostile_metadata() -> MetaData:
    metadata = MetaData()
    Table("user", metadata, Column("id", Integer, primary_key=True), Column("email", String(100), nullable=False),
          Column("name", String(50)))
    Table("order", metadata, Column("id", Integer, primary_key=True), Column("user_id", Integer),
          Column("total", Float), Column("status", String(20)), Column("quantity", Integer))
    Table(NAMES["mixed"], metadata, Column("Id", Integer, primary_key=True), Column("OrderId", Integer))
    Table(NAMES["injection"], metadata, Column("id", Integer, primary_key=True), Column("user_id", Integer),
          Column("price", Float), Column('we"ird\'\\', Integer))
    Table(NAMES["newline"], metadata, Column("id", Integer, primary_key=True), Column("user_id", Integer),
          Column("email", String(100), nullable=False))
    Table(NAMES["quotes"], metadata, Column("id", Integer, primary_key=True), Column("order_id", Integer),
          Column("sku", String(20), nullable=False))
    return metadata


def assert_only_our_calls(text: str) -> None:
    tree = ast.parse(text)
    for node in ast.walk(tree):
        if isinstance(node, ast.Name):
            assert node.id in ALLOWED_NAMES, f"unexpected name {node.id!r} in the revision"
        if isinstance(node, ast.Call):
            root: ast.expr = node.func
            while isinstance(root, (ast.Attribute, ast.Call)):
                root = root.value if isinstance(root, ast.Attribute) else root.func
            assert isinstance(root, ast.Name) and root.id in ("op", "sa", "mysql", "batch"), ast.unparse(node)
        if isinstance(node, ast.FunctionDef):
            assert node.name in ("upgrade", "downgrade")


@pytest.fixture
def hostile(engine_name: str, engine_url: URL) -> Iterator[tuple[str, Engine]]:
    engine = create_engine(engine_url)
    hostile_metadata().create_all(engine)
    try:
        yield engine_name, engine
    finally:
        engine.dispose()


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.startswith("--"))
    return [statement.strip() for statement in code.split(";\n") if statement.strip().rstrip(";")]


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_the_fix_migration_for_hostile_names_is_only_our_code_and_applies(hostile, tmp_path: Path) -> None:
    engine_name, engine = hostile
    MARKER.unlink(missing_ok=True)
    metadata = hostile_metadata()
    with engine.begin() as connection:  # an orphan, so the clean-up comments carry a name with a newline
        connection.execute(insert(metadata.tables[NAMES["newline"]]).values(id=1, user_id=99, email="a@x"))
    damaged = audit(engine)
    assert damaged.snapshot is not None
    assert {f.table for f in damaged.findings} >= set(NAMES.values()) | {"user", "order"}
    text = write_fix_migration(damaged.findings, damaged.snapshot, damaged.url)
    compile(text, "fix.py", "exec")
    assert_only_our_calls(text)
    assert "# 1. Clean the data first" in text

    with engine.begin() as connection:
        connection.exec_driver_sql("DELETE FROM " + engine.dialect.identifier_preparer.quote(NAMES["newline"]))
    report = audit(engine)
    assert report.snapshot is not None
    text = write_fix_migration(report.findings, report.snapshot, report.url)
    compile(text, "fix.py", "exec")
    assert_only_our_calls(text)
    target = engine
    if engine_name == "sqlite":  # apply on a copy of the file
        copy = tmp_path / "copy.db"
        shutil.copy(engine.url.database or "", copy)
        target = create_engine(f"sqlite:///{copy}")
    try:
        apply_revision(target, text, tmp_path / "alembic")
        assert not MARKER.exists(), "a table name ran as code"
        after = audit(target, select=["missing-foreign-key", "missing-unique-constraint"])
        assert after.findings == []
    finally:
        if target is not engine:
            target.dispose()


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_the_printed_fix_sql_for_hostile_names_runs(hostile) -> None:
    engine_name, engine = hostile
    report = audit(engine, select=["missing-foreign-key", "missing-unique-constraint", "missing-not-null",
                                   "float-for-money", "missing-check-constraint", "unindexed-foreign-key"])
    assert report.findings
    autocommit = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    with autocommit as connection:
        for finding in report.findings:
            assert finding.fix is not None
            if "…" in finding.fix.sql:
                continue  # a status CHECK waits for the set of values a person confirms
            for statement in _statements(finding.fix.sql):
                connection.exec_driver_sql(statement.rstrip(";"))
    assert not MARKER.exists()
    left = audit(engine, select=["missing-foreign-key", "missing-unique-constraint"])
    assert left.findings == [] or engine_name == "sqlite"  # SQLite's fixes are table rebuilds
