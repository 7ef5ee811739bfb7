# ---
# jupyter:
#   jupytext:
#     text_representation:
#       extension: .py
#       format_name: percent
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 05 · Safe migrations
#
# The shop wants a per-product "alert me when stock drops below N" threshold, required on every product. The
# obvious migration is one line: add the column `NOT NULL`. On the empty database of a test run it passes. On the
# production table, full of products that have no value for the new column, it either fails the deploy or (on
# some engines) quietly invents a value for every row. And while a big table is rewritten, it is locked.
#
# The safe way splits the change into steps that each keep the application running:
#
# 1. add the column **nullable** (instant, no row needs a value);
# 2. **backfill** the existing rows, in its own step;
# 3. make new writes carry a value (a `CHECK (... IS NOT NULL)`; on PostgreSQL created `NOT VALID`, so adding it
#    does not scan the table);
# 4. **validate** and only then set `NOT NULL` (PostgreSQL can use the validated check instead of scanning again
#    under an exclusive lock).
#
# The reference app's migrations `0002` to `0005` do exactly that. We run the unsafe version against a live
# table, show what the toolkit's migration linter says about it, then walk the safe one step by step.

# %%
import shutil
import tempfile
import time
from decimal import Decimal
from pathlib import Path

from alembic import command
from alembic.config import Config
from sqlalchemy import Numeric, column, insert, inspect, table, text
from sqlalchemy.exc import DBAPIError

from examples.ecommerce import database
from integrity_kit.audit import audit
from integrity_kit.migrations import lint
from integrity_kit.migrations.rehearsal import rehearse
from integrity_kit.migrations.target import read_target

from _support import database_url, fresh_shop, shown

url = database_url("05")
shop = database.make_engine(url)
database.drop_schema(shop)
database.upgrade(shop, "0001_baseline")  # the schema as it was before the threshold existed
print("database:", shown(shop))

# Only the columns this lesson writes: the products table as the app at revision 0001 knows it.
products = table("products", column("sku"), column("name"), column("category_id"), column("price", Numeric(12, 2)),
                 column("stock"))

with shop.begin() as connection:
    connection.execute(text("INSERT INTO categories (name, slug) VALUES ('Tools', 'tools')"))
    category_id = connection.scalar(text("SELECT id FROM categories WHERE slug = 'tools'"))
    connection.execute(insert(products), [
        {"sku": f"SKU-{i:04d}", "name": f"Product {i}", "category_id": category_id,
         "price": Decimal("4.99") + i, "stock": i % 40} for i in range(1, 501)])
with shop.connect() as connection:
    print("products in the live table:", connection.scalar(text("SELECT COUNT(*) FROM products")))

# %% [markdown]
# ## The one-line migration, on a table that has rows
#
# This is what `op.add_column("products", sa.Column("stock_alert_threshold", sa.Integer(), nullable=False))`
# sends to the database:

# %%
UNSAFE = "ALTER TABLE products ADD COLUMN stock_alert_threshold INTEGER NOT NULL"

try:
    with shop.begin() as connection:
        connection.execute(text(UNSAFE))
    outcome = "accepted"
except DBAPIError as error:
    outcome = f"refused: {str(error.orig).strip().splitlines()[0]}"
print(f"{shop.dialect.name}: {outcome}")

if outcome == "accepted":  # MySQL/MariaDB fill the column with the type's implicit default, silently
    with shop.begin() as connection:
        values = connection.execute(text(
            "SELECT stock_alert_threshold, COUNT(*) FROM products GROUP BY stock_alert_threshold")).all()
        print("values it invented:", values)
        connection.execute(text("ALTER TABLE products DROP COLUMN stock_alert_threshold"))

# %% [markdown]
# SQLite and PostgreSQL refuse the statement: the deploy fails in production although it passed on an empty test
# database. MySQL and MariaDB accept it and set every existing product's threshold to `0`, a value nobody chose.
#
# ## What the linter says
#
# `integrity-kit lint-migrations` reads each revision's `op.*` calls and the SQL the revision renders, without
# touching a database. We write the one-line revision into a scratch copy of the app's migrations and lint it:

