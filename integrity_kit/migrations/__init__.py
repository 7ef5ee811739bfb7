"""Alembic migration linter: ``lint(path, dialect=...)`` and the rules in :mod:`integrity_kit.migrations.rules`."""

from __future__ import annotations

from integrity_kit.migrations.linter import LintResult, lint
from integrity_kit.migrations.model import Finding, Rule
from integrity_kit.migrations.rules import RULES

__all__ = ["RULES", "Finding", "LintResult", "Rule", "lint"]
