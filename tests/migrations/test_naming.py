"""No finding names a table, column, index or constraint `None`: what the pass cannot resolve is described, and an
unnamed constraint is named by what it is built on.

Every fixture directory is linted on every dialect; a `None` is allowed only where Python itself writes it (a
return annotation `-> None`, a keyword default `=None`).
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from integrity_kit.migrations import lint
from integrity_kit.migrations.model import DIALECTS

FIXTURES = Path(__file__).with_name("fixtures")
DIRECTORIES = sorted(path.name for path in FIXTURES.iterdir() if (path / "versions").is_dir())
NONE_AS_NAME = re.compile(r"(?<!-> )(?<!=)\bNone\b")


def test_the_check_tells_a_name_from_python() -> None:
    assert NONE_AS_NAME.search("table None renamed to None")
    assert NONE_AS_NAME.search("op.create_foreign_key(None, 'orders', 'customers')")
    assert NONE_AS_NAME.search('ALTER TABLE orders VALIDATE CONSTRAINT None')
    assert not NONE_AS_NAME.search("def downgrade() -> None:")
    assert not NONE_AS_NAME.search("op.alter_column('t', 'c', server_default=None)")


@pytest.mark.parametrize("dialect", DIALECTS)
@pytest.mark.parametrize("directory", DIRECTORIES)
def test_no_message_or_fix_names_none(directory: str, dialect: str) -> None:
    result = lint(FIXTURES / directory, dialect=dialect)
    named_none = [(f.code, f.revision, f.line, text) for f in result.findings for text in (f.message, f.fix or "")
                  if NONE_AS_NAME.search(text)]
    assert named_none == []


def test_the_fixtures_exercise_unresolved_and_unnamed_objects() -> None:
    """The check above is only worth something if the fixtures hold the shapes that used to print None."""
    messages = [f.message for dialect in DIALECTS
                for f in lint(FIXTURES / "pypass_constants", dialect=dialect).findings]
    assert any("named by a variable" in m for m in messages)
    assert any("named by an expression" in m for m in messages)
    assert any(m.startswith("the foreign key orders(customer_id)") for m in messages)
