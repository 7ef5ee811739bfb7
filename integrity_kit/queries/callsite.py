"""Where a statement came from: the application's frames, innermost first, outside every library.

A frame is the application's unless its file belongs to SQLAlchemy, integrity-kit, an installed distribution
(``site-packages``/``dist-packages``), the standard library, or code generated at run time (frozen modules,
SQLAlchemy's cache wrappers, Alembic's ``op`` proxies). Jinja2 compiles a template to Python whose frames carry the
template's file name; :func:`frame_line` maps such a frame's Python line back to the template line (the mapping
Jinja2's own traceback rewriting uses). AsyncSession runs the ORM inside a greenlet whose stack holds only library
frames, so the search continues in the parent greenlet, where the application's coroutine is suspended on the
``await``.
"""

from __future__ import annotations

import os
import sys
import sysconfig
from types import FrameType, ModuleType

import sqlalchemy

import integrity_kit


def _package_dir(module: ModuleType) -> str:
    return os.path.dirname(os.path.abspath(str(module.__file__))) + os.sep


def _library_prefixes() -> tuple[str, ...]:
    prefixes = {_package_dir(sqlalchemy), _package_dir(integrity_kit)}
    # The standard library of this interpreter and of the one a venv was made from (typing.py, contextlib.py, …).
    for key in ("stdlib", "platstdlib"):
        path = sysconfig.get_paths().get(key)
        if path:
            prefixes.add(os.path.abspath(path) + os.sep)
    for base in {sys.base_prefix, sys.base_exec_prefix}:
        path = sysconfig.get_paths(vars={"base": base, "installed_base": base, "platbase": base}).get("stdlib")
        if path:
            prefixes.add(os.path.abspath(path) + os.sep)
    return tuple(sorted(prefixes))


_LIBRARY_PREFIXES = _library_prefixes()
# Installed distributions, wherever the environment lives (a venv, the system, a user site).
_INSTALLED_PARTS = (f"{os.sep}site-packages{os.sep}", f"{os.sep}dist-packages{os.sep}")
# Code compiled at run time has a pseudo file name: SQLAlchemy's cache() wrappers, Alembic's ``op`` proxies
# ("<string>"), Python's frozen modules. They are library frames; the application line is further out.
_GENERATED = ("<frozen", "<sqlalchemy generated", "<string>", "<attrs generated", "<makefun", "<decorator")
library_files: dict[str, bool] = {}  # file name -> is it library code; read directly by the capture's hot path


def is_library_file(filename: str) -> bool:
    """True for a file of SQLAlchemy, integrity-kit, an installed package, the stdlib or generated code."""
    internal = library_files.get(filename)
    if internal is None:
        if filename.startswith("<"):
            internal = filename.startswith(_GENERATED)
        else:
            path = os.path.abspath(filename)
            internal = path.startswith(_LIBRARY_PREFIXES) or any(part in path for part in _INSTALLED_PARTS)
        library_files[filename] = internal
    return internal


def frame_line(frame: FrameType) -> tuple[str, int]:
    """(file, line) a frame stands for: the template file and line for a compiled Jinja2 template."""
    template = frame.f_globals.get("__jinja_template__")
    if template is not None:
        try:
            return (template.filename or frame.f_code.co_filename,
                    template.get_corresponding_lineno(frame.f_lineno))
        except Exception:  # an odd template object: its Python line is still a line of that template's code
            pass
    return frame.f_code.co_filename, frame.f_lineno


def _first_app_frame(frame: FrameType | None) -> FrameType | None:
    while frame is not None:
        if not is_library_file(frame.f_code.co_filename):
            return frame
        frame = frame.f_back
    return None


def outer_app_lines(frame: FrameType | None) -> tuple[tuple[str, int], ...]:
    """(file, line) of every application frame from ``frame`` outwards: the path a statement was reached by."""
    cache = library_files
    lines = []
    while frame is not None:
        filename = frame.f_code.co_filename
        internal = cache.get(filename)
        if internal is None:
            internal = is_library_file(filename)
        if not internal:
            lines.append(frame_line(frame))
        frame = frame.f_back
    return tuple(lines)


try:  # AsyncSession runs the ORM in a greenlet; the awaiting application frames live in its parent.
    from greenlet import getcurrent as _getcurrent  # type: ignore[import-untyped]  # greenlet ships no stubs
except ImportError:  # pragma: no cover - greenlet is optional for SQLAlchemy
    _getcurrent = None
HAS_GREENLET = _getcurrent is not None

Site = tuple[str, int, str, tuple[tuple[str, int], ...]]


def call_site(depth: int = 1) -> Site | None:
    """(filename, lineno, function, outer application lines) of the first application frame, or None."""
    frame = _first_app_frame(sys._getframe(depth))
    if frame is None and _getcurrent is not None:
        glet = _getcurrent().parent
        while frame is None and glet is not None:
            frame = _first_app_frame(glet.gr_frame)
            glet = glet.parent
    if frame is None:
        return None
    filename, lineno = frame_line(frame)
    return filename, lineno, frame.f_code.co_name, outer_app_lines(frame.f_back)


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
