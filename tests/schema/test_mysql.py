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
