"""Where a statement came from: the first application frame outside SQLAlchemy and integrity-kit.

Library frames are recognised by file path (cached per file name). AsyncSession runs the ORM inside a greenlet
whose stack holds only library frames, so the search continues in the parent greenlet, where the application's
coroutine is suspended on the ``await``.
"""

from __future__ import annotations

import importlib.util
import os
import sys
from types import FrameType, ModuleType

import sqlalchemy

import integrity_kit


def _package_dir(module: ModuleType) -> str:
    return os.path.dirname(os.path.abspath(str(module.__file__))) + os.sep


_INTERNAL_PREFIXES: list[str] = [_package_dir(sqlalchemy), _package_dir(integrity_kit)]
for _name in ("greenlet", "asyncio", "contextlib", "alembic"):
    # find_spec, not import: knowing where Alembic lives must not cost its import time.
    _spec = importlib.util.find_spec(_name)
    if _spec is not None and _spec.origin:
        _INTERNAL_PREFIXES.append(_spec.origin if _name == "contextlib" else os.path.dirname(_spec.origin) + os.sep)
# Code compiled at run time has a pseudo file name: SQLAlchemy's cache() wrappers, Alembic's ``op`` proxies
# ("<string>"), Python's frozen modules. They are library frames; the application line is further out.
_GENERATED = ("<frozen", "<sqlalchemy generated", "<string>")
library_files: dict[str, bool] = {}  # file name -> is it library code; read directly by the capture's hot path


def is_library_file(filename: str) -> bool:
    """True for a file of SQLAlchemy, integrity-kit, Alembic, greenlet, asyncio, contextlib or generated code."""
    internal = library_files.get(filename)
    if internal is None:
        path = os.path.abspath(filename) if not filename.startswith("<") else filename
        internal = filename.startswith(_GENERATED) or any(path.startswith(p) for p in _INTERNAL_PREFIXES)
        library_files[filename] = internal
    return internal


def _first_app_frame(frame: FrameType | None) -> FrameType | None:
    while frame is not None:
        if not is_library_file(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


try:  # AsyncSession runs the ORM in a greenlet; the awaiting application frames live in its parent.
    from greenlet import getcurrent as _getcurrent  # type: ignore[import-untyped]  # greenlet ships no stubs
except ImportError:  # pragma: no cover - greenlet is optional for SQLAlchemy
    _getcurrent = None
HAS_GREENLET = _getcurrent is not None


def call_site(depth: int = 1) -> tuple[str, int, str] | None:
    """(filename, lineno, function) of the first frame outside SQLAlchemy and integrity-kit, or None."""
    frame = _first_app_frame(sys._getframe(depth))
    if frame is None and _getcurrent is not None:
        glet = _getcurrent().parent
        while frame is None and glet is not None:
            frame = _first_app_frame(glet.gr_frame)
            glet = glet.parent
    if frame is None:
        return None
    return frame.f_code.co_filename, frame.f_lineno, frame.f_code.co_name


_location_cache: dict[tuple[str, str], str] = {}


def display_path(filename: str) -> str:
    """``filename`` relative to the working directory when it is inside it, else as it is."""
    cwd = os.getcwd()
    shown = _location_cache.get((cwd, filename))
    if shown is None:
        try:
            relative = os.path.relpath(filename, cwd)
        except ValueError:  # another drive on Windows
            relative = filename
        shown = filename if relative.startswith("..") else relative
        _location_cache[(cwd, filename)] = shown
    return shown
