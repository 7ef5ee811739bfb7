"""Accounts through the API: sign-up stores only an argon2id hash, tokens expire and can be revoked, a forged token
is refused, and guessing passwords is refused for a while without locking the owner out for good."""

from __future__ import annotations

import datetime as dt

import pytest
from argon2 import PasswordHasher
from sqlalchemy import Engine, insert, select, update

from examples.ecommerce import auth
from examples.ecommerce.api import create_app
from examples.ecommerce.clock import FakeClock
from examples.ecommerce.models import NO_PASSWORD, User
from examples.ecommerce.ratelimit import FailureLimiter
from tests.ecommerce import shop
from tests.ecommerce.apiclient import error

pytestmark = pytest.mark.engines("sqlite", "postgresql")


@pytest.fixture
def store(app_engine: Engine) -> Engine:
    shop.build(app_engine, users=2)
    return app_engine


@pytest.fixture
def app(store: Engine):
    return shop.api(store, secret_key="k" * 40)


@pytest.fixture
def client(app):
    return app.test_client()


def _clock(app) -> FakeClock:
    return app.extensions["ecommerce"]["clock"]


def _signup(client, email: str = "new@example.com", password: str = "a long passphrase", phone: str = "+44 20 0000"):
    return client.post("/api/auth/signup", json={"email": email, "password": password, "full_name": "New Person",
                                                 "phone_number": phone})


def _login(client, email: str = "u1@example.com", password: str = shop.PASSWORD):
    return client.post("/api/auth/login", json={"email": email, "password": password})


def _token(client, email: str = "u1@example.com", password: str = shop.PASSWORD) -> str:
    response = _login(client, email, password)
    assert response.status_code == 200, response.get_json()
    return response.get_json()["token"]


def _bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def _hash_of(engine: Engine, email: str) -> str:
    with engine.connect() as connection:
        return connection.execute(select(User.password_hash).where(User.email == email)).scalar_one()


def test_signup_stores_a_salted_argon2id_hash_never_the_password(client, store: Engine) -> None:
    first = _signup(client, "ann@example.com", "same password!", "+1 202 0001")
    second = _signup(client, "bob@example.com", "same password!", "+1 202 0002")
    assert first.status_code == second.status_code == 201, first.get_json()
    body = first.get_json()
    assert body["email"] == "ann@example.com" and "password_hash" not in body and "token_version" not in body
    ann, bob = _hash_of(store, "ann@example.com"), _hash_of(store, "bob@example.com")
    assert "same password!" not in ann and ann.startswith("$argon2id$")
    assert ann != bob  # a fresh salt for each user: equal passwords do not give equal hashes
    assert ann.split("$")[4] != bob.split("$")[4]  # the salt field of the PHC string
    assert PasswordHasher().verify(ann, "same password!")
    assert _login(client, "ann@example.com", "same password!").status_code == 200


def test_signup_refuses_bad_input_and_taken_emails(client) -> None:
    assert _signup(client).status_code == 201
    error(_signup(client, phone="+44 20 0001"), 409, "CONFLICT")  # the email is taken
    error(_signup(client, email="NEW@example.com", phone="+44 20 0001"), 409, "CONFLICT")  # case does not matter
    short = error(_signup(client, email="x@example.com", password="short"), 400, "VALIDATION_ERROR")
    assert short["details"]["field"] == "password" and short["details"]["value"] is None  # never echoed
    error(_signup(client, email="y@example.com", password="p" * 129), 400, "VALIDATION_ERROR")
    error(_signup(client, email="not an email"), 400, "VALIDATION_ERROR")
    # 21 characters match the phone pattern but not the column (PostgreSQL refused it with a 500 before).
    long_phone = error(_signup(client, email="p@example.com", phone="+3)3)(0150087194()770"), 400,
                       "VALIDATION_ERROR")
    assert long_phone["details"]["field"] == "phone_number"
    error(client.post("/api/auth/signup", json={"email": "z@example.com", "password": "long enough!"}), 400,
          "VALIDATION_ERROR")  # the schema requires a name and a phone number
    error(client.post("/api/auth/signup", json={"email": "z@example.com", "password": 12345678901}), 400,
          "VALIDATION_ERROR")


