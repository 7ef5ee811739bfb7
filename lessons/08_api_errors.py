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
# # 08 · Errors the front end can act on
#
# Everything the earlier lessons protect ends up in front of a customer as an HTTP response. A front end can only
# do the right thing ("only 2 left, update your cart", "log in again", "try another card") if the backend tells
# it *which* rule was broken, in a shape it can read without parsing English. A bare `500 Internal Server Error`
# or a message string that changes with every release leaves it guessing.
#
# The reference API answers every failure the same way:
#
# ```json
# {"error": {"code": "INSUFFICIENT_STOCK", "message": "only 2 left", "details": {"requested": 5, "available": 2}}}
# ```
#
# `code` is a small, stable vocabulary the front end switches on; `details` carries the numbers it needs to show;
# `message` is for people and logs. The HTTP status follows from the code. In this lesson we provoke every code
# through Flask's test client (the real app, no server), as a logged-in customer, then watch the stock endpoint
# and the live stock stream a product page would use.

# %%
import json
import threading

from sqlalchemy import select

from examples.ecommerce import catalog
from examples.ecommerce.api import STATUS, create_app
from examples.ecommerce.models import Product, User
from examples.ecommerce.payments import FakeGateway
from examples.ecommerce.sample_data import SAMPLE_PASSWORD

from _support import database_url, fresh_shop, shown

url = database_url("08")
shop, _ = fresh_shop(url, rows=300)
print("database:", shown(shop))

gateway = FakeGateway("succeed")  # the built-in fake: we choose its answer
app = create_app(shop, gateway=gateway)
client = app.test_client()

# %% [markdown]
# ## Logging in
#
# Cart, checkout and payment act on the caller's own rows, so they need a token. The sample customers share one
# documented password (sample data only, never a real database).

# %%
with shop.connect() as connection:
    email = connection.scalar(select(User.email).order_by(User.id).limit(1))

login = client.post("/api/auth/login", json={"email": email, "password": SAMPLE_PASSWORD})
print(login.status_code, {k: v for k, v in login.get_json().items() if k != "token"})
client.environ_base["HTTP_AUTHORIZATION"] = f"Bearer {login.get_json()['token']}"
print("me:", client.get("/api/auth/me").get_json()["email"])  # this client now speaks for that customer

# %% [markdown]
# ## Every error code, provoked
#
# Each request below breaks one rule. We keep the responses and print status, code, message and details.

# %%
def first_product_with(available_at_least: int) -> int:
    with shop.connect() as connection:
        return connection.scalar(select(Product.id).where(Product.stock - Product.reserved >= available_at_least)
                                 .order_by(Product.id).limit(1))

scarce = first_product_with(1)
catalog.bulk_update_stock(shop, {scarce: 2})  # two left: enough to sell, not enough for five
plenty = first_product_with(5)

anonymous = app.test_client()
responses = {
    "bad input": client.post("/api/cart/items", json={"product_id": plenty, "quantity": "lots"}),
    "not logged in": anonymous.get("/api/cart"),
    "no such product": client.get("/api/products/999999/stock"),
    "more than is left": client.post("/api/cart/items", json={"product_id": scarce, "quantity": 5}),
}

# A real order for the payment cases: add, check out, pay.
client.post("/api/cart/items", json={"product_id": plenty, "quantity": 1})
order = client.post("/api/checkout").get_json()
gateway.behaviour = "decline"
responses["card declined"] = client.post("/api/payment/process",
                                         json={"order_id": order["id"], "idempotency_key": "attempt-1"})
client.post("/api/cart/items", json={"product_id": plenty, "quantity": 1})
order = client.post("/api/checkout").get_json()
gateway.behaviour = "succeed"
paid = client.post("/api/payment/process", json={"order_id": order["id"], "idempotency_key": "attempt-2"})
responses["paying twice"] = client.post("/api/payment/process",
                                        json={"order_id": order["id"], "idempotency_key": "attempt-3"})

# Guessing passwords: every wrong one is the same UNAUTHORIZED, until the account's limit is reached.
for attempt in range(1, 20):
    guess = anonymous.post("/api/auth/login", json={"email": email, "password": f"guess-{attempt}"})
    if guess.status_code == 429:
        break
responses[f"password guess #{attempt}"] = guess

