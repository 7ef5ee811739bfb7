"""The ``integrity-kit`` command: help, version, help text for every command and option."""

from __future__ import annotations

import json
import subprocess
import sys

import click
from click.testing import CliRunner

from integrity_kit import __version__
from integrity_kit.cli import cli


def test_help_lists_every_capability() -> None:
    result = CliRunner().invoke(cli, ["--help"])
    assert result.exit_code == 0
    for name in ("audit", "rules", "explain", "race", "anomalies", "lint-migrations", "queries", "demo"):
        assert name in result.output


def test_version() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.exit_code == 0
    assert __version__ in result.output


def test_every_command_has_help_text() -> None:
    context = click.Context(cli)
    for name in cli.list_commands(context):
        command = cli.get_command(context, name)
        assert command.help and command.help.strip(), name
        for param in command.params:
            if isinstance(param, click.Option):
                assert param.help, f"{name} {param.opts}"


def test_python_dash_m_and_console_script_agree() -> None:
    completed = subprocess.run([sys.executable, "-m", "integrity_kit", "--version"], capture_output=True,
                               text=True, timeout=30)
    assert completed.returncode == 0
    assert __version__ in completed.stdout


CAPABILITIES = ("audit", "queries", "races", "migrations", "report", "schema", "demo")


def test_no_capability_package_imports_a_command() -> None:
    """Commands sit above the libraries: only cli.py names integrity_kit.commands (and only as strings)."""
    import ast
    from pathlib import Path

    package = Path(__file__).resolve().parents[1] / "integrity_kit"
    offenders = []
    for capability in CAPABILITIES:
        for path in sorted((package / capability).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(), str(path))):  # function-level imports count too
                names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                    [node.module or ""] if isinstance(node, ast.ImportFrom) and not node.level else []
                offenders += [f"{path.relative_to(package.parent)}:{node.lineno}" for name in names
                              if name == "integrity_kit.commands" or name.startswith("integrity_kit.commands.")]
    assert offenders == []


def test_audit_as_json_does_not_import_rich(tmp_path) -> None:
    """rich costs about as much to import as SQLAlchemy: a machine-readable audit must not pay for it."""
    import sqlite3

    database = tmp_path / "one.db"
    with sqlite3.connect(database) as connection:
        connection.execute("CREATE TABLE t (id INTEGER PRIMARY KEY)")
    code = ("import sys\nfrom integrity_kit.cli import cli\n"
            f"try:\n    cli(['audit', 'sqlite:///{database}', '--format', 'json', '--no-data'])\n"
            "except SystemExit:\n    pass\n"
            "print('RICH' if any(name == 'rich' or name.startswith('rich.') for name in sys.modules) else 'NO RICH',"
            " file=sys.stderr)\n")
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert completed.stderr.strip().splitlines()[-1] == "NO RICH", completed.stderr


def test_explain_and_rules_cover_both_families() -> None:
    runner = CliRunner()
    explained = runner.invoke(cli, ["explain", "IK815"])
    assert explained.exit_code == 0, explained.output
    assert "IK815 constraint-validated-in-one-step (warning)" in explained.output
    assert "ignore[constraint-validated-in-one-step]" in explained.output
    listed = runner.invoke(cli, ["rules", "--family", "all", "--format", "json"])
    codes = [rule["code"] for rule in json.loads(listed.output)]
    assert "IK101" in codes and "IK815" in codes
    unknown = runner.invoke(cli, ["explain", "no-such-rule"])
    assert unknown.exit_code == 2 and "no rule matches 'no-such-rule'" in unknown.output
