"""Which SQLAlchemy this installation can use, and for what.

Query capture (``integrity_kit.queries``, ``integrity-kit queries``) and the pytest plugin use only public events
that SQLAlchemy 1.4 already has (``before_cursor_execute``, ``do_orm_execute`` and ``ORMExecuteState``'s loader
facts), so they work on 1.4.42 and newer: an application pinned to 1.4 can install integrity-kit without an upgrade
it cannot take. Everything else (the audit's bulk ``get_multi_*`` reflection, the races, the migration preflight)
needs 2.0.30 or newer and refuses older releases with one line.

Importing this module never imports SQLAlchemy's ORM: the pytest plugin asks it before anything else.
"""

from __future__ import annotations

import importlib.metadata
import re
import sys

# 1.4.42 is the oldest 1.4 release CI installs (the first with wheels for every Python we support).
CAPTURE_MINIMUM = (1, 4, 42)
TOOLKIT_MINIMUM = (2, 0, 30)


def _parse(version: str) -> tuple[int, ...]:
    """``"2.0.30"`` -> ``(2, 0, 30)``; pre-release suffixes (``2.1.0b1``) keep their numeric part."""
    return tuple(int(part) for part in re.findall(r"\d+", version.split("+")[0])[:3])


def _shown(version: tuple[int, ...]) -> str:
    return ".".join(str(part) for part in version)


def installed_version() -> str | None:
    """The version of the SQLAlchemy that ``import sqlalchemy`` gives, or None when it cannot be imported."""
    module = sys.modules.get("sqlalchemy")
    if module is None:
        # The installed distribution's metadata: `integrity-kit --help` must not pay for importing SQLAlchemy.
        try:
            return importlib.metadata.version("SQLAlchemy")
        except importlib.metadata.PackageNotFoundError:
            pass
        try:
            import sqlalchemy as module
        except ImportError:
            return None
    return str(getattr(module, "__version__", "0"))


def capture_problem() -> str | None:
    """Why query capture cannot run on the installed SQLAlchemy, or None when it can."""
    version = installed_version()
    if version is None:
        return "SQLAlchemy is not installed"
    if _parse(version) < CAPTURE_MINIMUM:
        return f"SQLAlchemy {version} is installed; query capture needs {_shown(CAPTURE_MINIMUM)} or newer"
    return None


def toolkit_problem(what: str) -> str | None:
    """Why ``what`` (e.g. ``"integrity-kit audit"``) cannot run on the installed SQLAlchemy, or None when it can."""
    version = installed_version()
    if version is None:
        return f"{what} needs SQLAlchemy {_shown(TOOLKIT_MINIMUM)} or newer, and SQLAlchemy is not installed"
    if _parse(version) < TOOLKIT_MINIMUM:
        also = " (on this release only query capture and the pytest plugin work)" if capture_problem() is None else ""
        return f"{what} needs SQLAlchemy {_shown(TOOLKIT_MINIMUM)} or newer; {version} is installed{also}"
    return None
