"""Which columns are unique, for judging a check-then-insert: the schema the user named, else the app's models,
else the live schema of the engines the capture saw.

The models come from the mappers of the ORM statements captured (``Mapper.registry.metadata``, public API), so an
app that never said where its models are is still judged by them; a table they do not describe is read from the
database the program used, while its engine is still alive. Each table is looked up once.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine, MetaData
from sqlalchemy.engine import URL

from .race_risks import UniqueKeys, unique_keys_from_engine, unique_keys_from_metadata

if TYPE_CHECKING:
    from .log import Statement


class UniqueKeyLookup:
    """``get(table)`` -> the unique column sets of ``table`` (lower-case names), or None when nothing says."""

    def __init__(self, schema: Any, statements: Iterable[Statement], engines: Iterable[Engine]) -> None:
        self._schema = schema
        self._statements = statements
        self._engines = engines
        self._from_schema: UniqueKeys | None = None
        self._from_models: UniqueKeys | None = None
        self._from_engines: dict[str, list[frozenset[str]] | None] = {}
        self.sources: dict[str, str] = {}  # table -> where its keys came from, for the finding's note

    def get(self, table: str) -> list[frozenset[str]] | None:
        table = table.lower()
        if self._schema is not None:
            keys = self._explicit().get(table)
            self.sources[table] = "the schema given"
            return keys
        keys = self._models().get(table)
        if keys is not None:
            self.sources[table] = "the models"
            return keys
        if table not in self._from_engines:
            self._from_engines[table] = self._reflect(table)
        if self._from_engines[table] is not None:
            self.sources[table] = "the live schema"
        return self._from_engines[table]

    def _explicit(self) -> UniqueKeys:
        if self._from_schema is None:
            schema = self._schema
            if isinstance(schema, Engine):
                self._from_schema = unique_keys_from_engine(schema)
            elif isinstance(schema, str | URL):
                from integrity_kit.connect import make_engine

                engine = make_engine(schema)
                try:
                    self._from_schema = unique_keys_from_engine(engine)
                finally:
                    engine.dispose()
            elif isinstance(schema, dict):
                self._from_schema = {name.lower(): list(keys) for name, keys in schema.items()}
            else:
                self._from_schema = unique_keys_from_metadata(schema)
        return self._from_schema

    def _models(self) -> UniqueKeys:
        if self._from_models is None:
            found: UniqueKeys = {}
            seen: set[int] = set()
            for statement in self._statements:
                if statement.orm is None:
                    continue
                mapper = statement.orm.mapper
                metadata = getattr(getattr(mapper, "registry", None), "metadata", None)
                if isinstance(metadata, MetaData) and id(metadata) not in seen:
                    seen.add(id(metadata))
                    for name, keys in unique_keys_from_metadata(metadata).items():
                        found.setdefault(name, keys)
            self._from_models = found
        return self._from_models

    def _reflect(self, table: str) -> list[frozenset[str]] | None:
        for engine in list(self._engines):
            try:
                keys = unique_keys_from_engine(engine, [table]).get(table)
            except Exception:  # a database the program already dropped or closed: another engine may know
                continue
            if keys is not None:
                return keys
        return None
