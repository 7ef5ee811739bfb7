"""The audit report as JSON for scripts (the shape DESIGN.md §3 promises)."""

from __future__ import annotations

import json

from integrity_kit.audit.runner import Report


def render(report: Report) -> str:
    return json.dumps(report.to_dict(), indent=2, default=str)
