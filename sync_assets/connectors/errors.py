"""Exception hierarchy shared by every connector.

Callers catch by meaning (bad credential, throttled, transient, rejected input), not by service; each
service's module subclasses these and adds the service's own code/detail/path.
"""

from __future__ import annotations


class ConnectorError(Exception):
    """Base of every error a connector raises. ``service`` names the remote system."""

    service: str = "remote service"

    def __init__(self, message: str, *, status: int | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.status = status
        self.code = code


class AuthenticationError(ConnectorError):
    """The remote system refused our credentials. The message names which credential and how to fix it."""


class ThrottledError(ConnectorError):
    """Still throttled after the retry budget was spent."""


class TransientError(ConnectorError):
    """A 5xx, timeout or reset that outlived the retry budget: safe to try again later."""


class RequestRejected(ConnectorError):
    """The remote system understood the request and refused it (bad input, duplicate, missing record)."""
