"""Accounts: argon2 password hashes, signed expiring tokens, and login attempts that cannot be ground through.

- Passwords are hashed with argon2id (``argon2-cffi``): memory-hard, a fresh random salt per hash, and the
  parameters and salt stored with the hash in PHC format. Neither the password nor the hash is ever logged or
  serialised (``User.serialize_exclude``).
- Tokens are ``itsdangerous`` signatures over ``{"sub": user id, "ver": token version}`` with a timestamp: the
  server keeps no token list. A token is refused when its signature does not match (tampered, or another server
  key), when it is older than ``ttl``, or when the user's ``token_version`` has moved on (logout, password change).
- Login answers the same message whether or not the email exists, and an unknown email still costs one argon2
  verification (against a dummy hash), so neither the body nor the time tells an attacker which emails exist.
  Failures are counted per account and per client address (:mod:`examples.ecommerce.ratelimit`); past the limit,
  attempts are refused (``RATE_LIMITED``) without checking the password, until the window has passed.
"""

from __future__ import annotations

import datetime as dt
import secrets
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from itsdangerous import BadSignature, SignatureExpired, TimestampSigner, URLSafeTimedSerializer
from sqlalchemy import Engine, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from examples.ecommerce import validation
from examples.ecommerce.clock import Clock, utcnow
from examples.ecommerce.constraint_errors import violation
from examples.ecommerce.errors import DomainError, validation_error
from examples.ecommerce.hashing import HashingSlots
from examples.ecommerce.models import NO_PASSWORD, User
from examples.ecommerce.ratelimit import FailureLimiter

MIN_PASSWORD = 8  # NIST SP 800-63B's floor for a user-chosen password
MAX_PASSWORD = 128  # a ceiling keeps one request from making the server hash megabytes
TOKEN_TTL = dt.timedelta(hours=1)
FAILURE_WINDOW = dt.timedelta(minutes=15)
FAILURES_PER_ACCOUNT = 5
FAILURES_PER_ADDRESS = 20
SIGNUPS_PER_ADDRESS = 20
WRONG_CREDENTIALS = "wrong email or password"


def unauthorized(message: str) -> DomainError:
    return DomainError("UNAUTHORIZED", message, {})


def rate_limited(retry_after: int) -> DomainError:
    return DomainError("RATE_LIMITED", f"too many attempts; try again in {retry_after} seconds",
                       {"retry_after": retry_after})


@lru_cache(maxsize=4)
def _dummy_hash(hasher: PasswordHasher) -> str:
    # Hashed once per process with the real parameters, so verifying against it costs what a real one does.
    return hasher.hash(secrets.token_urlsafe(16))


