from __future__ import annotations

from integrity_kit.schema import Snapshot, build_snapshot
from tests.db import execute, plain_engine_fixture, statements_sent

__all__ = ["execute", "plain_engine_fixture", "snapshot_counting"]


def snapshot_counting(engine, **kwargs) -> tuple[Snapshot, list[str]]:
    """Build a snapshot and return every statement it sent to the database."""
    with statements_sent(engine) as sent:
        snapshot = build_snapshot(engine, **kwargs)
    return snapshot, sent
