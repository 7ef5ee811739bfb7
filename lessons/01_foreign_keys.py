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
# # 01 · Foreign keys and orphans
#
# A cart line says "3 of product 17". If product 17 is deleted and nothing stops it, the cart line now points at
# nothing: an **orphan**. The page that lists the cart crashes, or quietly drops the line, and nobody knows
# which. A **foreign key** is the database's promise that this cannot happen: a `cart_items.product_id` must
# name a row that exists in `products`, on every insert, update and delete, whichever program does the writing.
#
# In this lesson we measure orphans in the *legacy* shop (a first project that skipped the foreign keys), watch
# how one ordinary delete makes new ones, then repeat everything on the *reference* shop where the foreign keys
# exist. Last, the SQLite trap: foreign keys that are declared and still not enforced.
#
# Everything runs on a temporary SQLite file. Set `DATABASE_URL` to run it on PostgreSQL or MariaDB instead.

# %%
from decimal import Decimal

from sqlalchemy import delete, func, select, text
from sqlalchemy.exc import IntegrityError

from integrity_kit.audit import audit
from integrity_kit.connect import make_engine

from _support import database_url, fresh_shop, shown

url = database_url("01")
legacy, loaded = fresh_shop(url, legacy=True, rows=600)
print("database:", shown(legacy))
print("rows loaded:", loaded.counts)

# %% [markdown]
# ## The legacy shop: how many orphans are there?
#
# An orphan is a child row whose parent is missing, so the question is an *anti-join*: cart lines for which no
# product matches. We ask it in SQL, then ask the toolkit's audit, which asks the same question for every
# column that looks like a reference but has no foreign key.

# %%
def orphan_cart_items(engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.scalars(text(
            "SELECT ci.id FROM cart_items ci LEFT JOIN products p ON p.id = ci.product_id "
            "WHERE p.id IS NULL ORDER BY ci.id")))

print("orphan cart lines (ids):", orphan_cart_items(legacy))
print("the sample data planted:", loaded.damage.orphan_cart_items)

# %%
report = audit(legacy, select=["missing-foreign-key"])
for finding in report.findings:
    evidence = finding.evidence
    print(f"{finding.code} {finding.table}.{','.join(finding.columns)} -> {finding.target['table']}: "
          f"{evidence['orphan_rows']} orphans in {evidence['rows_checked']} rows")

# %% [markdown]
# The audit names every column that should have been a foreign key and, from the data, says whether adding the
# constraint today would succeed (0 orphans) or fail until the orphans are dealt with.
#
# ## One delete, more orphans
#
# Nothing in the legacy schema connects a cart line to its product, so deleting a product that sits in carts
# "works". Let's delete the product that appears in the most carts and count again.

# %%
def busiest_product(engine) -> int:
    with engine.connect() as connection:
        return connection.scalar(text(
            "SELECT ci.product_id FROM cart_items ci JOIN products p ON p.id = ci.product_id "
            "GROUP BY ci.product_id ORDER BY COUNT(*) DESC, ci.product_id LIMIT 1"))

victim = busiest_product(legacy)
before = len(orphan_cart_items(legacy))
with legacy.begin() as connection:
    connection.execute(text("DELETE FROM products WHERE id = :id"), {"id": victim})
after = len(orphan_cart_items(legacy))
print(f"deleted product {victim}: orphan cart lines {before} -> {after}")

# %% [markdown]
# ## The reference shop: the database says no
#
# The reference schema declares every relation, each with a deliberate `ON DELETE`: a product that leaves the
# catalog disappears from carts (`CASCADE`), but it cannot vanish from order history (`RESTRICT`: orders are
# financial records). Same data, same delete.

# %%
from examples.ecommerce.models import CartItem, OrderItem, Product

shop, _ = fresh_shop(url, rows=600)
print("orphan cart lines:", len(orphan_cart_items(shop)))

with shop.connect() as connection:
    # The sold product that sits in the most carts: the delete must either reach the carts or be refused.
    sold, in_carts = connection.execute(
        select(CartItem.product_id, func.count()).where(CartItem.product_id.in_(select(OrderItem.product_id)))
        .group_by(CartItem.product_id).order_by(func.count().desc(), CartItem.product_id).limit(1)).one()
try:
    with shop.begin() as connection:
        connection.execute(delete(Product).where(Product.id == sold))
    print("deleted?!")
