"""The rule registry and each rule's documentation (the docstring is the rule's page)."""

from __future__ import annotations

import ast
import re

from integrity_kit.migrations import RULES, Rule
from integrity_kit.migrations.rules import BY_KEY

SECTIONS = ["## What it checks", "## Why it matters", "## Example", "## How to fix", "## How to ignore"]


def all_subclasses(cls: type) -> set[type]:
    found = set()
    for sub in cls.__subclasses__():
        found |= {sub} | all_subclasses(sub)
    return found


def test_every_rule_is_registered_once_with_unique_code_and_name() -> None:
    assert all_subclasses(Rule) == set(RULES)
    assert len({rule.code for rule in RULES}) == len(RULES) == 15
    assert len({rule.name for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert re.fullmatch(r"IK8\d\d", rule.code), rule
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name), rule
        assert rule.severity in {"error", "warning", "info"}
        assert rule.summary and not rule.summary.endswith(".")
        assert BY_KEY[rule.code] is rule and BY_KEY[rule.name] is rule


def test_every_rule_documents_each_section_in_order() -> None:
    for rule in RULES:
        doc = rule.__doc__ or ""
        positions = [doc.find(section) for section in SECTIONS]
        assert -1 not in positions, (rule.name, [s for s, p in zip(SECTIONS, positions, strict=True) if p == -1])
        assert positions == sorted(positions), rule.name
        assert f"ignore[{rule.name}]" in doc, rule.name


def test_every_fix_shows_python_code_that_parses() -> None:
    """The safe sequence is op.* code: each "How to fix" has a python block, and every python block parses."""
    for rule in RULES:
        doc = rule.__doc__ or ""
        fix = doc[doc.index("## How to fix"):doc.index("## How to ignore")]
        assert "```python" in fix, rule.name
        for block in re.findall(r"```python\n(.*?)```", doc, re.S):
            ast.parse(_dedent(block))


def _dedent(block: str) -> str:
    lines = block.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)
