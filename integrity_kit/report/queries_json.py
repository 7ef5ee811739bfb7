"""A :class:`~integrity_kit.queries.capture.QueryLog` as JSON for scripts: the summary, the findings, every
statement."""

from __future__ import annotations

import json
from typing import Any

from integrity_kit import __version__
from integrity_kit.queries.capture import QueryLog


def render(log: QueryLog, *, command: list[str] | None = None, include_statements: bool = True) -> str:
    return json.dumps(to_dict(log, command=command, include_statements=include_statements), indent=2)


def to_dict(log: QueryLog, *, command: list[str] | None = None, include_statements: bool = True) -> dict[str, Any]:
    n_plus_one = log.n_plus_one
    duplicates = log.duplicates
    race_risks = log.race_risks
    data: dict[str, Any] = {
        "tool": "integrity-kit",
        "version": __version__,
        "command": command,
        "summary": {
            "statements": len(log.statements),
            "n_plus_one": len(n_plus_one),
            "duplicates": len(duplicates),
            "transactions": len(log.transactions),
            "race_risks": sum(1 for risk in race_risks if risk.verdict == "risk"),
            "duration_ms": round(sum(s.duration for s in log.statements) * 1000, 3),
        },
        "n_plus_one": [f.to_dict() for f in n_plus_one],
        "duplicates": [d.to_dict() for d in duplicates],
        "race_risks": [risk.to_dict() for risk in race_risks],
        "transactions": [t.to_dict() for t in log.transactions],
    }
    if include_statements:
        data["statements"] = [s.to_dict() for s in log.statements]
    return data
