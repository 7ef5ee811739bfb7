"""The race-risk scenario suite: small real programs (tests/queries/race_programs.py) run once under capture on
SQLite, PostgreSQL and MariaDB, each with what detection must say: flagged (pattern, table, columns, the read and
write lines found by marker comments, the verdict on that engine) or clean. Then the reference app's five checkout
strategies and the legacy add-to-cart, each run once in a plain single-threaded test."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from integrity_kit.queries import capture
from integrity_kit.queries.race_risks import CTA, CTI, RMW, find_race_risks, unique_keys_from_metadata
from tests.queries import race_programs

PROGRAMS = Path(race_programs.__file__)
_MARKERS: dict[tuple[str, str], int] = {}
for number, source_line in enumerate(PROGRAMS.read_text().splitlines(), start=1):
    for marked in re.finditer(r"# \[(\w+) (read|write)\]", source_line):
        _MARKERS[marked.group(1), marked.group(2)] = number


def line(case: str, side: str) -> str:
    return f"{PROGRAMS.name}:{_MARKERS[case, side]}"


RISK = {"sqlite": "risk", "postgresql": "risk", "mariadb": "risk"}


@dataclass(frozen=True)
class Flag:
    pattern: str
    table: str
    columns: tuple[str, ...]
    verdicts: dict[str, str] = field(default_factory=lambda: dict(RISK))


def flagged(*flags: Flag) -> dict[str, list[Flag]]:
    return {engine: list(flags) for engine in RISK}


def only_on(engines: tuple[str, ...], *flags: Flag) -> dict[str, list[Flag]]:
    return {engine: (list(flags) if engine in engines else []) for engine in RISK}


CLEAN: dict[str, list[Flag]] = {engine: [] for engine in RISK}
STOCK = Flag(RMW, "race_items", ("stock",))

# case -> engine -> the findings expected, in the order of their writes
CASES: dict[str, dict[str, list[Flag]]] = {
    "orm_flush_after_load": flagged(STOCK),
    "get_then_change": flagged(Flag(RMW, "race_items", ("name",))),
    "core_text_rmw": flagged(STOCK),
    "counter_relative": CLEAN,
    "counter_bound": flagged(Flag(RMW, "race_counters", ("n",))),
    "get_or_create": flagged(Flag(CTI, "race_lines", ("cart_id", "product_id"))),
    "update_or_create": flagged(Flag(CTI, "race_lines", ("cart_id", "product_id")),
                                Flag(RMW, "race_lines", ("quantity",))),
    "get_or_create_unique": CLEAN,
    "get_or_create_upsert": CLEAN,
    # SQLite has no row locks: SQLAlchemy leaves FOR UPDATE / FOR SHARE out of the SQL it sends there.
    "with_for_update": only_on(("sqlite",), STOCK),
    "for_share": only_on(("sqlite",), STOCK),
    "version_id_col": CLEAN,
    "conditional_update": CLEAN,
    "compare_and_set": CLEAN,
    "count_then_insert": flagged(Flag(CTA, "race_bookings", ("room_id",))),
    "savepoint_rolled_back": CLEAN,
    "savepoint_released": flagged(STOCK),
    # Decided: a read on one connection and a write on another are two transactions, never paired.
    "two_connections": CLEAN,
    "autocommit": flagged(STOCK),
    # Decided: a bulk UPDATE of the rows read, setting a value computed in Python, is a read-modify-write.
    "bulk_update": flagged(STOCK),
    # SQLite's SERIALIZABLE is its only level; without BEGIN the read still runs before pysqlite's transaction.
    "serializable": flagged(Flag(RMW, "race_items", ("stock",),
                                 {"sqlite": "risk", "postgresql": "safe-with-retry", "mariadb": "safe-with-retry"})),
    "different_rows": CLEAN,
    # Decided: deleting the rows a read found loses no other writer's data.
    "read_then_delete": CLEAN,
    "lazy_load_then_change": flagged(Flag(RMW, "race_lines", ("quantity",))),
    # Decided: a one-to-many collection loaded and then a child added is reported on the foreign key (the check on
    # product_id is Python's, which the SQL cannot show), and the fix does not offer a unique key on it alone.
    "collection_then_append": flagged(Flag(CTI, "race_lines", ("cart_id",))),
    "one_caller_makes_both_calls": flagged(STOCK),
    # Decided: a transaction that rolled back still counts; the same code path commits when nothing fails.
    "rolled_back": flagged(STOCK),
    "write_first": CLEAN,
    "scan_then_executemany": flagged(STOCK),
    "insert_select_core": flagged(Flag(CTI, "race_lines", ("cart_id", "product_id"))),
}
SERVER_CASES = {
    "repeatable_read": {"postgresql": [Flag(RMW, "race_items", ("stock",), {"postgresql": "safe-with-retry"})],
                        "mariadb": [Flag(RMW, "race_items", ("stock",), {"mariadb": "risk"})]},
}
SQLITE_CASES = {
    "sqlite_immediate": {"sqlite": []},
    "sqlite_deferred": {"sqlite": [Flag(RMW, "race_items", ("stock",), {"sqlite": "errors-on-sqlite"})]},
}
UNIQUE_KEYS = unique_keys_from_metadata(race_programs.Base)


def summary(risks: list[Any]) -> list[tuple[Any, ...]]:
    return [(r.pattern, r.table, r.columns, r.read_location, r.write_location, r.verdict, r.note) for r in risks]


def check(case: str, engine_name: str, risks: list[Any], expected: list[Flag]) -> None:
    assert len(risks) == len(expected), summary(risks)
    for risk, flag in zip(risks, expected, strict=True):
        assert (risk.pattern, risk.table, risk.columns) == (flag.pattern, flag.table, flag.columns), summary(risks)
        assert risk.read_location.endswith(line(case, "read")), summary(risks)
        assert risk.write_location.endswith(line(case, "write")), summary(risks)
        assert risk.verdict == flag.verdicts[engine_name], summary(risks)
        assert risk.fix


def run_case(case: str, engine_url: Any) -> list[Any]:
    engine = create_engine(engine_url)
    try:
        race_programs.seed(engine)
        with capture(engine) as log:
            getattr(race_programs, case)(engine)
        return find_race_risks(log.transactions, unique_keys=UNIQUE_KEYS)
    finally:
        engine.dispose()


@pytest.mark.parametrize("case", list(CASES))
def test_scenario(case: str, engine_name: str, engine_url: Any) -> None:
    check(case, engine_name, run_case(case, engine_url), CASES[case][engine_name])


def test_collection_load_fix_keeps_the_foreign_key_with_the_compared_column(engine_url: Any) -> None:
    [risk] = run_case("collection_then_append", engine_url)
    assert "Cart.lines collection" in (risk.note or "")
    assert 'UniqueConstraint("cart_id", "<column>")' in risk.fix and "alone would allow" in risk.fix
    assert 'UniqueConstraint("cart_id", name=' not in risk.fix


def test_two_calls_made_by_the_test_itself_are_not_paired(engine_name: str, engine_url: Any) -> None:
    """The same two helpers called one after the other from a test function (as a test client sends two requests
    through one session): no application frame spans them, so the test's own lines are all that joins them."""
    engine = create_engine(engine_url)
    try:
        race_programs.seed(engine)
        with capture(engine) as log, Session(engine) as session:
            item = race_programs.load_item(session)
            race_programs.set_stock(session, item.stock - 1)
        assert [t for t in log.transactions if len(t.statements) >= 2], "both ran in one transaction"
        assert summary(find_race_risks(log.transactions, unique_keys=UNIQUE_KEYS)) == []
    finally:
        engine.dispose()


