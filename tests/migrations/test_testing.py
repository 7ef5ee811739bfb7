"""``integrity_kit.migrations.testing``: the helpers pass on the reference app's migrations on every engine, and
each fails with a clear message on a deliberately broken script directory."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import create_engine, inspect

from examples.ecommerce.database import APP_TABLES, alembic_config
from examples.ecommerce.models import Base
from integrity_kit.migrations import testing
from integrity_kit.migrations.testing import MigrationTestError

FIXTURES = Path(__file__).with_name("fixtures")
ENGINES = pytest.mark.engines("sqlite", "postgresql", "mariadb")


def fixture_config(name: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(FIXTURES / name))
    config.set_main_option("path_separator", "os")
    return config


# --- the reference app passes every check -------------------------------------------------------------------


def test_reference_app_has_a_single_head() -> None:
    head = ScriptDirectory.from_config(alembic_config()).get_current_head()
    assert head is not None
    assert testing.assert_single_head(alembic_config()) == head


@ENGINES
def test_reference_app_upgrades_from_an_empty_database(app_engine) -> None:
    testing.assert_upgrade_from_empty(alembic_config(), app_engine)
    assert set(APP_TABLES) <= set(inspect(app_engine).get_table_names())


@ENGINES
def test_reference_app_models_match_the_migrated_schema(app_engine) -> None:
    testing.assert_models_match(alembic_config(), app_engine, Base.metadata)
    assert set(APP_TABLES) <= set(inspect(app_engine).get_table_names())  # it upgraded the empty database first


@ENGINES
def test_reference_app_revisions_go_up_down_up(app_engine) -> None:
    testing.assert_revisions_reversible(alembic_config(), app_engine)
    with app_engine.connect() as connection:
        version = connection.execute(sa.text("SELECT version_num FROM alembic_version")).scalar_one()
    assert version == ScriptDirectory.from_config(alembic_config()).get_current_head()


def test_a_url_works_as_well_as_an_engine(tmp_path: Path) -> None:
    testing.assert_upgrade_from_empty(alembic_config(), f"sqlite:///{tmp_path / 'by_url.db'}")


@pytest.mark.engines("sqlite", "postgresql")
def test_merge_revisions_go_up_down_up(engine_url) -> None:
    testing.assert_revisions_reversible(fixture_config("merged"), engine_url)


# --- and each check fails clearly on a broken directory --------------------------------------------------------


def test_two_heads_fail_the_single_head_check() -> None:
    with pytest.raises(MigrationTestError, match=r"expected one head, found 2: h1_left, h2_right; run `alembic merge"):
        testing.assert_single_head(fixture_config("two_heads"))


@ENGINES
def test_a_failing_revision_is_named(engine_url) -> None:
    with pytest.raises(MigrationTestError) as raised:
        testing.assert_upgrade_from_empty(fixture_config("broken_upgrade"), engine_url)
    message = str(raised.value)
    assert message.startswith("b01_missing_table: upgrade failed: ")
    assert "customers" in message


@ENGINES
def test_models_that_differ_from_the_migrations_are_listed(engine_url) -> None:
    metadata = sa.MetaData()  # the merged fixture's users table, minus column b, plus a column no revision adds
    sa.Table("users", metadata, sa.Column("id", sa.Integer(), primary_key=True),
             sa.Column("email", sa.String(255), nullable=False), sa.Column("name", sa.String(100)),
             sa.Column("legacy_notes", sa.Text()), sa.Column("a", sa.Integer()), sa.Column("phone", sa.String(20)))
    with pytest.raises(MigrationTestError) as raised:
        testing.assert_models_match(fixture_config("merged"), engine_url, metadata)
    message = str(raised.value)
    assert message.startswith("the migrated schema differs from the models in ")
    assert "add_column: users.phone" in message
    assert "remove_column: users.b" in message
    assert "remove_table: " in message  # products, orders and cart_items have no model here
    assert "alembic_version" not in message


@ENGINES
def test_a_downgrade_that_leaves_things_behind_is_named(engine_url) -> None:
    with pytest.raises(MigrationTestError) as raised:
        testing.assert_revisions_reversible(fixture_config("broken_downgrade"), engine_url)
    message = str(raised.value)
    assert message.startswith("b01_leaves_column: downgrade() does not restore the schema:")
    assert "users columns" in message and "'phone'" in message


def test_checks_refuse_a_database_that_is_not_empty(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'used.db'}"
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(sa.text("CREATE TABLE leftovers (id INTEGER)"))
    engine.dispose()
    for check in (testing.assert_upgrade_from_empty, testing.assert_revisions_reversible):
        with pytest.raises(MigrationTestError, match=r"the database is not empty \(leftovers\)"):
            check(alembic_config(), url)


def test_the_callers_config_is_left_untouched(tmp_path: Path) -> None:
    config = alembic_config()
    testing.assert_upgrade_from_empty(config, f"sqlite:///{tmp_path / 'a.db'}")
    assert "connection" not in config.attributes
    assert config.get_main_option("sqlalchemy.url") is None


def test_the_documented_example_runs(tmp_path: Path, monkeypatch) -> None:
    """The module docstring's example, run as written against the reference app (its alembic.ini, its models)."""
    import re

    code = re.search(r"```python\n(.*?)```", testing.__doc__, re.S).group(1)
    code = code.replace("from myapp.models import Base", "from examples.ecommerce.models import Base")
    namespace: dict = {}
    exec(compile(code, "integrity_kit/migrations/testing.py (docstring)", "exec"), namespace)
    monkeypatch.chdir(Path(alembic_config().get_main_option("script_location")).parent)
    namespace["test_migrations"](tmp_path)
    assert {"upgrade.db", "models.db", "reversible.db"} <= {p.name for p in tmp_path.iterdir()}
