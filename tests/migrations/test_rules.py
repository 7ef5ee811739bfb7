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
    assert len({rule.code for rule in RULES}) == len(RULES) == 22
    assert len({rule.name for rule in RULES}) == len(RULES)
    for rule in RULES:
        assert re.fullmatch(r"IK8\d\d", rule.code), rule
        assert re.fullmatch(r"[a-z]+(-[a-z]+)*", rule.name), rule
        assert rule.severity in {"error", "warning", "info"}
        assert rule.summary[:1].isupper() and rule.summary.endswith(".")
        assert BY_KEY[rule.code] is rule and BY_KEY[rule.name] is rule


def test_every_rule_documents_each_section_in_order() -> None:
    for rule in RULES:
        doc = rule.documentation()
        positions = [doc.find(section) for section in SECTIONS]
        assert -1 not in positions, (rule.name, [s for s, p in zip(SECTIONS, positions, strict=True) if p == -1])
        assert positions == sorted(positions), rule.name
        assert f"ignore[{rule.name}]" in doc, rule.name


def test_every_fix_shows_python_code_that_parses() -> None:
    """The safe sequence is op.* code: each "How to fix" has a python block, and every python block parses."""
    for rule in RULES:
        doc = rule.documentation()
        fix = doc[doc.index("## How to fix"):doc.index("## How to ignore")]
        assert "```python" in fix, rule.name
        for block in re.findall(r"```python\n(.*?)```", doc, re.S):
            ast.parse(_dedent(block))


def _dedent(block: str) -> str:
    lines = block.splitlines()
    indent = min(len(line) - len(line.lstrip()) for line in lines if line.strip())
    return "\n".join(line[indent:] for line in lines)


# How-to-fix blocks that are not revision code: env.py setup, and the merge revision for two heads (the fixture
# `merged/` is that fix, linted clean in test_fixtures.py).
NOT_REVISION_CODE = {"batch-recreate-cascade", "multiple-heads"}
HEADER = 'import sqlalchemy as sa\nfrom alembic import op\n\nrevision = "{rev}"\ndown_revision = "{down}"\n\n'


def _blocks(doc: str, section: str, following: str) -> list[str]:
    part = doc[doc.index(section):doc.index(following)]
    return [_dedent(block) for block in re.findall(r"```python\n(.*?)```", part, re.S)]


def _module(code: str, upgrade_from: str | None = None) -> str:
    """A revision body from a docs snippet: bare op.* calls become upgrade(); a lone downgrade() borrows the
    example's upgrade(); an absent downgrade() is a no-op one (the rule under test is selected on its own)."""
    tree = ast.parse(code)
    functions = {node.name for node in tree.body if isinstance(node, ast.FunctionDef)}
    if not functions:
        code = "def upgrade():\n" + "".join(f"    {line}\n" for line in code.splitlines()) + "    pass\n"
    elif functions == {"downgrade"} and upgrade_from:
        upgrade = next(n for n in ast.parse(upgrade_from).body if getattr(n, "name", "") == "upgrade")
        code = ast.get_source_segment(upgrade_from, upgrade) + "\n\n\n" + code
    if "def downgrade" not in code:
        code += "\n\ndef downgrade():\n    pass\n"
    return code


def _directory(tmp_path, name: str, modules: list[str]):
    from pathlib import Path

    fixtures = Path(__file__).with_name("fixtures") / "unsafe"
    directory = tmp_path / name
    (directory / "versions").mkdir(parents=True)
    # unsafe/env.py sets a lock timeout; the example of the rule that asks for one needs an env.py without it
    bare = Path(__file__).with_name("fixtures") / "newrules_timeout"
    for file in ("env.py", "script.py.mako"):
        (directory / file).write_text((bare / file).read_text())
    (directory / "versions" / "00_r00_base.py").write_text((fixtures / "versions" / "00_r00_base.py").read_text())
    down = "r00_base"
    for number, body in enumerate(modules, start=1):
        rev = f"doc{number:02d}"
        (directory / "versions" / f"{number:02d}_{rev}.py").write_text(HEADER.format(rev=rev, down=down) + body)
        down = rev
    return directory


def test_each_documented_example_is_flagged_and_its_fix_is_not(tmp_path) -> None:
    from integrity_kit.migrations import lint

    checked = 0
    for rule in RULES:
        examples = _blocks(rule.documentation(), "## Example", "## How to fix")
        if not examples or rule.needs_database:  # judged against live rows: tests/migrations/test_preflight.py
            continue
        dialect = rule.dialects[0] if len(rule.dialects) == 1 else "postgresql"
        flagged = lint(_directory(tmp_path, f"{rule.name}-example", [_module(examples[0])]), dialect=dialect,
                       select=[rule.code])
        assert [f.revision for f in flagged.findings] and {f.revision for f in flagged.findings} == {"doc01"}, \
            rule.name
        if rule.name in NOT_REVISION_CODE:
            continue
        fix = _blocks(rule.documentation(), "## How to fix", "## How to ignore")[0]
        revisions = re.split(r"^# next revision.*$", fix, flags=re.M)
        modules = [_module(_dedent(part), upgrade_from=examples[0]) for part in revisions if part.strip()]
        fixed = lint(_directory(tmp_path, f"{rule.name}-fix", modules), dialect=dialect, select=[rule.code])
        assert fixed.findings == [], (rule.name, [f.message for f in fixed.findings])
        checked += 1
    # all but multiple-heads (prose example), batch-recreate-cascade and the rules that need a database
    assert checked == len(RULES) - 1 - 1 - len([rule for rule in RULES if rule.needs_database])