@pytest.mark.engines("postgresql", "mariadb")
@pytest.mark.parametrize("case", list(SERVER_CASES))
def test_server_scenario(case: str, engine_name: str, engine_url: Any) -> None:
    check(case, engine_name, run_case(case, engine_url), SERVER_CASES[case][engine_name])


@pytest.mark.engines("sqlite")
@pytest.mark.parametrize("case", list(SQLITE_CASES))
def test_sqlite_scenario(case: str, engine_name: str, engine_url: Any) -> None:
    check(case, engine_name, run_case(case, engine_url), SQLITE_CASES[case][engine_name])


@pytest.mark.engines("sqlite", "postgresql")  # no async MySQL driver in the dev extras (asyncmy, aiomysql)
def test_async_session(engine_name: str, engine_url: Any) -> None:
    pytest.importorskip("greenlet")
    engine = create_engine(engine_url)
    race_programs.seed(engine)
    engine.dispose()
    log = race_programs.async_rmw(engine_url, capture)
    risks = find_race_risks(log.transactions, unique_keys=UNIQUE_KEYS)
    check("async_rmw", engine_name, risks, [STOCK])


def test_the_suite_is_big_enough() -> None:
    assert len(CASES) + len(SERVER_CASES) + len(SQLITE_CASES) + 1 >= 25


