"""Turn a user's database URL into an Engine, with errors a person can act on.

Every message that names a URL names it through :func:`mask_url`, so a password never reaches a terminal or a log.
"""

from __future__ import annotations

import os
import re
from typing import Any

from sqlalchemy import Engine, create_engine, exc, make_url
from sqlalchemy.engine import URL

from integrity_kit.errors import IntegrityKitError, first_line

# SQLAlchemy's own defaults (psycopg2, mysqlclient) are not what we install; a bare scheme means our drivers.
_DEFAULT_DRIVERS = {
    "postgresql": "postgresql+psycopg",
    "postgres": "postgresql+psycopg",
    "mysql": "mysql+pymysql",
    "mariadb": "mariadb+pymysql",
}

_EXTRA_FOR_DRIVER = {
    "psycopg": "postgres",
    "pymysql": "mysql",
}


# Query parameters that drivers accept as credentials (libpq's password/sslpassword, PyMySQL's passwd, ODBC's pwd).
_SECRET_PARAMETERS = frozenset({
    "password", "passwd", "pwd", "pass", "secret", "token", "sslpassword", "ssl_password", "access_token",
    "auth_token", "api_key", "apikey", "client_secret", "sslkey_password", "passphrase",
})
_MASK = "***"
_MASK_PLACEHOLDER = "IntegrityKitMaskedSecret"


def is_secret_parameter(name: str) -> bool:
    """Whether the URL query parameter ``name`` carries a credential that must never be shown."""
    key = name.lower().replace("-", "_")
    return key in _SECRET_PARAMETERS or key.endswith(("password", "_secret", "_token"))


def url_secrets(url: URL) -> list[str]:
    """Every secret value the URL carries: its password and the values of its secret query parameters."""
    found = [str(url.password)] if url.password else []
    for name, value in url.query.items():
        if is_secret_parameter(name):
            found.extend(v for v in ((value,) if isinstance(value, str) else value) if v)
    return found


def mask_url(url: str | URL) -> str:
    """The URL as text with its password and secret query parameters replaced by ``***``; unparsable text is
    masked wholesale."""
    if isinstance(url, URL):
        return _render_masked(url)
    try:
        return _render_masked(make_url(url))
    except Exception:
        # Unparsable input may still hold a secret: show only the part before any credentials.
        scheme, sep, rest = str(url).partition("://")
        if sep and "@" in rest:
            rest = rest.rsplit("@", 1)[1]
            return _mask_query_text(f"{scheme}://***@{rest}")
        return _mask_query_text(str(url))


def _render_masked(url: URL) -> str:
    if any(is_secret_parameter(name) for name in url.query):
        # A placeholder of letters survives URL quoting, so the shown mask is ``***`` and not ``%2A%2A%2A``.
        url = url.set(query={name: (_MASK_PLACEHOLDER if is_secret_parameter(name) else value)
                             for name, value in url.query.items()})
        return url.render_as_string(hide_password=True).replace(_MASK_PLACEHOLDER, _MASK)
    return url.render_as_string(hide_password=True)


def parse_url(url: str | URL | None) -> URL:
    """Parse ``url`` (or ``$DATABASE_URL``), filling in the driver we ship for bare postgresql/mysql schemes."""
    if url is None:
        url = os.environ.get("DATABASE_URL")
        if not url:
            raise IntegrityKitError("no database URL given and DATABASE_URL is not set")
    if isinstance(url, URL):
        parsed = url
    else:
        try:
            parsed = make_url(url)
        except exc.ArgumentError:
            raise IntegrityKitError(
                f"not a database URL: {mask_url(url)!r} (expected e.g. sqlite:///shop.db or "
                "postgresql://user@host/db)"
            ) from None
    if "+" not in parsed.drivername and parsed.drivername in _DEFAULT_DRIVERS:
        parsed = parsed.set(drivername=_DEFAULT_DRIVERS[parsed.drivername])
    if parsed.drivername == "postgres+psycopg":
        parsed = parsed.set(drivername="postgresql+psycopg")
    return parsed


def make_engine(url: str | URL | None, *, check: bool = True, **engine_kwargs: Any) -> Engine:
    """Create an Engine for ``url``; with ``check``, connect once so an unreachable server fails here.

    Raises :class:`IntegrityKitError` with a one-line, password-free message for every failure a user can cause.
    """
    parsed = parse_url(url)
    shown = mask_url(parsed)
    try:
        engine = create_engine(parsed, **engine_kwargs)
    except exc.NoSuchModuleError:
        raise IntegrityKitError(f"unknown database kind {parsed.drivername!r} in {shown}") from None
    except ModuleNotFoundError as error:
        raise IntegrityKitError(_missing_driver_message(parsed, error)) from None
    except exc.ArgumentError as error:
        raise IntegrityKitError(f"invalid database URL {shown}: {first_line(error)}") from None
    if check:
        verify_connection(engine)
    return engine


def verify_connection(engine: Engine) -> None:
    """Connect once; an unreachable server or bad credentials become one clear, password-free error."""
    shown = mask_url(engine.url)
    try:
        with engine.connect():
            pass
    except exc.DBAPIError as error:
        engine.dispose()
        reason = scrub(first_line(error.orig), engine.url)
        raise IntegrityKitError(f"cannot connect to {shown}: {reason}") from None
    except exc.SQLAlchemyError as error:
        engine.dispose()
        reason = scrub(first_line(error), engine.url)
        raise IntegrityKitError(f"cannot connect to {shown}: {reason}") from None


def _mask_query_text(text: str) -> str:
    # Unparsable text has no query dictionary: mask ``name=value`` pairs whose name carries a secret.
    return re.sub(r"([?&;]([^=&;#]+)=)([^&;#]*)",
                  lambda m: m.group(1) + _MASK if is_secret_parameter(m.group(2)) else m.group(0), text)


def _missing_driver_message(url: URL, error: ModuleNotFoundError) -> str:
    driver = url.get_driver_name()
    extra = _EXTRA_FOR_DRIVER.get(driver)
    hint = f"pip install 'integrity-kit[{extra}]'" if extra else f"install the {driver!r} package"
    return f"the database driver {error.name or driver!r} for {url.drivername} is not installed: {hint}"


def scrub(text: str, url: URL) -> str:
    """``text`` with every secret of ``url`` replaced by ``***``: a driver may echo its connection string back."""
    for secret in sorted(url_secrets(url), key=len, reverse=True):
        text = text.replace(secret, _MASK)
    return text
