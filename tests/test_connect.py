"""URLs: drivers filled in, passwords never shown, failures turned into one clear error."""

from __future__ import annotations

import pytest

from integrity_kit.connect import make_engine, mask_url, parse_url
from integrity_kit.errors import IntegrityKitError


@pytest.mark.parametrize(("url", "driver"), [
    ("postgresql://u@h/db", "postgresql+psycopg"),
    ("postgres://u@h/db", "postgresql+psycopg"),
    ("mysql://u@h/db", "mysql+pymysql"),
    ("mariadb://u@h/db", "mariadb+pymysql"),
    ("sqlite:///x.db", "sqlite"),
    ("postgresql+psycopg://u@h/db", "postgresql+psycopg"),
])
def test_bare_schemes_get_the_drivers_we_ship(url: str, driver: str) -> None:
    assert parse_url(url).drivername == driver


@pytest.mark.parametrize("url", ["postgresql://app:s3cret@db/shop", "mysql+pymysql://root:s3cret@h:3306/x",
                                 "garbage://app:s3cret@", "://app:s3cret@host"])
def test_mask_url_hides_passwords(url: str) -> None:
    assert "s3cret" not in mask_url(url)


def test_database_url_from_environment(monkeypatch) -> None:
    monkeypatch.setenv("DATABASE_URL", "sqlite://")
    assert parse_url(None).drivername == "sqlite"
    monkeypatch.delenv("DATABASE_URL")
    with pytest.raises(IntegrityKitError, match="DATABASE_URL is not set"):
        parse_url(None)


def test_unreachable_server_masks_password() -> None:
    with pytest.raises(IntegrityKitError) as raised:
        make_engine("postgresql://app:s3cret@127.0.0.1:1/shop")
    assert "s3cret" not in str(raised.value)
    assert "app:***@127.0.0.1:1" in str(raised.value)


def test_sqlite_in_memory_connects() -> None:
    engine = make_engine("sqlite://")
    assert engine.dialect.name == "sqlite"
    engine.dispose()


def test_missing_driver_names_the_extra_to_install(monkeypatch) -> None:
    import builtins

    real_import = builtins.__import__

    def no_psycopg(name, *args, **kwargs):
        if name == "psycopg" or name.startswith("psycopg."):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_psycopg)
    with pytest.raises(IntegrityKitError) as raised:
        make_engine("postgresql://u@127.0.0.1/db", check=False)
    assert "pip install 'integrity-kit[postgres]'" in str(raised.value)


def test_error_line_keeps_square_brackets(monkeypatch) -> None:
    # rich would swallow "[postgres]" as a markup tag if the message were not escaped.
    import click
    from click.testing import CliRunner

    from integrity_kit.cli import cli

    @click.command("boom")
    def boom() -> None:
        raise IntegrityKitError("pip install 'integrity-kit[postgres]'")

    monkeypatch.setitem(cli.commands, "boom", boom)
    result = CliRunner().invoke(cli, ["boom"])
    assert result.exit_code == 2
    assert result.output.strip() == "integrity-kit: error: pip install 'integrity-kit[postgres]'"


@pytest.mark.parametrize("name", ["password", "passwd", "pwd", "secret", "token", "sslpassword", "PASSWORD",
                                  "ssl_key_password", "client_secret", "access_token"])
def test_mask_url_hides_secret_query_parameters(name: str) -> None:
    shown = mask_url(f"postgresql://app@db/shop?sslmode=require&{name}=s3cret")
    assert "s3cret" not in shown and f"{name}=***" in shown and "sslmode=require" in shown


def test_mask_url_hides_secret_query_parameters_of_unparsable_text() -> None:
    shown = mask_url("garbage:://db/shop?token=s3cret&x=1")
    assert "s3cret" not in shown and "x=1" in shown


def test_connection_errors_scrub_query_secrets() -> None:
    with pytest.raises(IntegrityKitError) as raised:
        make_engine("postgresql://app@127.0.0.1:1/shop?password=s3cret")
    assert "s3cret" not in str(raised.value) and "password=***" in str(raised.value)
