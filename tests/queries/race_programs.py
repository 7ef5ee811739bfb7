"""Small programs for the race-risk scenario suite, each run once under ``capture()``.

A line whose statement a finding must name carries a marker comment ``# [CASE read]`` or ``# [CASE write]``;
``test_race_scenarios.py`` reads the line numbers from this file, so editing a program cannot leave a stale number.
"""

from __future__ import annotations

import asyncio
from typing import Any

from sqlalchemy import Engine, ForeignKey, Integer, String, UniqueConstraint, delete, event, func, insert, select, text
from sqlalchemy import update as sa_update
from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Item(Base):
    __tablename__ = "race_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    stock: Mapped[int] = mapped_column(Integer)


class VersionedItem(Base):
    __tablename__ = "race_versioned_items"

    id: Mapped[int] = mapped_column(primary_key=True)
    stock: Mapped[int] = mapped_column(Integer)
    version: Mapped[int] = mapped_column(Integer, nullable=False)
    __mapper_args__ = {"version_id_col": version}


class Cart(Base):
    __tablename__ = "race_carts"

    id: Mapped[int] = mapped_column(primary_key=True)
    lines: Mapped[list[Line]] = relationship()


class Line(Base):
    """A cart line with no unique (cart_id, product_id): the legacy shop's mistake."""

    __tablename__ = "race_lines"

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(ForeignKey("race_carts.id"))
    product_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)


class UniqueLine(Base):
    __tablename__ = "race_unique_lines"
    __table_args__ = (UniqueConstraint("cart_id", "product_id"),)

    id: Mapped[int] = mapped_column(primary_key=True)
    cart_id: Mapped[int] = mapped_column(Integer)
    product_id: Mapped[int] = mapped_column(Integer)
    quantity: Mapped[int] = mapped_column(Integer)


class Counter(Base):
    __tablename__ = "race_counters"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(40))
    n: Mapped[int] = mapped_column(Integer)


class Booking(Base):
    __tablename__ = "race_bookings"

    id: Mapped[int] = mapped_column(primary_key=True)
    room_id: Mapped[int] = mapped_column(Integer)
    guest: Mapped[str] = mapped_column(String(40))


def seed(engine: Engine) -> None:
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        session.add_all([Item(id=1, name="lamp", stock=5), Item(id=2, name="desk", stock=5),
                         VersionedItem(id=1, stock=5, version=1), Cart(id=1),
                         Line(cart_id=1, product_id=9, quantity=1), Counter(id=1, name="visits", n=0),
                         Booking(room_id=5, guest="ann")])
        session.commit()


# -- flagged and clean programs ----------------------------------------------------------------------------------

