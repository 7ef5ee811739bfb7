"""Our one-query PostgreSQL index reader gives exactly what SQLAlchemy's get_multi_indexes gives."""

from __future__ import annotations

import pytest
from sqlalchemy import inspect

from examples.ecommerce.database import create_schema
from integrity_kit.schema.postgresql import read_postgresql_indexes
from tests.schema.conftest import execute

pytestmark = pytest.mark.engines("postgresql")

ODD_INDEXES = (
    "CREATE TABLE zz (id INTEGER PRIMARY KEY, a INTEGER, b TEXT, c INTEGER, d TEXT, UNIQUE (a, b))",
    "CREATE INDEX ix_zz_expr ON zz (lower(b), a DESC NULLS LAST) INCLUDE (c) WHERE a > 0",
    "CREATE INDEX ix_zz_hash ON zz USING hash (b)",
    "CREATE INDEX ix_zz_sorting ON zz (a NULLS FIRST, c DESC)",
    "CREATE INDEX ix_zz_ops ON zz (d text_pattern_ops) WITH (fillfactor = 70)",
    "CREATE UNIQUE INDEX uq_zz_d ON zz (d) WHERE d IS NOT NULL",
    "CREATE TABLE empty_table (id INTEGER PRIMARY KEY)",
    'CREATE TABLE "x""; DROP TABLE zz; --" (id INTEGER PRIMARY KEY, "we""ird" INTEGER)',
    'CREATE INDEX "ix_we""ird" ON "x""; DROP TABLE zz; --" ("we""ird")',
)


def _normal(indexes: list[dict]) -> list[dict]:
    # Validity is read separately (SchemaExtras); SQLAlchemy 2.1 also reports it here, 2.0 does not. 2.0 also
    # repeats postgresql_include under the deprecated key include_columns.
    return sorted(({**{key: value for key, value in index.items() if key != "include_columns"},
                    "dialect_options": {key: value for key, value in index.get("dialect_options", {}).items()
                                        if key != "postgresql_invalid"}} for index in indexes),
                  key=lambda index: index["name"])


@pytest.mark.parametrize("legacy", [False, True], ids=["reference", "legacy"])
def test_same_as_sqlalchemy(engine, legacy: bool) -> None:
    create_schema(engine, legacy=legacy)
    execute(engine, *ODD_INDEXES)
    with engine.connect() as connection:
        theirs = inspect(connection).get_multi_indexes()
        ours = read_postgresql_indexes(connection, "public")
    assert {name for (_schema, name), found in theirs.items() if found} == set(ours)
    ops = next(index for index in ours["zz"] if index["name"] == "ix_zz_ops")["dialect_options"]
    assert ops["postgresql_ops"] == {"d": "text_pattern_ops"}
    reports_ops = "postgresql_ops" in next(index for index in theirs[(None, "zz")]
                                           if index["name"] == "ix_zz_ops")["dialect_options"]
    for (_schema, name), found in theirs.items():
        mine = ours.get(name, [])
        if not reports_ops:  # SQLAlchemy 2.0.30 does not read operator classes yet
            mine = [{**index, "dialect_options": {key: value for key, value in index["dialect_options"].items()
                                                  if key != "postgresql_ops"}} for index in mine]
        assert _normal(mine) == _normal(found), name
