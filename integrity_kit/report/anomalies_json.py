"""The anomaly matrix as JSON for scripts (the shape DESIGN.md §3 shows)."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from integrity_kit.races.anomalies import Matrix


def render(matrix: Matrix) -> str:
    return json.dumps(matrix.to_dict(), indent=2)