def orm_flush_after_load(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.scalars(select(Item).where(Item.id == 1)).one()  # [orm_flush_after_load read]
        item.stock -= 1
        session.commit()  # [orm_flush_after_load write]


def get_then_change(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.get(Item, 2)  # [get_then_change read]
        assert item is not None
        item.name = item.name.upper()
        session.commit()  # [get_then_change write]


def core_text_rmw(engine: Engine) -> None:
    with engine.begin() as connection:
        stock = connection.execute(text("SELECT stock FROM race_items WHERE id = :id"), {"id": 1}).scalar_one()  # [core_text_rmw read]  # noqa: E501
        connection.execute(text("UPDATE race_items SET stock = :stock WHERE id = :id"), {"stock": stock - 1, "id": 1})  # [core_text_rmw write]  # noqa: E501


def counter_relative(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(text("SELECT n FROM race_counters WHERE name = :name"), {"name": "visits"})
        connection.execute(text("UPDATE race_counters SET n = n + 1 WHERE name = :name"), {"name": "visits"})


def counter_bound(engine: Engine) -> None:
    with engine.begin() as connection:
        n = connection.execute(text("SELECT n FROM race_counters WHERE name = :name"), {"name": "visits"}).scalar_one()  # [counter_bound read]  # noqa: E501
        connection.execute(text("UPDATE race_counters SET n = :n WHERE name = :name"), {"n": n + 1, "name": "visits"})  # [counter_bound write]  # noqa: E501


def get_or_create(engine: Engine) -> None:
    with Session(engine) as session:
        line = session.scalars(select(Line).filter_by(cart_id=1, product_id=3)).first()  # [get_or_create read]
        if line is None:
            session.add(Line(cart_id=1, product_id=3, quantity=1))
        session.commit()  # [get_or_create write]


def update_or_create(engine: Engine) -> None:
    for _ in range(2):  # the first call creates the line, the second updates it
        with Session(engine) as session:
            line = session.scalars(select(Line).filter_by(cart_id=1, product_id=4)).first()  # [update_or_create read]
            if line is None:
                session.add(Line(cart_id=1, product_id=4, quantity=1))
            else:
                line.quantity = 5
            session.commit()  # [update_or_create write]


def get_or_create_unique(engine: Engine) -> None:
    with Session(engine) as session:
        line = session.scalars(select(UniqueLine).filter_by(cart_id=1, product_id=3)).first()
        if line is None:
            session.add(UniqueLine(cart_id=1, product_id=3, quantity=1))
        session.commit()


def get_or_create_upsert(engine: Engine) -> None:
    dialect = engine.dialect.name
    if dialect == "postgresql":
        from sqlalchemy.dialects.postgresql import insert as upsert
    elif dialect == "sqlite":
        from sqlalchemy.dialects.sqlite import insert as upsert
    else:
        from sqlalchemy.dialects.mysql import insert as upsert
    with Session(engine) as session:
        found = session.scalars(select(Line).filter_by(cart_id=1, product_id=7)).first()
        if found is None:
            statement: Any = upsert(Line).values(cart_id=1, product_id=7, quantity=1)
            if dialect == "mysql":
                statement = statement.on_duplicate_key_update(quantity=statement.inserted.quantity)
            else:
                statement = statement.on_conflict_do_nothing()
            session.execute(statement)
        session.commit()


def with_for_update(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.scalars(select(Item).where(Item.id == 1).with_for_update()).one()  # [with_for_update read]
        item.stock -= 1
        session.commit()  # [with_for_update write]


def for_share(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.scalars(select(Item).where(Item.id == 1).with_for_update(read=True)).one()  # [for_share read]
        item.stock -= 1
        session.commit()  # [for_share write]


def version_id_col(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.get(VersionedItem, 1)
        assert item is not None
        item.stock -= 1
        session.commit()


def conditional_update(engine: Engine) -> None:
    with Session(engine) as session:
        session.get(Item, 1)
        result: Any = session.execute(sa_update(Item).where(Item.id == 1, Item.stock >= 2)
                                      .values(stock=Item.stock - 2))
        assert result.rowcount == 1
        session.commit()


def compare_and_set(engine: Engine) -> None:
    with engine.begin() as connection:
        old = connection.execute(select(Item.stock).where(Item.id == 1)).scalar_one()
        result = connection.execute(sa_update(Item).where(Item.id == 1, Item.stock == old).values(stock=old - 1))
        assert result.rowcount == 1


def count_then_insert(engine: Engine) -> None:
    with Session(engine) as session:
        taken = session.scalar(select(func.count()).select_from(Booking).where(Booking.room_id == 5))  # [count_then_insert read]  # noqa: E501
        if (taken or 0) < 2:
            session.add(Booking(room_id=5, guest="bob"))
        session.commit()  # [count_then_insert write]


def savepoint_rolled_back(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.get(Item, 1)
        assert item is not None
        nested = session.begin_nested()
        item.stock = 0
        session.flush()
        nested.rollback()
        session.commit()


def savepoint_released(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.get(Item, 1)  # [savepoint_released read]
        assert item is not None
        with session.begin_nested():
            item.stock = 0
            session.flush()  # [savepoint_released write]
        session.commit()


def two_connections(engine: Engine) -> None:
    with engine.connect() as reader:
        stock = reader.execute(text("SELECT stock FROM race_items WHERE id = :id"), {"id": 1}).scalar_one()
        reader.commit()
    with engine.begin() as writer:
        writer.execute(text("UPDATE race_items SET stock = :stock WHERE id = :id"), {"stock": stock - 1, "id": 1})


def autocommit(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        stock = connection.execute(select(Item.stock).where(Item.id == 1)).scalar_one()  # [autocommit read]
        connection.execute(sa_update(Item).where(Item.id == 1).values(stock=stock - 1))  # [autocommit write]


def bulk_update(engine: Engine) -> None:
    with Session(engine) as session:
        items = session.scalars(select(Item).where(Item.id.in_([1, 2]))).all()  # [bulk_update read]
        total = sum(item.stock for item in items)
        session.execute(sa_update(Item).where(Item.id.in_([1, 2])).values(stock=total // 2))  # [bulk_update write]
        session.commit()


def serializable(engine: Engine) -> None:
    with Session(engine.execution_options(isolation_level="SERIALIZABLE")) as session:
        item = session.get(Item, 1)  # [serializable read]
        assert item is not None
        item.stock -= 1
        session.commit()  # [serializable write]


def repeatable_read(engine: Engine) -> None:
    with Session(engine.execution_options(isolation_level="REPEATABLE READ")) as session:
        item = session.get(Item, 1)  # [repeatable_read read]
        assert item is not None
        item.stock -= 1
        session.commit()  # [repeatable_read write]


def sqlite_immediate(engine: Engine) -> None:
    with Session(engine) as session:
        session.execute(text("BEGIN IMMEDIATE"))
        item = session.get(Item, 1)
        assert item is not None
        item.stock -= 1
        session.commit()


def sqlite_deferred(engine: Engine) -> None:
    # SQLAlchemy's pysqlite recipe: the driver's own transaction handling off, BEGIN sent at the start.
    @event.listens_for(engine, "connect")
    def _connect(dbapi_connection: Any, _record: Any) -> None:
        dbapi_connection.isolation_level = None

    @event.listens_for(engine, "begin")
    def _begin(connection: Any) -> None:
        connection.exec_driver_sql("BEGIN")

    engine.dispose()  # new connections get the listener
    with Session(engine) as session:
        item = session.get(Item, 1)  # [sqlite_deferred read]
        assert item is not None
        item.stock -= 1
        session.commit()  # [sqlite_deferred write]


def different_rows(engine: Engine) -> None:
    with Session(engine) as session:
        lamp = session.get(Item, 1)
        assert lamp is not None
        session.execute(sa_update(Item).where(Item.id == 2).values(stock=lamp.stock))
        session.commit()


def read_then_delete(engine: Engine) -> None:
    with Session(engine) as session:
        lines = session.scalars(select(Line).where(Line.cart_id == 1)).all()
        if lines:
            session.execute(delete(Line).where(Line.cart_id == 1))
        session.commit()


def lazy_load_then_change(engine: Engine) -> None:
    with Session(engine) as session:
        cart = session.get(Cart, 1)
        assert cart is not None
        line = cart.lines[0]  # [lazy_load_then_change read]
        line.quantity += 1
        session.commit()  # [lazy_load_then_change write]


def collection_then_append(engine: Engine) -> None:
    with Session(engine) as session:
        cart = session.get(Cart, 1)
        assert cart is not None
        if all(line.product_id != 10 for line in cart.lines):  # [collection_then_append read]
            cart.lines.append(Line(product_id=10, quantity=1))
        session.commit()  # [collection_then_append write]


def load_item(session: Session) -> Item:
    return session.scalars(select(Item).where(Item.id == 1)).one()  # [one_caller_makes_both_calls read]


def set_stock(session: Session, stock: int) -> None:
    session.execute(sa_update(Item).where(Item.id == 1).values(stock=stock))  # [one_caller_makes_both_calls write]
    session.commit()


def one_caller_makes_both_calls(engine: Engine) -> None:
    """The application function that calls both helpers carries the read's row to the write: a finding."""
    with Session(engine) as session:
        item = load_item(session)
        set_stock(session, item.stock - 1)


def rolled_back(engine: Engine) -> None:
    with Session(engine) as session:
        item = session.get(Item, 1)  # [rolled_back read]
        assert item is not None
        item.stock -= 1
        session.flush()  # [rolled_back write]
        session.rollback()


def write_first(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa_update(Item).where(Item.id == 1).values(name="locked"))
        stock = connection.execute(select(Item.stock).where(Item.id == 1)).scalar_one()
        connection.execute(sa_update(Item).where(Item.id == 1).values(stock=stock - 1))


def scan_then_executemany(engine: Engine) -> None:
    with engine.begin() as connection:
        rows = connection.execute(text("SELECT id, stock FROM race_items")).all()  # [scan_then_executemany read]
        connection.execute(text("UPDATE race_items SET stock = :stock WHERE id = :id"),  # [scan_then_executemany write]
                           [{"stock": stock + 1, "id": id_} for id_, stock in rows])


def insert_select_core(engine: Engine) -> None:
    with engine.begin() as connection:
        found = connection.execute(select(Line.id).where(Line.cart_id == 1, Line.product_id == 8)).first()  # [insert_select_core read]  # noqa: E501
        if found is None:
            connection.execute(insert(Line).values(cart_id=1, product_id=8, quantity=2))  # [insert_select_core write]


def async_rmw(url: Any, capture: Any) -> Any:
    """The ORM flush after load, through an AsyncSession; returns the capture's log."""
    driver = {"sqlite": "sqlite+aiosqlite", "postgresql": "postgresql+psycopg"}[url.get_backend_name()]
    engine = create_async_engine(url.set(drivername=driver))

    async def main() -> Any:
        async with AsyncSession(engine) as session:
            with capture(engine) as log:
                item = await session.get(Item, 1)  # [async_rmw read]
                assert item is not None
                item.stock -= 1
                await session.commit()  # [async_rmw write]
        await engine.dispose()
        return log

    return asyncio.run(main())
