"""Statement parameters as the reports need them: JSON-safe for output, hashable for grouping."""

from __future__ import annotations

import datetime
from typing import Any

# Values that differ on every call without naming another row: a ``now()`` cutoff computed in Python.
_TIME_TYPES = (datetime.date, datetime.time, datetime.timedelta)


def jsonable(value: Any) -> Any:
    """``value`` with containers turned into lists and dicts and anything JSON cannot hold into its ``repr``."""
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return repr(value)


def freeze(value: Any) -> Any:
    """A hashable stand-in for ``value`` that compares equal exactly when the parameters are the same."""
    if isinstance(value, dict):
        return tuple(sorted((str(k), freeze(v)) for k, v in value.items()))
    if isinstance(value, list | tuple):
        return tuple(freeze(v) for v in value)
    try:
        hash(value)
    except TypeError:
        return repr(value)
    return value


def is_time(value: Any) -> bool:
    """True for a date, time, datetime or timedelta parameter."""
    return isinstance(value, _TIME_TYPES)
