"""Request boundaries: a counter that moves on at the start of every Flask request while a capture runs.

A test that makes two requests through Flask's test client runs each view once; a statement the view sends once per
request is not a loop, even though both requests reach it through the same lines. Detection keeps statements of
different requests apart by this counter. It listens on Flask's public ``request_started`` signal (blinker), only
while at least one capture runs and only when Flask is already imported, so nothing is imported on its behalf.
"""

from __future__ import annotations

import sys
import threading
from typing import Any

current: list[int] = [0]  # the request generation; read by the capture's hot path as current[0]
_lock = threading.Lock()
_users = 0
_signal: Any = None


def _request_started(_sender: Any, **_extra: Any) -> None:
    current[0] += 1


def acquire() -> None:
    """Count requests while at least one capture runs (call :func:`release` after)."""
    global _users, _signal
    with _lock:
        _users += 1
        if _signal is not None or "flask" not in sys.modules:
            return
        try:
            from flask import request_started

            request_started.connect(_request_started, weak=False)
            _signal = request_started
        except Exception:  # a Flask without signals: requests are simply not told apart
            _signal = None


def release() -> None:
    global _users, _signal
    with _lock:
        _users -= 1
        if _users == 0 and _signal is not None:
            try:
                _signal.disconnect(_request_started)
            finally:
                _signal = None