# %%
REVISION = '''"""Add products.stock_alert_threshold in one step.

Revision ID: 0002_threshold_in_one_step
Revises: 0001_baseline
"""
import sqlalchemy as sa
from alembic import op

revision = "0002_threshold_in_one_step"
down_revision = "0001_baseline"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.add_column("products", sa.Column("stock_alert_threshold", sa.Integer(), nullable=False))


def downgrade() -> None:
    op.drop_column("products", "stock_alert_threshold")
'''

scratch = Path(tempfile.mkdtemp(prefix="ik-05-migrations-"))
for name in ("env.py", "script.py.mako"):
    shutil.copy(database.MIGRATIONS / name, scratch / name)
(scratch / "versions").mkdir()
shutil.copy(database.MIGRATIONS / "versions" / "0001_baseline.py", scratch / "versions")
(scratch / "versions" / "0002_threshold_in_one_step.py").write_text(REVISION)

lint_dialect = {"mariadb": "mysql"}.get(shop.dialect.name, shop.dialect.name)
unsafe_lint = lint(scratch, dialect=lint_dialect)
for finding in unsafe_lint.findings:
    print(f"{finding.code} {finding.rule} ({finding.severity}) line {finding.line}: {finding.message}")
    if finding.fix:
        print("  safe sequence:\n    " + finding.fix.replace("\n", "\n    "))

# %% [markdown]
# And the app's own migrations, the four-step version plus everything since:

# %%
app_lint = lint(database.MIGRATIONS, dialect=lint_dialect)
print(f"{len(app_lint.revisions)} revisions, {len(app_lint.findings)} findings, "
      f"{len(app_lint.ignored)} ignored with a reason:")
for finding in app_lint.ignored:
    print(f"  {finding.revision}: {finding.rule}: {app_lint.ignore_reasons[finding.fingerprint]}")
shutil.rmtree(scratch)

# %% [markdown]
# Each ignore is a comment on the line of the call, and an ignore without a reason ignores nothing.
#
# ## The safe way, step by step, on the live table
#
# We apply the app's revisions one at a time and look at the column after each: is it nullable, how many rows
# have no value, and what happens to a new product inserted by code that does not know about the column yet
# (an old application server still running during the deploy).

# %%
STEPS = ["0002_stock_alert_threshold", "0003_backfill_alert_threshold", "0004_alert_threshold_check",
         "0005_alert_threshold_not_null"]

def old_code_insert(sku: str) -> str:
    """A product inserted without the new column, as the previous release does."""
    try:
        with shop.begin() as connection:
            connection.execute(text(
                "INSERT INTO products (sku, name, category_id, price, stock) VALUES (:sku, 'Old code', :c, 1, 1)"),
                {"sku": sku, "c": category_id})
            value = connection.scalar(text("SELECT stock_alert_threshold FROM products WHERE sku = :sku"),
                                      {"sku": sku})
            connection.execute(text("DELETE FROM products WHERE sku = :sku"), {"sku": sku})
        return f"accepted, threshold = {value}"
    except DBAPIError:
        return "refused (the CHECK wants a value)"

rows = []
for step in STEPS:
    started = time.perf_counter()
    database.upgrade(shop, step)
    took = (time.perf_counter() - started) * 1000
    threshold = next(c for c in inspect(shop).get_columns("products") if c["name"] == "stock_alert_threshold")
    with shop.connect() as connection:
        missing = connection.scalar(text("SELECT COUNT(*) FROM products WHERE stock_alert_threshold IS NULL"))
    rows.append((step, took, threshold["nullable"], missing, old_code_insert(f"OLD-{len(rows)}")))

print(f"{'revision':<32} {'ms':>6} {'nullable':>9} {'NULL rows':>10}  a write from the old code")
for step, took, nullable, missing, insert_result in rows:
    print(f"{step:<32} {took:>6.0f} {str(nullable):>9} {missing:>10}  {insert_result}")

