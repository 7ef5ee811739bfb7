from __future__ import annotations

import pytest

from integrity_kit.queries import fingerprint


@pytest.mark.parametrize(
    "sql",
    [
        "SELECT a FROM t WHERE id = ?",
        "SELECT a FROM t WHERE id = %s",
        "SELECT a FROM t WHERE id = %(id_1)s",
        "SELECT a FROM t WHERE id = :id_1",
        "SELECT a FROM t WHERE id = $1",
        "SELECT a FROM t WHERE id = 42",
        "select a from t where id = 'forty-two'",
        "SELECT a\n  FROM t   -- trailing comment\n WHERE id = /* inline */ ?",
    ],
)
def test_every_placeholder_style_and_literal_becomes_a_question_mark(sql: str) -> None:
    assert fingerprint(sql) == "SELECT a FROM t WHERE id = ?"


@pytest.mark.parametrize("n", [1, 2, 7, 100])
def test_in_lists_of_any_length_collapse(n: int) -> None:
    qmarks = ", ".join(["?"] * n)
    pyformat = ", ".join(f"%(id_1_{i})s" for i in range(n))
    assert fingerprint(f"SELECT a FROM t WHERE id IN ({qmarks})") == "SELECT a FROM t WHERE id IN (?)"
    assert fingerprint(f"SELECT a FROM t WHERE id IN ({pyformat})") == "SELECT a FROM t WHERE id IN (?)"


def test_identifiers_are_untouched() -> None:
    assert fingerprint('SELECT "Order".name, status FROM "Order" WHERE "Order".id = 1') == (
        'SELECT "Order".name, status FROM "Order" WHERE "Order".id = ?'
    )


def test_different_shapes_stay_different() -> None:
    assert fingerprint("SELECT a FROM t WHERE id = ?") != fingerprint("SELECT a FROM t WHERE other = ?")


def test_cached_per_text() -> None:
    fingerprint.cache_clear()
    for _ in range(3):
        fingerprint("SELECT a FROM t WHERE id = ?")
    info = fingerprint.cache_info()
    assert info.misses == 1 and info.hits == 2
