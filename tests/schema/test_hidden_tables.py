"""A MariaDB user granted some tables of a database sees the others vanish from information_schema: the audit says
so in not_analysed instead of reporting a clean, smaller database."""

from __future__ import annotations

import uuid

import pytest
from sqlalchemy import create_engine, text

from integrity_kit.audit import audit

pytestmark = pytest.mark.engines("mariadb")


@pytest.mark.parametrize("process", [False, True], ids=["unknown-count", "counted"])
def test_tables_a_limited_user_cannot_see_are_reported(engine_url, process: bool) -> None:
    root = create_engine(engine_url, isolation_level="AUTOCOMMIT")
    user, password = f"ik_limited_{uuid.uuid4().hex[:10]}", "limited-pw"
    database = engine_url.database
    try:
        with root.connect() as connection:
            for name in ("orders", "payments", "secrets"):
                connection.exec_driver_sql(f"CREATE TABLE {name} (id INTEGER PRIMARY KEY, amount INTEGER)")
            connection.execute(text(f"CREATE USER '{user}'@'%' IDENTIFIED BY '{password}'"))
            connection.execute(text(f"GRANT SELECT ON `{database}`.`orders` TO '{user}'@'%'"))
            if process:  # the InnoDB dictionary then tells how many tables are hidden
                connection.execute(text(f"GRANT PROCESS ON *.* TO '{user}'@'%'"))
        limited = engine_url.set(username=user, password=password)
        report = audit(limited.render_as_string(hide_password=False), data=False)
        assert report.tables == 1
        [entry] = [item for item in report.not_analysed if item.object == database]
        if process:
            assert entry.reason.startswith("2 table(s) not visible to this user")
        else:
            assert "not visible" in entry.reason and "some tables only" in entry.reason
        full = audit(engine_url.render_as_string(hide_password=False), data=False)
        assert full.tables == 3 and not [item for item in full.not_analysed if item.object == database]
    finally:
        with root.connect() as connection:
            connection.execute(text(f"DROP USER IF EXISTS '{user}'@'%'"))
        root.dispose()
