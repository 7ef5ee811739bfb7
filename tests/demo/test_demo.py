"""``integrity-kit demo``: every step runs, the story it prints is the one the database tells, and bad input is
refused before anything is written."""

from __future__ import annotations

import re

import pytest
from click.testing import CliRunner
from rich.console import Console
from sqlalchemy import create_engine, inspect

from integrity_kit.cli import cli
from integrity_kit.demo import Demo
from integrity_kit.demo.story import RACE, SAFE_STRATEGY, STEPS


def _run(url: str, tmp_path, *, keep: bool) -> tuple:
    console = Console(record=True, width=100, force_terminal=False)
    demo = Demo(url, tmp_path, console=console, status=Console(quiet=True), rows=2_000, keep=keep)
    demo.preflight()
    return demo.run(), console.export_text()


def _check_story(result, output: str) -> None:
    assert result.failed_step is None, output
    positions = [output.index(f"{number}/{len(STEPS)} · {title}") for number, (title, _) in enumerate(STEPS, 1)]
    assert positions == sorted(positions)
    assert "Done" in output

    # Every row the build damaged on purpose is named by key, and the audit said so.
    assert len(result.damage_found) == len(result.planted) == 4
    assert all(count and found == count for found, count in result.damage_found.values())
    before = result.before
    assert {"missing-foreign-key", "duplicate-rows", "check-violations", "float-for-money",
            "derived-total-mismatch"} <= {finding.rule for finding in before.findings}
    for finding in before.findings:
        assert finding.rule in output  # the summary table lists every rule that fired

    # The N+1 is the category lazy load, one per distinct category on the page; the fix is one statement.
    (finding,) = result.n_plus_one
    assert (finding.relationship, finding.fix) == ("Product.category", "joinedload(Product.category)")
    assert result.naive_statements == 1 + finding.count and result.fixed_statements == 1
    assert f"{result.naive_statements} statements" in output and "joinedload(Product.category)" in output

    # Race numbers agree with each other and with the stock.
    naive, safe = result.races
    assert (naive.strategy, safe.strategy) == ("naive", SAFE_STRATEGY)
    for race in result.races:
        assert race.attempts == RACE.attempts and race.initial_stock == RACE.stock
        assert race.orders_placed + race.rejected + sum(race.errors.values()) == race.attempts
        assert race.units_sold == race.orders_placed  # one unit per checkout
        assert f"{race.orders_placed} of {race.attempts} checkouts ordered" in output
    assert safe.invariants_held and safe.oversold_units == 0 and safe.lost_updates == 0
    assert safe.units_sold == min(RACE.stock, RACE.attempts)
    assert safe.final_stock == RACE.stock - safe.units_sold

    # The preflight of the fix migration names the planted rows in the way, and none once they are cleaned.
    failing = [check for check in result.preflight_before if check.would_fail]
    assert {check.table for check in failing} >= {"cart_items", "products"}
    keys = {_key(item["key"] if isinstance(item, dict) else item) for check in failing for item in check.sample_keys
            if check.table == "cart_items"}
    planted = {_key(key) for damage in result.planted if damage.table == "cart_items" for key in damage.keys}
    assert planted and planted <= keys
    assert result.preflight_after and not [check for check in result.preflight_after if check.would_fail]
    flat = " ".join(output.split())
    assert "would fail on these rows" in flat and "Preflight again after the clean-up: none" in flat

    # The clean-up ran, and the audit after the fix migration has no errors and fewer findings.
    assert {step.rows for step in result.cleanup} and all(step.rows >= 1 for step in result.cleanup)
    after = result.after
    assert not [finding for finding in after.findings if finding.severity.value == "error"]
    assert len(after.findings) < len(before.findings) // 4
    assert re.search(rf"Before: {len(before.findings)} findings .*\n.*After:  {len(after.findings)} findings",
                     output)


def _key(value):
    return tuple(value) if isinstance(value, (list, tuple)) else value


def test_demo_on_sqlite_tells_the_whole_story_and_keeps_its_files(tmp_path) -> None:
    result, output = _run(f"sqlite:///{tmp_path / 'shop.db'}", tmp_path, keep=True)
    _check_story(result, output)
    # SQLite serializes writers: the naive checkout fails with errors instead of overselling, and says why.
    naive = result.races[0]
    assert naive.oversold_units == 0 and sum(naive.errors.values()) > 0
    assert "naive fails rather than oversells" in " ".join(output.split())
    assert {path.name for path in tmp_path.iterdir()} >= {"shop.db", "audit-report.html", "fix_migration.py"}
    assert "<svg" in (tmp_path / "audit-report.html").read_text()


@pytest.mark.engines("postgresql", "mariadb")
def test_demo_on_a_server_database(engine_url, tmp_path) -> None:
    url = engine_url.render_as_string(hide_password=False)
    result, output = _run(url, tmp_path, keep=False)
    _check_story(result, output)
    # The race's scratch space is gone: only the shop's tables (and Alembic's) are left.
    names = set(inspect(create_engine(url)).get_table_names())
    assert not [name for name in names if name.startswith("ik_race_")]


def test_the_command_runs_from_any_directory_and_exits_0(tmp_path, monkeypatch) -> None:
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--rows", "500"])
    assert result.exit_code == 0, result.output
    assert "6/6 · Audit again" in result.output
    assert list(tmp_path.iterdir()) == []  # without --keep nothing is left behind


def test_an_existing_shop_is_refused_without_reset_and_rebuilt_with_it(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    first = CliRunner().invoke(cli, ["demo", "--db", url, "--rows", "500"])
    assert first.exit_code == 0, first.output
    again = CliRunner().invoke(cli, ["demo", "--db", url, "--rows", "500"])
    assert again.exit_code == 2
    assert "already has" in again.stderr and "--reset" in again.stderr and "Traceback" not in again.output
    reset = CliRunner().invoke(cli, ["demo", "--db", url, "--rows", "500", "--reset"])
    assert reset.exit_code == 0, reset.output


@pytest.mark.parametrize("url", ["not-a-url", "postgresql://ik:s3cret@127.0.0.1:1/nowhere"])
def test_bad_database_is_one_line_and_exit_2(url, tmp_path) -> None:
    result = CliRunner().invoke(cli, ["demo", "--db", url])
    assert result.exit_code == 2
    assert len(result.stderr.strip().splitlines()) == 1 and "s3cret" not in result.output


def test_a_failing_step_is_reported_and_the_demo_exits_1(tmp_path, monkeypatch) -> None:
    from examples.ecommerce.demo_shop import ReferenceShop

    def broken_listing(*args, **kwargs):
        raise RuntimeError("the listing broke")

    monkeypatch.setattr(ReferenceShop, "list_products", broken_listing)
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(cli, ["demo", "--rows", "500"])
    assert result.exit_code == 1
    assert "step 3 failed: RuntimeError: the listing broke" in result.output
    assert "4/6" not in result.output and "Done" not in result.output
