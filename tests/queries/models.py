"""Small models for the query scenarios: every relationship shape the N+1 detector must name."""

from __future__ import annotations

from sqlalchemy import Column, ForeignKey, Integer, String, Table, Text
from sqlalchemy.ext.asyncio import AsyncAttrs
from sqlalchemy.orm import DeclarativeBase, Mapped, Session, deferred, mapped_column, relationship


class Base(AsyncAttrs, DeclarativeBase):  # AsyncAttrs: the async scenarios await lazy loads
    pass


book_tags = Table(
    "book_tags",
    Base.metadata,
    Column("book_id", ForeignKey("books.id"), primary_key=True),
    Column("tag_id", ForeignKey("tags.id"), primary_key=True),
)


class Publisher(Base):
    __tablename__ = "publishers"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))


class Author(Base):
    __tablename__ = "authors"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(50))

    books: Mapped[list[Book]] = relationship(back_populates="author", order_by="Book.id")
    profile: Mapped[Profile | None] = relationship(back_populates="author", uselist=False)


class Profile(Base):
    __tablename__ = "profiles"

    id: Mapped[int] = mapped_column(primary_key=True)
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), unique=True)
    bio: Mapped[str] = mapped_column(String(200))

    author: Mapped[Author] = relationship(back_populates="profile")


class Book(Base):
    __tablename__ = "books"

    id: Mapped[int] = mapped_column(primary_key=True)
    title: Mapped[str] = mapped_column(String(100))
    author_id: Mapped[int] = mapped_column(ForeignKey("authors.id"), index=True)
    publisher_id: Mapped[int | None] = mapped_column(ForeignKey("publishers.id"))
    summary: Mapped[str | None] = deferred(mapped_column(Text))

    author: Mapped[Author] = relationship(back_populates="books")
    publisher: Mapped[Publisher | None] = relationship()
    tags: Mapped[list[Tag]] = relationship(secondary=book_tags, back_populates="books")
    reviews: Mapped[list[Review]] = relationship(back_populates="book")


class Tag(Base):
    __tablename__ = "tags"

    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(30))

    books: Mapped[list[Book]] = relationship(secondary=book_tags, back_populates="tags")


class Review(Base):
    __tablename__ = "reviews"

    id: Mapped[int] = mapped_column(primary_key=True)
    book_id: Mapped[int] = mapped_column(ForeignKey("books.id"), index=True)
    stars: Mapped[int] = mapped_column(Integer)

    book: Mapped[Book] = relationship(back_populates="reviews")


AUTHORS = 4
BOOKS_PER_AUTHOR = 3


def seed(session: Session) -> None:
    """Four authors with a profile, three books each, two publishers, tags and reviews on every book."""
    publishers = [Publisher(name=f"Publisher {i}") for i in range(2)]
    tags = [Tag(name=f"tag{i}") for i in range(3)]
    for a in range(AUTHORS):
        author = Author(name=f"Author {a}", profile=Profile(bio=f"Bio {a}"))
        for b in range(BOOKS_PER_AUTHOR):
            n = a * BOOKS_PER_AUTHOR + b
            book = Book(title=f"Book {n}", summary=f"Summary {n}", publisher=publishers[n % 2],
                        tags=[tags[n % 3], tags[(n + 1) % 3]])
            book.reviews = [Review(stars=1 + (n + r) % 5) for r in range(2)]
            author.books.append(book)
        session.add(author)
    session.commit()
