"""DESIGN.md §2: the reference app depends on the toolkit, never the reverse; the toolkit reaches it by import
path, when a command asks for it."""

from __future__ import annotations

import ast
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1] / "integrity_kit"


def test_the_toolkit_never_imports_the_reference_app_at_module_level() -> None:
    offenders = []
    for path in sorted(PACKAGE.rglob("*.py")):
        for node in ast.parse(path.read_text(), str(path)).body:  # top-level statements only
            names = [alias.name for alias in node.names] if isinstance(node, ast.Import) else \
                [node.module or ""] if isinstance(node, ast.ImportFrom) else []
            offenders += [f"{path.relative_to(PACKAGE.parent)}:{node.lineno} {name}" for name in names
                          if name == "examples" or name.startswith("examples.")]
    assert offenders == []
