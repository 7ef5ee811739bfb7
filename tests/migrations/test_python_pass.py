"""The Python pass reads real code: constants, loops, helpers with parameters, dialect and offline-mode branches,
try/except fallbacks and SQL run through the connection.

Each `pypass_*` fixture directory is a small Alembic history; every revision's findings are listed below per
dialect, as (code, revision, line): a missing finding and an extra one both fail.
"""

from __future__ import annotations

import ast
from collections import Counter
from pathlib import Path

import pytest

from integrity_kit.migrations import lint
from integrity_kit.migrations.collect import Collector, statements_of
from integrity_kit.migrations.source import parse_revision, read_history

FIXTURES = Path(__file__).with_name("fixtures")
PG, MY, LITE = "postgresql", "mysql", "sqlite"
ALL = (PG, MY, LITE)

CONSTANTS = [
    ("IK801", "c01_module_constant", 20, ALL),
    ("IK810", "c02_loop_module_list", 21, (PG,)),  # one per table of the loop: see the test below
    ("IK806", "c03_tuple_unpacking", 21, ALL),
    ("IK810", "c04_fstring_name", 21, (PG,)),
    ("IK812", "c05_format_percent_plus", 20, (PG,)),
    ("IK810", "c05_format_percent_plus", 21, (PG,)),
    ("IK815", "c05_format_percent_plus", 22, (PG,)),
    ("IK801", "c06_helper_parameters", 17, ALL),  # in the helper, once per call
    # c07: the helper creates audit_log, so the NOT NULL column and the index on it are free
    ("IK830", "c08_batch_variable_table", 21, (LITE,)),
    ("IK810", "c08_batch_variable_table", 22, (PG,)),
    ("IK810", "c09_batch_unresolvable_table", 20, (PG,)),
    ("IK815", "c10_unresolvable_names", 21, (PG,)),
    ("IK850", "c10_unresolvable_names", 21, (MY,)),
    ("IK806", "c10_unresolvable_names", 22, ALL),
    ("IK805", "c10_unresolvable_names", 23, ALL),
    ("IK815", "c11_autogenerate_fk_none", 18, (PG,)),
    ("IK850", "c11_autogenerate_fk_none", 18, (MY,)),  # a foreign key copies the table on MySQL
    ("IK812", "c12_unique_none", 18, (PG,)),
    ("IK810", "c13_op_f_names", 18, (PG,)),
    ("IK810", "c14_dict_items", 24, (PG,)),
    ("IK810", "c15_helper_return_value", 21, (PG,)),
    ("IK801", "c16_local_names", 19, ALL),
    ("IK806", "c16_local_names", 21, ALL),
    ("IK810", "c17_constant_from_constants", 22, (PG,)),
    ("IK802", "c18_helper_with_batch", 18, (PG, MY)),
    ("IK806", "c19_shadowed_constant", 21, ALL),
    ("IK801", "c20_nested_helpers", 17, ALL),
    ("IK803", "c21_keyword_arguments", 18, (PG,)),
    ("IK850", "c21_keyword_arguments", 18, (MY,)),  # the column is named by keyword: orders.created_at
    ("IK806", "c21_keyword_arguments", 19, ALL),
    ("IK810", "c21_keyword_arguments", 20, (PG,)),
]
BRANCHES = [
    ("IK806", "b01_eq_mysql", 19, (MY,)),
    ("IK801", "b02_bind_variable_ne", 20, (MY, LITE)),
    ("IK805", "b03_in_tuple", 20, (MY,)),
    ("IK806", "b04_or_and_not", 20, (PG, LITE)),
    ("IK810", "b04_or_and_not", 22, (PG,)),
    ("IK810", "b05_elif_else", 20, (PG,)),
    ("IK806", "b05_elif_else", 22, (MY,)),
    ("IK805", "b05_elif_else", 24, (LITE,)),
    ("IK810", "b06_early_return_not_pg", 20, (PG,)),
    ("IK806", "b06_early_return_not_pg", 21, (PG,)),
    ("IK806", "b07_early_return_sqlite", 20, (PG, MY)),
    ("IK806", "b08_helper_only_mysql", 17, (MY,)),
    ("IK830", "b09_engine_name", 21, (LITE,)),
    ("IK806", "b09_engine_name", 22, (LITE,)),
    ("IK803", "b09_engine_name", 24, (PG,)),
    ("IK850", "b09_engine_name", 24, (MY,)),  # MySQL's type change is judged by mysql-ddl-blocks-writes
    ("IK806", "b09_engine_name", 25, (PG, MY)),
    ("IK801", "b10_offline_mode", 21, ALL),  # the offline branch's drop_column (line 19) does not run online
    ("IK806", "b11_not_offline", 19, ALL),
    ("IK812", "b12_try_except_same", 19, (PG,)),  # the fallback at line 22 repeats it: not a second finding
    ("IK806", "b13_try_except_different", 19, ALL),
    ("IK806", "b13_try_except_different", 21, ALL),
    ("IK841", "b13_try_except_different", 21, ALL),  # the fallback's drop is not undone by downgrade()
    ("IK830", "b14_flag_variable", 21, (LITE,)),
    ("IK802", "b14_flag_variable", 23, (PG, MY)),
    ("IK806", "b15_conditional_expression", 19, ALL),  # users on MySQL, customers elsewhere
    ("IK810", "b16_string_method", 19, (PG,)),
    ("IK806", "b17_unknown_condition", 19, ALL),
    ("IK806", "b17_unknown_condition", 21, ALL),
    ("IK806", "b18_mariadb_only", 19, (MY,)),  # MariaDB may report "mysql" or "mariadb": unknown on mysql
    ("IK810", "b19_return_in_helper", 19, (PG,)),
    ("IK841", "b19_return_in_helper", 19, (PG, MY)),
    ("IK806", "b19_return_in_helper", 24, ALL),
    # MySQL's branch restates DateTime(), the type the base gave the column: no change; SQLite returns early
    ("IK803", "b20_nested_else_return", 25, (PG,)),
]
EXECUTE = [
    ("IK801", "e01_conn_execute_ddl", 19, ALL),
    ("IK810", "e02_exec_driver_sql", 18, (PG,)),
    ("IK805", "e03_connection_text_constant", 21, ALL),
    ("IK802", "e04_fstring_sql", 21, (PG, MY)),
    ("IK806", "e05_raw_string_drop", 18, ALL),
    ("IK820", "e05_raw_string_drop", 18, ALL),
    ("IK801", "e06_loop_execute", 21, ALL),
    # e08 only backfills: nothing to report
    ("IK810", "e09_dialect_sql", 20, (PG,)),
    ("IK805", "e09_dialect_sql", 22, (MY,)),
    ("IK806", "e10_helper_execute", 17, ALL),
]
TABLES = {"pypass_constants": CONSTANTS, "pypass_branches": BRANCHES,
          "pypass_execute": EXECUTE}


