"""The demo from the built distribution, not the checkout: the reference app ships inside the wheel, and the demo
runs from any directory."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def unpacked_wheel(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("wheel")
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(ROOT), "--no-deps", "-q", "-w", str(out)],
                           capture_output=True, text=True)
    assert built.returncode == 0, built.stderr[-2000:]
    (wheel,) = out.glob("integrity_kit-*.whl")
    site = out / "site"
    with zipfile.ZipFile(wheel) as archive:
        archive.extractall(site)
    return site


def test_the_wheel_carries_the_reference_app_without_claiming_examples(unpacked_wheel: Path) -> None:
    app = unpacked_wheel / "examples" / "ecommerce"
    for name in ("demo_shop.py", "legacy.py", "sample_data.py", "alembic.ini", "migrations/env.py"):
        assert (app / name).is_file(), name
    assert sorted(path.name for path in (app / "migrations" / "versions").glob("0*.py"))
    assert not (unpacked_wheel / "examples" / "__init__.py").exists()  # a namespace package, as DESIGN.md says


def test_the_demo_runs_from_the_wheel_in_an_empty_directory(unpacked_wheel: Path, tmp_path: Path) -> None:
    env = {**os.environ, "PYTHONPATH": str(unpacked_wheel), "COLUMNS": "100"}
    where = subprocess.run([sys.executable, "-c", "import integrity_kit, examples.ecommerce as e; "
                            "print(integrity_kit.__file__); print(e.__file__)"],
                           cwd=tmp_path, env=env, capture_output=True, text=True)
    assert all(line.startswith(str(unpacked_wheel)) for line in where.stdout.split()), where.stdout
    result = subprocess.run([sys.executable, "-m", "integrity_kit", "demo", "--rows", "500"], cwd=tmp_path, env=env,
                            capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    assert "6/6 · Audit again" in result.stdout and "Done" in result.stdout
    assert list(tmp_path.iterdir()) == []
