"""Query-count assertions that say which statements were too many and where they came from."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from typing import Any

from .capture import capture
from .log import QueryLog, Statement


class TooManyQueries(AssertionError):
    """More statements than allowed; the message lists every one with its application line."""


def _one_line(sql: str, width: int = 160) -> str:
    text = " ".join(sql.split())
    return text if len(text) <= width else text[: width - 1] + "…"


def describe_statements(statements: Iterable[Statement]) -> str:
    lines = []
    for number, statement in enumerate(statements, 1):
        where = statement.location or "<unknown>"
        why = ""
        if statement.orm is not None and statement.orm.kind != "query":
            why = f" [{statement.orm.kind}{' ' + statement.orm.relationship if statement.orm.relationship else ''}]"
        lines.append(f"  {number:>3}. {where}{why}  {_one_line(statement.sql)}")
    return "\n".join(lines)


def check_max_queries(statements: list[Statement], limit: int) -> None:
    __tracebackhide__ = True  # pytest: show the user's line, not ours
    if len(statements) > limit:
        raise TooManyQueries(
            f"expected at most {limit} {'query' if limit == 1 else 'queries'}, {len(statements)} were sent:\n"
            + describe_statements(statements)
        )


@contextmanager
def assert_max_queries(limit: int, engine: Any = None) -> Iterator[QueryLog]:
    """Fail when the block sends more than ``limit`` statements (to ``engine``, or to any engine)."""
    __tracebackhide__ = True
    with capture(engine) as log:
        yield log
    check_max_queries(log.statements, limit)