except IntegrityError as error:
    print(f"deleting product {sold} (in {in_carts} carts, and sold before) was refused:")
    print("  ", str(error.orig).splitlines()[0])

# %% [markdown]
# A product nobody ever bought can go, and its cart lines go with it instead of turning into orphans. We add one
# (launched today, already in two carts) and delete it again:

# %%
from examples.ecommerce.models import Cart

with shop.begin() as connection:
    category = connection.scalar(select(Product.category_id).limit(1))
    new_id = connection.execute(Product.__table__.insert().values(
        sku="NEW-0001", name="Launched today", category_id=category, price=Decimal("9.99"), stock=5)
    ).inserted_primary_key[0]
    carts = connection.scalars(select(Cart.id).order_by(Cart.id).limit(2)).all()
    connection.execute(CartItem.__table__.insert(), [{"cart_id": c, "product_id": new_id, "quantity": 1}
                                                     for c in carts])

def lines_of(product_id: int) -> int:
    with shop.connect() as connection:
        return connection.scalar(select(func.count()).where(CartItem.product_id == product_id))

lines_before = lines_of(new_id)
with shop.begin() as connection:
    connection.execute(delete(Product).where(Product.id == new_id))
print(f"product {new_id}: cart lines {lines_before} -> {lines_of(new_id)}; orphans: {len(orphan_cart_items(shop))}")

# %% [markdown]
# ## The SQLite trap: declared is not enforced
#
# SQLite reads `FOREIGN KEY` clauses and then, by default, ignores them: enforcement is switched on per
# connection with `PRAGMA foreign_keys = ON`, and a plain `create_engine()` never sends it. The reference app's
# `make_engine` does (a `connect` event); a script that builds its own engine may not. Both engines below talk to
# the same file with the same declared constraints.

# %%
# What a quick script or a notebook usually does: create_engine(url) and nothing else. (integrity-kit's make_engine
# is exactly that plus the driver choice for bare mysql:// and postgresql:// URLs; it adds no pragma.)
plain = make_engine(url)

with shop.connect() as connection:
    first_cart, second_cart = connection.scalars(select(Cart.id).order_by(Cart.id).limit(2))

def insert_orphan(engine, cart_id: int) -> str:
    missing_product = 10**6
    try:
        with engine.begin() as connection:
            connection.execute(CartItem.__table__.insert().values(
                cart_id=cart_id, product_id=missing_product, quantity=1))
        return "accepted: an orphan got in"
    except IntegrityError as error:
        return f"refused ({str(error.orig).splitlines()[0]})"

if plain.dialect.name == "sqlite":
    with plain.connect() as connection:
        print("PRAGMA foreign_keys on a plain engine:", connection.exec_driver_sql("PRAGMA foreign_keys").scalar())
print("plain engine:", insert_orphan(plain, first_cart))
print("app engine:  ", insert_orphan(shop, second_cart))
print("orphans now:", len(orphan_cart_items(shop)))

# %% [markdown]
# On SQLite the plain engine let the orphan in although the constraint is declared. (On PostgreSQL and
# MariaDB/InnoDB both engines refuse it: there is no such switch.) The audit looks for exactly this, through
# the connection it is given:

# %%
for name, engine in (("plain engine", plain), ("app engine", shop)):
    report = audit(engine, select=["foreign-key-not-enforced", "foreign-key-violations"])
    print(f"{name}: {len(report.findings)} finding(s)")
    for finding in report.findings:
        print(f"  {finding.code} {finding.rule}: {finding.message}")

# %% [markdown]
# On SQLite, with enforcement off the audit reports the missing pragma; either way it also checks the rows
# themselves and finds the orphan the plain engine let in (`foreign-key-violations`), with its key, so it can be
# repaired. Turning enforcement on later does not clean up what already got in: that is why both checks exist.
# (On a server both lists are empty: nothing got in.)
#
# **Takeaways**
#
# - Declare a foreign key for every relation, with an `ON DELETE` chosen on purpose (`CASCADE` for parts of a
#   whole, `RESTRICT` for records that must outlive their parent).
# - On SQLite, run `PRAGMA foreign_keys = ON` on every connection (a `connect` event), or the keys are decoration.
# - Before adding a key to a live database, count the orphans: `integrity-kit audit` does it for every column.

# %%
plain.dispose()
legacy.dispose()
shop.dispose()
