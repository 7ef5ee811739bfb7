"""The ``integrity-kit`` command: help, version, help text for every command and option."""

from __future__ import annotations

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
