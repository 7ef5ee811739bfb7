"""[tool.integrity-kit] / .integrity-kit.toml: what a team sets once, and typos caught rather than ignored."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from examples.ecommerce import database
from integrity_kit.cli import cli

pytestmark = pytest.mark.engines("sqlite")


@pytest.fixture
def legacy_url(app_engine, engine_url, tmp_path, monkeypatch) -> str:
    database.create_schema(app_engine, legacy=True)
    with app_engine.begin() as connection:
        connection.exec_driver_sql("ALTER TABLE orders ADD COLUMN stripe_user_id INTEGER")
        connection.exec_driver_sql("ALTER TABLE orders ADD COLUMN legacy_note VARCHAR(20)")
        connection.exec_driver_sql("ALTER TABLE orders ADD COLUMN legacy_price FLOAT")
    project = tmp_path / "project"
    (project / "sub").mkdir(parents=True)
    monkeypatch.chdir(project / "sub")  # the configuration is found in a parent directory
    return engine_url.render_as_string(hide_password=False)


def _findings(*args: str) -> tuple[int, list[dict]]:
    result = CliRunner().invoke(cli, ["audit", *args, "--format", "json"])
    return result.exit_code, (json.loads(result.stdout)["findings"] if result.exit_code in (0, 1) else result.output)


def test_without_configuration(legacy_url: str) -> None:
    _code, findings = _findings(legacy_url)
    rules = {(f["rule"], f["table"], tuple(f["columns"])) for f in findings}
    assert ("float-for-money", "orders", ("legacy_price",)) in rules
    assert ("missing-foreign-key", "orders", ("stripe_user_id",)) in rules  # an integer external id, by name


def test_pyproject_settings(legacy_url: str, tmp_path) -> None:
    (tmp_path / "project" / "pyproject.toml").write_text('''
[project]
name = "shop"

[tool.integrity-kit]
ignore = ["missing-not-null"]
fail-on = "never"
external-ids = ["stripe_*"]

[tool.integrity-kit.severity]
IK401 = "info"

[tool.integrity-kit.per-object-ignores]
"orders.legacy_*" = ["*"]
"cart_items" = ["missing-unique-constraint"]
''')
    code, findings = _findings(legacy_url)
    assert code == 0  # fail-on = never
    keys = {(f["rule"], f["table"], tuple(f["columns"])) for f in findings}
    assert not any(rule == "missing-not-null" for rule, _t, _c in keys)
    assert not any(columns and columns[0].startswith("legacy_") for _r, _t, columns in keys)
    assert ("missing-foreign-key", "orders", ("stripe_user_id",)) not in keys
    assert ("missing-unique-constraint", "cart_items", ("cart_id", "product_id")) not in keys
    assert ("missing-unique-constraint", "products", ("sku",)) in keys  # only cart_items was exempted
    money = [f for f in findings if f["rule"] == "float-for-money"]
    assert money and {f["severity"] for f in money} == {"info"}
    assert _findings(legacy_url, "--fail-on", "info")[0] == 1  # the command line wins


def test_dot_file_wins_and_select(legacy_url: str, tmp_path) -> None:
    (tmp_path / "project" / "pyproject.toml").write_text('[tool.integrity-kit]\nselect = ["IK2"]\n')
    (tmp_path / "project" / ".integrity-kit.toml").write_text('select = ["IK401"]\n')
    _code, findings = _findings(legacy_url)
    assert {f["code"] for f in findings} == {"IK401"}
    assert {f["code"] for f in _findings(legacy_url, "--select", "IK101")[1]} == {"IK101"}


def test_a_rule_option_in_the_rule_s_own_table(legacy_url: str, tmp_path) -> None:
    (tmp_path / "project" / ".integrity-kit.toml").write_text('[rules.IK101]\nexternal-ids = ["stripe_*"]\n')
    keys = {(f["rule"], f["table"], tuple(f["columns"])) for f in _findings(legacy_url)[1]}
    assert ("missing-foreign-key", "orders", ("stripe_user_id",)) not in keys
    assert ("missing-foreign-key", "orders", ("user_id",)) in keys


@pytest.mark.parametrize(("text", "message"), [
    ("[rules.missing-foreign-key]\nexternal-id = ['x']\n", "unknown option(s) external-id (known: external-ids)"),
    ("[rules.float-for-money]\nexternal-ids = ['x']\n", "unknown option(s) external-ids (known: none)"),
    ("[rules.missing-foreign-key]\nexternal-ids = 'x'\n", "external-ids must be a list of strings"),
    ("selct = ['IK1']\n", "unknown setting(s) selct"),
    ("[severity]\nIK401 = 'loud'\n", "'loud' is not a valid Severity"),
    ("[severity]\nIK4 = 'info'\n", "names 4 rules"),
    ("fail-on = 'sometimes'\n", "fail-on must be"),
    ("select = 'IK1'\n", "select must be a list of strings"),
    ("select = [\n", ".integrity-kit.toml"),
])
def test_typos_are_errors(legacy_url: str, tmp_path, text: str, message: str) -> None:
    (tmp_path / "project" / ".integrity-kit.toml").write_text(text)
    result = CliRunner().invoke(cli, ["audit", legacy_url])
    assert result.exit_code == 2 and message in result.output, result.output
    assert len(result.output.strip().splitlines()) == 1


def test_explicit_config_file(legacy_url: str, tmp_path) -> None:
    elsewhere = tmp_path / "ci.toml"
    elsewhere.write_text('select = ["IK201"]\n')
    _code, findings = _findings(legacy_url, "--config", str(elsewhere))
    assert {f["code"] for f in findings} == {"IK201"}
