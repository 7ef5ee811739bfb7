"""Names from a database or a migration never drive the terminal: every text renderer shows control characters
escaped (ESC as ``\\x1b``), and so does the one-line error."""

from __future__ import annotations

import shutil
import sqlite3
from pathlib import Path

from click.testing import CliRunner

from integrity_kit.cli import cli
from integrity_kit.report.console import markup_safe, printable

HOSTILE = "evil\x1b[2J\x07t"  # clear the screen, ring the bell
SHOWN = "evil\\x1b[2J\\x07t"


def test_printable_escapes_control_characters_only() -> None:
    assert printable(HOSTILE) == SHOWN
    assert printable("tab\tand é, ü, 日本") == "tab\tand é, ü, 日本"
    assert printable("line\nnext\x9b\u202e") == "line\\x0anext\\x9b\\u202e"
    assert markup_safe("[bold]\x1b") == "\\[bold]\\x1b"


def _hostile_sqlite(tmp_path: Path) -> str:
    path = tmp_path / "hostile.db"
    with sqlite3.connect(path) as connection:
        connection.execute(f'CREATE TABLE "{HOSTILE}" (id INTEGER, price FLOAT)')
    return f"sqlite:///{path}"


def test_audit_text_escapes_a_hostile_table_name(tmp_path: Path) -> None:
    url = _hostile_sqlite(tmp_path)
    result = CliRunner().invoke(cli, ["audit", url, "--no-data"])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert f"{SHOWN}.price stores money as FLOAT" in result.output.replace("\n", "")
    report = tmp_path / "report.txt"
    CliRunner().invoke(cli, ["audit", url, "--no-data", "--output", str(report)])
    text = report.read_text()
    assert "\x1b" not in text and "\x07" not in text and SHOWN in text


def test_lint_text_escapes_a_hostile_table_name(tmp_path: Path) -> None:
    scripts = tmp_path / "unsafe"
    shutil.copytree(Path(__file__).parent / "migrations" / "fixtures" / "unsafe", scripts)
    revision = next((scripts / "versions").glob("06_*.py"))
    revision.write_text(revision.read_text().replace('"orders"', '"evil\\x1b[2J\\x07t"'))
    result = CliRunner().invoke(cli, ["lint-migrations", str(scripts), "--since", "u05_drop_column"])
    assert result.exit_code == 1, result.output
    assert "\x1b" not in result.output and "\x07" not in result.output
    assert f"created on {SHOWN} without CONCURRENTLY" in result.output


def test_one_line_error_escapes_control_characters() -> None:
    result = CliRunner().invoke(cli, ["lint-migrations", f"/nonexistent/{HOSTILE}"])
    assert result.exit_code == 2
    assert "\x1b" not in result.output and SHOWN in result.output


def test_emoji_codes_in_user_input_stay_text() -> None:
    # rich turns ":smile:" into a picture by default; an argument is shown as typed.
    result = CliRunner().invoke(cli, ["race", "sqlite://", "--workload", "nope:smile:"])
    assert result.exit_code == 2
    assert "--workload nope:smile:" in result.output and "\U0001f604" not in result.output
