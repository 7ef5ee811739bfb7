"""Corrections to what SQLAlchemy's reflection returns on MySQL and SQLite, so nothing is lost or misnamed."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import replace
from typing import Any

from integrity_kit.schema.snapshot import Column, UniqueConstraint

# Keys of reflected MySQL dictionaries that hold names parsed out of SHOW CREATE TABLE.
_MYSQL_NAME_KEYS = {"name", "constrained_columns", "referred_table", "referred_columns", "column_names",
                    "duplicates_constraint", "duplicates_index"}


def mysql_unescaped(value: Any) -> Any:
    """Undo the doubled backticks of SHOW CREATE TABLE that SQLAlchemy's MySQL parser leaves in names.

    Without this a column called ``a`b`` would be reported as ``a``b``, and no rule could find it again.
    """
    if isinstance(value, list):
        return [mysql_unescaped(item) for item in value]
    if not isinstance(value, dict):
        return value
    fixed = dict(value)
    for key in _MYSQL_NAME_KEYS & fixed.keys():
        item = fixed[key]
        if isinstance(item, str):
            fixed[key] = item.replace("``", "`")
        elif isinstance(item, list):
            fixed[key] = [part.replace("``", "`") if isinstance(part, str) else part for part in item]
    return fixed


def sqlite_uniques(
    uniques: tuple[UniqueConstraint, ...], raw_indexes: Iterable[dict], pk: tuple[str, ...]
) -> tuple[tuple[UniqueConstraint, ...], list[dict]]:
    """Split SQLite's automatic indexes off the index list; each backs a PRIMARY KEY or UNIQUE constraint.

    A UNIQUE whose automatic index is there but which SQLAlchemy's parser missed is added without a name, so a
    quoted column name can never make a uniqueness disappear from the snapshot.
    """
    indexes = []
    known = {unique.columns for unique in uniques} | {pk}
    added = list(uniques)
    for raw in raw_indexes:
        if not str(raw.get("name") or "").startswith("sqlite_autoindex"):
            indexes.append(raw)
            continue
        columns = tuple(raw.get("column_names") or ())
        if columns and columns not in known:
            added.append(UniqueConstraint(columns=columns, name=None))
            known.add(columns)
    return tuple(added), indexes


def sqlite_rowid_autoincrement(columns: tuple[Column, ...], pk: tuple[str, ...]) -> tuple[Column, ...]:
    # SQLite's single INTEGER PRIMARY KEY is the rowid: it numbers itself, though reflection does not say so.
    if len(pk) != 1:
        return columns
    return tuple(
        replace(column, autoincrement=True)
        if column.name == pk[0] and column.type_sql.upper() == "INTEGER"
        else column
        for column in columns
    )