def expected(table, dialect: str) -> set[tuple[str, str, int]]:
    return {(code, revision, line) for code, revision, line, dialects in table if dialect in dialects}


@pytest.mark.parametrize("dialect", ALL)
@pytest.mark.parametrize("directory", sorted(TABLES))
def test_fixture_revisions_give_exactly_the_expected_findings(directory: str, dialect: str) -> None:
    result = lint(FIXTURES / directory, dialect=dialect)
    assert {(f.code, f.revision, f.line) for f in result.findings} == expected(TABLES[directory], dialect)
    assert len(result.revisions) == len(list((FIXTURES / directory / "versions").glob("*.py")))


def test_at_least_fifty_fixture_revisions() -> None:
    revisions = [path for directory in TABLES for path in (FIXTURES / directory / "versions").glob("*.py")]
    assert len(revisions) >= 50


def _findings(directory: str, dialect: str, revision: str):
    return [f for f in lint(FIXTURES / directory, dialect=dialect).findings if f.revision == revision]


def test_loops_give_one_finding_per_value() -> None:
    def tables(revision: str, code: str, dialect: str = PG) -> Counter:
        return Counter(f.table for f in _findings("pypass_constants", dialect, revision) if f.code == code)

    assert tables("c02_loop_module_list", "IK810") == Counter({"users": 1, "customers": 1})
    assert tables("c03_tuple_unpacking", "IK806") == Counter({"users": 1, "orders": 1})
    assert tables("c14_dict_items", "IK810") == Counter({"users": 1, "events": 1})
    assert tables("c06_helper_parameters", "IK801", MY) == Counter({"users": 1, "orders": 1})
    messages = [f.message for f in _findings("pypass_constants", PG, "c20_nested_helpers")]
    assert any("customers.first_name" in m for m in messages) and any("customers.last_name" in m for m in messages)
    execute = [f.table for f in _findings("pypass_execute", LITE, "e06_loop_execute")]
    assert sorted(execute) == ["customers", "users"]


