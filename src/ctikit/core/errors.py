"""Errors raised by the core, named after who is at fault (h11's habit).

- :class:`CtiRequestError`: the caller (a component, a REST client) asked for something
  invalid or impossible. Its message is safe to show back to that caller.
- :class:`TelephonyError`: the telephony side (a connector, a PBX) reported nonsense or could
  not carry out a command.
"""

from __future__ import annotations


class CtiError(Exception):
    """Base class of ctikit errors. ``code`` is a stable machine-readable slug."""

    code = "error"

    def __init__(self, message: str, *, code: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code


class CtiRequestError(CtiError):
    """The caller sent a bad request (wrong type, unknown call, over a limit...)."""

    code = "bad_request"


class UnknownCallError(CtiRequestError):
    code = "unknown_call"


class LimitExceededError(CtiRequestError):
    """Too much: data, a message or a request over its size limit, too many calls..."""

    code = "limit_exceeded"


class TooLongError(LimitExceededError):
    """One value (an ID, a label, a subject) longer than its limit: the request is not too
    large as a whole (REST answers 400, not 413)."""


class RateLimitedError(CtiRequestError):
    """Over a quota (call-log saves per agent): slow down (REST: 429 with Retry-After)."""

    code = "rate_limited"


class CommandRejectedError(CtiRequestError):
    """A well-formed CTI command that cannot be carried out in the current call state."""

    code = "command_rejected"


class TelephonyError(CtiError):
    """The telephony side failed or sent something the core cannot accept."""

    code = "telephony_error"


class CallAlreadyActiveError(TelephonyError):
    """The connector offered a call the agent already has: the live call is not to be touched."""
