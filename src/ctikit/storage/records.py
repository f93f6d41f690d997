"""Plain call-log records and their validation (no database code here)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any, Final

CALL_TYPES: Final = ("INBOUND", "OUTBOUND", "INTERNAL")

# Limits for short strings are in characters (they are VARCHAR(255) columns and
# PostgreSQL counts characters); the two large fields are limited in UTF-8 bytes.
MAX_SHORT_TEXT: Final = 255
MAX_COMMENTS_BYTES: Final = 32 * 1024
MAX_ATTACHED_DATA_BYTES: Final = 64 * 1024
MAX_DURATION_SECONDS: Final = 2**31 - 1  # INTEGER column on PostgreSQL

_SHORT_FIELDS: Final = ("agent_id", "call_id", "label", "ani", "dnis", "disposition", "subject")
_REQUIRED_FIELDS: Final = ("agent_id", "call_id")


def utc_now() -> datetime:
    """The current time as a timezone-aware UTC datetime (the default clock)."""
    return datetime.now(UTC)


def new_log_id() -> str:
    """An opaque, unguessable log id (not sequential, so ids leak no volume)."""
    return "log_" + uuid.uuid4().hex


def isoformat_utc(value: datetime) -> str:
    """ISO 8601 in UTC with a ``Z`` suffix, e.g. ``2024-05-01T12:00:00.250000Z``."""
    return value.astimezone(UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True, slots=True, kw_only=True)
class NewCallLog:
    """A call log as submitted by an agent, before the store assigns id/created_at.

    Datetimes must be timezone-aware (they are stored and returned in UTC).
    ``attached_data`` is any JSON value, usually a dict of CTI attached data.
    """

    agent_id: str
    call_id: str
    call_type: str
    label: str | None = None
    ani: str | None = None
    dnis: str | None = None
    attached_data: Any = None
    started_at: datetime | None = None
    ended_at: datetime | None = None
    duration_seconds: int | None = None
    disposition: str | None = None
    subject: str | None = None
    comments: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class CallLog(NewCallLog):
    """A saved call log: the submitted fields plus the store's id and created_at."""

    id: str
    created_at: datetime

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready dict: datetimes as ISO 8601 UTC (``Z``), attached_data as is."""
        return {
            "id": self.id,
            "created_at": isoformat_utc(self.created_at),
            "agent_id": self.agent_id,
            "call_id": self.call_id,
            "call_type": self.call_type,
            "label": self.label,
            "ani": self.ani,
            "dnis": self.dnis,
            "started_at": _iso_or_none(self.started_at),
            "ended_at": _iso_or_none(self.ended_at),
            "duration_seconds": self.duration_seconds,
            "disposition": self.disposition,
            "subject": self.subject,
            "comments": self.comments,
            "attached_data": self.attached_data,
        }


NEW_CALL_LOG_FIELDS: Final = tuple(f.name for f in fields(NewCallLog))
#: A saved call log's fields, in the order of :meth:`CallLog.to_dict`, CSV exports and the
#: REST schema.
CALL_LOG_FIELDS: Final = (
    "id",
    "created_at",
    "agent_id",
    "call_id",
    "call_type",
    "label",
    "ani",
    "dnis",
    "started_at",
    "ended_at",
    "duration_seconds",
    "disposition",
    "subject",
    "comments",
    "attached_data",
)


def _iso_or_none(value: datetime | None) -> str | None:
    return None if value is None else isoformat_utc(value)


def encode_json(value: Any) -> str:
    """Compact JSON text for *value*; ``ValueError`` if it is not a JSON value."""
    try:
        # allow_nan=False: NaN/Infinity are not JSON and would break exports.
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError, RecursionError) as exc:
        raise ValueError(f"attached_data is not a JSON value: {exc}") from exc


def _utf8_len(name: str, value: str) -> int:
    try:
        return len(value.encode("utf-8"))
    except UnicodeEncodeError as exc:  # lone surrogates cannot be stored
        raise ValueError(f"{name} is not valid Unicode text: {exc}") from exc


def _check_text(name: str, value: object, *, max_chars: int | None, max_bytes: int | None) -> None:
    if not isinstance(value, str):
        raise ValueError(f"{name} must be a string, not {type(value).__name__}")
    if "\x00" in value:  # PostgreSQL text cannot hold NUL
        raise ValueError(f"{name} must not contain NUL characters")
    size = _utf8_len(name, value)
    if max_chars is not None and len(value) > max_chars:
        raise ValueError(f"{name} is too long: {len(value)} characters (max {max_chars})")
    if max_bytes is not None and size > max_bytes:
        raise ValueError(f"{name} is too long: {size} bytes of UTF-8 (max {max_bytes})")


def require_aware(name: str, value: object) -> datetime:
    """*value* as an aware UTC datetime; ``ValueError`` if naive or not a datetime."""
    if not isinstance(value, datetime):
        raise ValueError(f"{name} must be a datetime, not {type(value).__name__}")
    if value.tzinfo is None or value.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware (UTC), got a naive datetime")
    try:
        return value.astimezone(UTC)
    except OverflowError:  # e.g. 9999-12-31T23:00-05:00 is past the last UTC date
        raise ValueError(f"{name} is out of range: {value.isoformat()}") from None


def check_filter_datetime(name: str, value: datetime | None) -> datetime | None:
    """Validate an optional since/until bound; returns it in UTC."""
    return None if value is None else require_aware(name, value)


def validate_new_log(log: NewCallLog) -> tuple[dict[str, Any], str]:
    """Check *log* against the storage limits.

    Returns the field values normalised for storage (datetimes in UTC) and the
    attached data encoded as JSON text. Raises ``ValueError`` naming the field.
    """
    if not isinstance(log, NewCallLog):
        raise TypeError(f"expected NewCallLog, got {type(log).__name__}")
    values = {name: getattr(log, name) for name in NEW_CALL_LOG_FIELDS}
    for name in _SHORT_FIELDS:
        if values[name] is not None or name in _REQUIRED_FIELDS:
            _check_text(name, values[name], max_chars=MAX_SHORT_TEXT, max_bytes=None)
    for name in _REQUIRED_FIELDS:
        if not values[name]:
            raise ValueError(f"{name} must not be empty")
    if values["call_type"] not in CALL_TYPES:
        raise ValueError(f"call_type must be one of {', '.join(CALL_TYPES)}, got {log.call_type!r}")
    if log.comments is not None:
        _check_text("comments", log.comments, max_chars=None, max_bytes=MAX_COMMENTS_BYTES)
    for name in ("started_at", "ended_at"):
        if values[name] is not None:
            values[name] = require_aware(name, values[name])
    duration = log.duration_seconds
    if duration is not None:
        # bool is an int subclass but True seconds is surely a bug upstream.
        if isinstance(duration, bool) or not isinstance(duration, int):
            raise ValueError(f"duration_seconds must be an int, not {type(duration).__name__}")
        if not 0 <= duration <= MAX_DURATION_SECONDS:
            raise ValueError(f"duration_seconds must be between 0 and {MAX_DURATION_SECONDS}")
    attached_json = encode_json(log.attached_data)
    size = _utf8_len("attached_data", attached_json)
    if size > MAX_ATTACHED_DATA_BYTES:
        raise ValueError(
            f"attached_data is too large: {size} bytes of JSON (max {MAX_ATTACHED_DATA_BYTES})"
        )
    return values, attached_json
