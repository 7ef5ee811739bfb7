"""Read an Alembic script directory as shipped: the revision graph from each file's source (nothing is imported),
base first, and each revision's upgrade()/downgrade() as a list of calls."""

from __future__ import annotations

import ast
import configparser
import heapq
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

from integrity_kit.errors import IntegrityKitError
from integrity_kit.migrations.collect import Collector, statements_of
from integrity_kit.migrations.model import Revision

GRAPH_NAMES = ("revision", "down_revision", "branch_labels", "depends_on")
# Alembic's own rule for which files in a versions folder are revisions (editor lock files and __init__ are not).
_REVISION_FILE = re.compile(r"^(?!\.#|__init__)(.*\.py)$")


@dataclass
class RevisionFile:
    """One revision file as its source declares it: what Alembic would read from the module, without importing it."""

    revision: str
    down_revision: str | tuple[str, ...] | None
    path: Path
    shown: str  # the path relative to the script directory, as not-analysed entries name it
    text: str
    module: ast.Module | None  # None: the file does not parse
    branch_labels: tuple[str, ...] = ()
    depends_on: tuple[str, ...] = ()
    syntax_error: str | None = None

    @property
    def parents(self) -> tuple[str, ...]:
        if self.down_revision is None:
            return ()
        return (self.down_revision,) if isinstance(self.down_revision, str) else tuple(self.down_revision)


@dataclass
class History:
    """Every readable revision of a script directory, base first, and what could not be read."""

    directory: Path
    version_locations: list[Path]
    files: list[RevisionFile]
    ini: Path | None
    heads: tuple[str, ...]
    not_analysed: list[dict[str, str]] = field(default_factory=list)

    def resolve(self, name: str) -> str:
        """A full revision id for ``name``: an id, a branch label, ``head`` with one head, or a unique id prefix."""
        ids = [file.revision for file in self.files]
        if name in ids:
            return name
        if name == "head" and len(self.heads) == 1:
            return self.heads[0]
        labelled = [file.revision for file in self.files if name in file.branch_labels]
        if len(labelled) == 1:
            return labelled[0]
        prefixed = [revision for revision in ids if revision.startswith(name)]
        if len(prefixed) == 1:
            return prefixed[0]
        if len(prefixed) > 1:
            raise IntegrityKitError(f"--since {name}: ambiguous, it starts {len(prefixed)} revision ids")
        raise IntegrityKitError(f"--since {name}: no such revision in the history")

    def descendants(self, name: str) -> set[str]:
        """Every revision that comes after ``name`` (``base``: all of them), ``name`` itself excluded."""
        if name == "base":
            return {file.revision for file in self.files}
        start = self.resolve(name)
        children: dict[str, list[str]] = {}
        for file in self.files:
            for parent in file.parents + file.depends_on:
                children.setdefault(parent, []).append(file.revision)
        seen: set[str] = set()
        stack = list(children.get(start, []))
        while stack:
            revision = stack.pop()
            if revision not in seen:
                seen.add(revision)
                stack.extend(children.get(revision, []))
        return seen


def open_script_directory(path: str | Path) -> Path:
    """The script directory at ``path``, or a one-line error for a path that is not one."""
    directory = Path(path)
    if not directory.exists():
        raise IntegrityKitError(f"{path}: no such directory")
    if directory.is_file() or not (directory / "versions").is_dir():
        found = script_directories_below(directory) if directory.is_dir() else []
        hint = f"; found {', '.join(str(p) for p in found[:3])}: pass that path" if found else ""
        raise IntegrityKitError(f"{path}: not an Alembic script directory (no versions/ folder){hint}")
    return directory


_NOT_SEARCHED = {".git", ".venv", "venv", "node_modules", "__pycache__", "site-packages"}


def script_directories_below(directory: Path, depth: int = 4) -> list[Path]:
    """Folders up to ``depth`` levels below ``directory`` that hold ``env.py`` and ``versions/``: projects keep
    their migrations inside the package (``app/alembic``, ``myapp/migrations``), and a checkout's root is the
    path people try first."""
    found: list[Path] = []
    level = [directory]
    for _ in range(depth):
        level = sorted(child for parent in level for child in parent.iterdir()
                       if child.is_dir() and child.name not in _NOT_SEARCHED and not child.name.startswith("."))
        found += [child for child in level if (child / "env.py").is_file() and (child / "versions").is_dir()]
    return found


def find_ini(directory: Path) -> Path | None:
    """The project's alembic.ini for this script directory: beside it, or above it when its ``script_location``
    names this directory."""
    if (directory / "alembic.ini").is_file():
        return directory / "alembic.ini"
    ini = directory.parent / "alembic.ini"
    section = _alembic_section(ini) if ini.is_file() else None
    location = (section or {}).get("script_location", "")
    if location and (ini.parent / location).resolve() == directory.resolve():
        return ini
    return None


