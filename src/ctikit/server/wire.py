"""The JSON contract with the browser (docs/protocol.md), version 1.

Frames are encoded once per event and shared by every socket of the agent, so encoding
is not repeated per console.
"""

from __future__ import annotations

from typing import Any

import msgspec

from ..core.errors import CtiError
from ..core.events import CustomEventFired, Event

PROTOCOL_VERSION = 1
MAX_REQUEST_ID_LENGTH = 64

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


class FrameError(Exception):
    """A frame from the browser that is not a request; ``request_id`` if one could be read."""

    def __init__(self, message: str, request_id: Any = None) -> None:
        super().__init__(message)
        self.message = message
        self.request_id = request_id


def encode(obj: Any) -> str:
    """JSON text (for JSON embedded in a field)."""
    return _encoder.encode(obj).decode()


def frame(obj: Any) -> bytes:
    """A text frame's UTF-8 payload, ready for ``send_frame``: encoded once, never again per
    socket."""
    return _encoder.encode(obj)


def encode_event(event: Event) -> bytes:
    """An event frame: ``{"type":"event","seq":…,"event":…,"at":…,"data":…}``."""
    if type(event) is CustomEventFired:
        return _custom_event_frame(event)
    return frame(
        {
            "type": "event",
            "seq": event.seq,
            "event": event.wire_name,
            "at": event.at,
            "data": event.payload(),
        }
    )


_EVENT_HEAD = b'{"type":"event","seq":'
#: The last custom event's frame after its ``seq``: a campaign fires the same event to every
#: agent, and only the sequence number differs from one agent's frame to the next.
_last_custom: tuple[tuple[str, str | None, float], bytes] = (("", None, 0.0), b"")


def _custom_event_frame(event: CustomEventFired) -> bytes:
    global _last_custom
    key = (event.event_type, event.message, event.at)
    seen, tail = _last_custom
    if key != seen:
        # Same encoder and key order as the full frame, so the bytes are identical.
        body = frame({"event": event.wire_name, "at": event.at, "data": event.payload()})
        tail = b"," + body[1:]
        _last_custom = (key, tail)
    return _EVENT_HEAD + str(event.seq).encode() + tail


def decode_request(text: str | bytes) -> tuple[Any, str, dict[str, Any]]:
    """Parse a request frame into ``(id, op, fields)``; raise :class:`FrameError`."""
    try:
        obj = _decoder.decode(text)
    except msgspec.DecodeError as exc:
        raise FrameError(f"frame is not valid JSON: {exc}") from None
    except RecursionError:
        raise FrameError("frame is nested too deeply") from None
    if not isinstance(obj, dict):
        raise FrameError("frame must be a JSON object")
    rid = obj.get("id")
    if isinstance(rid, bool) or not (
        (isinstance(rid, int) and -(2**53) < rid < 2**53)
        or (isinstance(rid, str) and 0 < len(rid) <= MAX_REQUEST_ID_LENGTH)
    ):
        raise FrameError(
            f"request needs an id: an integer or a string of 1 to {MAX_REQUEST_ID_LENGTH} "
            "characters"
        )
    op = obj.get("op")
    if not isinstance(op, str):
        raise FrameError("request needs an op (string)", rid)
    return rid, op, obj


def response(request_id: Any, **fields: Any) -> bytes:
    return frame({"type": "response", "id": request_id, "success": True, **fields})


def error_response(request_id: Any, message: str, code: str, **fields: Any) -> bytes:
    return frame(
        {
            "type": "response",
            "id": request_id,
            "success": False,
            "error": message,
            "code": code,
            **fields,
        }
    )


def error_from(request_id: Any, exc: CtiError, **fields: Any) -> bytes:
    return error_response(request_id, exc.message, exc.code, **fields)