# %% [markdown]
# Read down the table: after `0002` the column exists and every row lacks a value (and old code still works);
# `0003` fills them, but the old code keeps adding rows without one, which is why the next step exists; `0004`
# makes the database refuse new rows without a value while the column is still nullable; `0005` makes it
# `NOT NULL` with a server default, so even the old code's insert gets a sensible value. No step needed the
# others' locks, and each could be deployed, checked and, if needed, stopped.
#
# ## Before the deploy: the migration meets the rows it will run on
#
# Reading the code says *how* a step locks, never whether it will succeed: a unique constraint is fine on the
# test database and fails in production on two old duplicate rows, with the release half out. So the linter can
# also read the target database: `lint-migrations PATH --database URL` lints only the revisions the database has
# not applied, and probes its rows for each of their constraints, read-only, with the audit's probes.
#
# The legacy shop (the first project's schema, with the damage real data has) gets the change every shop needs
# sooner or later: one line per product in a cart.

# %%
legacy_shop, _ = fresh_shop(url, legacy=True, rows=1000)  # replaces the reference schema in this database

LEGACY_BASE = '''"""The shop as its first project left it.

Revision ID: legacy
Revises:
"""
revision = "legacy"
down_revision = None
branch_labels = None
depends_on = None


def upgrade() -> None:
    pass
'''
CART_LINE = '''"""One line per product in a cart.

Revision ID: cart_line_unique
Revises: legacy
"""
from alembic import op

revision = "cart_line_unique"
down_revision = "legacy"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("cart_items") as batch:
        batch.create_unique_constraint("uq_cart_items_line", ["cart_id", "product_id"])
'''

history = Path(tempfile.mkdtemp(prefix="ik-05-preflight-"))
for name in ("env.py", "script.py.mako"):
    shutil.copy(database.MIGRATIONS / name, history / name)
(history / "versions").mkdir()
(history / "versions" / "legacy.py").write_text(LEGACY_BASE)
(history / "versions" / "cart_line_unique.py").write_text(CART_LINE)
with legacy_shop.begin() as connection:  # the legacy database is at "legacy": say so, as `alembic stamp` would
    connection.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL)"))
    connection.execute(text("INSERT INTO alembic_version (version_num) VALUES ('legacy')"))

def preflight() -> list:
    target = read_target(url)
    result = lint(history, dialect=target.dialect, target=target, select=["fails-on-existing-rows"])
    print(result.notes[0])
    for check in result.preflight.checks:
        verdict = "WOULD FAIL" if check.would_fail else "passes"
        print(f"  {check.revision}: {verdict}: {check.reason}")
    return result.findings

failing = preflight()
duplicates = audit(url, select=["duplicate-rows"]).findings
print("the audit's duplicate-rows names the same groups:",
      [finding.evidence["sample_keys"] for finding in duplicates if finding.table == "cart_items"])

# %% [markdown]
# The preflight names the carts and products that stand in the way, the same groups the audit reports, before the
# migration has run anywhere. Run anyway, the migration fails exactly there:

# %%
def run_migration() -> str:
    config = Config()
    config.set_main_option("script_location", str(history))
    try:
        with legacy_shop.connect() as connection:
            if connection.dialect.name == "sqlite":  # the rebuild must not trip over other tables' keys
                connection.exec_driver_sql("PRAGMA foreign_keys = OFF")
                connection.commit()
            config.attributes["connection"] = connection
            command.upgrade(config, "head")
            connection.commit()
        return "applied"
    except DBAPIError as error:
        return f"refused: {str(error.orig).strip().splitlines()[0]}"

print("alembic upgrade head:", run_migration())

# %% [markdown]
# Merge the copies first (keep each cart's oldest line), then the preflight passes and so does the migration:

# %%
with legacy_shop.begin() as connection:
    removed = connection.execute(text(
        "DELETE FROM cart_items WHERE EXISTS (SELECT 1 FROM cart_items AS older WHERE "
        "older.cart_id = cart_items.cart_id AND older.product_id = cart_items.product_id "
        "AND older.id < cart_items.id)")).rowcount
    # SQLite's driver ran the failed rebuild's CREATE TABLE outside the transaction: its leftover goes too.
    connection.execute(text("DROP TABLE IF EXISTS _alembic_tmp_cart_items"))
print("duplicate lines removed:", removed)
assert not preflight()
print("alembic upgrade head:", run_migration())

