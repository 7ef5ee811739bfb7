"""Read an Alembic script directory and turn each revision's upgrade()/downgrade() into a list of calls."""

from __future__ import annotations

import ast
from pathlib import Path

from alembic.script import ScriptDirectory

from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations.collect import Collector, statements_of
from integrity_kit.migrations.model import Revision


def open_script_directory(path: str | Path) -> ScriptDirectory:
    directory = Path(path)
    if not directory.exists():
        raise IntegrityKitError(f"{path}: no such directory")
    if directory.is_file() or not (directory / "versions").is_dir():
        raise IntegrityKitError(f"{path}: not an Alembic script directory (no versions/ folder)")
    try:
        return ScriptDirectory(str(directory))
    except Exception as error:  # alembic raises several types for a broken directory
        raise IntegrityKitError(f"{path}: cannot read the Alembic script directory: {error}") from error


def ordered_scripts(script: ScriptDirectory) -> list:
    """Every revision, base first."""
    try:
        return list(reversed(list(script.walk_revisions("base", "heads"))))
    except Exception as error:
        raise IntegrityKitError(f"cannot walk the revision history: {error}") from error


def parse_revision(script_revision, base: Path, dialect: str = "postgresql") -> Revision:
    path = Path(script_revision.path)
    text = path.read_text(encoding="utf-8")
    module = ast.parse(text, filename=str(path))
    try:
        shown = str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        shown = str(path)
    revision = Revision(revision=script_revision.revision, down_revision=script_revision.down_revision,
                        path=shown, module=module, source_lines=text.splitlines())
    for node in module.body:
        if isinstance(node, (ast.Assign, ast.AnnAssign)) and any(
                isinstance(target, ast.Name) and target.id == "revision"
                for target in (node.targets if isinstance(node, ast.Assign) else [node.target])):
            revision.revision_line = node.lineno
    functions = {node.name: node for node in module.body if isinstance(node, ast.FunctionDef)}
    helpers = {name: node for name, node in functions.items() if name not in {"upgrade", "downgrade"}}
    if "upgrade" in functions:
        revision.upgrade_line = functions["upgrade"].lineno
        revision.upgrade = Collector("upgrade", helpers, dialect=dialect, module=module).run(functions["upgrade"])
    if "downgrade" in functions:
        node = functions["downgrade"]
        revision.downgrade_line = node.lineno
        revision.downgrade = Collector("downgrade", helpers, dialect=dialect, module=module).run(node)
        revision.downgrade_raises = any(isinstance(n, ast.Raise) for n in ast.walk(node))
    revision.statements.extend(statements_of(revision.upgrade))
    return revision