def test_resolved_names_reach_messages_and_fixes() -> None:
    c05 = {f.code: f for f in _findings("pypass_constants", PG, "c05_format_percent_plus")}
    assert "uq_users_email" in c05["IK812"].message
    assert "ix_products_sku" in c05["IK810"].message
    assert "ck_orders_total" in c05["IK815"].message
    [c17] = _findings("pypass_constants", PG, "c17_constant_from_constants")
    assert "ix_events_kind_id" in c17.message
    c21 = {f.code: f.message for f in _findings("pypass_constants", PG, "c21_keyword_arguments")}
    assert c21["IK803"].startswith("type change of orders.created_at")
    assert c21["IK806"].startswith("column events.kind dropped")
    assert c21["IK810"].startswith("index ix_orders_user_id created on orders")


def test_a_branch_picks_the_table_for_the_dialect() -> None:
    assert [f.table for f in _findings("pypass_branches", MY, "b15_conditional_expression")] == ["users"]
    assert [f.table for f in _findings("pypass_branches", PG, "b15_conditional_expression")] == ["customers"]


def test_unnamed_constraints_are_named_by_their_columns() -> None:
    [fk] = _findings("pypass_constants", PG, "c11_autogenerate_fk_none")
    assert fk.message.startswith("the foreign key orders(customer_id) -> customers(id) on existing table orders")
    assert "op.create_foreign_key('fk_orders_customer_id_customers', 'orders'" in fk.fix
    assert "VALIDATE CONSTRAINT fk_orders_customer_id_customers" in fk.fix
    [unique] = _findings("pypass_constants", PG, "c12_unique_none")
    assert unique.message.startswith("the unique constraint products(sku)")
    assert "ADD CONSTRAINT uq_products_sku UNIQUE USING INDEX uq_products_sku" in unique.fix


def test_unresolved_names_are_described() -> None:
    by_code = {f.code: f for f in _findings("pypass_constants", PG, "c10_unresolvable_names")}
    assert "a table named by a variable `name`" in by_code["IK806"].message
    assert "created_at of a table named by a variable `name`" in by_code["IK806"].message
    assert "renamed to a table named by an expression `name + '_v1'`" in by_code["IK805"].message
    assert by_code["IK815"].message.startswith("the foreign key (user_id) -> users(id)")
    [index] = _findings("pypass_constants", PG, "c09_batch_unresolvable_table")
    assert "on a table named by a variable `table`" in index.message


def _parsed(directory: str, revision: str, dialect: str):
    path = FIXTURES / directory
    script = next(file for file in read_history(path).files if file.revision == revision)
    return parse_revision(script, path, dialect)


def test_helper_created_tables_count_as_created() -> None:
    revision = _parsed("pypass_constants", "c07_helper_creates_table", PG)
    assert revision.created_tables() == {"audit_log"}
    assert [(op.name, op.table, op.line) for op in revision.upgrade] == [
        ("create_table", "audit_log", 17), ("create_index", "audit_log", 22), ("add_column", "audit_log", 27)]


@pytest.mark.parametrize("dialect", ALL)
def test_connection_sql_becomes_statements_at_its_line(dialect: str) -> None:
    e01 = _parsed("pypass_execute", "e01_conn_execute_ddl", dialect)
    assert [(s.sql, s.line, s.origin) for s in e01.statements if s.origin == "execute"] == [
        ("ALTER TABLE orders ADD COLUMN channel VARCHAR(20) NOT NULL", 19, "execute")]
    e03 = _parsed("pypass_execute", "e03_connection_text_constant", dialect)
    assert [(s.sql, s.line) for s in e03.statements if s.origin == "execute"] == [
        ("ALTER TABLE users RENAME COLUMN name TO full_name", 21)]
    e07 = _parsed("pypass_execute", "e07_unresolvable_sql", dialect)
    assert [s for s in e07.statements if s.origin == "execute"] == []  # unknown SQL is not guessed