def _alembic_section(ini: Path) -> dict[str, str] | None:
    parser = configparser.ConfigParser(defaults={"here": str(ini.parent.resolve())})
    try:
        parser.read(ini, encoding="utf-8")
        return dict(parser["alembic"]) if parser.has_section("alembic") else None
    except (configparser.Error, UnicodeDecodeError):
        return None  # an ini we cannot read names nothing; versions/ is still read


def version_locations(directory: Path) -> list[Path]:
    """versions/ plus any folder the project's alembic.ini names in ``version_locations``."""
    locations = [directory / "versions"]
    ini = find_ini(directory)
    section = _alembic_section(ini) if ini is not None else None
    configured = (section or {}).get("version_locations")
    if ini is None or not configured:
        return locations
    separator = (section or {}).get("path_separator", "")
    splitter = {"os": os.pathsep, "newline": "\n", "space": " ", ";": ";", ":": ":"}.get(separator)
    names = configured.split(splitter) if splitter else re.split(r"[\s,]+", configured)
    for name in (name.strip() for name in names):
        if not name:
            continue
        # a package resource ("myapp:migrations") is not a folder here, so is_dir() skips it
        location = Path(name) if Path(name).is_absolute() else ini.parent / name
        if location.is_dir() and location.resolve() not in {known.resolve() for known in locations}:
            locations.append(location)
    return locations


def read_history(path: str | Path) -> History:
    """Read the graph (revision, down_revision, branch_labels, depends_on) of every revision file from its source,
    order it base first and list the files that cannot be read."""
    directory = open_script_directory(path)
    locations = version_locations(directory)
    files: list[RevisionFile] = []
    problems: list[dict[str, str]] = []
    for location in locations:
        for file_path in sorted(location.iterdir()):
            if not file_path.is_file() or not _REVISION_FILE.match(file_path.name):
                continue
            shown = _relative(file_path, directory)
            try:
                read = _read_file(file_path, shown)
            except (OSError, UnicodeDecodeError) as error:
                problems.append({"object": shown, "reason": f"cannot read the file: {error}"})
                continue
            if isinstance(read, str):
                problems.append({"object": shown, "reason": read})
            else:
                files.append(read)
    if not files:
        raise IntegrityKitError(f"{path}: no revisions found in versions/")
    ordered, heads, order_problems = _order(files)
    return History(directory=directory, version_locations=locations, files=ordered, ini=find_ini(directory),
                   heads=heads,
                   not_analysed=problems + order_problems)


def _relative(path: Path, directory: Path) -> str:
    try:
        return path.resolve().relative_to(directory.resolve()).as_posix()
    except ValueError:
        return str(path)


def _read_file(path: Path, shown: str) -> RevisionFile | str:
    """The file's graph, or why it is not a revision we can read."""
    text = path.read_text(encoding="utf-8")
    try:
        module = ast.parse(text, filename=str(path))
    except SyntaxError as error:
        # The graph is still read from the text, so the revisions after this one keep their place in the history.
        graph = _graph_from_text(text)
        found = graph.get("revision")
        if not isinstance(found, str):
            return f"syntax error at line {error.lineno}: {error.msg}; no revision id could be read from it"
        return RevisionFile(revision=found, down_revision=graph.get("down_revision"), path=path,
                            shown=shown, text=text, module=None,
                            syntax_error=f"syntax error at line {error.lineno}: {error.msg}")
    values: dict[str, object] = {}
    for node in module.body:
        if isinstance(node, ast.Assign):
            targets, value = node.targets, node.value
        elif isinstance(node, ast.AnnAssign) and node.value is not None:
            targets, value = [node.target], node.value
        else:
            continue
        for target in targets:
            if isinstance(target, ast.Name) and target.id in GRAPH_NAMES:
                try:
                    values[target.id] = ast.literal_eval(value)
                except ValueError:
                    values[target.id] = _Unreadable(ast.unparse(value))
    revision = values.get("revision")
    if "revision" not in values:
        return "no `revision = ...` assignment: not a revision file"
    if not isinstance(revision, str) or isinstance(revision, _Unreadable):
        return f"the revision id is not a literal string ({revision}): its place in the history is unknown"
    down = values.get("down_revision")
    if isinstance(down, _Unreadable) or not (down is None or isinstance(down, str) or isinstance(
            down, (tuple, list)) and all(isinstance(item, str) for item in down)):
        return f"down_revision is not a literal ({down}): its place in the history is unknown"
    return RevisionFile(revision=revision, down_revision=tuple(down) if isinstance(down, (tuple, list)) else down,
                        path=path, shown=shown, text=text, module=module,
                        branch_labels=_names(values.get("branch_labels")),
                        depends_on=_names(values.get("depends_on")))


