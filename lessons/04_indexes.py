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
# # 04 · Indexes
#
# "Show this customer's pending orders, newest first" is the query an order-history page makes on every visit.
# Without an index the database can only answer it by reading **every** order and keeping the ones that match: a
# full scan, whose cost grows with the whole table although the answer stays a handful of rows. An **index** is a
# sorted copy of some columns with pointers back to the rows, so the database can jump straight to
# `(user_id = 42, status = 'pending')` and read the matches already in `created_at` order.
#
# We ask the database how it plans to run the query (`EXPLAIN QUERY PLAN` on SQLite, `EXPLAIN` on PostgreSQL and
# MariaDB) before and after adding a composite index, and time the lookup as the orders table grows.

# %%
import datetime as dt
import random
import statistics
import time

from sqlalchemy import Index, func, insert, select, text

from examples.ecommerce.legacy import Order

from _support import database_url, explain, fresh_shop, shown

url = database_url("04")
shop, _ = fresh_shop(url, legacy=True)  # the legacy schema: orders has no index besides its primary key
print("database:", shown(shop))

LOOKUP = ("SELECT id, total_amount, created_at FROM orders "
          "WHERE user_id = :user_id AND status = :status ORDER BY created_at DESC")
USERS = 2_000
STATUSES = ("pending", "paid", "shipped", "delivered", "cancelled")
rng = random.Random(4)

def add_orders(engine, count: int) -> None:
    if count <= 0:
        return
    start = dt.datetime(2025, 1, 1)
    rows = [{"user_id": rng.randint(1, USERS), "status": rng.choice(STATUSES),
             "total_amount": rng.randint(100, 50_000) / 100,
             "created_at": start + dt.timedelta(minutes=rng.randint(0, 500_000))} for _ in range(count)]
    with engine.begin() as connection:
        connection.execute(insert(Order.__table__), rows)
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE orders"))  # fresh statistics, so the planner sees the real size

# %% [markdown]
# ## The plan, before
#
# First 20,000 orders from 2,000 customers, then the plan for one customer's pending orders:

# %%
add_orders(shop, 20_000)
with shop.connect() as connection:
    for line in explain(connection, LOOKUP, user_id=42, status="pending"):
        print(line)

# %% [markdown]
# SQLite says `SCAN orders` (every row) and, because nothing is sorted by `created_at`, a `TEMP B-TREE` to sort
# the matches; PostgreSQL says `Seq Scan` and `Sort`, MariaDB `type=ALL`. Now the index, with the columns in the
# order the query uses them: equality columns first (`user_id`, `status`), then the sort column.

# %%
lookup_index = Index("ix_orders_user_id_status_created_at", Order.user_id, Order.status, Order.created_at)

with shop.begin() as connection:
    lookup_index.create(connection)
    if connection.dialect.name == "postgresql":
        connection.execute(text("ANALYZE orders"))
with shop.connect() as connection:
    for line in explain(connection, LOOKUP, user_id=42, status="pending"):
        print(line)

# %% [markdown]
# Now it is a `SEARCH ... USING INDEX` (SQLite), an index or bitmap scan (PostgreSQL) or `type=ref` (MariaDB):
# the database reads only the matching rows. SQLite also drops its sort, because the index holds the matches in
# `created_at` order already; PostgreSQL may still sort the handful of rows a bitmap scan returns, which is cheap.
#
# ## Timing as the table grows
#
# For each size we time the same 100 lookups (different customers) without the index and with it.

# %%
def lookups_ms(engine, count: int = 100) -> float:
    """Median milliseconds per lookup over ``count`` different customers."""
    users = random.Random(7).sample(range(1, USERS + 1), count)
    timings = []
    with engine.connect() as connection:
        query = text(LOOKUP)
        for user_id in users:
            started = time.perf_counter()
            connection.execute(query, {"user_id": user_id, "status": "pending"}).all()
            timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)

def set_index(engine, present: bool) -> None:
    with engine.begin() as connection:
        (lookup_index.create if present else lookup_index.drop)(connection)
        if connection.dialect.name == "postgresql":
            connection.execute(text("ANALYZE orders"))

sizes, without, with_index = [], [], []
for target in (20_000, 40_000, 70_000, 100_000):
    with shop.connect() as connection:
        have = connection.scalar(select(func.count()).select_from(Order))
    set_index(shop, False)
    add_orders(shop, target - have)  # (inserting without the index is also faster)
    sizes.append(target)
    without.append(lookups_ms(shop))
    set_index(shop, True)
    with_index.append(lookups_ms(shop))

print(f"{'orders':>8} {'no index ms':>12} {'index ms':>9} {'speed-up':>9}")
for n, slow, fast in zip(sizes, without, with_index, strict=True):
    print(f"{n:>8,} {slow:>12.3f} {fast:>9.3f} {slow / fast:>8.0f}x")

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(7, 3.8))
ax.plot(sizes, without, marker="o", label="no index (full scan)")
ax.plot(sizes, with_index, marker="o", label="index (user_id, status, created_at)")
ax.set(title=f"One customer's pending orders ({shop.dialect.name})", xlabel="rows in orders",
       ylabel="ms per lookup (median)")
ax.set_yscale("log")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The scan's time grows with the table; the indexed lookup's barely moves (its cost follows the depth of the
# index tree and the number of matches, not the table size). Note the log scale.
#
# ## The cost side
#
# An index is not free: every insert and update must maintain it, and it takes space. Index the lookups a page
# or a foreign key really makes, not every column. The audit helps with both sides: `unindexed-foreign-key`
# finds joins and cascades that scan, and `redundant-index` finds indexes another index already covers.

# %%
from integrity_kit.audit import audit

for finding in audit(shop, select=["unindexed-foreign-key", "redundant-index"], data=False).findings:
    print(f"{finding.code} {finding.rule}: {finding.message}")

# %% [markdown]
# **Takeaways**
#
# - Read the plan (`EXPLAIN`) before and after: "scan" on a big table in a hot query is the thing to fix.
# - A composite index serves equality filters on its leading columns and then the sort on the next one.
# - Measure at realistic sizes: at a few hundred rows a scan is as fast as an index.

# %%
shop.dispose()
