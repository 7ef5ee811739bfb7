"""MySQL/MariaDB: storage engines (MyISAM parses foreign keys and ignores them) and row estimates."""

from __future__ import annotations

import dataclasses

import pytest

from integrity_kit.schema import build_snapshot
from tests.schema.conftest import execute

pytestmark = pytest.mark.engines("mariadb")


def test_storage_engine_and_row_estimates(engine, engine_name):
    execute(
        engine,
        "CREATE TABLE owners (id INT PRIMARY KEY) ENGINE=InnoDB",
        "CREATE TABLE pets (id INT PRIMARY KEY, owner_id INT, FOREIGN KEY (owner_id) REFERENCES owners (id) "
        "ON DELETE CASCADE) ENGINE=InnoDB",
        # MyISAM accepts the REFERENCES clause and throws it away: no key exists, nothing is enforced.
        "CREATE TABLE visits (id INT PRIMARY KEY, pet_id INT, FOREIGN KEY (pet_id) REFERENCES pets (id)) "
        "ENGINE=MyISAM",
        "INSERT INTO visits VALUES (1, 1), (2, 2), (3, 404)",
    )
    snapshot = build_snapshot(engine)
    assert snapshot.default_schema == engine.url.database
    pets, visits = snapshot.table("pets"), snapshot.table("visits")
    assert pets.engine == "InnoDB" and visits.engine == "MyISAM"
    (fk,) = pets.foreign_keys
    assert (fk.columns, fk.referred_table, fk.on_delete, fk.enforced) == (("owner_id",), "owners", "CASCADE", True)
    assert visits.foreign_keys == ()
    # MyISAM keeps an exact count; InnoDB's TABLE_ROWS is an estimate.
    assert visits.row_estimate == 3
    assert isinstance(pets.row_estimate, int)
    assert snapshot.foreign_keys_pragma is None
    assert snapshot.not_analysed == ()


def test_second_database_as_schema(engine, engine_name, tmp_path):
    from tests.servers import scratch_database

    with scratch_database(engine_name, tmp_path / "other") as other_url:
        other = other_url.database
        execute(
            engine,
            "CREATE TABLE owners (id INT PRIMARY KEY) ENGINE=InnoDB",
            f"CREATE TABLE {other}.claims (id INT PRIMARY KEY, owner_id INT, "
            f"CONSTRAINT fk_claims_owner FOREIGN KEY (owner_id) REFERENCES {engine.url.database}.owners (id))",
        )
        snapshot = build_snapshot(engine, schemas=[None, other])
        claims = snapshot.table("claims", schema=other)
        assert claims.qualified_name == f"{other}.claims"
        (fk,) = claims.foreign_keys
        # The default database is spelled None in referred schemas too, so the key resolves to the owners table.
        assert (fk.referred_schema, fk.referred_table) == (None, "owners")
        assert snapshot.referred_table(fk) is snapshot.table("owners")
        assert [table.qualified_name for table, _ in snapshot.foreign_keys_to(snapshot.table("owners"))] == [
            f"{other}.claims"
        ]


RICH_SCHEMA = (
    "CREATE TABLE kinds (id INT UNSIGNED NOT NULL AUTO_INCREMENT PRIMARY KEY, "
    "code CHAR(3) COLLATE utf8mb4_bin NOT NULL, label VARCHAR(40) NOT NULL DEFAULT 'it''s', "
    "mood ENUM('calm','it''s odd','') NOT NULL DEFAULT 'calm', flags SET('a','b') NULL, "
    "amount DECIMAL(12,2) NOT NULL DEFAULT 0.00, ratio DOUBLE NULL, small TINYINT(1) NOT NULL DEFAULT 0, "
    "counter SMALLINT(5) UNSIGNED ZEROFILL NULL, seen DATETIME(6) NULL, stamp TIMESTAMP NOT NULL "
    "DEFAULT CURRENT_TIMESTAMP ON UPDATE CURRENT_TIMESTAMP, doc JSON NULL, blob_ BLOB NULL, "
    "note TEXT COMMENT 'free text', total DECIMAL(14,2) AS (amount * 2) STORED, "
    "UNIQUE KEY uq_kinds_code (code), KEY ix_kinds_label_prefix (label(10), mood), "
    "FULLTEXT KEY ft_kinds_note (note), CONSTRAINT ck_kinds_amount CHECK (amount >= 0)"
    ") ENGINE=InnoDB COMMENT='every type'",
    "CREATE TABLE uses (id INT PRIMARY KEY, kind_id INT UNSIGNED, other_id INT UNSIGNED, qty INT CHECK (qty > 0), "
    "CONSTRAINT fk_uses_kind FOREIGN KEY (kind_id) REFERENCES kinds (id) ON DELETE SET NULL ON UPDATE CASCADE, "
    "CONSTRAINT fk_uses_other FOREIGN KEY (other_id) REFERENCES kinds (id) ON DELETE RESTRICT, "
    "KEY ix_uses_qty_desc (qty DESC))",
)


