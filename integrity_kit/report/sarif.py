"""The one SARIF 2.1.0 writer: the audit and the migration linter hand it their rules and results."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from integrity_kit import __version__
from integrity_kit.rulebook import Rule, Severity

LEVELS = {Severity.ERROR: "error", Severity.WARNING: "warning", Severity.INFO: "note"}


def level(severity: Severity) -> str:
    return LEVELS[severity]


def rule_descriptor(rule: type[Rule]) -> dict[str, Any]:
    """A rule as SARIF's ``reportingDescriptor``, its help being the documentation `explain` shows."""
    documentation = rule.documentation()
    return {"id": rule.code, "name": rule.name, "shortDescription": {"text": rule.summary},
            "fullDescription": {"text": documentation.splitlines()[0]},
            "help": {"text": documentation, "markdown": documentation},
            "defaultConfiguration": {"level": level(rule.severity)}}


def rule_index(rules: Sequence[type[Rule]]) -> dict[str, int]:
    """``ruleIndex`` of each code: its position in the run's rule list."""
    return {rule.code: position for position, rule in enumerate(rules)}


def render(rules: Sequence[type[Rule]], results: list[dict[str, Any]], *,
           run: dict[str, Any] | None = None) -> str:
    """One run of integrity-kit; ``run`` adds run-level members (base URIs, properties) before the results."""
    sarif = {"$schema": "https://json.schemastore.org/sarif-2.1.0.json", "version": "2.1.0",
             "runs": [{"tool": {"driver": {"name": "integrity-kit", "version": __version__,
                                           "informationUri": "https://github.com/integrity-kit/integrity-kit",
                                           "rules": [rule_descriptor(rule) for rule in rules]}},
                       **(run or {}), "results": results}]}
    return json.dumps(sarif, indent=2, default=str)
