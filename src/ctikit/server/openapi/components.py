"""The schemas the operations refer to: errors, calls, call logs."""

from __future__ import annotations

from typing import Any

from ...storage.records import CALL_LOG_FIELDS, CALL_TYPES
from .parts import _nullable

# --------------------------------------------------------------------- components

#: Every ``code`` the REST API answers (docs/protocol.md).
ERROR_CODES = [
    "bad_request",
    "unknown_call",
    "limit_exceeded",
    "command_rejected",
    "unsupported",
    "unauthorized",
    "forbidden",
    "not_found",
    "method_not_allowed",
    "rate_limited",
    "internal_error",
    "unavailable",
    "corrupt_state",
    "timeout",
]

_TIME = {"type": "string", "format": "date-time"}

SCHEMAS: dict[str, Any] = {
    "Error": {
        "type": "object",
        "required": ["success", "error", "code"],
        "properties": {
            "success": {"const": False},
            "error": {"type": "string", "minLength": 1},
            "code": {
                "enum": ERROR_CODES,
                "description": "internal_error comes with a 500 (a server bug); unavailable "
                "and corrupt_state only in cluster mode (Redis); timeout (a 504) when the "
                "telephony did not confirm a CTI command in time",
            },
        },
    },
    "Call": {
        "type": "object",
        "required": [
            "id",
            "type",
            "label",
            "data",
            "startedAt",
            "lineState",
            "muted",
            "answeredAt",
            "endedAt",
            "duration",
            "disposition",
            "ani",
            "dnis",
            "heldAt",
        ],
        "properties": {
            "id": {"type": "string"},
            "type": {"enum": ["INBOUND", "OUTBOUND", "INTERNAL"]},
            "label": {"type": ["string", "null"]},
            "data": {"description": "Attached data: any JSON value (usually an object)"},
            "startedAt": {"type": "number", "description": "Seconds since the epoch"},
            "lineState": {
                "enum": ["ringing", "dialing", "connected", "held", None],
                "description": "null for calls a component began (no line of ctikit's)",
            },
            "muted": {"type": "boolean"},
            "answeredAt": {"type": ["number", "null"]},
            "heldAt": {"type": ["number", "null"]},
            "endedAt": {"type": ["number", "null"]},
            "duration": {"type": ["number", "null"], "minimum": 0},
            "disposition": {"type": ["string", "null"]},
            "ani": {"type": ["string", "null"]},
            "dnis": {"type": ["string", "null"]},
        },
    },
    "CallLog": {
        "type": "object",
        "required": list(CALL_LOG_FIELDS),
        "properties": {
            "id": {"type": "string"},
            "created_at": _TIME,
            "agent_id": {"type": "string"},
            "call_id": {"type": "string"},
            "call_type": {"enum": list(CALL_TYPES)},
            "label": {"type": ["string", "null"]},
            "ani": {"type": ["string", "null"]},
            "dnis": {"type": ["string", "null"]},
            "attached_data": {"description": "Any JSON value"},
            "started_at": _nullable(_TIME),
            "ended_at": _nullable(_TIME),
            "duration_seconds": {"type": ["integer", "null"], "minimum": 0},
            "disposition": {"type": ["string", "null"]},
            "subject": {"type": ["string", "null"]},
            "comments": {"type": ["string", "null"]},
        },
    },
}
