"""Scheduled mode: the same two-buyer interleaving produces the same trace every run -- a lost update with
``naive`` on every engine with row locks -- and each fix prevents it in its own visible way."""

from __future__ import annotations

import io
import json

import pytest
from click.testing import CliRunner
from rich.console import Console

from integrity_kit.cli import cli
from integrity_kit.races.scheduled_race import run_scheduled
from integrity_kit.report.scheduled_text import render_scheduled

pytestmark = pytest.mark.engines("postgresql", "mariadb")

HOW = {
    ("for-update", "postgresql"): "B blocked at 'begin, read stock, check it' until step 3 finished",
    ("for-update", "mariadb"): "B blocked at 'begin, read stock, check it' until step 3 finished",
    ("conditional-update", "postgresql"): "no block, no error: B's UPDATE re-checked the stock",
    ("conditional-update", "mariadb"): "no block, no error: B's UPDATE re-checked the stock",
    ("optimistic", "postgresql"): "B's write matched no row (the version had moved on), so it retried",
    ("optimistic", "mariadb"): "B's write matched no row (the version had moved on), so it retried",
    ("serializable", "postgresql"): "B got error 40001 at 'write stock, create the order, commit' and retried",
    # InnoDB's SERIALIZABLE reads take shared locks: A's write waits for B's, B's write closes the cycle.
    ("serializable", "mariadb"): "A blocked at 'write stock, create the order, commit' until step 4 finished; "
                                 "B got error 1213",
}


def _text(report) -> str:
    console = Console(file=io.StringIO(), width=120, color_system=None)
    render_scheduled(console, report)
    return console.file.getvalue()


def test_naive_loses_the_update_every_time_with_the_same_trace(engine_url) -> None:
    outputs = set()
    for _ in range(20):
        report = run_scheduled(engine_url, "naive")
        assert (report.result.units_sold, report.result.final_stock, report.result.lost_updates) == (2, 1, 1)
        assert not report.invariants_held
        outputs.add(_text(report))
    assert len(outputs) == 1, outputs
    assert "lost update: both buyers read the stock before either wrote" in outputs.pop()


@pytest.mark.parametrize("strategy", ["for-update", "conditional-update", "optimistic", "serializable"])
def test_each_fix_prevents_it_and_shows_how(engine_url, engine_name: str, strategy: str) -> None:
    first, second = (run_scheduled(engine_url, strategy) for _ in range(2))
    assert _text(first) == _text(second)
    assert first.invariants_held and first.result.lost_updates == 0 and first.result.units_sold == 2
    assert HOW[strategy, engine_name] in first.how, first.how
    assert first.how.endswith("then B saw the new value and ordered on top of A's sale: no update lost")


def test_cli_scheduled_json_and_exit_code(engine_url) -> None:
    url = engine_url.render_as_string(hide_password=False)
    result = CliRunner().invoke(cli, ["race", url, "--scheduled", "--strategy", "naive", "--stock", "1",
                                      "--format", "json"])
    assert result.exit_code == 1, result.output
    payload = json.loads(result.output)
    assert payload["mode"] == "scheduled" and payload["oversold_units"] == 1 and payload["lost_updates"] == 1
    assert len(payload["schedule"]) == 4


@pytest.mark.engines("postgresql")
def test_a_users_own_workload_in_the_harness(engine_url) -> None:
    from integrity_kit.races.testing import RaceHarness

    with RaceHarness(engine_url, workload="tests.races.counter_workload:WORKLOAD") as harness:
        naive, atomic = harness.run("naive", stock=2), harness.run("atomic", stock=2)
    assert naive.result.lost_updates == 1 and not naive.invariants_held
    assert atomic.invariants_held and atomic.result.units_sold == 2
