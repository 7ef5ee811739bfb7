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
# # 03 · N+1 queries and eager loading
#
# An ORM makes related rows look like attributes: `product.category.name`. Reading that attribute on a product
# whose category is not loaded yet sends a query, quietly. Do it in a loop over N products and the page sends
# 1 query for the list plus N more, one per row: the **N+1** pattern. Each query is fast, so nobody notices on a
# test database with ten products; in production every one of them is a network round trip, and the page gets
# slower with every product the shop adds.
#
# **Eager loading** tells the ORM up front which relations the code will read: `joinedload` fetches them in the
# same SELECT (a JOIN, good for many-to-one), `selectinload` in one extra SELECT per relation with an `IN` list
# (good for collections). We measure both with the toolkit's query capture, which records every statement and
# flags N+1 patterns with the line that caused them and the fix.

# %%
import statistics
import time

from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from examples.ecommerce import catalog
from examples.ecommerce.models import Product
from integrity_kit.queries import capture

from _support import database_url, fresh_shop, shown

url = database_url("03")
shop, loaded = fresh_shop(url, rows=2000)
print("database:", shown(shop))
print("products:", loaded.counts["products"], "order lines:", loaded.counts["order_items"])

# %% [markdown]
# ## The catalog page, two ways
#
# The reference app keeps the naive listing next to the real one so it can be measured. Both return the same
# page of 20 products with their categories.

# %%
with capture(shop) as naive_log:
    naive_page = catalog.list_products_n_plus_one(shop, limit=20)
with capture(shop) as eager_log:
    eager_page = catalog.list_products(shop, per_page=20)

assert [p["id"] for p in naive_page] == [p["id"] for p in eager_page.items]
print(f"naive listing: {naive_log.count} queries; eager listing: {eager_log.count} queries")
for finding in naive_log.n_plus_one:
    print(f"N+1: {finding.relationship} loaded {finding.count} times at {finding.location}")
    print(f"     fix: {finding.fix}")
print("eager listing findings:", eager_log.n_plus_one)

# %% [markdown]
# The naive page sends one query per *distinct* category on the page (the ORM's identity map serves a category
# it has already loaded), and the capture points at the line that read the relation. The eager page sends two:
# the total for the pager and the page itself, categories joined in.
#
# ## As the catalog grows
#
# Categories are few, so that page's N stays small. A collection grows with the data instead: a "units sold
# per product" report reads every product's order lines. We run it over more and more of the catalog, the
# naive way and with `selectinload(Product.order_items)`, counting queries (captured) and timing each version
# separately (median of 3 runs, without the capture's own overhead).

# %%
def units_sold_naive(engine, limit: int) -> dict[int, int]:
    with Session(engine) as session:
        products = session.scalars(select(Product).order_by(Product.id).limit(limit)).all()
        return {p.id: sum(line.quantity for line in p.order_items) for p in products}  # one query per product

def units_sold_eager(engine, limit: int) -> dict[int, int]:
    with Session(engine) as session:
        products = session.scalars(select(Product).order_by(Product.id).limit(limit)
                                   .options(selectinload(Product.order_items))).all()
        return {p.id: sum(line.quantity for line in p.order_items) for p in products}

def median_ms(report, engine, limit: int, runs: int = 3) -> float:
    timings = []
    for _ in range(runs):
        started = time.perf_counter()
        report(engine, limit)
        timings.append((time.perf_counter() - started) * 1000)
    return statistics.median(timings)

sizes = [n for n in (25, 50, 100, 150, 200) if n <= loaded.counts["products"]]
rows = []
for n in sizes:
    with capture(shop) as naive:
        naive_result = units_sold_naive(shop, n)
    with capture(shop) as eager:
        eager_result = units_sold_eager(shop, n)
    assert naive_result == eager_result  # same answer, different cost
    rows.append({"products": n, "naive queries": naive.count, "eager queries": eager.count,
                 "naive ms": median_ms(units_sold_naive, shop, n), "eager ms": median_ms(units_sold_eager, shop, n),
                 "flagged": [f.relationship for f in naive.n_plus_one]})

print(f"{'products':>8} {'queries naive':>14} {'eager':>6} {'ms naive':>9} {'eager':>7}  flagged")
for row in rows:
    print(f"{row['products']:>8} {row['naive queries']:>14} {row['eager queries']:>6} "
          f"{row['naive ms']:>9.1f} {row['eager ms']:>7.1f}  {row['flagged']}")

# %%
import matplotlib.pyplot as plt

fig, (queries, millis) = plt.subplots(1, 2, figsize=(10, 3.8))
for key, label in (("naive", "lazy loads (N+1)"), ("eager", "selectinload")):
    queries.plot(sizes, [r[f"{key} queries"] for r in rows], marker="o", label=label)
    millis.plot(sizes, [r[f"{key} ms"] for r in rows], marker="o", label=label)
queries.set(title="Queries per report", xlabel="products in the report", ylabel="queries")
millis.set(title=f"Time per report ({shop.dialect.name})", xlabel="products in the report", ylabel="ms (median)")
queries.legend()
millis.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# The naive report's query count is N+1 and grows in a straight line with the catalog; the eager one stays at
# two. On SQLite each query is a function call inside this process, so the time gap is the ORM's per-query
# work; against a server (`DATABASE_URL` pointing at PostgreSQL or MariaDB) every extra query also pays a network
# round trip, and the gap widens.
#
# ## Catching it in tests
#
# The same capture backs a pytest plugin: `assert_max_queries(n)` fails a test that sends more than `n`
# statements, and `--detect-n-plus-one=fail` fails any test with an N+1 pattern, listing each statement with its
# line. Here is the assertion on the naive report:

# %%
from integrity_kit.queries import TooManyQueries, assert_max_queries

try:
    with assert_max_queries(3, engine=shop):
        units_sold_naive(shop, 25)
except TooManyQueries as error:
    print(str(error).splitlines()[0])

with assert_max_queries(3, engine=shop):
    units_sold_eager(shop, 25)
print("the eager report stays within 3 queries")

# %% [markdown]
# **Takeaways**
#
# - Any attribute that reads a relation can be a query. In a loop, that is N queries.
# - Say what the code will read: `joinedload` for many-to-one (one JOIN), `selectinload` for collections.
# - Count queries in tests (`assert_max_queries`), because timings on a small test database will not show it.

# %%
shop.dispose()
