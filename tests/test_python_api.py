"""The Python entry points the README documents import as written and are the functions it describes."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def documented_imports() -> list[str]:
    readme = (ROOT / "README.md").read_text()
    return re.findall(r"^(from integrity_kit\S* import \w+)", readme, flags=re.MULTILINE)


def test_the_readme_documents_the_three_entry_points() -> None:
    assert documented_imports() == ["from integrity_kit.audit import audit",
                                    "from integrity_kit.queries import capture",
                                    "from integrity_kit.races import simulate"]


def test_every_documented_import_gives_a_function() -> None:
    for line in documented_imports():
        name = line.rsplit(" ", 1)[1]
        namespace: dict[str, object] = {}
        exec(line, namespace)  # noqa: S102 - the README's own line, run as a reader would
        assert callable(namespace[name]) and not isinstance(namespace[name], type(sys)), line


def test_the_version_needs_no_sqlalchemy() -> None:
    code = "import sys, integrity_kit.cli; print('sqlalchemy' in sys.modules)"
    completed = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert completed.stdout.strip() == "False"
