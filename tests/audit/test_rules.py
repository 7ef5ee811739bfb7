"""Each rule on its case file, on every engine it supports: the exact findings, and quiet after its own fix."""

from __future__ import annotations

import pytest

from integrity_kit.audit import audit
from tests.audit.cases import CASES
from tests.db import execute

PARAMS = [pytest.param((case, engine), id=f"{case.id}-{engine}") for case in CASES for engine in case.engines]


def _found(engine, rule: str) -> tuple[set, list]:
    report = audit(engine, select=[rule])
    assert report.not_analysed == []
    return {(f.table, f.columns) for f in report.findings}, report.findings


def _statements(sql: str) -> list[str]:
    code = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
    return [statement.strip() for statement in code.split(";") if statement.strip()]


@pytest.mark.parametrize("case_engine", PARAMS, indirect=True)
def test_rule_case(case_engine) -> None:
    case, engine_name, engine = case_engine
    execute(engine, *case.setup)
    found, findings = _found(engine, case.rule)
    assert found == set(case.expected)
    for finding in findings:
        assert finding.fix is not None and finding.fix.sql and finding.fix.alembic
        assert finding.to_dict()["fingerprint"] == finding.fingerprint
    if engine_name in case.apply_fix_on:
        for finding in findings:
            execute(engine, *_statements(finding.fix.sql), autocommit=engine_name == "postgresql")
        assert _found(engine, case.rule)[0] == set(), "the rule still fires after its own fix"


@pytest.mark.engines("postgresql")
def test_invalid_index_is_reported_and_its_fix_drops_it(engine) -> None:
    execute(engine, "CREATE TABLE users (id INTEGER PRIMARY KEY, email VARCHAR(50))",
            "INSERT INTO users VALUES (1, 'a'), (2, 'a')")
    with pytest.raises(Exception, match="could not create unique index"):
        execute(engine, "CREATE UNIQUE INDEX CONCURRENTLY uq_users_email ON users (email)", autocommit=True)
    report = audit(engine, select=["invalid-index"])
    assert [(f.table, f.evidence["index"]) for f in report.findings] == [("users", "uq_users_email")]
    execute(engine, *_statements(report.findings[0].fix.sql), autocommit=True)
    assert audit(engine, select=["invalid-index"]).findings == []


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_a_hostile_table_name_is_audited_not_executed(engine, engine_name: str) -> None:
    quote = "`" if engine_name == "mariadb" else '"'
    hostile = 'x"; DROP TABLE users; --' if engine_name != "mariadb" else "x`; DROP TABLE users; --"
    escaped = hostile.replace(quote, quote * 2)
    execute(engine, "CREATE TABLE users (id INTEGER PRIMARY KEY)",
            f"CREATE TABLE {quote}{escaped}{quote} (id INTEGER PRIMARY KEY, user_id INTEGER, price FLOAT)")
    report = audit(engine)
    assert {(f.rule, f.table) for f in report.findings} >= {("missing-foreign-key", hostile),
                                                              ("float-for-money", hostile)}
    fix = next(f.fix.sql for f in report.findings if f.rule == "missing-foreign-key")
    assert f"{quote}{escaped}{quote}" in fix  # quoted in the fix, as in the database
    with engine.connect() as connection:
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM users").scalar() == 0  # and users still exists
