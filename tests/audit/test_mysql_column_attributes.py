"""MySQL's MODIFY restates the whole column: a fix that makes a column NOT NULL or changes its type must keep its
character set, collation, UNSIGNED, precision class, default and comment, in the printed SQL and in the Alembic
revision alike."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import URL, Engine, create_engine, text

from integrity_kit.audit import audit
from integrity_kit.audit.apply import apply_revision
from integrity_kit.audit.migration import write_fix_migration
from tests.db import execute

TABLE = ("CREATE TABLE accounts (id INT PRIMARY KEY, "
         "email VARCHAR(100) CHARACTER SET latin1 DEFAULT 'none' COMMENT 'login, as typed \\\\ o''k', "
         "price DOUBLE DEFAULT 0 COMMENT 'what it costs', quantity INT UNSIGNED DEFAULT 1)")
FIXED = {"email", "price", "quantity"}
RULES = ["missing-not-null", "float-for-money"]


def column_definitions(engine: Engine) -> dict[str, tuple]:
    with engine.connect() as connection:
        rows = connection.execute(text(
            "SELECT COLUMN_NAME, COLUMN_TYPE, CHARACTER_SET_NAME, COLLATION_NAME, COLUMN_DEFAULT, COLUMN_COMMENT, "
            "IS_NULLABLE FROM information_schema.COLUMNS WHERE TABLE_SCHEMA = DATABASE() "
            "AND TABLE_NAME = 'accounts'"))
        return {row[0]: tuple(row[1:]) for row in rows}


@pytest.fixture
def accounts(engine_url: URL) -> Engine:
    engine = create_engine(engine_url)
    execute(engine, TABLE)
    return engine


def assert_only_nullability_or_money_changed(before: dict[str, tuple], after: dict[str, tuple], *,
                                             money: bool) -> None:
    for name in FIXED:
        column_type, charset, collation, default, comment, _nullable = before[name]
        new_type, new_charset, new_collation, new_default, new_comment, nullable = after[name]
        assert nullable == "NO", name
        assert (new_charset, new_collation, new_comment) == (charset, collation, comment), name
        if name == "price" and money:  # float-for-money's fix: exact cents, nothing else (0 now reads 0.00)
            assert new_type == "decimal(12,2)"
            assert float(new_default) == float(default)
        else:
            assert new_default == default, name
            assert new_type == column_type, name


@pytest.mark.engines("mariadb")
def test_the_fix_migration_keeps_every_column_attribute(accounts: Engine, tmp_path: Path) -> None:
    before = column_definitions(accounts)
    report = audit(accounts, select=RULES)
    assert {(finding.rule, finding.columns[0]) for finding in report.findings} >= {
        ("missing-not-null", "email"), ("missing-not-null", "price"), ("missing-not-null", "quantity"),
        ("float-for-money", "price")}
    assert report.snapshot is not None
    revision = write_fix_migration(report.findings, report.snapshot, report.url)
    assert "from sqlalchemy.dialects import mysql" in revision
    apply_revision(accounts, revision, tmp_path / "alembic")
    assert_only_nullability_or_money_changed(before, column_definitions(accounts), money=True)
    accounts.dispose()


@pytest.mark.engines("mariadb")
def test_the_printed_fix_sql_keeps_every_column_attribute(accounts: Engine) -> None:
    before = column_definitions(accounts)
    report = audit(accounts, select=["missing-not-null"])
    assert {finding.columns[0] for finding in report.findings} >= FIXED
    with accounts.connect() as connection:
        for finding in report.findings:
            assert finding.fix is not None
            for statement in finding.fix.sql.splitlines():
                if statement and not statement.startswith("--"):
                    connection.exec_driver_sql(statement.rstrip(";"))
        connection.commit()
    assert_only_nullability_or_money_changed(before, column_definitions(accounts), money=False)
    accounts.dispose()
