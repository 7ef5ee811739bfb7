"""What the text renderers share: a console that records what they print, for files and tests."""

from __future__ import annotations

import io
from collections.abc import Callable

from rich.console import Console
from rich.markup import escape

# One colour per severity in every text report (keys are Severity values, so by_severity() counts index it too).
SEVERITY_STYLES = {"error": "bold red", "warning": "yellow", "info": "cyan"}


# Bidirectional overrides reorder what a terminal shows (the "Trojan Source" trick), so they are escaped too.
_BIDI_CONTROLS = frozenset("\u061c\u200e\u200f\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069")


def _escaped(char: str) -> str:
    code = ord(char)
    if code < 0x20 and char != "\t" or 0x7F <= code < 0xA0:
        return f"\\x{code:02x}"
    if char in _BIDI_CONTROLS:
        return f"\\u{code:04x}"
    return char


def printable(value: object) -> str:
    """``str(value)`` with every control character shown as an escape (ESC as ``\\x1b``, a newline as
    ``\\x0a``): names and values from a database must never drive the terminal. Split multi-line text first."""
    text = str(value)
    if text.isprintable():
        return text
    return "".join(_escaped(char) for char in text)


def markup_safe(value: object) -> str:
    """:func:`printable`, also escaped for rich markup: for data interpolated into a markup string."""
    return escape(printable(value))


def recorded(draw: Callable[[Console], object], *, width: int | None, soft_wrap: bool = False) -> str:
    """The text ``draw`` prints on a colourless console ``width`` columns wide (None: rich's default for a file),
    as a file receives it; ``soft_wrap`` leaves long lines whole (code must stay paste-able)."""
    buffer = io.StringIO()
    draw(Console(emoji=False, file=buffer, width=width, no_color=True, soft_wrap=soft_wrap))
    return buffer.getvalue()
