"""Which revisions of a history a live database still has to run: its ``alembic_version`` rows, read read-only."""

from __future__ import annotations

from dataclasses import dataclass, field

from sqlalchemy import inspect, text
from sqlalchemy.exc import SQLAlchemyError

from integrity_kit.connect import make_engine, mask_url, parse_url, scrub
from integrity_kit.errors import IntegrityKitError, first_line
from integrity_kit.migrations.source import History

VERSION_TABLE = "alembic_version"
_DIALECTS = {"postgresql": "postgresql", "mysql": "mysql", "mariadb": "mysql", "sqlite": "sqlite"}


@dataclass(frozen=True)
class TargetState:
    """What the target database says it has applied: ``current`` is empty when it has no version table."""

    url: str  # masked
    dialect: str  # one of the linter's dialects
    has_version_table: bool
    current: tuple[str, ...]
    # The URL as given, password included, for the preflight's own read-only connection; never shown.
    connect_url: str = field(default="", repr=False, compare=False)
    # The tables of the default schema, read only when there is no version table (to tell which revision it is at).
    tables: frozenset[str] = frozenset()
    mariadb: bool = False  # a MariaDB server: its SQL is rendered as MariaDB's, not MySQL's


def read_target(url: str) -> TargetState:
    """Read ``alembic_version`` in a transaction that is rolled back; nothing is written to the database."""
    parsed = parse_url(url)
    shown = mask_url(parsed)
    engine = make_engine(parsed)
    try:
        dialect = _DIALECTS.get(engine.dialect.name)
        if dialect is None:
            raise IntegrityKitError(f"lint-migrations --database: {engine.dialect.name} ({shown}) is not a "
                                    f"dialect the linter knows ({', '.join(sorted(set(_DIALECTS.values())))})")
        with engine.connect() as connection:
            mariadb = bool(getattr(connection.dialect, "is_mariadb", False))  # known once connected
            try:
                inspector = inspect(connection)
                if not inspector.has_table(VERSION_TABLE):
                    return TargetState(shown, dialect, False, (), url, frozenset(inspector.get_table_names()),
                                       mariadb)
                rows = connection.execute(text(f"SELECT version_num FROM {VERSION_TABLE}")).scalars().all()
            except SQLAlchemyError as error:
                raise IntegrityKitError(f"cannot read {VERSION_TABLE} in {shown}: "
                                        f"{scrub(first_line(error), parsed)}") from None
            finally:
                connection.rollback()
        return TargetState(shown, dialect, True, tuple(sorted(str(row) for row in rows)), url, mariadb=mariadb)
    finally:
        engine.dispose()


def pending_revisions(history: History, state: TargetState) -> list[str]:
    """The history's revisions, base first, that are neither a current revision of ``state`` nor an ancestor of one.

    A current revision the history does not hold means the database was migrated by another history (or a newer
    release of this one): there is no honest answer to "what is pending", so it is an error."""
    files = {file.revision: file for file in history.files}
    unknown = [revision for revision in state.current if revision not in files]
    if unknown:
        raise IntegrityKitError(f"{state.url} is at revision {', '.join(unknown)}, which is not in the history at "
                                f"{history.directory}: is this the right database and the right script directory?")
    applied: set[str] = set()
    stack = list(state.current)
    while stack:
        revision = stack.pop()
        if revision in applied or revision not in files:
            continue
        applied.add(revision)
        stack.extend(files[revision].parents + files[revision].depends_on)
    return [file.revision for file in history.files if file.revision not in applied]
