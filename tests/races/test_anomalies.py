"""``integrity-kit anomalies``: the measured isolation x anomaly matrix matches the published Hermitage results
(PostgreSQL; MySQL/InnoDB for MariaDB, with REPEATABLE READ's lost update depending on innodb_snapshot_isolation)."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from integrity_kit.cli import cli
from integrity_kit.races.anomalies import anomaly_matrix

A, P = "anomaly", "prevented"
LEVELS = ("READ UNCOMMITTED", "READ COMMITTED", "REPEATABLE READ", "SERIALIZABLE")

# github.com/ept/hermitage: rows are levels, columns P4 (lost update), G-single (read skew), G2-item (write skew).
POSTGRESQL = {"READ UNCOMMITTED": (A, A, A), "READ COMMITTED": (A, A, A), "REPEATABLE READ": (P, P, A),
              "SERIALIZABLE": (P, P, P)}
INNODB = {"READ UNCOMMITTED": (A, A, A), "READ COMMITTED": (A, A, A), "REPEATABLE READ": (A, P, A),
          "SERIALIZABLE": (P, P, P)}


def _measured(matrix) -> dict[str, tuple[str, ...]]:
    return {level: tuple(matrix.outcome(anomaly, level) for anomaly in ("P4", "G-single", "G2-item"))
            for level in LEVELS}


@pytest.mark.engines("postgresql")
def test_postgresql_matches_hermitage(engine_url) -> None:
    matrix = anomaly_matrix(engine_url)
    assert matrix.dialect == "postgresql"
    assert _measured(matrix) == POSTGRESQL
    by_cell = {(r.anomaly, r.isolation_level): r.how for r in matrix.results}
    assert "error 40001 on T2" in by_cell["P4", "REPEATABLE READ"]
    assert "blocked" in by_cell["P4", "REPEATABLE READ"]
    assert "consistent snapshot" in by_cell["G-single", "REPEATABLE READ"]
    assert "error 40001" in by_cell["G2-item", "SERIALIZABLE"]


@pytest.mark.engines("mariadb")
def test_mariadb_matches_innodb_and_reports_its_snapshot_setting(engine_url) -> None:
    matrix = anomaly_matrix(engine_url)
    assert matrix.dialect == "mariadb"
    expected = dict(INNODB)
    if matrix.settings.get("innodb_snapshot_isolation") == "1":
        expected["REPEATABLE READ"] = (P, P, A)  # MariaDB 11.8+: the second writer gets error 1020
    assert _measured(matrix) == expected
    assert "innodb_snapshot_isolation" in matrix.notes[0]
    by_cell = {(r.anomaly, r.isolation_level): r.how for r in matrix.results}
    assert "error 1213" in by_cell["P4", "SERIALIZABLE"]  # shared read locks, then a deadlock
    assert "blocked" in by_cell["G-single", "SERIALIZABLE"]


@pytest.mark.engines("sqlite")
def test_sqlite_is_serializable_by_locking_and_says_so(engine_url) -> None:
    result = CliRunner().invoke(cli, ["anomalies", str(engine_url), "--format", "json"])
    assert result.exit_code == 0, result.output
    payload = json.loads(result.output)
    assert {(r["isolation_level"], r["outcome"]) for r in payload["results"]} == {("SERIALIZABLE", P)}
    assert any("SQLITE_BUSY" in note for note in payload["notes"])
    p4 = next(r for r in payload["results"] if r["anomaly"] == "P4")
    assert p4["how"].startswith("error 5 on T2")


def test_bad_url_is_one_line_and_exit_2() -> None:
    result = CliRunner().invoke(cli, ["anomalies", "postgresql://app:hunter2@127.0.0.1:1/shop"])
    assert result.exit_code == 2
    assert "hunter2" not in result.output and len(result.output.strip().splitlines()) == 1


@pytest.mark.engines("mariadb")
def test_mariadb_with_snapshot_isolation_on_stops_the_lost_update_with_1020(engine_url) -> None:
    url = engine_url.update_query_dict({"init_command": "SET SESSION innodb_snapshot_isolation=ON"})
    matrix = anomaly_matrix(url, anomalies=("P4",))
    assert matrix.settings["innodb_snapshot_isolation"] == "1"
    assert [matrix.outcome("P4", level) for level in LEVELS] == [A, A, P, P]
    how = next(r.how for r in matrix.results if r.isolation_level == "REPEATABLE READ")
    assert "error 1020 on T2" in how
