"""A proposed status CHECK is built from the values in use only when they look like a closed set of identifiers,
and renders them with the dialect's literal rendering: a stored value cannot become SQL (issue 17 item 5)."""

from __future__ import annotations

import pytest
from sqlalchemy import Engine, column, insert, table

from integrity_kit.audit import audit
from integrity_kit.audit.changes import sql_literal
from tests.db import execute

HOSTILE = ["paid", "x\\", "'); DROP TABLE orders; --", "a\\'b"]


def _check_finding(engine: Engine):
    [finding] = audit(engine, select=["missing-check-constraint"]).findings
    return finding


@pytest.mark.engines("sqlite", "postgresql", "mariadb")
def test_hostile_values_are_not_proposed(engine: Engine) -> None:
    execute(engine, "CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(40) NOT NULL)")
    orders = table("orders", column("id"), column("status"))
    with engine.begin() as connection:
        connection.execute(insert(orders), [{"id": number, "status": value}
                                            for number, value in enumerate(HOSTILE, start=1)])
    finding = _check_finding(engine)
    assert "values_in_use" not in finding.evidence
    assert finding.fix is not None and "DROP" not in finding.fix.sql and "x\\" not in finding.fix.sql


@pytest.mark.engines("mariadb")
@pytest.mark.parametrize("mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_the_proposed_check_runs_on_mariadb_either_way(engine: Engine, mode: str) -> None:
    execute(engine, "CREATE TABLE orders (id INTEGER PRIMARY KEY, status VARCHAR(40) NOT NULL)",
            "INSERT INTO orders VALUES (1, 'paid'), (2, 'shipped'), (3, 'paid')")
    finding = _check_finding(engine)
    assert finding.evidence["values_in_use"] == ["paid", "shipped"]
    assert finding.fix is not None
    with engine.begin() as connection:
        connection.exec_driver_sql(f"SET SESSION sql_mode = '{mode}'")
        for statement in (line for line in finding.fix.sql.splitlines() if not line.startswith("--")):
            connection.exec_driver_sql(statement.rstrip(";"))
        with pytest.raises(Exception, match="CONSTRAINT"):
            connection.exec_driver_sql("INSERT INTO orders VALUES (4, 'lost')")


@pytest.mark.engines("mariadb")
@pytest.mark.parametrize("mode", ["", "NO_BACKSLASH_ESCAPES"])
def test_literals_of_hostile_values_stay_literals_on_mariadb(engine: Engine, mode: str) -> None:
    execute(engine, "CREATE TABLE orders (id INTEGER PRIMARY KEY)")
    with engine.begin() as connection:
        connection.exec_driver_sql(f"SET SESSION sql_mode = '{mode}'")
        for value in HOSTILE:
            shown = connection.exec_driver_sql(f"SELECT {sql_literal('mariadb', value)}").scalar()
            assert shown == value if not mode else shown == value.replace("\\", "\\\\")
        assert connection.exec_driver_sql("SELECT COUNT(*) FROM orders").scalar() == 0  # still there
