"""``python -m examples.ecommerce init``: on every engine, with clear errors and no data lost."""

from __future__ import annotations

import subprocess
import sys

import pytest
from click.testing import CliRunner
from sqlalchemy import inspect, text

from examples.ecommerce.__main__ import cli
from examples.ecommerce.database import make_engine


def _run(*args: str):
    return CliRunner().invoke(cli, list(args))


@pytest.mark.parametrize("legacy", [False, True], ids=["reference", "legacy"])
def test_init_builds_schema_and_data(engine_url, legacy: bool) -> None:
    url = engine_url.render_as_string(hide_password=False)
    result = _run("init", url, "--rows", "800", *(["--legacy"] if legacy else []))
    assert result.exit_code == 0, result.output
    assert "Loaded" in result.output
    assert ("Damage the legacy schema let in" in result.output) is legacy
    engine = make_engine(url)
    try:
        tables = set(inspect(engine).get_table_names())
        assert {"users", "products", "orders", "order_items", "cart_items"} <= tables
        assert ("alembic_version" in tables) is not legacy
        with engine.connect() as connection:
            assert connection.execute(text("SELECT COUNT(*) FROM order_items")).scalar() > 100
    finally:
        engine.dispose()


@pytest.mark.engines("sqlite")
def test_init_refuses_to_overwrite_without_reset(engine_url) -> None:
    url = str(engine_url)
    assert _run("init", url, "--rows", "200").exit_code == 0
    again = _run("init", url, "--rows", "200", "--legacy")
    assert again.exit_code == 2
    assert "already has" in again.output and "--reset" in again.output
    engine = make_engine(url)
    with engine.connect() as connection:
        assert connection.execute(text("SELECT version_num FROM alembic_version")).scalar()
    engine.dispose()
    assert _run("init", url, "--rows", "200", "--legacy", "--reset").exit_code == 0


@pytest.mark.parametrize(("url", "fragment"), [
    ("not a url", "not a database URL"),
    ("nosuchdb://x/y", "unknown database kind"),
    ("postgresql+asyncpg://u:hunter2@127.0.0.1/db", "is not installed"),
    ("sqlite+nosuchdriver:///x.db", "unknown database kind"),
    ("postgresql://u:hunter2@127.0.0.1:1/db", "cannot connect to postgresql+psycopg://u:***@127.0.0.1:1/db"),
    ("mysql://root:hunter2@127.0.0.1:1/db", "cannot connect to mysql+pymysql://root:***@127.0.0.1:1/db"),
])
def test_bad_urls_give_one_line_and_exit_2(url: str, fragment: str) -> None:
    completed = subprocess.run([sys.executable, "-m", "examples.ecommerce", "init", url],
                               capture_output=True, text=True, timeout=60)
    assert completed.returncode == 2
    assert completed.stdout == ""
    lines = completed.stderr.strip().splitlines()
    assert len(lines) == 1, completed.stderr
    assert fragment in lines[0]
    assert "hunter2" not in completed.stderr
    assert "Traceback" not in completed.stderr


def test_serve_refuses_a_database_without_the_schema() -> None:
    result = _run("serve", "sqlite://")
    assert result.exit_code == 2
    assert "run `python -m examples.ecommerce init` first" in result.output


@pytest.mark.engines("sqlite")
def test_serve_refuses_a_database_from_before_the_credentials_migration(engine_url) -> None:
    from examples.ecommerce import database

    engine = make_engine(engine_url)
    database.upgrade(engine, "0007_validate_reservations")
    engine.dispose()
    result = _run("serve", str(engine_url))
    assert result.exit_code == 2
    assert "users.password_hash" in result.output and "users.token_version" in result.output


def test_serve_refuses_a_short_secret_key_without_showing_it() -> None:
    result = CliRunner().invoke(cli, ["serve", "sqlite://"], env={"ECOMMERCE_SECRET_KEY": "hunter2"})
    assert result.exit_code == 2
    assert "ECOMMERCE_SECRET_KEY is too short" in result.output and "hunter2" not in result.output


def test_serve_help_documents_the_secret_key_and_the_sample_password() -> None:
    text = " ".join(_run("serve", "--help").output.split())
    from examples.ecommerce.sample_data import SAMPLE_PASSWORD

    assert "ECOMMERCE_SECRET_KEY" in text and "random key" in text and SAMPLE_PASSWORD in text
    for option in ("--port", "--host", "--gateway"):
        assert option in text
