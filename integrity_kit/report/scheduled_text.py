"""A scheduled race for people: each step of the two buyers, then the invariants."""

from __future__ import annotations

from collections.abc import Sequence

from rich.console import Console

from integrity_kit.races.scheduled import ScheduledReport, render_scheduled
from integrity_kit.report.console import recorded

FILE_WIDTH = 120


def render(reports: Sequence[ScheduledReport], *, console: Console | None = None) -> str:
    """Print every report to ``console``; without one, the text a file gets."""
    if console is None:
        return recorded(lambda file_console: render(reports, console=file_console), width=FILE_WIDTH)
    for report in reports:
        render_scheduled(console, report)
    return ""
