"""The reference app's migrations lint clean on every dialect, and the batch-recreate-cascade finding is real:
what it warns about deletes rows on SQLite, and its safe twin does not."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from sqlalchemy import create_engine, event, text

from examples.ecommerce.database import MIGRATIONS
from integrity_kit.migrations import lint

FIXTURES = Path(__file__).with_name("fixtures")


@pytest.mark.parametrize("dialect", ["postgresql", "mysql", "sqlite"])
def test_reference_migrations_lint_clean(dialect: str) -> None:
    result = lint(MIGRATIONS, dialect=dialect)
    # On MySQL, NOT NULL in one step rebuilds products: the VALIDATE that makes it cheap runs only on PostgreSQL.
    expected = [("IK802", "0005_alert_threshold_not_null", 33)] if dialect == "mysql" else []
    assert [(f.code, f.revision, f.line) for f in result.findings] == expected
    assert result.unexplained_ignores == []
    assert all(f.rule == "batch-recreate-cascade" for f in result.ignored)  # env.py turns SQLite foreign keys off
    assert len(result.revisions) >= 3
    if dialect != "sqlite":  # SQLite batch mode cannot render offline without a live database: said, not hidden
        assert result.not_analysed == []


def _cascade_run(tmp_path: Path, fixture: str, revision: str) -> int:
    """r00_base, one cart item, then only ``revision`` (re-parented onto r00) on SQLite with foreign keys on, as
    every app that wants its foreign keys enforced runs it. Returns the cart items left afterwards."""
    directory = tmp_path / fixture
    (directory / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        shutil.copy(FIXTURES / fixture / name, directory / name)
    shutil.copy(FIXTURES / fixture / "versions" / "00_r00_base.py", directory / "versions")
    source = next((FIXTURES / fixture / "versions").glob(f"*_{revision}.py"))
    lines = [('down_revision = "r00_base"' if line.startswith("down_revision = ") else line)
             for line in source.read_text().splitlines()]
    (directory / "versions" / source.name).write_text("\n".join(lines) + "\n")

    engine = create_engine(f"sqlite:///{tmp_path / (fixture + '.db')}")
    event.listen(engine, "connect", lambda dbapi, _record: dbapi.execute("PRAGMA foreign_keys = ON"))
    config = Config()
    config.set_main_option("script_location", str(directory))
    config.set_main_option("path_separator", "os")

    def upgrade(target: str) -> None:
        with engine.connect() as connection:
            config.attributes["connection"] = connection
            command.upgrade(config, target)
            connection.commit()

    upgrade("r00_base")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO products (id, name, sku, price) VALUES (1, 'mug', 'M-1', 9.5)"))
        connection.execute(text("INSERT INTO cart_items (id, product_id) VALUES (1, 1)"))
    upgrade(revision)
    with engine.connect() as connection:
        left = connection.execute(text("SELECT count(*) FROM cart_items")).scalar_one()
        assert connection.execute(text("SELECT count(*) FROM products")).scalar_one() == 1
    engine.dispose()
    return left


def test_batch_recreate_cascade_finding_is_real_data_loss(tmp_path: Path) -> None:
    assert _cascade_run(tmp_path, "unsafe", "u12_batch_cascade") == 0  # the rebuild's DROP TABLE cascaded
    assert _cascade_run(tmp_path, "safe", "s12_batch_add_column") == 1  # a plain ADD COLUMN rebuilds nothing