def _collect(source: str, dialect: str = PG, function: str = "upgrade"):
    module = ast.parse(source)
    functions = {n.name: n for n in module.body if isinstance(n, ast.FunctionDef)}
    helpers = {name: node for name, node in functions.items() if name not in {"upgrade", "downgrade"}}
    return Collector(function, helpers, dialect=dialect, module=module).run(functions[function])


@pytest.mark.parametrize(("test", "runs_on"), [
    ('op.get_bind().dialect.name == "mysql"', {MY}),
    ('op.get_bind().dialect.name != "mysql"', {PG, LITE}),
    ('op.get_context().dialect.name in ("postgresql", "sqlite")', {PG, LITE}),
    ('op.get_bind().dialect.name not in ["postgresql"]', {MY, LITE}),
    ('not op.get_bind().dialect.name == "sqlite"', {PG, MY}),
    ('op.get_bind().dialect.name == "sqlite" or op.get_bind().dialect.name == "mysql"', {MY, LITE}),
    ('op.get_bind().dialect.name == "postgresql" and context.is_offline_mode()', set()),
    ('op.get_bind().dialect.name == "postgresql" and some_flag', {PG}),  # unknown on PG, False elsewhere
    ('op.get_context().as_sql', set()),
    ('op.get_bind().engine.name == "sqlite"', {LITE}),
    ('op.get_bind().engine.dialect.name != "sqlite"', {PG, MY}),
    ('op.get_context().bind.dialect.name == "mysql"', {MY}),
    ('op.get_bind().dialect.name.lower() == "postgresql"', {PG}),
    ('some_flag', {PG, MY, LITE}),  # unknown: linted everywhere
])
def test_conditions_are_decided_for_the_dialect(test: str, runs_on: set[str]) -> None:
    source = f"def upgrade():\n    if {test}:\n        op.drop_table('t')\n"
    assert {d for d in ALL if _collect(source, d)} == runs_on


def test_unknown_condition_lints_both_branches_and_forgets_names_bound_differently() -> None:
    source = ("def upgrade():\n    table = 'a'\n    if flag:\n        table = 'b'\n        op.drop_table('x')\n"
              "    else:\n        op.drop_table('y')\n    op.drop_table(table)\n")
    ops = _collect(source)
    assert [op.table for op in ops] == ["x", "y", None]
    assert ops[-1].table_text == "a table named by a variable `table`"


def test_early_return_in_a_branch_that_may_run_does_not_end_the_function() -> None:
    source = "def upgrade():\n    if flag:\n        return\n    op.drop_table('t')\n"
    assert [op.table for op in _collect(source)] == ["t"]
    both = "def upgrade():\n    if flag:\n        return\n    else:\n        raise X\n    op.drop_table('t')\n"
    assert _collect(both) == []


def test_batch_with_an_unresolvable_table_and_list_arguments_does_not_crash() -> None:
    source = ("def upgrade():\n    for name in get_names():\n        with op.batch_alter_table(name) as batch_op:\n"
              "            batch_op.create_index('ix_' + name, ['a', 'b'])\n"
              "            batch_op.create_unique_constraint(None, ['a'])\n")
    ops = _collect(source)
    assert [(op.table, op.table_text) for op in ops] == [(None, "a table named by a variable `name`")] * 2
    assert ops[0].object_text == "an index named by an expression `'ix_' + name`"
    assert ops[1].object_text == "the unique constraint (a)"


def test_try_fallback_repeating_the_change_is_dropped_and_a_different_one_kept() -> None:
    source = ("def upgrade():\n    try:\n        op.create_index('ix', 't', ['a'], postgresql_concurrently=True)\n"
              "    except Exception:\n        op.create_index('ix', 't', ['a'])\n        op.drop_index('old', 't')\n")
    assert [(op.name, op.line) for op in _collect(source)] == [("create_index", 3), ("drop_index", 6)]


def test_statements_keep_their_line_and_transaction() -> None:
    source = ("SQL = 'ALTER TABLE t ADD COLUMN c INT'\n\ndef upgrade():\n    conn = op.get_bind()\n"
              "    conn.execute(sa.text(SQL))\n    with op.get_context().autocommit_block():\n"
              "        op.get_bind().exec_driver_sql(f'CREATE INDEX CONCURRENTLY ix ON t ({COLUMN})')\n"
              "        conn.execute(sa.text('DROP INDEX ' + unknown))\n")
    statements = statements_of(_collect(source))
    assert [(s.sql, s.line, s.in_transaction) for s in statements] == [("ALTER TABLE t ADD COLUMN c INT", 5, True)]
    with_column = source.replace("SQL = ", "COLUMN = 'c'\nSQL = ")
    assert [(s.sql, s.line, s.in_transaction) for s in statements_of(_collect(with_column))] == [
        ("ALTER TABLE t ADD COLUMN c INT", 6, True), ("CREATE INDEX CONCURRENTLY ix ON t (c)", 8, False)]


