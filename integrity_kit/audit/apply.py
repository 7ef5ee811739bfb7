"""Run one revision written by ``--fix-migration`` with Alembic, outside any project's migration history.

For a throwaway database (the demo, the tests): in a real project the revision goes into the project's own
``versions/`` folder, with ``down_revision`` set to its head, and runs with its own ``env.py``.
"""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Engine

from integrity_kit.errors import IntegrityKitError

# What a project's env.py must do for these revisions: on SQLite, a batch rebuild must not cascade deletes, so
# foreign keys are off around the run, and each revision commits on its own.
ENV_PY = '''
from alembic import context

config = context.config
connection = config.attributes["connection"]
sqlite = connection.dialect.name == "sqlite"
if sqlite:
    connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
    connection.commit()
context.configure(connection=connection, transaction_per_migration=True, render_as_batch=sqlite)
with context.begin_transaction():
    context.run_migrations()
'''


def script_directory(folder: Path) -> Path:
    """An empty Alembic script directory at ``folder`` (created) whose env.py runs on a given connection."""
    (folder / "versions").mkdir(parents=True, exist_ok=True)
    (folder / "env.py").write_text(ENV_PY, encoding="utf-8")
    (folder / "script.py.mako").write_text("", encoding="utf-8")
    return folder


def apply_revision(engine: Engine, revision_text: str, folder: Path) -> None:
    """Upgrade ``engine``'s database with the one revision ``revision_text`` (its ``down_revision`` must be None).

    On SQLite, ``PRAGMA foreign_key_check`` runs afterwards: a rebuild with foreign keys off would otherwise let
    rows that break the new keys through without a word.
    """
    scripts = script_directory(folder)
    (scripts / "versions" / "integrity_kit_fixes.py").write_text(revision_text, encoding="utf-8")
    config = Config()
    config.set_main_option("script_location", str(scripts))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        command.upgrade(config, "head")
        if connection.dialect.name == "sqlite":
            broken = connection.exec_driver_sql("PRAGMA foreign_key_check").all()
            if broken:
                sample = ", ".join(f"{table} rowid {rowid} -> {parent}" for table, rowid, parent, _ in broken[:5])
                raise IntegrityKitError(f"the fix migration ran but {len(broken)} row(s) break its foreign keys "
                                        f"(e.g. {sample}): clean the data first")
