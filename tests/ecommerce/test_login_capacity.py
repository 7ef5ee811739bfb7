"""Password hashing is bounded: argon2id takes 64 MiB per computation, so logins at once are capped, and the ones
beyond the cap are answered RATE_LIMITED with Retry-After instead of piling up memory.

Counted, not timed: the hasher holds every verification until the test lets go, and records how many ran at once."""

from __future__ import annotations

import threading

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine

from tests.ecommerce import shop

pytestmark = pytest.mark.engines("sqlite")

LOGINS = 6
CAP = 2


class _GatedHasher(PasswordHasher):
    """The test's cheap parameters; each verification waits for ``gate`` and the peak concurrency is kept."""

    def __init__(self) -> None:
        super().__init__(time_cost=1, memory_cost=1024, parallelism=1)
        self.gate = threading.Event()
        self.changed = threading.Condition()
        self.active = 0
        self.peak = 0
        self.verifications = 0

    def verify(self, hash: str, password: str) -> bool:  # noqa: A002 (the parent's parameter name)
        with self.changed:
            self.active += 1
            self.verifications += 1
            self.peak = max(self.peak, self.active)
            self.changed.notify_all()
        try:
            self.gate.wait(timeout=60)
            return super().verify(hash, password)
        finally:
            with self.changed:
                self.active -= 1
                self.changed.notify_all()


@pytest.fixture
def store(app_engine: Engine) -> Engine:
    shop.build(app_engine, users=LOGINS)
    return app_engine


def test_logins_beyond_the_hashing_cap_are_rate_limited(store: Engine) -> None:
    hasher = _GatedHasher()
    # A short wait for a slot: the refused requests come back while the first two are still held at the gate.
    app = shop.api(store, password_hasher=hasher, hash_concurrency=CAP, hash_wait=0.05)
    answers: dict[int, tuple[int, dict, str | None]] = {}
    finished = threading.Condition()

    def login(index: int) -> None:
        response = app.test_client().post("/api/auth/login", json={"email": f"u{index}@example.com",
                                                                    "password": shop.PASSWORD})
        with finished:
            answers[index] = (response.status_code, response.get_json(), response.headers.get("Retry-After"))
            finished.notify_all()

    threads = [threading.Thread(target=login, args=(index,)) for index in range(1, LOGINS + 1)]
    for thread in threads:
        thread.start()
    with finished:  # every login beyond the cap has been answered while the cap's worth are still hashing
        assert finished.wait_for(lambda: len(answers) == LOGINS - CAP, timeout=60), answers
    with hasher.changed:
        assert hasher.active == CAP
    hasher.gate.set()
    for thread in threads:
        thread.join(timeout=60)
    statuses = sorted(status for status, _body, _retry in answers.values())
    assert statuses == [200] * CAP + [429] * (LOGINS - CAP), answers
    assert hasher.peak == CAP and hasher.verifications == CAP
    for status, body, retry_after in answers.values():
        if status == 429:
            assert body["error"]["code"] == "RATE_LIMITED"
            assert retry_after == str(body["error"]["details"]["retry_after"])


def test_a_busy_refusal_is_not_counted_as_a_failed_login(store: Engine) -> None:
    hasher = _GatedHasher()
    app = shop.api(store, password_hasher=hasher, hash_concurrency=1, hash_wait=0.05)
    holder = threading.Thread(target=lambda: app.test_client().post(
        "/api/auth/login", json={"email": "u1@example.com", "password": shop.PASSWORD}))
    holder.start()
    with hasher.changed:
        assert hasher.changed.wait_for(lambda: hasher.active == 1, timeout=60)
    client = app.test_client()
    for _ in range(8):  # more than the per-account failure limit
        assert client.post("/api/auth/login", json={"email": "u2@example.com",
                                                    "password": shop.PASSWORD}).status_code == 429
    hasher.gate.set()
    holder.join(timeout=60)
    response = client.post("/api/auth/login", json={"email": "u2@example.com", "password": shop.PASSWORD})
    assert response.status_code == 200
