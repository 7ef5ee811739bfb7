"""``integrity-kit race``: the JSON contract of DESIGN.md §3, text output, exit codes, and the refusal rules."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine

from integrity_kit.cli import cli

CONTRACT = {"strategy", "dialect", "isolation_level", "workers", "attempts", "initial_stock", "orders_placed",
            "units_sold", "final_stock", "oversold_units", "lost_updates", "rejected", "retries", "errors",
            "invariants_held", "duration_s", "orders_per_s"}


def race(*args: str):
    return CliRunner().invoke(cli, ["race", *args])


@pytest.mark.engines("postgresql")
def test_json_follows_the_contract_and_exit_code_says_whether_invariants_held(engine_url) -> None:
    url = engine_url.render_as_string(hide_password=False)
    naive = race(url, "--strategy", "naive", "--workers", "16", "--attempts", "16", "--stock", "5",
                 "--format", "json")
    assert naive.exit_code in (0, 1), naive.output
    payload = json.loads(naive.output)
    assert set(payload) >= CONTRACT
    assert payload["dialect"] == "postgresql" and payload["isolation_level"] == "READ COMMITTED"
    assert payload["lost_updates"] == payload["final_stock"] - (payload["initial_stock"] - payload["units_sold"])
    assert naive.exit_code == (0 if payload["invariants_held"] else 1)

    safe = race(url, "--strategy", "for-update", "--workers", "4", "--attempts", "8", "--stock", "3",
                "--format", "json")
    assert safe.exit_code == 0, safe.output
    assert json.loads(safe.output)["units_sold"] == 3


@pytest.mark.engines("mariadb")
def test_all_strategies_side_by_side(engine_url) -> None:
    url = engine_url.render_as_string(hide_password=False)
    text = race(url, "--strategy", "all", "--workers", "4", "--attempts", "6", "--stock", "2")
    assert text.exit_code in (0, 1), text.output
    for name in ("naive", "for-update", "conditional-update", "optimistic", "serializable", "lost", "orders/s",
                 "invariants"):
        assert name in text.output
    assert "REPEATABLE READ" in text.output and "SERIALIZABLE" in text.output
    as_json = race(url, "--strategy", "all", "--workers", "2", "--attempts", "3", "--stock", "1", "--format", "json")
    results = json.loads(as_json.output)["results"]
    assert [r["strategy"] for r in results] == ["naive", "for-update", "conditional-update", "optimistic",
                                                "serializable"]
    assert all(r["invariants_held"] for r in results[1:])


@pytest.mark.engines("postgresql")
def test_a_database_with_other_tables_is_refused_unless_a_prefix_is_given(engine_url) -> None:
    engine = create_engine(engine_url)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE customers (id INTEGER PRIMARY KEY)")
    engine.dispose()
    with_password = engine_url.set(password="s3cret-pw").render_as_string(hide_password=False)
    refused = race(with_password, "--strategy", "naive", "--attempts", "2")
    assert refused.exit_code == 2
    assert "will not race in" in refused.output and "customers" in refused.output and "--prefix" in refused.output
    assert "s3cret-pw" not in refused.output and "***" in refused.output
    # the same refusal from `anomalies` names what anomalies does, not a race
    anomalies = CliRunner().invoke(cli, ["anomalies", with_password], terminal_width=200)
    assert anomalies.exit_code == 2
    assert "will not run the anomaly schedules in" in anomalies.output and "race in" not in anomalies.output
    allowed = race(with_password, "--strategy", "conditional-update", "--workers", "2", "--attempts", "2",
                   "--stock", "1", "--prefix", "ik_race_", "--format", "json")
    assert allowed.exit_code == 0, allowed.output
    assert json.loads(allowed.output)["units_sold"] == 1


@pytest.mark.parametrize("args, message", [
    (["--strategy", "yolo"], "unknown strategy 'yolo'"),
    (["--workers", "0"], "--workers must be between"),
    (["--attempts", "0"], "--attempts must be at least 1"),
    (["--think-ms", "-1"], "--think-ms must be between"),
    (["--isolation", "snapshot"], "not a level sqlite offers"),
    (["--workload", "nowhere"], "--workload expects module:object"),
    (["--workload", "no_such_module_ik:x"], "cannot import 'no_such_module_ik'"),
    (["--prefix", "Robert'); DROP"], "--prefix must be"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path, args: list[str], message: str) -> None:
    result = race(f"sqlite:///{tmp_path / 'empty.db'}", *args)
    assert result.exit_code == 2, result.output
    assert message in result.output
    assert len(result.output.strip().splitlines()) == 1


def test_unreachable_server_is_exit_2_with_masked_password() -> None:
    result = race("postgresql://app:hunter2@127.0.0.1:1/shop", "--strategy", "naive")
    assert result.exit_code == 2
    assert "cannot connect" in result.output and "hunter2" not in result.output


@pytest.mark.engines("sqlite")
def test_sqlite_says_what_it_cannot_demonstrate(engine_url) -> None:
    result = race(str(engine_url), "--strategy", "for-update", "--workers", "4", "--attempts", "6", "--stock", "2")
    assert result.exit_code == 0, result.output
    assert "no row locks" in result.output and "BEGIN IMMEDIATE" in result.output


@pytest.mark.engines("postgresql")
def test_a_users_own_workload_by_import_path(engine_url) -> None:
    url = engine_url.render_as_string(hide_password=False)
    result = race(url, "--workload", "tests.races.counter_workload:WORKLOAD", "--strategy", "all", "--workers", "8",
                  "--attempts", "16", "--stock", "4", "--format", "json")
    by_name = {r["strategy"]: r for r in json.loads(result.output)["results"]}
    assert set(by_name) == {"naive", "atomic"}
    assert by_name["atomic"]["invariants_held"] and by_name["atomic"]["units_sold"] == 4
    assert by_name["naive"]["workload"] == "counter"


@pytest.mark.engines("postgresql")
def test_a_database_error_mid_run_is_one_line_and_exit_2(engine_url) -> None:
    with_password = engine_url.set(password="s3cret-pw").render_as_string(hide_password=False)
    result = race(with_password, "--workload", "tests.races.counter_workload:BROKEN", "--strategy", "naive")
    assert result.exit_code == 2, result.output
    assert "failed" in result.output and "no_such_table" in result.output
    assert "s3cret-pw" not in result.output and len(result.output.strip().splitlines()) == 1