class _ClockSigner(TimestampSigner):
    """A timestamp signer that reads the app's clock, so token expiry is testable without sleeping."""

    def __init__(self, *args: Any, clock: Clock, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._clock = clock

    def get_timestamp(self) -> int:
        return int(self._clock().timestamp())


@dataclass(frozen=True)
class Caller:
    """The authenticated user of a request."""

    user_id: int
    email: str


def _password(field: str, value: Any) -> str:
    if not isinstance(value, str):
        raise validation_error(field, "type", None, f"{field} must be a string")
    if not MIN_PASSWORD <= len(value) <= MAX_PASSWORD:
        # The value itself is never echoed back: error bodies end up in logs.
        raise validation_error(field, "length", None,
                               f"{field} must be {MIN_PASSWORD} to {MAX_PASSWORD} characters long",
                               minimum=MIN_PASSWORD, maximum=MAX_PASSWORD)
    return value


def _email(value: Any) -> str:
    if not isinstance(value, str) or not value.strip():
        raise validation_error("email", "required", value, "email is required")
    return validation.email(value.strip())


class Accounts:
    """Sign-up, login, logout and password change for one engine, with one signing key."""

    def __init__(self, engine: Engine, secret_key: str, *, clock: Clock = utcnow, ttl: dt.timedelta = TOKEN_TTL,
                 hasher: PasswordHasher | None = None, hashing: HashingSlots | None = None) -> None:
        self.engine = engine
        self.clock = clock
        self.ttl = ttl
        self.hasher = hasher or PasswordHasher()
        self.hashing = hashing or HashingSlots()
        self._tokens = URLSafeTimedSerializer(secret_key, salt="ecommerce.auth-token", signer=_ClockSigner,
                                              signer_kwargs={"clock": clock})
        self.per_account = FailureLimiter(limit=FAILURES_PER_ACCOUNT, window=FAILURE_WINDOW, clock=clock)
        self.per_address = FailureLimiter(limit=FAILURES_PER_ADDRESS, window=FAILURE_WINDOW, clock=clock)
        self.signups = FailureLimiter(limit=SIGNUPS_PER_ADDRESS, window=FAILURE_WINDOW, clock=clock)

    # -- passwords ---------------------------------------------------------------------------------------------

    def _verify(self, stored: str | None, password: str) -> bool:
        """Whether ``password`` matches ``stored``; costs one argon2 verification whatever ``stored`` is."""
        usable = stored if stored is not None and stored != NO_PASSWORD else None
        with self.hashing.slot():
            try:
                return self.hasher.verify(usable or _dummy_hash(self.hasher), password) and usable is not None
            except (VerificationError, InvalidHashError):
                return False

    def _hash(self, password: str) -> str:
        with self.hashing.slot():
            return self.hasher.hash(password)

    # -- tokens ------------------------------------------------------------------------------------------------

    def issue_token(self, user_id: int) -> str:
        """A signed token for the user's current token version."""
        with Session(self.engine) as session:
            version = session.scalar(select(User.token_version).where(User.id == user_id))
        if version is None:
            raise DomainError("NOT_FOUND", f"user {user_id} does not exist", {"user_id": user_id})
        return self._tokens.dumps({"sub": user_id, "ver": version})

    def authenticate(self, authorization: str | None) -> Caller:
        """The caller named by an ``Authorization: Bearer <token>`` header, or ``UNAUTHORIZED``."""
        scheme, _, token = (authorization or "").partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            raise unauthorized("authentication required: send Authorization: Bearer <token> (POST /api/auth/login)")
        try:
            claims = self._tokens.loads(token.strip(), max_age=int(self.ttl.total_seconds()))
        except SignatureExpired:
            raise unauthorized("the token has expired; log in again") from None
        except BadSignature:
            raise unauthorized("the token is not valid") from None
        if not isinstance(claims, dict) or not isinstance(claims.get("sub"), int) \
                or not isinstance(claims.get("ver"), int):
            raise unauthorized("the token is not valid")
        with Session(self.engine) as session:
            user = session.get(User, claims["sub"])
            if user is None or user.token_version != claims["ver"]:
                raise unauthorized("the token is no longer valid (logged out or password changed); log in again")
            return Caller(user.id, user.email)

    # -- accounts ----------------------------------------------------------------------------------------------

    def signup(self, body: dict[str, Any], address: str) -> User:
        email = _email(body.get("email"))
        password = _password("password", body.get("password"))
        # Build (and so validate) the row before paying for a hash.
        user = User(email=email, phone_number=body.get("phone_number"), full_name=body.get("full_name"))
        self._refuse_if_limited(self.signups, f"address:{address}")
        self.signups.record_failure(f"address:{address}")  # every hash costs CPU: count all sign-ups
        user.password_hash = self._hash(password)
        with Session(self.engine, expire_on_commit=False) as session:
            session.add(user)
            try:
                session.commit()
            except IntegrityError as error:
                found = violation(error)
                if found is None or found.kind != "unique":
                    raise
                raise DomainError("CONFLICT", "an account with this email or phone number already exists",
                                  {"fields": ["email", "phone_number"]}) from None
            return user

    def login(self, email: Any, password: Any, address: str) -> str:
        """A token for the right email and password; the same ``UNAUTHORIZED`` for every wrong combination."""
        if not isinstance(email, str) or not isinstance(password, str) or len(password) > MAX_PASSWORD:
            raise validation_error("body", "credentials", None, "email and password must be strings "
                                   f"(password at most {MAX_PASSWORD} characters)")
        account = f"account:{email.strip().lower()}"
        self._refuse_if_limited(self.per_address, f"address:{address}")
        self._refuse_if_limited(self.per_account, account)
        with Session(self.engine) as session:
            user = session.scalar(select(User).where(User.email == email.strip().lower()))
            stored = user.password_hash if user is not None else None
        # (A verified password implies a user and a stored hash; the last two tests only say so to the checker.)
        if not self._verify(stored, password) or user is None or stored is None:
            self.per_account.record_failure(account)
            self.per_address.record_failure(f"address:{address}")
            raise unauthorized(WRONG_CREDENTIALS)
        self.per_account.reset(account)
        if self.hasher.check_needs_rehash(stored):  # parameters were raised since this hash was made
            self._set_password(user.id, password, bump=False)
        return self.issue_token(user.id)

    def profile(self, caller: Caller) -> dict[str, Any]:
        with Session(self.engine) as session:
            user = session.get(User, caller.user_id)
            if user is None:
                raise unauthorized("the account no longer exists")
            return user.to_dict()

    def logout(self, caller: Caller) -> None:
        """Every token issued to the caller so far stops working (on every device)."""
        with Session(self.engine) as session:
            session.execute(update(User).where(User.id == caller.user_id)
                            .values(token_version=User.token_version + 1))
            session.commit()

    def change_password(self, caller: Caller, current: Any, new: Any, address: str) -> str:
        """Set a new password (the current one is required), end every earlier token, and return a new one."""
        new = _password("new_password", new)
        if not isinstance(current, str) or len(current) > MAX_PASSWORD:
            raise validation_error("current_password", "type", None, "current_password must be a string")
        account = f"account:{caller.email}"
        self._refuse_if_limited(self.per_account, account)
        with Session(self.engine) as session:
            stored = session.scalar(select(User.password_hash).where(User.id == caller.user_id))
        if not self._verify(stored, current):
            # A stolen token must not become a way to guess the password without the login limits.
            self.per_account.record_failure(account)
            self.per_address.record_failure(f"address:{address}")
            raise validation_error("current_password", "mismatch", None, "current_password is wrong")
        self._set_password(caller.user_id, new, bump=True)
        return self.issue_token(caller.user_id)

    def _set_password(self, user_id: int, password: str, *, bump: bool) -> None:
        values: dict[str, Any] = {"password_hash": self._hash(password)}
        if bump:
            values["token_version"] = User.token_version + 1
        with Session(self.engine) as session:
            session.execute(update(User).where(User.id == user_id).values(**values))
            session.commit()

    @staticmethod
    def _refuse_if_limited(limiter: FailureLimiter, key: str) -> None:
        wait = limiter.retry_after(key)
        if wait is not None:
            raise rate_limited(wait)
