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
# # 07 · Validation in two layers
#
# Business rules ("stock is never negative", "a price is positive and in cents", "an order's status is one of
# these") can be enforced in two places, and a careful app uses both:
#
# - **in the application**, with SQLAlchemy's `@validates`: the check runs the moment code assigns the attribute,
#   before any SQL, and can give a precise, friendly error (which field, which rule, which limit). It can also
#   hold rules a database should not know about, such as "at most 1,000 units per line". But it only guards
#   writes that go through those model objects.
# - **in the database**, with `CHECK`, `NOT NULL` and `UNIQUE` constraints: they hold for every writer (a bulk
#   `UPDATE`, a migration script, an admin at a SQL prompt, a second service), and for rules that depend on other
#   rows (is this email taken?) only the database can be sure. Its errors are blunter.
#
# We try the same bad writes three ways and record which layer stopped each one: raw SQL on the legacy schema
# (no constraints), raw SQL on the reference schema (constraints only), and the ORM on the reference schema
# (`@validates` first, then the constraints at flush).

# %%
from decimal import Decimal

from sqlalchemy import select, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError
from examples.ecommerce.models import CartItem, Order, Product, User

from _support import database_url, fresh_shop, shown

url = database_url("07")

# %% [markdown]
# Each case is one bad value, written as SQL (what any writer can send) and as an ORM assignment (what the
# app's own code does).

# %%
CASES = [
    # (what, SQL, ORM model, attribute, value)
    ("negative stock", "UPDATE products SET stock = -5 WHERE id = :id", Product, "stock", -5),
    ("zero price", "UPDATE products SET price = 0 WHERE id = :id", Product, "price", Decimal("0")),
    ("price in tenths of a cent", "UPDATE products SET price = 12.345 WHERE id = :id", Product, "price",
     Decimal("12.345")),
    ("absurd stock (5 million)", "UPDATE products SET stock = 5000000 WHERE id = :id", Product, "stock", 5_000_000),
    ("unknown order status", "UPDATE orders SET status = 'lost' WHERE id = :id", Order, "status", "lost"),
    ("cart line of 0 units", "UPDATE cart_items SET quantity = 0 WHERE id = :id", CartItem, "quantity", 0),
    ("email already taken", "UPDATE users SET email = (SELECT MIN(email) FROM users) WHERE id = :id", User,
     "email", None),
]

def first_id(engine, table: str) -> int:
    with engine.connect() as connection:
        return connection.scalar(text(f"SELECT MAX(id) FROM {table}"))

def refused_by_database(error: DBAPIError) -> str:
    found = violation(error)
    return f"database: {found.kind} ({found.constraint})" if found else f"database: {type(error.orig).__name__}"

def try_sql(engine, sql: str, table: str) -> str:
    """Run one bad UPDATE and roll it back either way: we only want to know whether it was accepted."""
    with engine.connect() as connection:
        transaction = connection.begin()
        try:
            connection.execute(text(sql), {"id": first_id(engine, table)})
            return "ACCEPTED"
        except DBAPIError as error:
            return refused_by_database(error)
        finally:
            transaction.rollback()

# %% [markdown]
# ## Raw SQL on the legacy schema

# %%
legacy, _ = fresh_shop(url, legacy=True, rows=300)
print("database:", shown(legacy))
legacy_results = [try_sql(legacy, sql, model.__tablename__) for _, sql, model, _, _ in CASES]
legacy.dispose()
for (what, *_), result in zip(CASES, legacy_results, strict=True):
    print(f"{what:<28} {result}")

# %% [markdown]
# Only the email stays unique (the first project got that one right); every other bad value is simply stored.
#
# ## The reference schema: raw SQL, then the ORM

# %%
shop, _ = fresh_shop(url, rows=300)
sql_results = [try_sql(shop, sql, model.__tablename__) for _, sql, model, _, _ in CASES]

def try_orm(engine, model, attribute: str, value) -> str:
    with Session(engine) as session:
        row = session.get(model, first_id(engine, model.__tablename__))
        if value is None:  # the taken email: read it, so @validates sees a well-formed address
            value = session.scalar(select(User.email).order_by(User.email).limit(1))
        try:
            setattr(row, attribute, value)
        except DomainError as error:
            return f"@validates: {error.details.get('rule')}: {error.message}"
        try:
            session.flush()
            return "ACCEPTED"
        except DBAPIError as error:
            return refused_by_database(error)
        finally:
            session.rollback()

orm_results = [try_orm(shop, model, attribute, value) for _, _, model, attribute, value in CASES]

for (what, *_), old, sql_result, orm_result in zip(CASES, legacy_results, sql_results, orm_results, strict=True):
    print(what)
    print(f"    legacy, SQL:     {old}")
    print(f"    reference, SQL:  {sql_result}")
    print(f"    reference, ORM:  {orm_result}")

# %% [markdown]
# Read the table by column:
#
# - **legacy, SQL**: no constraints, so the damage goes in (the audit's `check-violations` and
#   `missing-check-constraint` rules find it afterwards).
# - **reference, SQL**: the CHECK constraints stop the floor of every rule (negative stock, zero price, unknown
#   status, empty line) for every writer. They do not know the ceilings, and depending on the engine a price in
#   tenths of a cent is stored as given (SQLite) or silently rounded to the column's two decimals (PostgreSQL,
#   MariaDB), so it passes either way.
# - **reference, ORM**: `@validates` refuses every value the rules describe before any SQL is sent, with the
#   field and the rule (its `DomainError` becomes the API's `VALIDATION_ERROR`). The taken email passes it (it
#   is a well-formed address) and is stopped by the `UNIQUE` constraint at flush: only the database can compare
#   against rows it holds, including rows another request is inserting at the same moment.
#
# That is the division of labour: the application gives early, precise answers; the database is the last line
# of defence, and the only one every writer has to pass.

# %% [markdown]
# ## A picture of who caught what

# %%
import matplotlib.pyplot as plt


def layer(result: str) -> int:
    return 0 if result == "ACCEPTED" else (1 if result.startswith("database") else 2)

grid = [[layer(r) for r in row] for row in zip(legacy_results, sql_results, orm_results, strict=True)]
colours = plt.matplotlib.colors.ListedColormap(["#e15759", "#f1ce63", "#59a14f"])
fig, ax = plt.subplots(figsize=(7, 4))
ax.imshow(grid, cmap=colours, vmin=0, vmax=2, aspect="auto")
ax.set_xticks(range(3), ["legacy, SQL", "reference, SQL", "reference, ORM"])
ax.set_yticks(range(len(CASES)), [case[0] for case in CASES])
labels = {0: "accepted", 1: "database", 2: "@validates"}
for y, row in enumerate(grid):
    for x, value in enumerate(row):
        ax.text(x, y, labels[value], ha="center", va="center", fontsize=8)
ax.set_title("Which layer refused the bad write")
plt.tight_layout()
plt.show()

# %% [markdown]
# **Takeaways**
#
# - Put the floor of every rule in the database (`CHECK`, `NOT NULL`, `UNIQUE`, foreign keys): it is the only
#   check nobody can skip.
# - Mirror it in `@validates` with friendly, structured errors, and add the ceilings there.
# - Treat a constraint error that reaches the API as a lost race, not a crash: the reference API turns it into
#   a `CONFLICT` naming the constraint (lesson 08).

# %%
shop.dispose()
