"""MySQL/MariaDB: storage engines (MyISAM parses foreign keys and ignores them) and row estimates."""

from __future__ import annotations

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
