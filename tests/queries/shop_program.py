from __future__ import annotations

import sys

from sqlalchemy import ForeignKey, create_engine, select
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, joinedload, mapped_column, relationship


class Base(DeclarativeBase):
    pass


class Category(Base):
    __tablename__ = "categories"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]


class Product(Base):
    __tablename__ = "products"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str]
    category_id: Mapped[int] = mapped_column(ForeignKey("categories.id"))
    category: Mapped[Category] = relationship()


def main(fixed: bool) -> None:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        cats = [Category(name=f"c{i}") for i in range(3)]
        session.add_all([Product(name=f"p{i}", category=cats[i % 3]) for i in range(9)])
        session.commit()
    with Session(engine) as session:
        stmt = select(Product)
        if fixed:
            stmt = stmt.options(joinedload(Product.category))
        for product in session.scalars(stmt):
            print(product.name, product.category.name)


if __name__ == "__main__":
    main("--fixed" in sys.argv)
