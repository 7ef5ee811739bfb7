"""A finding's fix and the fix migration are renderings of the same operations, and agree: on every case of every
rule, on every engine the case runs on, and with the tables in a non-default schema (a PostgreSQL schema, a
MariaDB database)."""

from __future__ import annotations

import ast
import uuid
from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from integrity_kit.audit import audit
from integrity_kit.audit.changes import Phase
from integrity_kit.audit.migration import plan_fixes, write_fix_migration
from integrity_kit.audit.model import Finding
from integrity_kit.audit.registry import find_rule
from tests.audit.cases import CASES, Case
from tests.servers import scratch_database

PARAMS = [pytest.param((case, engine), id=f"{case.id}-{engine}") for case in CASES for engine in case.engines]
IN_SCHEMA = [pytest.param((case, engine), id=f"{case.id}-{engine}") for case in CASES for engine in case.engines
             if engine != "sqlite"]
# Scaffolding our renderings use around the operations: not operations themselves.
FRAME = {"get_context", "autocommit_block", "batch_alter_table"}


def calls(code: str) -> list[str]:
    """Every ``op.*`` / ``batch.*`` operation call in ``code``, as normalized source."""
    found = []
    for node in ast.walk(ast.parse(code)):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                isinstance(node.func.value, ast.Name) and node.func.value.id in ("op", "batch") and \
                node.func.attr not in FRAME:
            found.append(((node.lineno, node.col_offset), ast.unparse(node)))
    return [call for _where, call in sorted(found)]  # in source order


def batches(code: str) -> set[str]:
    return {ast.unparse(node) for node in ast.walk(ast.parse(code)) if isinstance(node, ast.Call)
            and isinstance(node.func, ast.Attribute) and node.func.attr == "batch_alter_table"}


def function_source(module: str, name: str) -> str:
    tree = ast.parse(module)
    function = next(node for node in tree.body if isinstance(node, ast.FunctionDef) and node.name == name)
    return ast.unparse(function)


def expected_calls(finding: Finding) -> list[str]:
    """What the finding's operations render to, schema changes only (data clean-ups stay comments)."""
    assert finding.changes is not None
    dialect = finding.changes.dialect
    return [ast.unparse(ast.parse(step.call.render("batch" if step.batch else "op")).body[0])
            for operation in finding.changes.operations for step in operation.steps(dialect)
            if step.call is not None and step.phase is not Phase.CLEANUP]


def check_agreement(engine: Engine, rule: str, schema: str | None = None) -> list[Finding]:
    report = audit(engine, select=[rule], schemas=[schema] if schema else None)
    assert report.snapshot is not None
    text = write_fix_migration(report.findings, report.snapshot, report.url)
    compile(text, "fix.py", "exec")
    upgrade, downgrade = function_source(text, "upgrade"), function_source(text, "downgrade")
    plan = plan_fixes(report.findings, report.snapshot)
    for finding in report.findings:
        assert finding.fix is not None and finding.changes is not None
        fix_calls = calls(finding.fix.alembic)
        rendered = expected_calls(finding)
        assert [call for call in fix_calls if call in rendered] == rendered, "fix.alembic renders the operations"
        if finding in plan.fixed:
            assert set(rendered) <= set(calls(upgrade)), f"{finding.rule}: the migration lacks part of the fix"
            assert batches(finding.fix.alembic) <= batches(upgrade)
        else:
            assert not set(rendered) & set(calls(upgrade)) - {"op.execute"}
        if schema is not None:
            assert finding.schema == schema
            for call in fix_calls:
                if call.startswith("op.") and not call.startswith("op.execute("):
                    assert f"schema={schema!r}" in call, f"{finding.rule}: no schema in {call}"
            for call in batches(finding.fix.alembic):
                assert f"schema={schema!r}" in call
    assert calls(downgrade) or not plan.fixed
    return report.findings


@pytest.fixture
def case_engine_in_schema(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Case, Engine, str]]:
    """The case's engine, and a second schema (PostgreSQL) or database (MariaDB) to hold its tables."""
    case, engine_name = request.param
    schema = f"ik_shop_{uuid.uuid4().hex[:8]}"
    with scratch_database(engine_name, tmp_path) as url:
        engine = create_engine(url)
        try:
            with engine.begin() as connection:
                connection.exec_driver_sql(f"CREATE {'SCHEMA' if engine_name == 'postgresql' else 'DATABASE'} "
                                           f"{schema}")
                use = f"SET search_path TO {schema}" if engine_name == "postgresql" else f"USE {schema}"
                connection.exec_driver_sql(use)
                for statement in case.setup:
                    connection.exec_driver_sql(statement)
            yield case, engine, schema
        finally:
            if engine_name == "mariadb":
                with engine.begin() as connection:
                    connection.exec_driver_sql(f"DROP DATABASE IF EXISTS {schema}")
            engine.dispose()


@pytest.mark.parametrize("case_engine", PARAMS, indirect=True)
def test_fix_and_fix_migration_render_the_same_operations(case_engine) -> None:
    case, _engine_name, engine = case_engine
    with engine.begin() as connection:
        for statement in case.setup:
            connection.exec_driver_sql(statement)
    assert {(f.table, f.columns) for f in check_agreement(engine, case.rule)} == set(case.expected)


@pytest.mark.parametrize("case_engine_in_schema", IN_SCHEMA, indirect=True)
def test_they_agree_in_a_non_default_schema(case_engine_in_schema) -> None:
    case, engine, schema = case_engine_in_schema
    found = check_agreement(engine, case.rule, schema)
    assert {(f.table, f.columns) for f in found} == set(case.expected)


def test_findings_map_back_to_their_rule() -> None:
    for case in CASES:
        assert find_rule(case.rule).name == case.rule
