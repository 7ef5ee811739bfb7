"""The three real Alembic histories of the shared corpus, run as shipped (none of their projects is installed, as in
a CI job that checks out only the migrations): no traceback, exit 0 or 1, every revision read by the Python pass,
what could not be imported named, and the findings equal to a set reviewed by hand (PostgreSQL).

Each expected finding carries a one-line reason, reviewed against the revision's source; none is a known false
positive (a finding the rules get wrong is fixed in the rules, not listed here).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest


def _corpus() -> Path:
    """The shared corpus beside the checkout (``../shared/corpus``), wherever it was cloned to, or ``IK_CORPUS_DIR``."""
    if os.environ.get("IK_CORPUS_DIR"):
        return Path(os.environ["IK_CORPUS_DIR"])
    for parent in Path(__file__).resolve().parents:
        if (parent / "shared" / "corpus").is_dir():
            return parent / "shared" / "corpus"
    return Path("/work/shared/corpus")


ALEMBIC = _corpus() / "alembic"
HISTORIES = {
    "microblog": ALEMBIC / "microblog" / "migrations",
    "ihatemoney": ALEMBIC / "ihatemoney" / "ihatemoney" / "migrations",
    "fastapi-template": ALEMBIC / "fastapi-template" / "backend" / "app" / "alembic",
}
# No env.py of the three sets a lock or statement timeout: IK816 ("strong-lock-without-timeout") fires once per
# revision, at its first strong lock on an existing table.
NO_TIMEOUT = "first strong lock of the revision on an existing table, and env.py sets no lock_timeout: "
# history -> {(code, revision, line): why it is expected}
EXPECTED: dict[str, dict[tuple[str, str, int], str]] = {
    "microblog": {
        ("IK816", "2b017edaa91f", 22): NO_TIMEOUT + "add_column on post",
        ("IK816", "37f06a334dbf", 22): NO_TIMEOUT + "add_column on user",
        ("IK816", "834b1a697901", 21): NO_TIMEOUT + "add_column on user",
        ("IK810", "834b1a697901", 23): "unique index on the existing user table built without CONCURRENTLY",
        ("IK816", "d049de007ccf", 38): NO_TIMEOUT + "add_column on user",
    },
    "ihatemoney": {
        # 06884b17c50f widens VARCHAR(128) to VARCHAR(256) (existing_type given): no rewrite, no IK803
        ("IK816", "06884b17c50f", 19): NO_TIMEOUT + "even a widening ALTER TYPE takes ACCESS EXCLUSIVE on project",
        ("IK816", "26d6a218c329", 19): NO_TIMEOUT + "add_column on person",
        ("IK816", "2dcb0c0048dc", 180): NO_TIMEOUT + "add_column on project in the branch that runs on PostgreSQL",
        ("IK816", "6c6fb2b7f229", 19): NO_TIMEOUT + "add_column on bill",
        ("IK816", "7a9b38559992", 22): NO_TIMEOUT + "add_column on bill",
        ("IK816", "927ed575acbd", 20): NO_TIMEOUT + "add_column on bill",
        ("IK821", "927ed575acbd", 56): "UPDATE bill runs in the transaction that just altered bill",
        ("IK816", "afbf27e6ef20", 19): NO_TIMEOUT + "add_column on bill",
        ("IK816", "c941aaca38c2", 19): NO_TIMEOUT + "alter_column on project",
        ("IK841", "c941aaca38c2", 19): "downgrade() leaves project.password at VARCHAR(256)",
        ("IK803", "c941aaca38c2", 23): "VARCHAR(9) -> a new ENUM type rewrites project under an exclusive lock",
        ("IK806", "c941aaca38c2", 37): "transaction.remote_addr dropped while the running release selects it",
        ("IK821", "c941aaca38c2", 40): "UPDATE project in the transaction that altered project",
    },
    "fastapi-template": {
        ("IK802", "1a31ce608336", 22): "SET NOT NULL on item.owner_id scans the table under an exclusive lock",
        ("IK816", "1a31ce608336", 22): NO_TIMEOUT + "alter_column on item",
        ("IK815", "1a31ce608336", 26): "the ON DELETE CASCADE foreign key is validated while item is locked",
        # 1a31ce608336's downgrade drops item_owner_id_fkey, the name PostgreSQL gives create_foreign_key(None, ...)
        ("IK803", "9c0a54914c78", 22): "VARCHAR -> VARCHAR(255) narrows: every row is checked under the lock",
        ("IK816", "9c0a54914c78", 22): NO_TIMEOUT + "alter_column on user",
        ("IK803", "9c0a54914c78", 28): "VARCHAR -> VARCHAR(255) narrows: every row is checked under the lock",
        ("IK803", "9c0a54914c78", 34): "VARCHAR -> VARCHAR(255) narrows: every row is checked under the lock",
        ("IK803", "9c0a54914c78", 40): "VARCHAR -> VARCHAR(255) narrows: every row is checked under the lock",
        # d98dd8ec85a3 swaps integer ids for UUIDs (add new_*, backfill, drop old, rename new to old): the downgrade
        # reverses each step by name, and the drops/renames of the swap leave every name in place (no IK806/IK805)
        ("IK816", "d98dd8ec85a3", 26): NO_TIMEOUT + "add_column on user",
        ("IK821", "d98dd8ec85a3", 31): "UPDATE user in the transaction that added user.new_id",
        ("IK821", "d98dd8ec85a3", 32): "UPDATE item in the transaction that added item.new_id",
        ("IK821", "d98dd8ec85a3", 33): "UPDATE item in the transaction that added item.new_owner_id",
        ("IK802", "d98dd8ec85a3", 36): "SET NOT NULL on user.new_id in one step",
        ("IK802", "d98dd8ec85a3", 37): "SET NOT NULL on item.new_id in one step",
        ("IK818", "d98dd8ec85a3", 51): "create_primary_key on the existing user table builds its index under the lock",
        ("IK818", "d98dd8ec85a3", 52): "create_primary_key on the existing item table builds its index under the lock",
        ("IK815", "d98dd8ec85a3", 55): "item_owner_id_fkey re-created and validated while item is locked",
        ("IK816", "fe56fa70289e", 22): NO_TIMEOUT + "add_column on item",
    },
}
# history -> (revisions, SQL rendered, the modules named as not importable, what env.py could not do)
SHAPE = {
    "microblog": (9, 9, set(), "RuntimeError at line 22: Working outside of application context"),
    "ihatemoney": (13, 9, {"ihatemoney"}, "RuntimeError at line 21: Working outside of application context"),
    "fastapi-template": (5, 0, {"sqlmodel"}, "AssertionError at line 13"),
}


def run(path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "integrity_kit", "lint-migrations", str(path), *args],
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module", params=sorted(HISTORIES))
def history(request: pytest.FixtureRequest) -> tuple[str, dict]:
    name = request.param
    if not HISTORIES[name].is_dir():
        pytest.fail(f"{HISTORIES[name]} is missing: set IK_CORPUS_DIR to the shared corpus")
    completed = run(HISTORIES[name], "--format", "json")
    assert "Traceback" not in completed.stdout + completed.stderr
    assert completed.returncode in (0, 1), completed.stderr
    report = json.loads(completed.stdout)
    assert completed.returncode == (1 if report["findings"] else 0)
    return name, report


def test_every_revision_is_read_by_the_python_pass(history: tuple[str, dict]) -> None:
    name, report = history
    revisions, rendered, _, _ = SHAPE[name]
    assert report["summary"]["revisions"] == revisions
    assert report["summary"]["read_by_python_pass"] == revisions
    assert report["summary"]["sql_rendered"] == rendered


def test_what_could_not_be_imported_is_named(history: tuple[str, dict]) -> None:
    name, report = history
    _, _, modules, env_problem = SHAPE[name]
    missing = {item["reason"].split("No module named ")[1].strip("'") for item in report["not_analysed"]
               if "No module named" in item["reason"]}
    assert missing == modules
    assert all(item["object"].startswith("versions/") for item in report["not_analysed"])
    assert report["notes"] == [f"env.py cannot run offline here: {env_problem}; rendered with a generic offline "
                               "environment instead"]


def test_findings_are_the_reviewed_set(history: tuple[str, dict]) -> None:
    name, report = history
    assert {(f["code"], f["revision"], f["line"]) for f in report["findings"]} == set(EXPECTED[name])


@pytest.mark.parametrize("name", sorted(HISTORIES))
def test_text_output_says_how_much_was_read(name: str) -> None:
    completed = run(HISTORIES[name])
    revisions, rendered, _, _ = SHAPE[name]
    assert f"{revisions} revisions, {revisions} read by the Python pass, {rendered} SQL rendered" in completed.stdout
    assert "Traceback" not in completed.stdout + completed.stderr and completed.stderr == ""
