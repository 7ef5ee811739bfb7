"""The lessons: each ``lessons/NN_topic.py`` and its ``.ipynb`` say the same thing, and the notebooks carry no
outputs (every number a lesson shows is computed when it runs). Executing them is nbmake's job: ``pytest``
collects ``lessons/*.ipynb`` through ``--nbmake`` (see ``[tool.pytest.ini_options]``)."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import jupytext
import pytest

LESSONS = Path(__file__).resolve().parents[1] / "lessons"
NAME = re.compile(r"^(\d\d)_[a-z0-9_]+$")
SOURCES = sorted(LESSONS.glob("[0-9][0-9]_*.py"))
NOTEBOOKS = sorted(LESSONS.glob("[0-9][0-9]_*.ipynb"))


def _resync(source: Path) -> str:
    return f".venv/bin/jupytext --to ipynb lessons/{source.name}"


def _cells(path: Path) -> list[tuple[str, str]]:
    notebook = jupytext.read(path)
    return [(cell.cell_type, cell.source.strip()) for cell in notebook.cells]


def test_lessons_are_numbered_in_order_and_paired() -> None:
    assert SOURCES, "no lessons found"
    numbers = [int(NAME.match(path.stem).group(1)) for path in SOURCES]
    assert numbers == list(range(1, len(SOURCES) + 1)), f"lesson numbers have gaps or repeats: {numbers}"
    assert [path.stem for path in NOTEBOOKS] == [path.stem for path in SOURCES], (
        "every lessons/NN_topic.py needs its lessons/NN_topic.ipynb and the other way round; create a missing "
        "notebook with `.venv/bin/jupytext --to ipynb lessons/NN_topic.py`")


@pytest.mark.parametrize("source", SOURCES, ids=lambda path: path.stem)
def test_py_and_ipynb_agree(source: Path) -> None:
    notebook = source.with_suffix(".ipynb")
    assert notebook.exists(), f"{notebook.name} is missing; run: {_resync(source)}"
    from_py, from_ipynb = _cells(source), _cells(notebook)
    for index, (expected, actual) in enumerate(zip(from_py, from_ipynb, strict=False)):
        assert actual == expected, (
            f"{notebook.name} cell {index} differs from {source.name} (the .py is the source); run: {_resync(source)}")
    assert len(from_ipynb) == len(from_py), (
        f"{notebook.name} has {len(from_ipynb)} cells, {source.name} {len(from_py)}; run: {_resync(source)}")


@pytest.mark.parametrize("notebook", NOTEBOOKS, ids=lambda path: path.stem)
def test_notebooks_are_committed_without_outputs(notebook: Path) -> None:
    data = json.loads(notebook.read_text())
    assert data["metadata"].get("kernelspec", {}).get("name") == "python3", f"{notebook.name}: kernelspec python3"
    for index, cell in enumerate(data["cells"]):
        if cell["cell_type"] == "code":
            assert cell.get("outputs") == [] and cell.get("execution_count") is None, (
                f"{notebook.name} cell {index} has outputs; clear them: "
                f".venv/bin/jupyter nbconvert --clear-output --inplace lessons/{notebook.name}")


def test_every_lesson_reads_its_database_from_the_environment() -> None:
    # On SQLite with no setup, or on DATABASE_URL: the one helper that decides, used by every lesson.
    for source in SOURCES:
        assert re.search(r"database_url\(\"\d\d\"\)", source.read_text()), f"{source.name} does not use database_url()"


def test_lessons_default_to_a_fresh_sqlite_file_and_follow_database_url(monkeypatch) -> None:
    monkeypatch.syspath_prepend(str(LESSONS))
    import _support

    monkeypatch.delenv("DATABASE_URL", raising=False)
    first, second = _support.database_url("01"), _support.database_url("01")
    assert first.startswith("sqlite:///") and first != second  # each run gets its own empty file
    assert not Path(first.removeprefix("sqlite:///")).exists()
    monkeypatch.setenv("DATABASE_URL", "postgresql://lessons@db.example/shop")
    assert _support.database_url("01") == "postgresql://lessons@db.example/shop"


def test_pytest_collects_the_notebooks_and_never_the_lesson_sources() -> None:
    completed = subprocess.run(
        [sys.executable, "-m", "pytest", "--collect-only", "-q", "-p", "no:cacheprovider", str(LESSONS)],
        capture_output=True, text=True, timeout=120, cwd=LESSONS.parent)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    collected = {line.split("::")[0] for line in completed.stdout.splitlines() if line.startswith("lessons/")}
    assert collected == {f"lessons/{path.name}" for path in NOTEBOOKS}, completed.stdout
