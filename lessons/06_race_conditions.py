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
# # 06 · Race conditions and locking
#
# Two customers buy the last unit at the same moment. Each request reads `stock = 1`, checks `1 >= 1` in Python,
# and writes `stock = 0`. Both pass the check, both orders are created, one unit was sold twice: an
# **oversell**, caused by a **lost update** (the second write overwrote the first without knowing about it).
# Nothing in the code is wrong line by line; the bug lives *between* the read and the write.
#
# The reference app has five ways to take stock (`examples/ecommerce/strategies.py`):
#
# | strategy | how it protects the read-check-write |
# |---|---|
# | `naive` | it does not: read, check in Python, write the computed value |
# | `for-update` | `SELECT ... FOR UPDATE` locks the row until the transaction ends |
# | `conditional-update` | one `UPDATE ... WHERE stock - reserved >= :q`; the database checks and writes at once |
# | `optimistic` | a `version` column; the write only matches if nobody changed the row since the read, else retry |
# | `serializable` | the naive code under `SERIALIZABLE` isolation; the engine aborts one of two conflicting buyers |
#
# Before racing anything, one question: can an ordinary test, which runs a checkout **once**, see the bug? It can.
# A lost update leaves a trace in the statements of a single transaction: a row read without a lock, then an
# `UPDATE` of that row setting a column to a value the application computed from the read. The query capture
# records every statement with its transaction and its line, so it can point at both lines.

# %%
from rich.console import Console

from integrity_kit.races import RaceSpace, anomaly_matrix, run_scheduled
from integrity_kit.report.anomalies_text import render_matrix
from integrity_kit.report.race_text import render_many

from _support import database_url

url = database_url("06")
console = Console(width=110, force_jupyter=False, force_terminal=False, highlight=False)  # plain text
# The races run in their own ik_race_* tables, so a DATABASE_URL that already holds the shop is fine.
PREFIX = "ik_race_"
STRATEGIES = ["naive", "for-update", "conditional-update", "optimistic", "serializable"]

# %%
from pathlib import Path

from examples.ecommerce.race_workload import CheckoutWorkload
from integrity_kit.queries import capture
from integrity_kit.races.scratch import scratch

workload = CheckoutWorkload()
with scratch(url, prefix=PREFIX) as space:  # a scratch namespace of its own, dropped afterwards
    engine = space.engine(pool_size=2, max_overflow=0)
    for strategy in STRATEGIES:
        (buyer,) = workload.create(engine, stock=5, buyers=1)
        with capture(engine) as log:
            workload.checkout(engine, buyer, strategy)  # one buyer, one checkout, nothing concurrent
        risks = log.race_risks
        if not risks:
            print(f"{strategy:<19} no race risk in {len(log.transactions)} transaction(s)")
        for risk in risks:
            read, write = risk.read, risk.write
            print(f"{strategy:<19} {risk.pattern} on {risk.table}.{', '.join(risk.columns)}: read at "
                  f"{Path(read.filename).name}:{read.lineno}, written at {Path(write.filename).name}:{write.lineno} "
                  f"({risk.verdict})")
    engine.dispose()

# %% [markdown]
# Only `naive` is flagged, with the two lines that make the bug: `_read` loads `reserved` without a lock and
# `claim_naive` writes `reserved = <the value it computed>`. `for-update` locked the row (on SQLite it takes the
# database's write lock with `BEGIN IMMEDIATE` instead, since SQLite drops `FOR UPDATE`), `conditional-update`
# lets the database compute `reserved + q` under its own check, and `optimistic` guards its write with the version
# it read. `serializable` is the naive code again: on PostgreSQL and MariaDB it is reported as `safe-with-retry`,
# because the engine aborts one of two conflicting buyers and the app's retry loop runs it again (on SQLite it
# begins with `BEGIN IMMEDIATE`, so it is clean there).
#
# The same check runs over a whole test suite (`pytest --detect-race-risks=fail`) and over any program
# (`integrity-kit queries -- python app.py`), and `integrity-kit queries --confirm DATABASE_URL` replays a finding
# from two sessions in the interleaving that breaks it, to prove it. The rest of this lesson runs the race itself.
#
# The toolkit's race simulator runs each strategy on real concurrent connections in its own scratch tables and
# then checks the invariants against the database (never against what the workers believed).
#
# ## Many buyers at once
#
# 6 workers race 40 one-unit checkouts for a product with 15 in stock, each pausing up to 5 ms between its read
# and its write, as a real request handler does while it does other work.

