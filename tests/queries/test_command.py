"""``integrity-kit queries``: run a program under capture and report, as text and JSON."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest
from click.testing import CliRunner

from integrity_kit.cli import cli

PROGRAM = Path(__file__).with_name("shop_program.py")
LOOP_LINE = PROGRAM.read_text().splitlines().index("            print(product.name, product.category.name)") + 1


@pytest.fixture
def workdir(tmp_path, monkeypatch) -> Path:
    shutil.copy(PROGRAM, tmp_path / "shop.py")
    monkeypatch.chdir(tmp_path)
    return tmp_path


def run(*args: str):
    return CliRunner().invoke(cli, ["queries", *args])


def test_naive_program_is_flagged_with_line_and_fix(workdir) -> None:
    result = run("--", "python", "shop.py")
    assert result.exit_code == 1, result.output
    assert f"Product.category: 3 similar queries from shop.py:{LOOP_LINE}" in result.stdout
    assert "fix: joinedload(Product.category)" in result.stdout


def test_fixed_program_is_clean_and_gets_its_arguments(workdir) -> None:
    result = run("--", "python", "shop.py", "--fixed")
    assert result.exit_code == 0, result.output
    assert "0 N+1 pattern(s)" in result.stdout


def test_json_report_for_a_module(workdir) -> None:
    result = run("-m", "shop", "--format", "json")
    assert result.exit_code == 1
    data = json.loads(result.stdout)  # the program's own prints went to stderr
    assert data["command"] == ["-m", "shop"]
    assert data["summary"]["n_plus_one"] == 1
    finding = data["n_plus_one"][0]
    assert finding["relationship"] == "Product.category"
    assert finding["location"] == f"shop.py:{LOOP_LINE}"
    assert finding["fix"] == "joinedload(Product.category)"
    assert finding["count"] == 3
    assert len(data["statements"]) == data["summary"]["statements"] > 0


def test_output_file_and_fail_on_never(workdir) -> None:
    result = run("--format", "json", "--output", "report.json", "--fail-on", "never", "--", "shop.py")
    assert result.exit_code == 0, result.output
    assert json.loads((workdir / "report.json").read_text())["summary"]["n_plus_one"] == 1


def test_statements_listing(workdir) -> None:
    result = run("--statements", "--", "python", "shop.py", "--fixed")
    assert "statements" in result.stdout and "LEFT OUTER JOIN categories" in result.stdout


def test_failing_program_still_reports_and_exits_2(workdir) -> None:
    (workdir / "broken.py").write_text("from sqlalchemy import create_engine, text\n"
                                       "create_engine('sqlite://').connect().execute(text('SELECT 1'))\n"
                                       "raise RuntimeError('boom')\n")
    result = run("--", "python", "broken.py")
    assert result.exit_code == 2
    assert "1 statements" in result.stdout
    assert "boom" in result.stderr and "the program failed" in result.stderr


@pytest.mark.parametrize("args, message", [
    ((), "nothing to run"),
    (("--", "ls", "-l"), "can only run Python programs"),
    (("--", "python", "missing.py"), "no such script"),
    (("-m", "no_such_module_here"), "no module named"),
])
def test_usage_errors_exit_2(workdir, args, message) -> None:
    result = run(*args)
    assert result.exit_code == 2
    assert message in result.output


def test_an_output_file_in_a_missing_folder_is_refused_before_the_program_runs(workdir) -> None:
    Path("marker.py").write_text("open('ran', 'w').write('yes')\n")
    result = run("--output", "no/such/folder/report.txt", "--", "marker.py")
    assert result.exit_code == 2
    assert result.output.strip().endswith("no/such/folder does not exist")
    assert not Path("ran").exists()  # nothing of the program ran: the mistake cost no time