def test_login_gives_a_token_that_opens_the_callers_routes(client) -> None:
    response = _login(client)
    assert response.status_code == 200
    body = response.get_json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert response.headers["Cache-Control"] == "no-store"
    me = client.get("/api/auth/me", headers=_bearer(body["token"])).get_json()
    assert me["email"] == "u1@example.com" and "password_hash" not in me
    assert client.get("/api/cart", headers=_bearer(body["token"])).get_json()["user_id"] == me["id"]


class _SpyHasher(PasswordHasher):
    def __init__(self) -> None:
        super().__init__()
        self.verified: list[str] = []

    def verify(self, hash: str, password: str) -> bool:  # noqa: A002 (the parent's parameter name)
        self.verified.append(hash)
        return super().verify(hash, password)


def test_the_api_hashes_with_memory_hard_argon2id_by_default(store: Engine) -> None:
    from argon2 import Type

    hasher = create_app(store).extensions["ecommerce"]["accounts"].hasher
    # OWASP's floor for argon2id is 19 MiB and two passes; argon2-cffi's RFC 9106 default is well above it.
    assert hasher.type is Type.ID and hasher.memory_cost >= 19 * 1024 and hasher.time_cost >= 2


def test_wrong_password_and_unknown_email_get_the_same_answer_and_the_same_work(client, app, store,
                                                                                monkeypatch) -> None:
    spy = _SpyHasher()  # the production parameters, so both paths cost a real verification
    monkeypatch.setattr(app.extensions["ecommerce"]["accounts"], "hasher", spy)
    with store.begin() as connection:
        connection.execute(update(User).where(User.email == "u1@example.com")
                           .values(password_hash=PasswordHasher().hash(shop.PASSWORD)))
    work: dict[str, list[str]] = {}
    for case, email in (("wrong password", "u1@example.com"), ("unknown email", "nobody@example.com")):
        before = len(spy.verified)
        response = _login(client, email, "not the password")
        work[case] = spy.verified[before:]
        if case == "wrong password":
            wrong_password = response
        else:
            unknown_email = response
    assert wrong_password.status_code == unknown_email.status_code == 401
    assert wrong_password.get_json() == unknown_email.get_json() == {
        "error": {"code": "UNAUTHORIZED", "message": "wrong email or password", "details": {}}}
    # The same work, counted rather than timed (a loaded machine makes wall-clock comparisons flaky): one argon2
    # verification each, the unknown email's against a dummy hash of the same type and parameters.
    (real,), (dummy,) = work["wrong password"], work["unknown email"]
    assert real != dummy
    assert dummy.split("$")[1:4] == real.split("$")[1:4]  # argon2id, v=19, m=…,t=…,p=…
    assert not spy.check_needs_rehash(dummy)
    assert wrong_password.headers["WWW-Authenticate"].startswith("Bearer")


def test_an_account_without_a_password_cannot_log_in(client, store: Engine) -> None:
    with store.begin() as connection:  # a row written without a hash (a script, or a row from before 0008)
        connection.execute(insert(User).values(email="script@example.com", phone_number="+1 555 7777777",
                                               full_name="Script"))
    assert _hash_of(store, "script@example.com") == NO_PASSWORD
    for password in (NO_PASSWORD, "", "anything at all"):
        error(_login(client, "script@example.com", password), 401, "UNAUTHORIZED")


@pytest.mark.parametrize("header", [None, "", "Bearer", "Bearer ", "Basic dTE6cGFzcw==", "Token abc", "Bearer x.y.z"])
def test_missing_or_malformed_token_is_401(client, header: str | None) -> None:
    headers = {} if header is None else {"Authorization": header}
    body = error(client.get("/api/cart", headers=headers), 401, "UNAUTHORIZED")
    assert "Traceback" not in body["message"]


