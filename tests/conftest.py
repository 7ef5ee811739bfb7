from __future__ import annotations

import pytest

from tests.servers import ENGINES, scratch_database


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine_name" in metafunc.fixturenames:
        marker = metafunc.definition.get_closest_marker("engines")
        names = marker.args if marker else ENGINES
        unknown = set(names) - set(ENGINES)
        if unknown:
            raise ValueError(f"unknown engines in @pytest.mark.engines: {sorted(unknown)}")
        metafunc.parametrize("engine_name", names)


@pytest.fixture
def engine_url(engine_name: str, tmp_path):
    """A URL to a fresh, empty database on each engine (sqlite, postgresql, mariadb), dropped afterwards."""
    with scratch_database(engine_name, tmp_path) as url:
        yield url


@pytest.fixture
def app_engine(engine_url):
    """The reference app's engine on the scratch database (SQLite with foreign keys on)."""
    from examples.ecommerce.database import make_engine

    engine = make_engine(engine_url)
    yield engine
    engine.dispose()