# %% [markdown]
# ## How long does it block? The rehearsal
#
# A linter can say that `CREATE INDEX` takes a lock that stops writes while the index builds; it cannot say for
# how long, nor whether `CONCURRENTLY` really leaves writers alone. `lint-migrations --database URL --rehearse`
# measures it: it copies the touched tables into a scratch database beside the target, runs the pending revisions
# there while concurrent sessions read and write those tables by primary key, and reports, per statement, how long
# its lock was held and the longest wait it caused a reader and a writer. The scratch database is dropped at the
# end, also on Ctrl-C.
#
# The legacy shop's order lines grow to 200,000 rows, and the next revision indexes them by product:

# %%
order_items = table("order_items", column("order_id"), column("product_id"), column("quantity"),
                    column("price", Numeric(12, 2)))
with legacy_shop.begin() as connection:
    orders = connection.scalars(text("SELECT id FROM orders")).all()
    products_ids = connection.scalars(text("SELECT id FROM products")).all()
    connection.execute(insert(order_items), [
        {"order_id": orders[i % len(orders)], "product_id": products_ids[i % len(products_ids)], "quantity": 1,
         "price": Decimal("9.99")} for i in range(200_000)])

INDEX = '''"""Order lines by product.

Revision ID: order_lines_by_product
Revises: cart_line_unique
"""
from alembic import op

revision = "order_lines_by_product"
down_revision = "cart_line_unique"
branch_labels = None
depends_on = None


def upgrade() -> None:
{body}
'''
PLAIN = '    op.create_index("ix_order_items_product_id", "order_items", ["product_id"])'
CONCURRENT = ('    with op.get_context().autocommit_block():\n'
              '        op.create_index("ix_order_items_product_id", "order_items", ["product_id"], '
              'postgresql_concurrently=True)')

def rehearse_index(body: str) -> None:
    (history / "versions" / "order_lines_by_product.py").write_text(INDEX.format(body=body))
    rehearsal = rehearse(history, url, max_rows=250_000)
    for run in rehearsal.statements:
        if "INDEX" in run.sql.upper():
            print(f"  {run.sql[:70]}\n    build {run.duration:.3f} s, lock held {run.lock_held:.3f} s, "
                  f"longest writer wait {run.writer_wait or 0:.3f} s, longest reader wait {run.reader_wait or 0:.3f} s")
    writers = rehearsal.baseline.get("writer")
    if writers is not None and writers.longest is not None:
        print(f"  (before the migration, the slowest write took {writers.longest:.3f} s)")

print(f"plain CREATE INDEX on {legacy_shop.dialect.name}:")
rehearse_index(PLAIN)
if legacy_shop.dialect.name == "postgresql":
    print("CREATE INDEX CONCURRENTLY:")
    rehearse_index(CONCURRENT)

# %% [markdown]
# On PostgreSQL the plain build holds a SHARE lock: every writer waits for the whole build (the writer's wait is
# the build time), readers do not. `CONCURRENTLY` builds in several passes without that lock: the build takes a
# little longer and no writer waits more than a few milliseconds. SQLite has one writer at a time for the whole
# file, so a writer waits for any index build, and there is no concurrent form; MariaDB builds a B-tree index
# online, so writers barely wait either way. (Run this lesson with `DATABASE_URL` set to a PostgreSQL database to
# see both forms side by side; `benchmarks/RESULTS.md` has the numbers at 200,000 and 1,000,000 rows.)

# %%
shutil.rmtree(history)

# %% [markdown]
# **Takeaways**
#
# - Adding a required column to a table with rows is three moves (add nullable, backfill, tighten), each its
#   own revision and transaction.
# - Test migrations against a copy of production-sized data, not an empty schema.
# - Let a linter read every revision in CI: `integrity-kit lint-migrations migrations/`.
# - Before a deploy, lint against the database it will run on: `integrity-kit lint-migrations migrations/
#   --database URL` says which pending step the rows would make fail, and which rows; `--rehearse` measures how
#   long each step blocks readers and writers on a copy.

# %%
shop.dispose()
legacy_shop.dispose()