def test_helper_parameters_bind_arguments_defaults_and_keywords() -> None:
    source = ("def make(table, suffix='_log', *, kind='x'):\n    op.create_table(table + suffix)\n"
              "    op.create_index(f'ix_{table}_{kind}', table + suffix, ['a'])\n\n"
              "def upgrade():\n    make('orders')\n    make('users', kind='y')\n    make(unknown)\n")
    ops = _collect(source)
    assert [(op.name, op.table, op.object_name) for op in ops] == [
        ("create_table", "orders_log", None), ("create_index", "orders_log", "ix_orders_x"),
        ("create_table", "users_log", None), ("create_index", "users_log", "ix_users_y"),
        ("create_table", None, None), ("create_index", None, None)]
    assert ops[-2].table_text == "a table named by an expression `table + '_log'`"


def test_recursive_helpers_terminate() -> None:
    source = "def again(n):\n    op.drop_table('t')\n    again(n)\n\ndef upgrade():\n    again(1)\n"
    assert [op.table for op in _collect(source)] == ["t"]


def test_a_text_construct_bound_to_a_name_stays_a_text_construct() -> None:
    source = ("def upgrade():\n    stmt = sa.text('UPDATE t SET a = 1')\n    conn = op.get_bind()\n"
              "    conn.execute(stmt)\n    conn.execute(SQL)\n")
    ops = _collect("SQL = 'DELETE FROM t'\n" + source)
    assert [ast.unparse(op.arg(0)) for op in ops] == ["sa.text('UPDATE t SET a = 1')", "'DELETE FROM t'"]
    assert [s.sql for s in statements_of(ops)] == ["UPDATE t SET a = 1", "DELETE FROM t"]


def test_a_batch_naming_convention_marker_is_the_literal_name() -> None:
    source = ("def upgrade():\n    with op.batch_alter_table('job') as batch_op:\n"
              "        batch_op.create_index(batch_op.f('ix_job_user_id'), ['user_id'])\n"
              "        batch_op.create_unique_constraint(name, ['a'])\n")
    ops = _collect(source)
    assert [op.object_text for op in ops] == ["index ix_job_user_id", "a unique constraint named by a variable `name`"]


def test_names_changed_in_a_while_loop_or_by_a_walrus_are_not_constants() -> None:
    source = ("def upgrade():\n    depth = 0\n    while more():\n        if depth == 0:\n"
              "            op.drop_table('a')\n        depth = depth + 1\n"
              "    table = 'b'\n    if (table := pick()):\n        op.drop_table(table)\n")
    assert [(op.table, op.table_text) for op in _collect(source)] == [
        ("a", "a"), (None, "a table named by a variable `table`")]


def test_a_helper_that_returns_a_dialect_test_decides_the_branch() -> None:
    source = ("def is_sqlite():\n    return op.get_bind().dialect.name == 'sqlite'\n\n"
              "def upgrade():\n    if is_sqlite():\n        op.drop_table('a')\n"
              "    else:\n        op.drop_table('b')\n")
    assert {d: [op.table for op in _collect(source, d)] for d in ALL} == {PG: ["b"], MY: ["b"], LITE: ["a"]}


def test_a_comprehension_over_known_values_is_one_call_per_value() -> None:
    source = ("TABLES = ['a', 'b']\n\ndef upgrade():\n    t = 'kept'\n"
              "    [op.drop_table(t) for t in TABLES]\n    op.drop_table(t)\n")
    assert [op.table for op in _collect(source)] == ["a", "b", "kept"]


def test_an_f_string_partly_known_is_kept_as_written() -> None:
    source = ("SEP = '\\\\n'\n\ndef upgrade():\n    op.get_bind().execute(f\"SELECT {SEP} {unknown}\")\n")
    [op] = _collect(source)
    assert ast.unparse(op.call) == "op.get_bind().execute(f'SELECT {SEP} {unknown}')"