class _Unreadable(str):
    """A graph value that is not a literal (its source text)."""


def _names(value: object) -> tuple[str, ...]:
    if isinstance(value, str) and not isinstance(value, _Unreadable):
        return (value,)
    if isinstance(value, (tuple, list)):
        return tuple(item for item in value if isinstance(item, str))
    return ()


def _graph_from_text(text: str) -> dict[str, str | tuple[str, ...] | None]:
    """``revision`` and ``down_revision`` from a file that does not parse, matched line by line."""
    graph: dict[str, str | tuple[str, ...] | None] = {}
    for name in ("revision", "down_revision"):
        match = re.search(rf"^{name}\s*(?::[^=\n]*)?=\s*(.+)$", text, re.M)
        if not match:
            continue
        value = match.group(1).strip()
        ids = re.findall(r"""['"]([^'"]+)['"]""", value)
        if value.startswith("None"):
            graph[name] = None
        elif len(ids) == 1 and not value.startswith(("(", "[")):
            graph[name] = ids[0]
        elif ids:
            graph[name] = tuple(ids)
    if not isinstance(graph.get("revision"), str):
        graph.pop("revision", None)
    return graph


def _order(files: list[RevisionFile]) -> tuple[list[RevisionFile], tuple[str, ...], list[dict[str, str]]]:
    """Base first (each revision after its down_revisions and dependencies), ties in file order; the heads."""
    problems: list[dict[str, str]] = []
    by_id: dict[str, RevisionFile] = {}
    for file in files:
        if file.revision in by_id:
            problems.append({"object": file.shown, "reason": f"revision id {file.revision} is also declared by "
                                                             f"{by_id[file.revision].shown}: this copy is not read"})
            continue
        by_id[file.revision] = file
    labels = {label: file.revision for file in by_id.values() for label in file.branch_labels}
    requires: dict[str, list[str]] = {}
    for file in by_id.values():
        wanted = []
        for parent in file.parents:
            if parent in by_id:
                wanted.append(parent)
            else:
                problems.append({"object": file.shown, "reason": f"its down_revision {parent} is not in the "
                                                                 "versions folders: read as if it were a base"})
        for dependency in file.depends_on:
            target = dependency if dependency in by_id else labels.get(dependency)
            if target:
                wanted.append(target)
        requires[file.revision] = wanted
    position = {revision: index for index, revision in enumerate(by_id)}
    waiting = {revision: len(set(wanted)) for revision, wanted in requires.items()}
    children: dict[str, list[str]] = {}
    for revision, wanted in requires.items():
        for parent in set(wanted):
            children.setdefault(parent, []).append(revision)
    ready = [(position[revision], revision) for revision, count in waiting.items() if count == 0]
    heapq.heapify(ready)
    ordered: list[RevisionFile] = []
    done: set[str] = set()
    while len(done) < len(by_id):
        if not ready:  # a cycle: keep the rest in file order rather than lose them
            stuck = min((revision for revision in by_id if revision not in done), key=position.__getitem__)
            problems.append({"object": by_id[stuck].shown,
                             "reason": "its down_revision chain is a cycle: the order after it is the files' order"})
            heapq.heappush(ready, (position[stuck], stuck))
            waiting[stuck] = 0
        _, revision = heapq.heappop(ready)
        if revision in done:
            continue
        done.add(revision)
        ordered.append(by_id[revision])
        for child in children.get(revision, []):
            waiting[child] -= 1
            if waiting[child] == 0 and child not in done:
                heapq.heappush(ready, (position[child], child))
    named = {parent for file in ordered for parent in file.parents}
    heads = tuple(file.revision for file in ordered if file.revision not in named)
    return ordered, heads, problems


def parse_revision(script_revision, base: Path, dialect: str = "postgresql") -> Revision:
    """The Python pass over one revision (any object with ``path``, ``revision`` and ``down_revision``)."""
    path = Path(script_revision.path)
    module = getattr(script_revision, "module", None)
    text = getattr(script_revision, "text", None)
    if text is None:
        text = path.read_text(encoding="utf-8")
    if not isinstance(module, ast.Module):
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
        collector = Collector("upgrade", helpers, dialect=dialect, module=module)
        revision.upgrade = collector.run(functions["upgrade"])
        revision.created_by_metadata = collector.created
    if "downgrade" in functions:
        node = functions["downgrade"]
        revision.downgrade_line = node.lineno
        collector = Collector("downgrade", helpers, dialect=dialect, module=module)
        revision.downgrade = collector.run(node)
        revision.dropped_by_metadata = collector.dropped
        # a raise the function always reaches; one in an except handler re-raises a failure of a real downgrade
        revision.downgrade_raises = any(isinstance(statement, ast.Raise) for statement in node.body)
    revision.statements.extend(statements_of(revision.upgrade))
    return revision
