"""What the text renderers share: a console that records what they print, for files and tests."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console

# One colour per severity in every text report (keys are Severity values, so by_severity() counts index it too).
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


def recorded(draw: Callable[[Console], object], *, width: int | None) -> str:
    """The text ``draw`` prints on a colourless console ``width`` columns wide (None: rich's default for a file),
    as a file receives it."""
    buffer = io.StringIO()
    draw(Console(file=buffer, width=width, no_color=True))
    return buffer.getvalue()