for name, response in responses.items():
    error = response.get_json()["error"]
    print(f"{name}: HTTP {response.status_code} {error['code']}")
    print(f"    message: {error['message']}")
    print(f"    details: {json.dumps(error['details'])}")

# %% [markdown]
# Every failure has the same three keys, whatever broke: the validator (`VALIDATION_ERROR` names the field and
# the rule), the token check (`UNAUTHORIZED`), a lookup (`NOT_FOUND`), the stock rule (`INSUFFICIENT_STOCK` with
# `requested` and `available`), the gateway (`PAYMENT_FAILED`), the order's state (`CONFLICT`), or the login
# limiter (`RATE_LIMITED`, with how long to wait). A constraint the database enforces itself, when a request loses
# a race, also comes back as `CONFLICT` naming the constraint rather than as a 500.
#
# The status codes are a function of the code:

# %%
seen = {response.get_json()["error"]["code"]: response.status_code for response in responses.values()}
for code, status in sorted(STATUS.items(), key=lambda item: item[1]):
    observed = f"observed {seen[code]}" if code in seen else "not provoked here"
    print(f"{code:<20} HTTP {status}   ({observed})")

# %% [markdown]
# ## What a front end does with them
#
# Because the codes are stable, the client side is a lookup, not string matching. A sketch of the reaction
# table, applied to the responses above:

# %%
REACTIONS = {
    "VALIDATION_ERROR": lambda d: f"highlight the '{d.get('field')}' field ({d.get('rule')})",
    "UNAUTHORIZED": lambda d: "send the customer to the login page",
    "NOT_FOUND": lambda d: "show 'this item is no longer available'",
    "INSUFFICIENT_STOCK": lambda d: f"show 'only {d['available']} left' and offer {d['available']}",
    "PAYMENT_FAILED": lambda d: "ask for another card; the stock hold was released",
    "CONFLICT": lambda d: "reload the order and show its current state",
    "RATE_LIMITED": lambda d: f"disable the form for {d.get('retry_after', '?')} seconds",
}

for name, response in responses.items():
    error = response.get_json()["error"]
    print(f"{name:<24} -> {REACTIONS[error['code']](error['details'])}")

# %% [markdown]
# ## Stock, polled and pushed
#
# A product page shows how many units are available. It can ask (`GET /api/products/<id>/stock`) or subscribe
# to `/api/stock/stream`, server-sent events with one `stock` event per *committed* change: the app publishes only
# after the transaction commits, so a checkout that rolls back never shows up. We subscribe first (`limit`
# closes the stream after that many events), then another checkout and payment happen, then we read the stream.

# %%
before = client.get(f"/api/products/{plenty}/stock").get_json()
stream = anonymous.get("/api/stock/stream?limit=2", buffered=False)
print("stream:", stream.status_code, stream.mimetype)

client.post("/api/cart/items", json={"product_id": plenty, "quantity": 2})
client.post("/api/cart/items", json={"product_id": scarce, "quantity": 5})  # refused: nothing changes, no event
order = client.post("/api/checkout").get_json()
client.post("/api/payment/process", json={"order_id": order["id"], "idempotency_key": "attempt-4"})
after = client.get(f"/api/products/{plenty}/stock").get_json()

def read_events(response, timeout: float = 10.0) -> list[dict]:
    """Read the stream to its end in a thread, so a missing event stops the wait instead of hanging the lesson."""
    chunks: list[bytes] = []
    reader = threading.Thread(target=lambda: chunks.extend(response.response), daemon=True)
    reader.start()
    reader.join(timeout)
    text = b"".join(chunks).decode()
    return [json.loads(line[len("data: "):]) for line in text.splitlines() if line.startswith("data: ")]

events = read_events(stream)
print("polled before:", before)
print("polled after: ", after)
for event in events:
    print("pushed:", event)

# %% [markdown]
# The events tell the story in order: the checkout moved units from available into `reserved`, the payment
# turned the hold into a sale (stock down, reservation gone). The refused cart line sent nothing, and the polled
# numbers agree with the last pushed one.
#
# **Takeaways**
#
# - One error shape everywhere, with a machine-readable `code`, the numbers in `details`, and the status derived
#   from the code.
# - Never let bad input or a lost race become a 500: validate early, and translate constraint violations.
# - Publish changes only after commit, so what the front end sees is what the database holds.

# %%
shop.dispose()
