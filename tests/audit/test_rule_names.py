"""No rule name as a string literal outside its own rule class and the registry: code that means a rule names its
class (``MissingForeignKey.name``), so a rule is found by walking its references, and a renamed rule cannot leave a
comparison behind that silently never matches."""

from __future__ import annotations

import ast
from pathlib import Path

from integrity_kit.audit.registry import RULES
from integrity_kit.migrations.rules import RULES as MIGRATION_RULES

PACKAGE = Path(__file__).resolve().parents[2] / "integrity_kit"
# (file, literal): the same words that are not a rule reference.
NOT_RULE_REFERENCES = {
    # A kind of schema difference (beside missing-column, extra-foreign-key), part of schema-drift's evidence.
    ("schema/compare.py", "missing-foreign-key"),
}


def _owned(tree: ast.Module) -> dict[int, str]:
    """Node id -> the rule name of the class it sits in (the class that sets ``name = "<rule>"``)."""
    owner: dict[int, str] = {}
    for node in ast.walk(tree):
        if not isinstance(node, ast.ClassDef):
            continue
        for statement in node.body:
            if isinstance(statement, ast.Assign) and isinstance(statement.value, ast.Constant) and any(
                    isinstance(target, ast.Name) and target.id == "name" for target in statement.targets):
                owner.update({id(inner): str(statement.value.value) for inner in ast.walk(node)})
    return owner


def offenders(root: Path = PACKAGE) -> list[str]:
    names = {rule.name for rule in (*RULES, *MIGRATION_RULES)}
    found = []
    for path in sorted(root.rglob("*.py")):
        relative = path.relative_to(root).as_posix()
        if relative in ("audit/registry.py", "migrations/rules/__init__.py"):
            continue
        tree = ast.parse(path.read_text(encoding="utf-8"))
        owner = _owned(tree)
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and node.value in names \
                    and owner.get(id(node)) != node.value and (relative, node.value) not in NOT_RULE_REFERENCES:
                found.append(f"integrity_kit/{relative}:{node.lineno}: {node.value!r}")
    return found


def test_no_rule_name_is_a_string_literal_outside_its_rule() -> None:
    assert offenders() == [], "name the rule's class instead (e.g. MissingForeignKey.name)"


def test_the_scan_finds_one(tmp_path: Path) -> None:
    (tmp_path / "generic.py").write_text('def f(finding):\n    return finding.rule == "missing-foreign-key"\n')
    (tmp_path / "rule.py").write_text('class MissingForeignKey:\n    name = "missing-foreign-key"\n')
    assert offenders(tmp_path) == ["integrity_kit/generic.py:2: 'missing-foreign-key'"]
