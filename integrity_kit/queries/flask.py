"""Per-request query counts and N+1 findings for a Flask app.

    from integrity_kit.queries.flask import init_app
    init_app(app, engine)          # or init_app(app) to watch every engine

Every request runs under :func:`capture`. The count and each N+1 finding are logged on ``app.logger``
(``integrity_kit.queries``); in debug mode (or with ``headers=True``) the response also carries
``X-Integrity-Kit-Queries`` and ``X-Integrity-Kit-N-Plus-One``. Capture stops in ``teardown_request``, so a
failing view never leaves listeners behind, and an error inside this integration never breaks a request.
"""

from __future__ import annotations

import logging
from typing import Any

from .capture import capture

_KEY = "integrity_kit_query_capture"
logger = logging.getLogger("integrity_kit.queries")


def init_app(app: Any, engine: Any = None, *, threshold: int = 2, headers: bool | None = None) -> None:
    """Capture each request of ``app`` (Flask) on ``engine`` (every engine when None)."""
    from flask import g

    def start() -> None:
        try:
            cap = capture(engine, threshold=threshold)
            cap.start()
            setattr(g, _KEY, cap)
        except Exception:  # observing must never break the request
            logger.exception("integrity-kit: could not start query capture")

    def finish(response):
        cap = getattr(g, _KEY, None)
        if cap is None:
            return response
        try:
            cap.stop()
            log = cap.log
            findings = log.n_plus_one
            logger.info("%s %s: %d queries, %d N+1", _method(), _path(), len(log.statements), len(findings))
            for finding in findings:
                logger.warning("N+1 in %s %s: %d similar queries (%s) from %s; fix: %s", _method(), _path(),
                               finding.count, finding.relationship or finding.kind, finding.location,
                               _one_line(finding.fix))
            if headers if headers is not None else app.debug:
                response.headers["X-Integrity-Kit-Queries"] = str(len(log.statements))
                response.headers["X-Integrity-Kit-N-Plus-One"] = "; ".join(
                    f"{f.relationship or f.kind} x{f.count} at {f.location} -> {_one_line(f.fix)}"
                    for f in findings) or "none"
        except Exception:
            logger.exception("integrity-kit: could not report the request's queries")
        return response

    def teardown(_error) -> None:
        cap = getattr(g, _KEY, None)
        if cap is not None:
            try:
                cap.stop()  # idempotent: after_request may already have stopped it
            except Exception:
                logger.exception("integrity-kit: could not stop query capture")

    app.before_request(start)
    app.after_request(finish)
    app.teardown_request(teardown)


def _one_line(code: str) -> str:
    """A multi-statement fix on one line: a header value cannot hold a line break."""
    return "; ".join(line.strip() for line in code.splitlines() if line.strip())


def _method() -> str:
    from flask import request

    return request.method


def _path() -> str:
    from flask import request

    return request.path
