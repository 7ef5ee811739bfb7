"""A small ``to_dict()`` mixin: column values made JSON-safe, chosen relationships nested on request."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal
from typing import Any

from sqlalchemy import inspect

from examples.ecommerce.clock import as_utc


class SerializerMixin:
    """``to_dict()`` for mapped classes.

    Only columns are serialized unless ``include`` names relationships, so serializing never fires a lazy load the
    caller did not ask for (an N+1 hiding inside a ``to_dict`` is a classic). Money stays exact: ``Decimal`` is
    rendered as a string, never a float.
    """

    serialize_exclude: tuple[str, ...] = ()

    def to_dict(self, *, include: tuple[str, ...] = (), exclude: tuple[str, ...] = ()) -> dict[str, Any]:
        mapper = inspect(type(self))
        skipped = set(self.serialize_exclude) | set(exclude)
        data = {
            attr.key: _jsonable(getattr(self, attr.key))
            for attr in mapper.column_attrs
            if attr.key not in skipped
        }
        for name in include:
            value = getattr(self, name)
            if value is None:
                data[name] = None
            elif isinstance(value, (list, tuple, set)):
                data[name] = [item.to_dict() for item in value]
            else:
                data[name] = value.to_dict()
        return data


def _jsonable(value: Any) -> Any:
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, dt.datetime):
        # SQLite and MariaDB hand back naive values; the app only stores UTC, so say so (RFC 3339 needs a zone).
        return as_utc(value).isoformat()
    if isinstance(value, dt.date):
        return value.isoformat()
    return value
