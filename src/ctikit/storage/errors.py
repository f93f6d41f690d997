"""The storage layer's single exception type."""

from __future__ import annotations

from sqlalchemy.exc import DBAPIError


class StorageError(Exception):
    """The database could not be reached or did not accept an operation.

    Raised at the storage boundary instead of SQLAlchemy or driver exceptions so
    callers need not know which backend is in use; the original exception is
    kept as ``__cause__``. Invalid input raises ``ValueError`` instead.
    """


def describe_error(exc: BaseException) -> str:
    """A one-line reason for *exc*, without SQLAlchemy's statement/link noise."""
    if isinstance(exc, DBAPIError) and exc.orig is not None:
        exc = exc.orig
    text = " ".join(str(exc).split())
    return text or type(exc).__name__
