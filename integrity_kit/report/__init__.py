"""Renderers of every capability's result, chosen by format name from one table.

Each renderer is a module ``integrity_kit.report.<subject>_<format>`` with ``render(result, *, options) -> str``.
Text renderers also take ``console=``: given one they print to it (colour and width of the terminal) and return
"", without one they return the text as a file gets it. Modules are imported only when chosen, so a JSON report
never imports rich.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable

FORMATS: dict[str, tuple[str, ...]] = {
    "audit": ("text", "json", "sarif", "markdown", "html"),
    "lint": ("text", "json", "sarif"),
    "rehearsal": ("text",),  # its JSON is a key of the lint report's
    "queries": ("text", "json"),
    "race": ("text", "json"),
    "scheduled": ("text",),  # a scheduled race's JSON is the race renderer's: each report knows its shape
    "anomalies": ("text", "json"),
}


def renderer(subject: str, output_format: str) -> Callable[..., str]:
    """The ``render`` function for ``subject`` (a key of :data:`FORMATS`) in ``output_format``."""
    if output_format not in FORMATS.get(subject, ()):
        raise ValueError(f"no {output_format!r} renderer for {subject!r}")
    render: Callable[..., str] = importlib.import_module(f"integrity_kit.report.{subject}_{output_format}").render
    return render


__all__ = ["FORMATS", "renderer"]
