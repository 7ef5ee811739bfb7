"""The preflight on a real history nobody here wrote: full-stack-fastapi-template's five revisions, against a
PostgreSQL database built as its first revision leaves it, with rows its 9c0a54914c78 (VARCHAR -> VARCHAR(255))
cannot keep. The verdicts are checked against PostgreSQL itself."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError

from integrity_kit.migrations import lint
from integrity_kit.migrations.target import read_target
from tests.migrations.test_real_histories import HISTORIES

HISTORY = HISTORIES["fastapi-template"]
# The schema e2412789c190_initialize_models creates (sqlmodel's AutoString is a VARCHAR without a length).
SCHEMA = [
    'CREATE TABLE "user" (email VARCHAR NOT NULL, is_active BOOLEAN NOT NULL, is_superuser BOOLEAN NOT NULL, '
    "full_name VARCHAR, id SERIAL PRIMARY KEY, hashed_password VARCHAR NOT NULL)",
    'CREATE UNIQUE INDEX ix_user_email ON "user" (email)',
    'CREATE TABLE item (description VARCHAR, id SERIAL PRIMARY KEY, title VARCHAR NOT NULL, '
    'owner_id INTEGER NOT NULL REFERENCES "user" (id))',
    "CREATE TABLE alembic_version (version_num VARCHAR(32) PRIMARY KEY)",
    "INSERT INTO alembic_version VALUES ('e2412789c190')",
    "INSERT INTO \"user\" (email, is_active, is_superuser, full_name, hashed_password) SELECT 'u' || g || '@x.org', "
    "true, false, CASE WHEN g = 7 THEN repeat('n', 300) ELSE 'Name ' || g END, 'h' FROM generate_series(1, 50) g",
    "INSERT INTO item (description, title, owner_id) SELECT CASE WHEN g IN (3, 9) THEN repeat('d', 400) ELSE 'd' "
    "END, 't' || g, 1 + mod(g, 50) FROM generate_series(1, 200) g",
]


@pytest.mark.engines("postgresql")
@pytest.mark.skipif(not HISTORY.is_dir(), reason="the shared corpus is not beside this checkout")
def test_fastapi_template_length_limits_fail_on_the_long_values(engine_url, engine_name) -> None:
    url = engine_url.render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.begin() as connection:
        for statement in SCHEMA:
            connection.exec_driver_sql(statement)
    state = read_target(url)
    result = lint(HISTORY, dialect=state.dialect, target=state)
    assert result.revisions == ["9c0a54914c78", "d98dd8ec85a3", "1a31ce608336", "fe56fa70289e"]
    failing = {(f.table, f.line): f.data for f in result.findings if f.rule == "fails-on-existing-rows"}
    assert {key: (data["count"], data["sample_keys"]) for key, data in failing.items()} == {
        ("user", 28): (1, [7]), ("item", 40): (2, [3, 9])}
    passing = [c for c in result.preflight.checks if c.would_fail is False] if result.preflight else []
    assert {(c.table, c.line) for c in passing} == {("user", 22), ("item", 34)}  # email and title fit
    # d98dd8ec85a3 adds new_id without a server default, fills it with UPDATEs, then sets it NOT NULL: today's
    # NULLs say nothing about tomorrow, so the verdict is "not conclusive", naming the UPDATE.
    unsure = {(c.table, c.line): c.reason for c in result.preflight.checks if c.would_fail is None}
    assert set(unsure) == {("user", 36), ("item", 37)}
    assert "d98dd8ec85a3 line 31 changes rows of user" in unsure[("user", 36)]
    # The columns it renames into place are not probed, and that is said.
    reasons = " ".join(item["reason"] for item in result.not_analysed)
    assert "item.owner_id is the new name" in reasons

    # PostgreSQL agrees: the failing changes fail, the passing ones run.
    with engine.connect() as connection:
        for column, table, fails in (("full_name", '"user"', True), ("description", "item", True),
                                     ("email", '"user"', False), ("title", "item", False)):
            statement = f"ALTER TABLE {table} ALTER COLUMN {column} TYPE VARCHAR(255)"
            if fails:
                with pytest.raises(DBAPIError, match="value too long"):
                    connection.execute(text(statement))
            else:
                connection.execute(text(statement))
            connection.rollback()
    engine.dispose()
