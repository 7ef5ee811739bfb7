"""Issue 23: ``lint-migrations --database`` probes the target's rows for every pending operation. On the legacy shop
the fixture revisions (cart-line uniqueness, the missing foreign key, ``CHECK (stock >= 0)``, a NOT NULL) would fail,
with the keys the audit reports, and really do fail when run; on the reference shop they pass and really run. The
target is never written to."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from alembic import command
from alembic.config import Config
from click.testing import CliRunner
from sqlalchemy import Engine, text
from sqlalchemy.exc import DBAPIError

from examples.ecommerce import database, sample_data
from examples.ecommerce.demo_shop import shop
from integrity_kit.audit import audit
from integrity_kit.cli import cli
from integrity_kit.migrations import lint
from integrity_kit.migrations.target import read_target
from tests.db import statements_sent, writes

HISTORY = Path(__file__).parent / "fixtures" / "preflight"
PENDING = ["p01_cart_line_unique", "p02_cart_product_fk", "p03_stock_check", "p04_stock_not_null"]
COVERS = ("IK860",)  # the rules the fixture history under fixtures/preflight exercises
ROWS = 2000  # enough products that one NULL stock is under the audit's 1% "optional by design" line


def stamp(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE IF EXISTS alembic_version"))
        connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
        connection.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": revision})


def legacy_shop(engine: Engine) -> int:
    """The legacy shop with its planted damage, one NULL stock besides; returns that product's id."""
    shop.build_legacy(engine, ROWS, lambda *_: None)
    with engine.begin() as connection:
        product = connection.scalar(text("SELECT MAX(id) FROM products WHERE stock >= 0"))
        connection.execute(text("UPDATE products SET stock = NULL WHERE id = :id"), {"id": product})
    stamp(engine, "p00_shop")
    return int(product)


def upgrade_one(engine: Engine, revision: str, *, sqlite_foreign_keys: bool = False) -> None:
    """Run the fixture history up to ``revision``; on SQLite with foreign keys off unless asked (a rebuild drops a
    table others reference, which SQLite refuses with them on), as the reference shop's env.py does."""
    config = Config()
    config.set_main_option("script_location", str(HISTORY))
    with engine.connect() as connection:
        if connection.dialect.name == "sqlite":
            connection.exec_driver_sql(f"PRAGMA foreign_keys = {'ON' if sqlite_foreign_keys else 'OFF'}")
            connection.commit()
        config.attributes["connection"] = connection
        command.upgrade(config, revision)
        connection.commit()


def linted(url: str):
    state = read_target(url)
    return lint(HISTORY, dialect=state.dialect, target=state)


def test_the_legacy_shop_fails_each_fix_with_the_audits_keys(app_engine: Engine, engine_url) -> None:
    url = engine_url.render_as_string(hide_password=False)
    null_stock = legacy_shop(app_engine)
    evidence = {(f.rule, f.table, f.columns): f.evidence for f in audit(url).findings}

    with statements_sent(Engine) as sent:
        result = linted(url)
    assert result.revisions == PENDING
    assert sent and not writes(sent)
    failing = {f.revision: f for f in result.findings if f.rule == "fails-on-existing-rows"}
    assert sorted(failing) == PENDING
    for finding in failing.values():
        assert finding.severity.value == "error" and finding.data is not None and finding.data["would_fail"]

    duplicates = evidence[("duplicate-rows", "cart_items", ("cart_id", "product_id"))]
    assert failing["p01_cart_line_unique"].data["sample_keys"] == duplicates["sample_keys"]
    assert failing["p01_cart_line_unique"].data["count"] == duplicates["duplicate_groups"]
    orphans = evidence[("missing-foreign-key", "cart_items", ("product_id",))]
    assert failing["p02_cart_product_fk"].data["sample_keys"] == orphans["sample_keys"]
    assert failing["p02_cart_product_fk"].data["count"] == orphans["orphan_rows"] > 0
    negative = evidence[("check-violations", "products", ("stock",))]
    assert failing["p03_stock_check"].data["sample_keys"] == negative["sample_keys"]
    nulls = evidence[("missing-not-null", "products", ("stock",))]
    assert failing["p04_stock_not_null"].data["sample_keys"] == nulls["sample_keys"] == [null_stock]

    # "Would fail" is a claim about the engine: each revision, run alone, really fails on these rows.
    for before, revision in zip(["p00_shop", *PENDING], PENDING, strict=False):
        stamp(app_engine, before)
        with pytest.raises(DBAPIError):
            upgrade_one(app_engine, revision, sqlite_foreign_keys=revision == "p02_cart_product_fk")


