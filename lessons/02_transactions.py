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
# # 02 · Transactions and an atomic checkout
#
# A checkout is several writes that only make sense together: hold stock for every cart line, create the order
# and its lines, empty the cart. If the program stops halfway (a bug, a timeout, a product that ran out, a
# server restart) some of those writes have happened and some have not. The stock is held for an order that has
# no lines; the cart still holds what was "bought". Nothing crashed loudly, and the data now lies.
#
# A **transaction** makes the group *atomic*: the database applies all of its writes at `COMMIT`, or none of them
# if it is rolled back (or the connection dies first). In this lesson we make a checkout fail on its second cart
# line twice: once written step by step, each step committed on its own, and once as the reference app's
# checkout, one transaction. Then we count what each left behind.

# %%
from decimal import Decimal

from sqlalchemy import func, insert, select, update

from examples.ecommerce import checkout
from examples.ecommerce.models import Cart, CartItem, Order, OrderItem, Product

from _support import database_url, fresh_shop, shown

url = database_url("02")
shop, loaded = fresh_shop(url, rows=400)
print("database:", shown(shop))

# A customer whose cart holds at least two different products, all in stock: a checkout that fails between
# lines then fails only because we make it.
with shop.connect() as connection:
    user_id = connection.scalar(
        select(Cart.user_id).join(CartItem).join(Product).group_by(Cart.user_id)
        .having(func.count() >= 2, func.min(Product.stock - Product.reserved - CartItem.quantity) >= 0)
        .order_by(Cart.user_id).limit(1))
print("customer:", user_id)

# %% [markdown]
# A small picture of the state we care about, read from the database each time:

# %%
def state(engine, user_id: int) -> dict[str, int]:
    with engine.connect() as connection:
        return {
            "orders": connection.scalar(select(func.count()).select_from(Order).where(Order.user_id == user_id)),
            "order lines": connection.scalar(
                select(func.count()).select_from(OrderItem).join(Order).where(Order.user_id == user_id)),
            # int(): MySQL/MariaDB return SUM() of integers as a DECIMAL
            "units held (all products)": int(connection.scalar(select(func.sum(Product.reserved)))),
            "cart lines": connection.scalar(
                select(func.count()).select_from(CartItem).join(Cart).where(Cart.user_id == user_id)),
        }

def show(title: str, before: dict, after: dict) -> None:
    print(title)
    for key in before:
        change = after[key] - before[key]
        print(f"  {key:<26} {before[key]:>6} -> {after[key]:>6}   ({change:+d})")

class PaymentServiceDown(Exception):
    """Stands in for anything that can stop a checkout halfway."""

# %% [markdown]
# ## Step by step, each step committed
#
# This is the checkout a first project writes: every statement is its own little transaction (what "autocommit"
# gives you, and what you get when each helper function calls `commit()`). It fails right after the first line
# has been written.

# %%
def checkout_step_by_step(engine, user_id: int, fail_after_lines: int) -> None:
    with engine.begin() as connection:
        cart_id = connection.scalar(select(Cart.id).where(Cart.user_id == user_id))
        lines = connection.execute(select(CartItem.product_id, CartItem.quantity)
                                   .where(CartItem.cart_id == cart_id).order_by(CartItem.product_id)).all()
    with engine.begin() as connection:
        order_id = connection.execute(insert(Order).values(
            user_id=user_id, status="pending", total_amount=Decimal("0.00"))).inserted_primary_key[0]
    for done, (product_id, quantity) in enumerate(lines):
        if done == fail_after_lines:
            raise PaymentServiceDown(f"stopped after {done} of {len(lines)} lines")
        with engine.begin() as connection:
            price = connection.scalar(select(Product.price).where(Product.id == product_id))
            connection.execute(update(Product).where(Product.id == product_id)
                               .values(reserved=Product.reserved + quantity))
        with engine.begin() as connection:
            connection.execute(insert(OrderItem).values(order_id=order_id, product_id=product_id,
                                                        quantity=quantity, unit_price=price))
    with engine.begin() as connection:
        connection.execute(CartItem.__table__.delete().where(CartItem.cart_id == cart_id))

before = state(shop, user_id)
try:
    checkout_step_by_step(shop, user_id, fail_after_lines=1)
except PaymentServiceDown as error:
    print("checkout failed:", error)
broken = state(shop, user_id)
show("step by step, after the failure:", before, broken)

# %% [markdown]
# The failed checkout left an order the customer never placed (with a total of 0 and only some of its lines),
# and stock held for it that no one can buy; the cart still has everything in it, so a retry holds that stock
# twice. Every one of those rows was committed: no rollback can take them back now.
#
# ## One transaction
#
# The reference app's `checkout()` does all of it inside one transaction. Its `pause` hook runs between a
# line's stock check and its write (the lessons and tests use it to interleave buyers); here we use it to fail
# on the second product, at the same point as above.

# %%
with shop.connect() as connection:
    second_product = connection.scalars(
        select(CartItem.product_id).join(Cart).where(Cart.user_id == user_id).order_by(CartItem.product_id)
    ).all()[1]

def fail_on_second_line(product_id: int) -> None:
    if product_id == second_product:
        raise PaymentServiceDown(f"stopped before product {product_id}")

before = state(shop, user_id)
try:
    checkout.checkout(shop, user_id, pause=fail_on_second_line)
except PaymentServiceDown as error:
    print("checkout failed:", error)
atomic = state(shop, user_id)
show("one transaction, after the same failure:", before, atomic)

# %% [markdown]
# Every count is where it was: the first line's stock hold, the order row and its first line were all written
# inside the transaction, and the rollback took all of them back. The same call without a failure commits all
# of it at once:

# %%
result = checkout.checkout(shop, user_id)
done = state(shop, user_id)
show(f"one transaction, succeeding (order {result.order_id}, total {result.total}):", atomic, done)

# %% [markdown]
# ## A plot of the three outcomes
#
# Each bar is a change measured above: a consistent checkout moves every count together (or none of them).

# %%
import matplotlib.pyplot as plt

keys = list(before)
runs = {"step by step, failed": (before, broken), "transaction, failed": (before, atomic),
        "transaction, succeeded": (atomic, done)}
fig, ax = plt.subplots(figsize=(8, 3.5))
width = 0.25
for offset, (label, (start, end)) in enumerate(runs.items()):
    ax.bar([i + (offset - 1) * width for i in range(len(keys))], [end[k] - start[k] for k in keys], width,
           label=label)
ax.set_xticks(range(len(keys)), keys)
ax.axhline(0, color="black", linewidth=0.8)
ax.set_ylabel("change")
ax.set_title("What a checkout changed, by outcome")
ax.legend()
plt.tight_layout()
plt.show()

# %% [markdown]
# **Takeaways**
#
# - Put every write of one business operation in one transaction: `with engine.begin():` or one `Session` with
#   one `commit()` at the end. Helpers that commit on their own break that promise.
# - A failure anywhere inside rolls all of it back, whatever raised: your code, a constraint, a lost connection.
# - Keep slow outside calls (a payment gateway) *out* of the transaction; the reference app holds stock in one
#   short transaction and settles the payment in another (see `examples/ecommerce/payments.py`).

# %%
shop.dispose()
