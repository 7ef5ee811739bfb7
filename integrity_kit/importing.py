"""``module:object`` specs on the command line (``--models``, ``--workload``): import them with one clear line
for every way that can fail."""

from __future__ import annotations

import importlib
import os
import sys
from typing import Any

from integrity_kit.errors import IntegrityKitError, first_line


def load_object(spec: str, option: str, example: str) -> Any:
    """The object ``spec`` names; ``option`` and ``example`` go into the error messages."""
    module_name, sep, attribute = spec.partition(":")
    if not sep or not module_name or not attribute:
        raise IntegrityKitError(f"{option} expects module:object (e.g. {example}), got {spec!r}")
    # Like `flask --app` and uvicorn: the directory the command runs in is importable, installed or not.
    if os.getcwd() not in sys.path and "" not in sys.path:
        sys.path.insert(0, os.getcwd())
    try:
        target: Any = importlib.import_module(module_name)
    except ModuleNotFoundError as error:
        if error.name and module_name.startswith(error.name):
            raise IntegrityKitError(f"cannot import {module_name!r} for {option} {spec}: no module named "
                                    f"{error.name!r}") from None
        raise IntegrityKitError(f"importing {module_name!r} for {option} {spec} failed: {error}") from None
    except Exception as error:  # the user's module raised while importing; say so in one line
        raise IntegrityKitError(
            f"importing {module_name!r} for {option} {spec} failed: {type(error).__name__}: {first_line(error)}"
        ) from None
    for part in attribute.split("."):
        try:
            target = getattr(target, part)
        except AttributeError:
            raise IntegrityKitError(f"{module_name!r} has no attribute {attribute!r} ({option} {spec})") from None
    return target