def test_a_tampered_token_is_refused(client, store: Engine) -> None:
    token = _token(client)
    payload, timestamp, signature = token.split(".")
    other = _token(client, "u2@example.com")
    forged = [
        f"{other.split('.')[0]}.{timestamp}.{signature}",  # user 2's claims under user 1's signature
        f"{payload}.{timestamp}.{signature[:-2]}{'AA' if signature[-2:] != 'AA' else 'BB'}",
        f"{payload}.{timestamp[:-1]}{'A' if timestamp[-1] != 'A' else 'B'}.{signature}",  # a later issue time
        token + "x",
    ]
    for bad in forged:
        error(client.get("/api/cart", headers=_bearer(bad)), 401, "UNAUTHORIZED")
    # Signed by a server with another key: refused too.
    elsewhere = create_app(store, clock=FakeClock(), secret_key="z" * 40,
                           password_hasher=shop.FAST_HASHER).extensions["ecommerce"]["accounts"]
    error(client.get("/api/cart", headers=_bearer(elsewhere.issue_token(1))), 401, "UNAUTHORIZED")
    assert client.get("/api/cart", headers=_bearer(token)).status_code == 200


def test_tokens_expire(client, app) -> None:
    token = _token(client)
    _clock(app).advance(minutes=59)
    assert client.get("/api/cart", headers=_bearer(token)).status_code == 200
    _clock(app).advance(minutes=2)
    expired = error(client.get("/api/cart", headers=_bearer(token)), 401, "UNAUTHORIZED")
    assert "expired" in expired["message"]
    assert client.get("/api/cart", headers=_bearer(_token(client))).status_code == 200


def test_logout_ends_every_earlier_token(client) -> None:
    first, second = _token(client), _token(client)  # two devices
    assert client.post("/api/auth/logout", headers=_bearer(first)).get_json() == {"logged_out": True}
    for token in (first, second):
        revoked = error(client.get("/api/cart", headers=_bearer(token)), 401, "UNAUTHORIZED")
        assert "no longer valid" in revoked["message"]
    error(client.post("/api/auth/logout", headers=_bearer(first)), 401, "UNAUTHORIZED")
    assert client.get("/api/cart", headers=_bearer(_token(client))).status_code == 200


def test_password_change_ends_earlier_tokens_and_the_old_password(client, store: Engine) -> None:
    old_token = _token(client)
    old_hash = _hash_of(store, "u1@example.com")
    wrong = client.post("/api/auth/password", headers=_bearer(old_token),
                        json={"current_password": "a guess", "new_password": "a brand new one"})
    assert error(wrong, 400, "VALIDATION_ERROR")["details"]["field"] == "current_password"
    error(client.post("/api/auth/password", headers=_bearer(old_token),
                      json={"current_password": shop.PASSWORD, "new_password": "short"}), 400, "VALIDATION_ERROR")
    changed = client.post("/api/auth/password", headers=_bearer(old_token),
                          json={"current_password": shop.PASSWORD, "new_password": "a brand new one"})
    assert changed.status_code == 200, changed.get_json()
    error(client.get("/api/cart", headers=_bearer(old_token)), 401, "UNAUTHORIZED")
    assert client.get("/api/cart", headers=_bearer(changed.get_json()["token"])).status_code == 200
    error(_login(client), 401, "UNAUTHORIZED")
    assert _login(client, password="a brand new one").status_code == 200
    assert _hash_of(store, "u1@example.com") not in (old_hash, "a brand new one")


