"""Fixtures of the audit tests: a plain ``engine`` on the scratch database, and ``case_engine`` for a rule case."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import Engine, create_engine

from tests.audit.cases import Case
from tests.db import plain_engine_fixture
from tests.servers import scratch_database

__all__ = ["case_engine", "plain_engine_fixture"]


@pytest.fixture
def case_engine(request: pytest.FixtureRequest, tmp_path) -> Iterator[tuple[Case, str, Engine]]:
    """Parametrized indirectly with ``(case, engine name)``: a fresh database on that engine."""
    case, engine_name = request.param
    with scratch_database(engine_name, tmp_path) as url:
        engine = create_engine(url)
        try:
            yield case, engine_name, engine
        finally:
            engine.dispose()
