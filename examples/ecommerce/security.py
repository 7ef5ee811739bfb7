"""What every response carries and what every request must be: the API's HTTP hygiene in one place.

- Responses: a ``Content-Type`` with its charset (a client never guesses the encoding), ``nosniff`` (a browser
  never reinterprets JSON as HTML or script), no framing, no referrer, ``no-store`` for anything personal, and no
  ``Server`` banner naming versions.
- Requests: bodies are JSON or nothing (``415`` otherwise), and no bigger than ``MAX_CONTENT_LENGTH`` (``413``).
"""

from __future__ import annotations

import json
from http import HTTPStatus

from flask import Flask, Request, Response, request
from werkzeug.exceptions import UnsupportedMediaType
from werkzeug.serving import WSGIRequestHandler

SERVER_NAME = "integrity-kit-shop"
HEADERS = {
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Content-Security-Policy": "default-src 'none'; frame-ancestors 'none'",
    "Referrer-Policy": "no-referrer",
}
BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


def _has_body(incoming: Request) -> bool:
    return bool(incoming.content_length) or "chunked" in incoming.headers.get("Transfer-Encoding", "").lower()


def require_json_bodies() -> None:
    """Refuse any request body that is not declared as JSON. An empty body is fine (logout, checkout)."""
    if request.method in BODY_METHODS and _has_body(request) and not request.is_json:
        raise UnsupportedMediaType("the request body must be JSON (Content-Type: application/json)")


def harden(response: Response) -> Response:
    if response.mimetype == "application/json" and "charset" not in response.mimetype_params:
        response.headers["Content-Type"] = "application/json; charset=utf-8"
    for name, value in HEADERS.items():
        response.headers.setdefault(name, value)
    if "Authorization" in request.headers or request.path.startswith("/api/auth/"):
        response.headers["Cache-Control"] = "no-store"  # tokens and personal data stay out of shared caches
    response.headers.pop("Server", None)
    return response


def install(app: Flask) -> None:
    app.before_request(require_json_bodies)
    app.after_request(harden)


class QuietRequestHandler(WSGIRequestHandler):
    """Werkzeug's development server announces ``Server: Werkzeug/x.y Python/x.y``; a version banner only helps
    whoever is looking for a known hole."""

    def version_string(self) -> str:
        return SERVER_NAME

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """Errors the server answers before the app sees the request (a 70 KB header line, a malformed request
        line) in the API's error shape, not ``http.server``'s HTML page."""
        try:
            reason = HTTPStatus(code).phrase
        except ValueError:
            reason = message or "error"
        kind = "INTERNAL_ERROR" if code >= 500 else "NOT_FOUND" if code == 404 else "VALIDATION_ERROR"
        body = json.dumps({"error": {"code": kind, "message": reason.lower(),
                                     "details": {"http_status": code}}}).encode()
        self.log_error("code %d, message %s", code, message)
        self.send_response(code, reason)
        self.send_header("Connection", "close")
        with_body = code >= 200 and code not in (HTTPStatus.NO_CONTENT, HTTPStatus.NOT_MODIFIED) \
            and getattr(self, "command", None) != "HEAD"
        if with_body:
            self.send_header("Content-Type", "application/json; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
        for name, value in HEADERS.items():
            self.send_header(name, value)
        self.end_headers()
        if with_body:
            self.wfile.write(body)
