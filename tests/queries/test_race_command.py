"""``integrity-kit queries`` on race risks: the text and JSON sections, --fail-on, --confirm and its bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from integrity_kit.cli import cli

PROGRAM = str(Path(__file__).with_name("checkout_program.py"))
STRATEGIES = Path(__file__).parents[2] / "examples" / "ecommerce" / "strategies.py"


def run(*args: str):
    return CliRunner().invoke(cli, ["queries", *args])


def url_of(engine_url) -> str:
    return engine_url.render_as_string(hide_password=False)


def line_in_strategies(text: str, after: str) -> int:
    """The line of ``text`` in strategies.py, the first after the line holding ``after``."""
    lines = STRATEGIES.read_text().splitlines()
    start = next(i for i, line in enumerate(lines) if after in line)
    return next(i + 1 for i in range(start, len(lines)) if text in lines[i])


def test_the_naive_checkout_is_a_race_risk_in_json(engine_url, engine_name: str) -> None:
    result = run("--format", "json", "--fail-on", "race-risks", "--", "python", PROGRAM, url_of(engine_url), "naive")
    assert result.exit_code == 1, result.output
    data = json.loads(result.stdout)
    (risk,) = data["race_risks"]
    assert {"pattern", "table", "columns", "read_location", "write_location", "isolation_level", "breaks_on", "fix",
            "confirmed"} <= set(risk)
    assert (risk["pattern"], risk["table"], risk["columns"]) == ("read-modify-write", "products", ["reserved"])
    write = line_in_strategies("session.execute(update", "def claim_naive")
    read = line_in_strategies("session.execute(query)", "def _read")
    assert risk["write_location"] == f"examples/ecommerce/strategies.py:{write}"
    assert risk["read_location"] == f"examples/ecommerce/strategies.py:{read}"
    assert risk["confirmed"] is None and risk["dialect"] == engine_name
    assert data["summary"]["race_risks"] == 1 and data["summary"]["transactions"] == len(data["transactions"])


@pytest.mark.engines("postgresql")
def test_safe_strategies_are_clean_and_the_default_exit_ignores_race_risks(engine_url) -> None:
    for strategy in ("for-update", "conditional-update", "optimistic"):
        result = run("--fail-on", "race-risks", "--", "python", PROGRAM, url_of(engine_url), strategy)
        assert result.exit_code == 0, result.output
        assert "0 race risk(s)" in result.stdout
    naive = run("--", "python", PROGRAM, url_of(engine_url), "naive")
    assert naive.exit_code == 0  # --fail-on n-plus-one, the default, does not count race risks
    assert "race risk #1 read-modify-write on products (reserved)" in naive.stdout
    assert "fix: lock the row where it is read" in naive.stdout


def test_confirm_with_an_unreachable_database_stops_before_the_program_runs(tmp_path) -> None:
    marker = tmp_path / "ran"
    program = tmp_path / "program.py"
    program.write_text(f"open({str(marker)!r}, 'w').close()\n")
    result = run("--confirm", "postgresql://someone:s3cret@127.0.0.1:1/nowhere", "--", "python", str(program))
    assert result.exit_code == 2
    assert "cannot connect to" in result.output and "s3cret" not in result.output
    assert "Traceback" not in result.output and not marker.exists()


def test_confirm_on_a_program_without_transactions_says_there_is_nothing_to_confirm(tmp_path) -> None:
    program = tmp_path / "program.py"
    program.write_text("print('no database here')\n")
    result = run("--confirm", f"sqlite:///{tmp_path / 'x.db'}", "--", "python", str(program))
    assert result.exit_code == 2
    assert "nothing to confirm" in result.output and "Traceback" not in result.output


@pytest.mark.engines("postgresql", "mariadb")
def test_confirm_reproduces_the_lost_update_and_leaves_the_database_alone(engine_url) -> None:
    from sqlalchemy import create_engine, inspect, text

    url = url_of(engine_url)
    result = run("--format", "json", "--confirm", url, "--", "python", PROGRAM, url, "naive")
    assert result.exit_code == 0, result.output
    (risk,) = json.loads(result.stdout)["race_risks"]
    confirmed = risk["confirmed"]
    assert confirmed["reproduced"] is True and confirmed["outcome"] == "lost update", confirmed
    assert "before A committed" in confirmed["detail"]
    engine = create_engine(url)
    try:
        with engine.connect() as connection:
            # The program's one order is all there is: the replay ran on a scratch copy beside this database.
            assert connection.execute(text("SELECT COUNT(*) FROM orders")).scalar_one() == 1
            assert connection.execute(text("SELECT reserved FROM products WHERE id = 1")).scalar_one() == 1
        names = inspect(engine).get_schema_names() if engine.dialect.name == "mysql" else []
        assert not [name for name in names if name.startswith("ik_rehearsal_")]
    finally:
        engine.dispose()


@pytest.mark.engines("postgresql")
def test_confirm_on_another_engine_than_the_program_used_is_refused(engine_url, tmp_path) -> None:
    result = run("--confirm", url_of(engine_url), "--", "python", PROGRAM, f"sqlite:///{tmp_path / 's.db'}", "naive")
    assert result.exit_code == 2
    assert "captured on sqlite" in result.output and "Traceback" not in result.output


def test_a_program_that_crashes_gets_its_report_and_exit_2_without_a_replay(tmp_path) -> None:
    program = tmp_path / "program.py"
    program.write_text(
        "from sqlalchemy import create_engine, text\n"
        f"engine = create_engine('sqlite:///{tmp_path / 'c.db'}')\n"
        "with engine.begin() as connection:\n"
        "    connection.execute(text('CREATE TABLE t (id INTEGER PRIMARY KEY, n INTEGER)'))\n"
        "raise RuntimeError('boom')\n")
    result = run("--confirm", f"sqlite:///{tmp_path / 'other.db'}", "--", "python", str(program))
    assert result.exit_code == 2
    assert "boom" in result.stderr and "the program failed" in result.stderr
    assert "1 statements" in result.stdout and "--confirm:" not in result.stdout
