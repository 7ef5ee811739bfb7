"""A password given as a URL query parameter (``?password=``) is masked in every output, like the URL's own one."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from examples.ecommerce import database
from integrity_kit.cli import cli

pytestmark = pytest.mark.engines("postgresql")

SECRET = "s3cretQ"  # trust authentication ignores it, so the audit runs; it must still never be shown


@pytest.fixture
def secret_url(app_engine, engine_url) -> str:
    database.create_schema(app_engine, legacy=True)
    query = {"password": SECRET, "sslpassword": SECRET + "ssl", "application_name": "ik-test"}
    return engine_url.set(query=query).render_as_string(hide_password=False)


@pytest.mark.parametrize("output_format", ["text", "json", "sarif", "markdown", "html"])
def test_every_format_masks_query_secrets(secret_url: str, output_format: str) -> None:
    result = CliRunner().invoke(cli, ["audit", secret_url, "--format", output_format])
    assert result.exit_code == 1, result.output
    unwrapped = result.output.replace("\n", "")  # the text report wraps the URL at the terminal width
    assert SECRET not in unwrapped
    assert "password=***" in unwrapped and "application_name=ik-test" in unwrapped
    if output_format == "json":
        assert json.loads(result.output)["database"]["url"].endswith("?application_name=ik-test&password=***"
                                                                     "&sslpassword=***")


def test_fix_migration_masks_query_secrets(secret_url: str, tmp_path) -> None:
    migration = tmp_path / "fix.py"
    result = CliRunner().invoke(cli, ["audit", secret_url, "--fix-migration", str(migration), "--format", "json"])
    assert result.exit_code == 1, result.output
    text = migration.read_text()
    assert SECRET not in text and "password=***" in text


def test_one_line_errors_mask_query_secrets() -> None:
    url = f"postgresql://app@127.0.0.1:1/shop?password={SECRET}&token=t0kenQ"
    result = CliRunner().invoke(cli, ["audit", url])
    assert result.exit_code == 2
    assert SECRET not in result.output and "t0kenQ" not in result.output
    assert "password=***" in result.output and len(result.output.strip().splitlines()) == 1