# -- the reference app's checkout strategies and the legacy add-to-cart ------------------------------------------

def _source_line(function: Any, needle: str) -> str:
    """``file:line`` of the first line of ``function`` containing ``needle``."""
    import inspect

    lines, start = inspect.getsourcelines(function)
    [offset] = [i for i, text in enumerate(lines) if needle in text][:1]
    return f"{Path(inspect.getsourcefile(function) or '').name}:{start + offset}"


STRATEGY_VERDICTS = {
    "naive": {"sqlite": "risk", "postgresql": "risk", "mariadb": "risk"},
    "for-update": {},
    "conditional-update": {},
    "optimistic": {},
    # On SQLite the strategy begins with BEGIN IMMEDIATE (one writer at a time): nothing to report there.
    "serializable": {"postgresql": "safe-with-retry", "mariadb": "safe-with-retry"},
}


@pytest.mark.parametrize("strategy", list(STRATEGY_VERDICTS))
def test_reference_checkout_strategy_once(strategy: str, engine_name: str, app_engine: Any) -> None:
    from examples.ecommerce import strategies
    from examples.ecommerce.checkout import checkout
    from examples.ecommerce.database import create_schema
    from examples.ecommerce.models import Base
    from examples.ecommerce.race_workload import workload

    create_schema(app_engine)
    [buyer] = workload.create(app_engine, stock=5, buyers=1)
    with capture(app_engine) as log:
        checkout(app_engine, buyer, strategy=strategy)
    risks = find_race_risks(log.transactions, unique_keys=unique_keys_from_metadata(Base))
    verdict = STRATEGY_VERDICTS[strategy].get(engine_name)
    if verdict is None:
        assert risks == [], summary(risks)
        return
    [risk] = risks
    assert (risk.pattern, risk.table, risk.columns, risk.verdict) == (RMW, "products", ("reserved",), verdict)
    assert risk.read_location.endswith(_source_line(strategies._read, "session.execute(query)"))
    assert risk.write_location.endswith(_source_line(strategies.claim_naive, "session.execute(update(Product)"))
    assert "with_for_update()" in risk.fix or verdict == "safe-with-retry"


def test_legacy_add_to_cart(engine_name: str, engine_url: Any) -> None:
    from sqlalchemy.orm import Session

    from examples.ecommerce import legacy
    from integrity_kit.queries.race_risks import unique_keys_from_engine

    engine = create_engine(engine_url)
    try:
        legacy.LegacyBase.metadata.create_all(engine)
        with Session(engine) as session:
            session.add(legacy.User(email="a@example.com", phone_number="+1 555 0000001"))
            session.flush()
            session.add(legacy.Cart(user_id=1))
            session.commit()
        with capture(engine) as log:
            legacy.add_to_cart(engine, 1, 42)
            legacy.add_to_cart(engine, 1, 42, 2)
        from_models = find_race_risks(log.transactions, unique_keys=unique_keys_from_metadata(legacy.LegacyBase))
        live = find_race_risks(log.transactions, unique_keys=unique_keys_from_engine(engine, ["cart_items"]))
    finally:
        engine.dispose()
    for risks in (from_models, live):
        assert [(r.pattern, r.table, r.columns) for r in risks] == [
            (CTI, "cart_items", ("cart_id", "product_id")), (RMW, "cart_items", ("quantity",))], summary(risks)
        look = _source_line(legacy.add_to_cart, "select(CartItem)")
        assert all(r.read_location.endswith(look) for r in risks), summary(risks)
        assert all(r.write_location.endswith(_source_line(legacy.add_to_cart, "session.commit()")) for r in risks)
        assert 'UniqueConstraint("cart_id", "product_id"' in risks[0].fix
        assert "select(CartItem)" in risks[1].fix or "CartItem" in risks[1].fix