def test_repeated_failures_on_one_account_are_refused_for_a_while_then_released(client, app) -> None:
    for _ in range(auth.FAILURES_PER_ACCOUNT):
        error(_login(client, password="wrong guess"), 401, "UNAUTHORIZED")
    # Now even the right password is refused, without being checked, until the window has passed.
    refused = _login(client)
    body = error(refused, 429, "RATE_LIMITED")
    assert int(refused.headers["Retry-After"]) == body["details"]["retry_after"] == 15 * 60
    error(_login(client, "U1@example.com"), 429, "RATE_LIMITED")  # the same account, however it is spelt
    assert _login(client, "u2@example.com").status_code == 200  # other accounts are unaffected
    _clock(app).advance(minutes=10)
    assert int(error(_login(client), 429, "RATE_LIMITED")["details"]["retry_after"]) == 5 * 60
    _clock(app).advance(minutes=5)
    assert _login(client).status_code == 200  # the owner gets back in
    # A success clears the account's count: one more mistake is not a lock-out.
    error(_login(client, password="typo"), 401, "UNAUTHORIZED")
    assert _login(client).status_code == 200


def test_repeated_failures_from_one_address_are_refused_whatever_the_email(client, app) -> None:
    attacker = {"REMOTE_ADDR": "203.0.113.9"}
    for number in range(auth.FAILURES_PER_ADDRESS):
        error(client.post("/api/auth/login", json={"email": f"guess{number}@example.com", "password": "password1"},
                          environ_base=attacker), 401, "UNAUTHORIZED")
    error(client.post("/api/auth/login", json={"email": "u2@example.com", "password": shop.PASSWORD},
                      environ_base=attacker), 429, "RATE_LIMITED")
    assert _login(client, "u2@example.com").status_code == 200  # another address is not affected
    _clock(app).advance(minutes=16)
    assert client.post("/api/auth/login", json={"email": "u2@example.com", "password": shop.PASSWORD},
                       environ_base=attacker).status_code == 200


def test_a_stolen_token_cannot_guess_the_password_past_the_limit(client) -> None:
    token = _token(client)
    for _ in range(auth.FAILURES_PER_ACCOUNT):
        error(client.post("/api/auth/password", headers=_bearer(token),
                          json={"current_password": "guess", "new_password": "whatever123"}), 400, "VALIDATION_ERROR")
    error(client.post("/api/auth/password", headers=_bearer(token),
                      json={"current_password": shop.PASSWORD, "new_password": "whatever123"}), 429, "RATE_LIMITED")
    error(_login(client), 429, "RATE_LIMITED")


def test_sample_users_log_in_with_the_documented_password(store: Engine, client) -> None:
    from examples.ecommerce import sample_data

    with store.begin() as connection:
        connection.execute(update(User).where(User.email == "u2@example.com")
                           .values(password_hash=sample_data.sample_password_hash(sample_data.DEFAULT_SEED)))
    assert _login(client, "u2@example.com", sample_data.SAMPLE_PASSWORD).status_code == 200
    error(_login(client, "u2@example.com", shop.PASSWORD), 401, "UNAUTHORIZED")


def test_failure_limiter_window_slides() -> None:
    clock = FakeClock()
    limiter = FailureLimiter(limit=2, window=dt.timedelta(minutes=1), clock=clock)
    limiter.record_failure("k")
    clock.advance(seconds=30)
    limiter.record_failure("k")
    assert limiter.retry_after("k") == 30  # the first failure ages out in 30 s
    clock.advance(seconds=30)
    assert limiter.retry_after("k") is None
    limiter.record_failure("k")
    assert limiter.retry_after("k") == 30
    limiter.reset("k")
    assert limiter.retry_after("k") is None


def test_failure_limiter_memory_is_bounded() -> None:
    limiter = FailureLimiter(limit=1, window=dt.timedelta(minutes=1), clock=FakeClock(), max_keys=3)
    for key in "abcd":
        limiter.record_failure(key)
    assert limiter.retry_after("a") is None  # evicted, the least recently failed
    assert all(limiter.retry_after(key) is not None for key in "bcd")