def test_the_reference_shop_passes_every_fix_and_they_run(app_engine: Engine, engine_url) -> None:
    url = engine_url.render_as_string(hide_password=False)
    database.create_schema(app_engine)
    sample_data.load(app_engine, 300)
    stamp(app_engine, "p00_shop")
    result = linted(url)
    assert result.revisions == PENDING
    assert not [f for f in result.findings if f.rule == "fails-on-existing-rows"]
    checks = result.preflight.checks if result.preflight else []
    assert len(checks) == 4 and all(check.would_fail is False for check in checks)
    upgrade_one(app_engine, "head")


def test_json_gives_every_finding_its_data_and_blockers(tmp_path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    legacy_shop(engine)
    engine.dispose()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    result = CliRunner().invoke(cli, ["lint-migrations", str(HISTORY), "--database", url, "--format", "json"])
    assert result.exit_code == 1, result.output
    report = json.loads(result.output)
    assert report["findings"]
    for finding in report["findings"]:
        assert set(finding["data"]) >= {"would_fail", "count", "sample_keys", "rows", "bytes"}
        assert isinstance(finding["blockers"], list)
    assert report["preflight"]["probed"] == 4


def test_a_backfill_before_the_not_null_makes_it_not_conclusive(tmp_path) -> None:
    """The reference history backfills stock_alert_threshold (0003) before setting it NOT NULL (0005): the NULLs
    today are not a failure tomorrow."""
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'shop.db'}")
    database.upgrade(engine, "0002_stock_alert_threshold")
    with engine.begin() as connection:
        connection.execute(text("INSERT INTO categories (name, slug) VALUES ('Tools', 'tools')"))
        connection.execute(text("INSERT INTO products (sku, name, category_id, price, stock) "
                                "VALUES ('H-1', 'Hammer', 1, 9.5, 3)"))
    engine.dispose()
    url = f"sqlite:///{tmp_path / 'shop.db'}"
    state = read_target(url)
    result = lint(database.MIGRATIONS, dialect=state.dialect, target=state)
    assert not [f for f in result.findings if f.rule == "fails-on-existing-rows"]
    checks = result.preflight.checks if result.preflight else []
    not_null = [c for c in checks if c.probe == "not-null" and c.table == "products"]
    assert not_null and not_null[0].would_fail is None and not_null[0].count == 1
    assert "not conclusive: 0003_backfill_alert_threshold" in not_null[0].reason


def test_a_schema_without_alembic_version_that_matches_no_revision_is_exit_2(tmp_path) -> None:
    from sqlalchemy import create_engine

    engine = create_engine(f"sqlite:///{tmp_path / 'half.db'}")
    database.upgrade(engine, "0001_baseline")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
        connection.execute(text("DROP TABLE order_items"))
    engine.dispose()
    result = CliRunner().invoke(cli, ["lint-migrations", str(database.MIGRATIONS), "--database",
                                      f"sqlite:///{tmp_path / 'half.db'}"])
    assert result.exit_code == 2
    assert "match no revision" in result.output and "Traceback" not in result.output

    engine = create_engine(f"sqlite:///{tmp_path / 'stampless.db'}")
    database.upgrade(engine, "0001_baseline")
    with engine.begin() as connection:
        connection.execute(text("DROP TABLE alembic_version"))
    engine.dispose()
    result = CliRunner().invoke(cli, ["lint-migrations", str(database.MIGRATIONS), "--database",
                                      f"sqlite:///{tmp_path / 'stampless.db'}"])
    assert result.exit_code == 2
    assert "after any of the revisions 0001_baseline to" in result.output and "alembic stamp" in result.output


