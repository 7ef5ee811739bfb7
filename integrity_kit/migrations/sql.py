"""The second analysis: the SQL each revision renders on its own in offline mode, split with sqlparse.

Each revision is rendered as ``prev:rev`` (never ``base:head``: rendered together, every table looks created in the
same script, which is why squawk stays silent on ``alembic upgrade head --sql``).
"""

from __future__ import annotations

import io
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlparse
from alembic import command
from alembic.config import Config

from integrity_kit.migrations.model import Revision, Statement

DIALECT_URLS = {"postgresql": "postgresql://", "mysql": "mysql+pymysql://", "sqlite": "sqlite://"}


def render_revision(directory: Path, revision: Revision, dialect: str) -> list[Statement]:
    """Offline SQL of one revision, each statement tagged with whether a transaction is open around it."""
    down = revision.down_revision
    if isinstance(down, (tuple, list)):
        raise ValueError(f"{revision.revision} is a merge revision: its SQL cannot be rendered on its own")
    target = revision.revision if down is None else f"{down}:{revision.revision}"
    return split(offline_sql(directory, target, dialect), origin="rendered")


def offline_sql(directory: str | Path, target: str, dialect: str) -> str:
    """What ``alembic upgrade TARGET --sql`` prints for ``dialect`` (``prev:rev`` for one revision)."""
    config = Config()
    config.set_main_option("script_location", str(directory))
    config.set_main_option("sqlalchemy.url", DIALECT_URLS[dialect])
    config.set_main_option("path_separator", "os")
    buffer = io.StringIO()
    config.output_buffer = buffer
    with _database_url(DIALECT_URLS[dialect]):
        command.upgrade(config, target, sql=True)
    return buffer.getvalue()


@contextmanager
def _database_url(url: str) -> Iterator[None]:
    """Many env.py files (the reference app's among them) prefer $DATABASE_URL over the configured URL in offline
    mode; point it at the dialect being linted so a developer's own DATABASE_URL cannot change what is rendered."""
    saved = os.environ.get("DATABASE_URL")
    os.environ["DATABASE_URL"] = url
    try:
        yield
    finally:
        if saved is None:
            os.environ.pop("DATABASE_URL", None)
        else:
            os.environ["DATABASE_URL"] = saved


def split(sql: str, *, origin: str, line: int | None = None, in_transaction: bool = True) -> list[Statement]:
    statements = []
    depth = in_transaction
    for raw in sqlparse.split(sql):
        text = sqlparse.format(raw, strip_comments=True).strip().rstrip(";").strip()
        if not text:
            continue
        upper = text.upper()
        if upper in {"BEGIN", "BEGIN TRANSACTION", "START TRANSACTION"}:
            depth = True
            continue
        if upper in {"COMMIT", "END", "ROLLBACK"}:
            depth = False
            continue
        if "ALEMBIC_VERSION" in upper:
            continue
        statements.append(Statement(sql=" ".join(text.split()), line=line, in_transaction=depth, origin=origin))
    return statements
