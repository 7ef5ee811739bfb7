"""The text report piped into a log (`audit | cat`): nothing is wrapped, so every fix copied out of it runs."""

from __future__ import annotations

import io
import json
import os
import re
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

from rich.console import Console
from sqlalchemy import create_engine

from examples.ecommerce import database, sample_data
from integrity_kit.audit import audit
from integrity_kit.report import renderer

_HEADER = re.compile(r"^  (error|warning|info)\s+(IK\d+) ")


def _audit(url: str, *extra: str) -> subprocess.CompletedProcess:
    # COLUMNS=60 is what a narrow CI log would hand a program that measures its terminal.
    environment = os.environ | {"COLUMNS": "60"}
    return subprocess.run([sys.executable, "-m", "integrity_kit.cli", "audit", url, *extra], capture_output=True,
                          text=True, timeout=300, env=environment)


def _fixes_in_text(text: str) -> list[tuple[str, str]]:
    """(code, fix SQL) of each finding, read back from the text the way a person copies it out of a log."""
    found: list[tuple[str, list[str]]] = []
    for line in text.splitlines():
        header = _HEADER.match(line)
        if header:
            found.append((header.group(2), []))
        elif found and line.startswith("    "):
            found[-1][1].append(line[4:])
        elif not line.startswith("    "):
            found.append(("", []))  # a table name or the summary ends the finding above
    fixes = []
    for code, lines in found:
        if not code:
            continue
        body = lines[1:]  # the first indented line is the message
        if body and body[0].startswith("confidence "):
            body = body[1:]
        fixes.append((code, "\n".join(body)))
    return fixes


def test_every_fix_read_back_from_piped_text_is_the_fix_and_runs(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    engine = create_engine(f"sqlite:///{path}")
    database.create_schema(engine, legacy=True)
    sample_data.load(engine, rows=600, legacy=True)
    engine.dispose()
    url = f"sqlite:///{path}"

    text_run = _audit(url)
    json_run = _audit(url, "--format", "json")
    assert text_run.returncode == json_run.returncode == 1, text_run.stderr
    expected = [(f["code"], f["fix"]["sql"]) for f in json.loads(json_run.stdout)["findings"] if f["fix"]]
    from_text = [(code, sql) for code, sql in _fixes_in_text(text_run.stdout) if sql]
    assert sorted(from_text) == sorted(expected)
    assert any(len(line) > 60 for _code, sql in from_text for line in sql.splitlines())  # long lines stayed whole

    for index, (_code, sql) in enumerate(from_text):
        copy = tmp_path / f"copy_{index}.db"
        shutil.copy(path, copy)
        with sqlite3.connect(copy) as connection:
            connection.executescript(sql)  # raises on any line that a wrap would have broken
        copy.unlink()


def test_on_a_terminal_prose_wraps_at_its_width_and_sql_never_does(tmp_path: Path) -> None:
    path = tmp_path / "legacy.db"
    engine = create_engine(f"sqlite:///{path}")
    database.create_schema(engine, legacy=True)
    engine.dispose()
    report = audit(f"sqlite:///{path}")
    terminal = Console(file=io.StringIO(), width=80, force_terminal=True, color_system=None)
    renderer("audit", "text")(report, console=terminal)
    shown = terminal.file.getvalue().splitlines()
    sql_lines = {f"    {line}" for finding in report.findings if finding.fix for line in finding.fix.sql.splitlines()}
    assert any(len(line) > 80 for line in sql_lines)
    assert sql_lines <= set(shown)  # each SQL line whole, on one line
    assert all(len(line) <= 80 for line in shown if line not in sql_lines)