RAW = '''"""The same fixes in raw SQL, as many real histories write them.

Revision ID: r01_raw
Revises: p00_shop
"""
from alembic import op

revision = "r01_raw"
down_revision = "p00_shop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute("ALTER TABLE cart_items ADD CONSTRAINT uq_raw_line UNIQUE (cart_id, product_id)")
    op.execute("ALTER TABLE cart_items ADD CONSTRAINT fk_raw_product FOREIGN KEY (product_id) "
               "REFERENCES products (id) NOT VALID")
    op.execute("ALTER TABLE products ADD CONSTRAINT ck_raw_stock CHECK ((stock >= 0)) NOT VALID")
    op.execute("ALTER TABLE cart_items VALIDATE CONSTRAINT fk_raw_product")
    op.execute("ALTER TABLE products ALTER COLUMN stock SET NOT NULL")
    with op.get_context().autocommit_block():
        op.execute('CREATE UNIQUE INDEX CONCURRENTLY ix_raw_line ON "cart_items" (cart_id, product_id DESC)')
        op.execute("CREATE UNIQUE INDEX ix_raw_lower ON products (lower(sku))")
'''


@pytest.mark.engines("postgresql")
def test_raw_sql_constraints_are_probed_like_op_calls(app_engine: Engine, engine_url, tmp_path) -> None:
    url = engine_url.render_as_string(hide_password=False)
    null_stock = legacy_shop(app_engine)
    history = tmp_path / "raw"
    (history / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        (history / name).write_text((HISTORY / name).read_text())
    (history / "versions" / "p00_shop.py").write_text((HISTORY / "versions" / "p00_shop.py").read_text())
    (history / "versions" / "r01_raw.py").write_text(RAW)
    state = read_target(url)
    result = lint(history, dialect=state.dialect, target=state)
    checks = {check.line: check for check in result.preflight.checks} if result.preflight else {}
    assert checks[15].probe == "unique" and checks[15].would_fail and checks[15].count == 2
    # NOT VALID: adding succeeds, the VALIDATE on line 19 is where it fails
    assert checks[16].probe == "foreign-key" and checks[16].would_fail and checks[16].fails_at == 19
    # NOT VALID and never validated: passes today, and says the rows would make a later VALIDATE fail
    assert checks[18].would_fail is False and "VALIDATE will fail" in checks[18].reason
    assert checks[20].probe == "not-null" and checks[20].sample_keys == [null_stock]
    assert checks[22].probe == "unique" and checks[22].would_fail
    assert any("lower(sku)" not in item["reason"] and "expressions" in item["reason"] and ":23" in item["object"]
               for item in result.not_analysed)
    failing = sorted(f.line for f in result.findings if f.rule == "fails-on-existing-rows")
    assert failing == [15, 19, 20, 22]


@pytest.mark.parametrize(("sql", "expected"), [
    ("ALTER TABLE `cart_items` ADD UNIQUE KEY `uq_line` (`cart_id`,`product_id`)",
     ("unique", "cart_items", ("cart_id", "product_id"), None)),
    ('ALTER TABLE ONLY public."orders" ADD CONSTRAINT fk FOREIGN KEY (user_id) REFERENCES public.users(id);',
     ("foreign-key", "orders", ("user_id",), "users")),
    ("alter table products add check (price > 0 and (stock >= 0))", ("check", "products", (), None)),
    ("ALTER TABLE products ALTER COLUMN sku SET NOT NULL", ("not-null", "products", ("sku",), None)),
    ("CREATE UNIQUE INDEX IF NOT EXISTS ix ON users USING btree (email)", ("unique", "users", ("email",), None)),
])
def test_raw_sql_shapes(sql: str, expected: tuple) -> None:
    from integrity_kit.migrations.preflight import constraints_in_sql

    (found,) = constraints_in_sql(sql)
    assert (found.kind, found.table, found.columns, found.parent) == expected and found.problem is None
    if found.kind == "check":
        assert found.condition == "price > 0 and (stock >= 0)"


def test_sql_that_adds_no_constraint_yields_none() -> None:
    from integrity_kit.migrations.preflight import constraints_in_sql

    assert constraints_in_sql("UPDATE products SET stock = 0 WHERE stock < 0; ALTER TABLE products ADD COLUMN x INT;"
                              " CREATE INDEX ix ON products (sku)") == ()


@pytest.mark.engines("postgresql", "mariadb")
def test_a_transaction_held_open_on_a_touched_table_is_a_blocker_with_its_pid_and_age(app_engine: Engine,
                                                                                       engine_url) -> None:
    import time

    url = engine_url.render_as_string(hide_password=False)
    legacy_shop(app_engine)
    holder = app_engine.connect()
    try:
        pid = holder.scalar(text("SELECT pg_backend_pid()" if app_engine.dialect.name == "postgresql"
                                 else "SELECT CONNECTION_ID()"))
        holder.execute(text("SELECT * FROM cart_items WHERE id = 1 FOR UPDATE"))  # and keeps its transaction open
        time.sleep(1.2)
        result = CliRunner().invoke(cli, ["lint-migrations", str(HISTORY), "--database", url, "--format", "json"])
    finally:
        holder.rollback()
        holder.close()
    report = json.loads(result.output)
    on_cart_items = [f for f in report["findings"] if f["table"] == "cart_items"]
    assert on_cart_items
    for finding in on_cart_items:
        (blocker,) = [b for b in finding["blockers"] if b["pid"] == pid]
        assert blocker["age_seconds"] >= 1.0
    lock_rules = {"strong-lock-without-timeout", "constraint-validated-in-one-step", "mysql-ddl-blocks-writes",
                  "unique-constraint-without-index"}
    locks = [f for f in on_cart_items if f["rule"] in lock_rules]
    assert locks
    if app_engine.dialect.name == "postgresql":
        # pg_locks proves the session holds a lock on the table: a lock finding there is an error, whatever the size.
        assert all(f["severity"] == "error" and "session(s) hold or wait" in f["message"] for f in locks)
    else:
        # Without a metadata-lock view MariaDB shows the open transaction, not that it touches this table: it is
        # listed, says so, and does not raise the severity.
        assert {b["scope"] for f in on_cart_items for b in f["blockers"] if b["pid"] == pid} == {"server"}
        assert all(f["severity"] == "info" for f in locks)
    # products has nobody in its way and holds a few hundred rows: its lock findings drop to info.
    on_products = [f for f in report["findings"] if f["table"] == "products"
                   and f["rule"] in {"strong-lock-without-timeout", "set-not-null-in-one-step",
                                     "constraint-validated-in-one-step"}]
    assert on_products and all(f["severity"] == "info" and "the lock is brief" in f["message"] for f in on_products)
    assert all(f["data"]["rows"] and f["data"]["bytes"] for f in on_products)


def test_lock_severity_follows_size_and_activity() -> None:
    from integrity_kit.migrations.activity import Blocker, TableActivity
    from integrity_kit.migrations.linter import _with_data
    from integrity_kit.migrations.model import Finding
    from integrity_kit.migrations.preflight import Preflight
    from integrity_kit.migrations.rules.indexes import IndexWithoutConcurrently
    from integrity_kit.migrations.rules.renames import DropColumnOrTable
    from integrity_kit.rulebook import Severity

    def judged(rule, rows: int, size: int, blockers=()) -> Finding:
        preflight = Preflight(activity={"t": TableActivity("t", None, rows, size, tuple(blockers), None)})
        finding = Finding(rule.code, rule.name, rule.severity, "r1", "v.py", 3, "builds an index", table="t")
        return _with_data(finding, preflight, rule)

    assert judged(IndexWithoutConcurrently, 500, 64 * 1024).severity == Severity.INFO
    assert judged(IndexWithoutConcurrently, 200_000, 20 * 1024 ** 2).severity == Severity.WARNING
    large = judged(IndexWithoutConcurrently, 5_000_000, 900 * 1024 ** 2)
    assert large.severity == Severity.ERROR and "about 5,000,000 rows" in large.message
    server_wide = Blocker(9, "idle in transaction", 30.0, None, None, "app", None, scope="server")
    assert judged(IndexWithoutConcurrently, 500, 64 * 1024, [server_wide]).severity == Severity.INFO
    on_table = Blocker(9, "idle in transaction", 30.0, "AccessShareLock", True, "app", None)
    busy = judged(IndexWithoutConcurrently, 500, 64 * 1024, [on_table])
    assert busy.severity == Severity.ERROR and "pid 9" in busy.message and busy.blockers[0]["pid"] == 9
    # A rule that is not about locks keeps its severity; its finding still carries the size and the sessions.
    dropped = judged(DropColumnOrTable, 500, 64 * 1024, [on_table])
    assert dropped.severity == DropColumnOrTable.severity and dropped.data["rows"] == 500 and dropped.blockers


NEW_COLUMN = '''"""{doc}

Revision ID: n01
Revises: p00_shop
"""
import sqlalchemy as sa
from alembic import op

revision = "n01"
down_revision = "p00_shop"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("things") as batch:
        batch.add_column(sa.Column("code", sa.String(20){default}))
{between}    with op.batch_alter_table("things") as batch:
        {then}
'''
CASES = {
    "a default then a unique": (", server_default='X'", "", 'batch.create_unique_constraint("uq_code", ["code"])',
                                True),
    "nullable then a unique": ("", "", 'batch.create_unique_constraint("uq_code", ["code"])', False),
    "nullable then NOT NULL": ("", "", 'batch.alter_column("code", existing_type=sa.String(20), nullable=False)',
                               True),
    "a backfill before NOT NULL": ("", "    op.execute(\"UPDATE things SET code = 'c' || id\")\n",
                                   'batch.alter_column("code", existing_type=sa.String(20), nullable=False)', None),
}


@pytest.mark.parametrize("case", CASES)
def test_a_column_a_pending_revision_adds_is_judged_by_what_its_rows_will_hold(engine_name: str, engine_url, tmp_path,
                                                                                case: str) -> None:
    from sqlalchemy import create_engine

    default, between, then, expected = CASES[case]
    if engine_name == "mariadb" and "||" in between:
        between = between.replace("'c' || id", "CONCAT('c', id)")
    history = tmp_path / "history"
    (history / "versions").mkdir(parents=True)
    for name in ("env.py", "script.py.mako"):
        (history / name).write_text((HISTORY / name).read_text())
    (history / "versions" / "p00_shop.py").write_text((HISTORY / "versions" / "p00_shop.py").read_text())
    (history / "versions" / "n01.py").write_text(NEW_COLUMN.format(doc=case, default=default, between=between,
                                                                   then=then))
    url = engine_url.render_as_string(hide_password=False)
    engine = create_engine(url)
    with engine.begin() as connection:
        connection.execute(text("CREATE TABLE things (id INTEGER PRIMARY KEY, name VARCHAR(20))"))
        connection.execute(text("INSERT INTO things (id, name) VALUES (1, 'a'), (2, 'b'), (3, 'c')"))
    stamp(engine, "p00_shop")
    state = read_target(url)
    result = lint(history, dialect=state.dialect, target=state)
    (check,) = [c for c in result.preflight.checks if c.revision == "n01"] if result.preflight else []
    assert check.would_fail is expected, check.reason
    config = Config()
    config.set_main_option("script_location", str(history))
    with engine.connect() as connection:
        config.attributes["connection"] = connection
        if expected:
            with pytest.raises(DBAPIError):
                command.upgrade(config, "head")
        else:
            command.upgrade(config, "head")
    engine.dispose()
