"""The migration linter's result as JSON for scripts."""

from __future__ import annotations

import json

from integrity_kit.migrations.linter import LintResult


def render(result: LintResult) -> str:
    return json.dumps(result.to_dict(), indent=2)
