"""A user's own checkout as a race workload: the smallest object that satisfies ``integrity_kit.races.workload``.

One table of items with a stock counter and one of sales; ``naive`` reads then writes the computed value,
``atomic`` lets the database decrement with a guard.
"""

from __future__ import annotations

from sqlalchemy import text

from integrity_kit.races.workload import Outcome, State


class CounterWorkload:
    name = "counter"

    def strategies(self):
        return ["naive", "atomic"]

    def isolation_level(self, strategy):
        return None

    def create(self, engine, *, stock, buyers, quantities=None):
        with engine.begin() as connection:
            connection.execute(text("CREATE TABLE IF NOT EXISTS item (id INTEGER PRIMARY KEY, stock INTEGER)"))
            connection.execute(text("CREATE TABLE IF NOT EXISTS sale (buyer INTEGER PRIMARY KEY, units INTEGER)"))
            connection.execute(text("DELETE FROM sale"))
            connection.execute(text("DELETE FROM item"))
            connection.execute(text("INSERT INTO item VALUES (1, :stock)"), {"stock": stock})
        return list(range(1, buyers + 1))

    def checkout(self, engine, buyer, strategy, pause=None):
        with engine.begin() as connection:
            if strategy == "naive":
                stock = connection.execute(text("SELECT stock FROM item WHERE id = 1")).scalar_one()
                if stock < 1:
                    return Outcome("rejected", code="OUT_OF_STOCK")
                if pause:
                    pause()
                connection.execute(text("UPDATE item SET stock = :s WHERE id = 1"), {"s": stock - 1})
            else:
                if pause:
                    pause()
                changed = connection.execute(text("UPDATE item SET stock = stock - 1 WHERE id = 1 AND stock >= 1"))
                if changed.rowcount != 1:
                    return Outcome("rejected", code="OUT_OF_STOCK")
            connection.execute(text("INSERT INTO sale VALUES (:b, 1)"), {"b": buyer})
        return Outcome("ordered", units=1)

    def state(self, engine):
        with engine.connect() as connection:
            stock = connection.execute(text("SELECT stock FROM item WHERE id = 1")).scalar_one()
            sold, orders = connection.execute(text("SELECT COALESCE(SUM(units), 0), COUNT(*) FROM sale")).one()
        return State(stock=stock, units_ordered=int(sold), orders=int(orders), orders_without_items=0,
                     orders_without_payment_state=0)


WORKLOAD = CounterWorkload()


class BrokenWorkload(CounterWorkload):
    def create(self, engine, *, stock, buyers, quantities=None):
        with engine.begin() as connection:
            connection.execute(text("SELECT * FROM no_such_table"))
        return []


BROKEN = BrokenWorkload()
