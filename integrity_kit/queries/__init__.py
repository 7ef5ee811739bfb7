"""Query capture, SQL fingerprints and N+1 detection.

>>> from integrity_kit.queries import capture
>>> with capture(engine) as log:  # doctest: +SKIP
...     ...
>>> log.statements, log.n_plus_one, log.duplicates  # doctest: +SKIP
"""

from __future__ import annotations

from .assertions import TooManyQueries, assert_max_queries
from .capture import QueryCapture, capture
from .detection import Duplicate, NPlusOne, find_duplicates, find_n_plus_one
from .fingerprint import fingerprint
from .log import QueryLog, Statement
from .orm_context import OrmContext

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
