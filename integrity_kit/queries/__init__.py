"""Query capture, SQL fingerprints and N+1 detection.

>>> from integrity_kit.queries import capture
>>> with capture(engine) as log:  # doctest: +SKIP
...     ...
>>> log.statements, log.n_plus_one, log.duplicates  # doctest: +SKIP
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from integrity_kit.sqlalchemy_support import capture_problem

# On an SQLAlchemy capture cannot use, this package still imports (the pytest plugin lives in it and must only
# say it is inactive); asking it for anything then names the reason.
_PROBLEM = capture_problem()
if _PROBLEM is None or TYPE_CHECKING:
    from .assertions import TooManyQueries, assert_max_queries
    from .capture import QueryCapture, capture
    from .detection import Duplicate, NPlusOne, find_duplicates, find_n_plus_one
    from .fingerprint import fingerprint
    from .log import QueryLog, Statement
    from .orm_context import OrmContext
else:

    def __getattr__(name: str) -> object:
        if name.startswith("__"):
            raise AttributeError(name)
        raise ImportError(f"integrity_kit.queries.{name} is not available: {_PROBLEM}")


__all__ = [
    "TooManyQueries",
    "assert_max_queries",
    "Duplicate",
    "NPlusOne",
    "OrmContext",
    "QueryCapture",
    "QueryLog",
    "Statement",
    "capture",
    "find_duplicates",
    "find_n_plus_one",
    "fingerprint",
]