def test_information_schema_path_matches_show_create_table(engine, engine_name, monkeypatch):
    from examples.ecommerce.database import create_schema

    execute(engine, *RICH_SCHEMA)
    create_schema(engine, legacy=True)
    bulk = build_snapshot(engine)
    monkeypatch.setattr("integrity_kit.schema.reflect._SchemaReader._mariadb_bulk", lambda self: None)
    per_table = build_snapshot(engine)

    # information_schema sees what SQLAlchemy's SHOW CREATE TABLE parser drops: a descending key part and a
    # column-level CHECK. Apart from those, both paths give the same snapshot.
    uses = bulk.table("uses")
    (desc,) = [index for index in uses.indexes if index.name == "ix_uses_qty_desc"]
    assert desc.sorting == (("qty", ("desc",)),)
    assert [(check.name, check.sqltext) for check in uses.check_constraints] == [("qty", "`qty` > 0")]
    assert per_table.table("uses").check_constraints == ()
    fixed = tuple(
        dataclasses.replace(
            table,
            indexes=tuple(dataclasses.replace(index, sorting=()) for index in table.indexes),
            check_constraints=() if table.name == "uses" else table.check_constraints,
        )
        for table in bulk.tables
    )
    assert dataclasses.replace(bulk, tables=fixed) == per_table
    for ours, theirs in zip(bulk.tables, per_table.tables, strict=True):
        assert [repr(c.type) for c in ours.columns] == [repr(c.type) for c in theirs.columns], ours.name
    kinds = bulk.table("kinds")
    assert kinds.comment == "every type"
    assert kinds.column("code").collation == "utf8mb4_bin"
    assert kinds.column("mood").type.enums == ["calm", "it's odd", ""]
    assert kinds.column("total").computed == "(`amount` * 2)"
    assert kinds.column("stamp").server_default == "current_timestamp() ON UPDATE current_timestamp()"
    # MariaDB's JSON is LONGTEXT plus a json_valid() check, which belongs to the type and is not listed.
    assert kinds.column("doc").type_sql.startswith("LONGTEXT")
    assert [check.name for check in kinds.check_constraints] == ["ck_kinds_amount"]
    prefix = next(index for index in kinds.indexes if index.name == "ix_kinds_label_prefix")
    assert prefix.columns == ("label", "mood") and ("mysql_length", "{'label': 10}") in prefix.options
    actions = {fk.name: (fk.on_delete, fk.on_update) for fk in uses.foreign_keys}
    assert actions == {"fk_uses_kind": ("SET NULL", "CASCADE"), "fk_uses_other": ("NO ACTION", "NO ACTION")}


@pytest.mark.parametrize("path", ["information_schema", "show_create_table"])
def test_unknown_type_is_kept_and_reported(engine, engine_name, path, monkeypatch):
    if path == "show_create_table":
        monkeypatch.setattr("integrity_kit.schema.reflect._SchemaReader._mariadb_bulk", lambda self: None)
    execute(engine, "CREATE TABLE hosts (id INT PRIMARY KEY, address INET6 NOT NULL, shape POINT NULL)")
    snapshot = build_snapshot(engine)
    hosts = snapshot.table("hosts")
    assert [hosts.column(name).type_sql for name in ("address", "shape")] == ["inet6", "point"]
    assert hosts.column("address").nullable is False
    assert [(entry.object, entry.reason.split(";")[0]) for entry in snapshot.not_analysed] == [
        ("hosts.address", "type 'inet6' is not one SQLAlchemy knows"),
        ("hosts.shape", "type 'point' is not one SQLAlchemy knows"),
    ]