# %%
results = []
with RaceSpace(url, prefix=PREFIX, max_workers=6) as space:
    for strategy in STRATEGIES:
        results.append(space.simulate(strategy, workers=6, attempts=40, stock=15, seed=6, think_ms=5))
render_many(console, results)

# %%
import matplotlib.pyplot as plt

fig, ax = plt.subplots(figsize=(9, 4.2))
names = [r.strategy for r in results]
positions = range(len(results))
bars = {"units sold (orders in the database)": ([r.units_sold for r in results], "tab:blue"),
        "oversold units": ([r.oversold_units for r in results], "tab:red"),
        "checkouts that ended in an error": ([sum(r.errors.values()) for r in results], "tab:gray")}
for offset, (label, (values, colour)) in enumerate(bars.items()):
    ax.bar([p + (offset - 1) * 0.27 for p in positions], values, 0.27, label=label, color=colour)
first = results[0]
ax.axhline(first.initial_stock, color="black", linestyle="--", linewidth=1, label="units in stock")
ax.set_xticks(list(positions), names)
ax.set(title=f"{first.attempts} checkouts for {first.initial_stock} units on {first.dialect}", ylabel="count")
ax.legend(loc="upper center", bbox_to_anchor=(0.5, -0.1), ncol=4, fontsize=8, frameon=False)
plt.tight_layout()
plt.show()

# %% [markdown]
# ### Why SQLite does not oversell (and PostgreSQL does)
#
# SQLite has no row locks: it allows one writer for the whole database. When two naive buyers have both read
# the stock and both try to write, SQLite refuses the second one with `SQLITE_BUSY` ("database is locked")
# instead of letting its write overwrite the first. So on SQLite the naive strategy *fails* (the grey bar and
# the errors row above) rather than oversells; the damage is lost sales, not lost stock. That is a property of
# SQLite's single write lock, not of the code, and the simulator reports it as such rather than pretending.
#
# Run this notebook with `DATABASE_URL=postgresql://...` or `mysql://...` and the same naive code oversells: on
# those engines two transactions can write the same row one after the other, and `READ COMMITTED` (or
# `REPEATABLE READ` on MySQL/InnoDB) lets the second write overwrite the first. The red bar above then shows the
# units sold that did not exist. Every safe strategy keeps `units sold <= stock` on every engine.
#
# ## One exact interleaving
#
# Random races only *usually* collide. The scheduled mode forces the worst order every time: buyer A reads,
# buyer B reads, A writes and commits, B writes and commits. Each strategy's answer to that schedule:

# %%
for strategy in STRATEGIES:
    report = run_scheduled(url, strategy, prefix=PREFIX)
    verdict = "invariants held" if report.invariants_held else "INVARIANTS BROKEN"
    print(f"{strategy:<19} {verdict}: {report.how}")

# %% [markdown]
# The `how` column is measured, not written down: which step blocked on a lock, which error ended which
# transaction, and whether the loser retried and re-read the stock.
#
# ## What each isolation level prevents
#
# Isolation levels are the database's own answer to interleavings. The toolkit runs the classic anomaly tests
# (after Hermitage) at every level the engine offers: **P4** lost update (our oversell), **G-single** read skew
# (one transaction sees half of another's changes), **G2-item** write skew (two transactions each check a rule
# the other then breaks).

# %%
matrix = anomaly_matrix(url, prefix=PREFIX)
render_matrix(console, matrix)

# %% [markdown]
# On SQLite there is only one level, and it is serializable: every test is prevented, by the same single write
# lock. On PostgreSQL you will see `READ COMMITTED` allow P4 and G-single, `REPEATABLE READ` stop them but allow
# write skew, and `SERIALIZABLE` stop all three with a serialization failure (error 40001) that the application
# must retry.
#
# **Takeaways**
#
# - Never decide a write from a read without protection: lock the row (`FOR UPDATE`), let the database check
#   (`UPDATE ... WHERE stock >= :q`), compare a version, or run `SERIALIZABLE` and retry.
# - The conditional update is the simplest and fastest for a counter; locks and versions fit when the decision
#   needs more than one row.
# - Test concurrency on the engine you deploy to: SQLite's behaviour hides the oversell that PostgreSQL shows.
