"""Races as JSON for scripts: one result as DESIGN.md §3 shows it, several under "results"."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any, Protocol


class _Result(Protocol):
    def to_dict(self) -> dict[str, Any]: ...


def render(results: Sequence[_Result]) -> str:
    """Stochastic results and scheduled reports alike: each knows its own JSON shape."""
    payload = [result.to_dict() for result in results]
    return json.dumps(payload[0] if len(payload) == 1 else {"results": payload}, indent=2)
