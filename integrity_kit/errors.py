"""The one error type that the command line turns into a single line on stderr and exit code 2."""

from __future__ import annotations


class IntegrityKitError(Exception):
    """A problem the user can fix: bad input, unreachable database, missing driver.

    ``str(error)`` is the whole message shown to the user, so it must never contain a password.
    """

    exit_code = 2
