"""Connector requests between nodes: any node asks, the lease holder carries them out.

A request is a JSON object pushed on the list ``P connector:requests``; the node holding the
connector lease pops it, runs it on its connector and pushes the outcome on the request's
own reply list, which expires. A request older than its deadline is dropped unrun: whoever
sent it has already told its caller it failed.
"""

from __future__ import annotations

import enum
import secrets
import time
from collections.abc import Mapping
from typing import Any

import msgspec

from ..connectors.base import ActionFailedError
from ..core.commands import Action
from ..core.model import check_agent_id
from ..core.telephony import ConnectorAction

REPLY_TTL_SECONDS = 30
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class Kind(enum.StrEnum):
    EXECUTE = "execute"
    PLACE_CALL = "place"


def new_request(
    kind: Kind, payload: Mapping[str, Any], *, prefix: str, within: float
) -> tuple[str, bytes]:
    """``(reply key, request bytes)`` for a request that must start within ``within`` s."""
    reply = f"{prefix}connector:reply:{secrets.token_hex(12)}"
    body = {
        "kind": kind.value,
        "payload": dict(payload),
        "reply": reply,
        "deadline": time.time() + within,
    }
    return reply, _encode(body)


def parse_request(raw: bytes | str, *, prefix: str) -> tuple[Kind, dict[str, Any], str, float]:
    """Validate a popped request; raises ValueError on anything malformed."""
    try:
        obj = _decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    kind, payload, reply, deadline = (obj.get(k) for k in ("kind", "payload", "reply", "deadline"))
    if (
        not isinstance(reply, str)
        or not reply.startswith(f"{prefix}connector:reply:")
        or len(reply) > 200
    ):
        raise ValueError("bad reply key")
    if not isinstance(payload, dict) or not isinstance(deadline, int | float):
        raise ValueError("bad payload or deadline")
    if not isinstance(kind, str):
        raise ValueError("bad kind")
    return Kind(kind), payload, reply, float(deadline)


def encode_reply(*, ok: bool, value: Any = None, error: str | None = None) -> bytes:
    return _encode({"ok": ok, "value": value, "error": error})


def parse_reply(raw: bytes | str) -> Any:
    """The value of a successful reply; raises ActionFailedError with the remote's message."""
    try:
        obj = _decode(raw)
    except msgspec.DecodeError:
        raise ActionFailedError("the connector node sent a malformed reply") from None
    if not isinstance(obj, dict):
        raise ActionFailedError("the connector node sent a malformed reply")
    if not obj.get("ok"):
        raise ActionFailedError(str(obj.get("error") or "the connector node refused"))
    return obj.get("value")


def action_to_dict(action: ConnectorAction) -> dict[str, Any]:
    return {
        "agent": action.agent,
        "action": action.action.value,
        "call_id": action.call_id,
        "number": action.number,
        "digits": action.digits,
        "data": action.data,
    }


def action_from_dict(raw: Mapping[str, Any]) -> ConnectorAction:
    """Raises ValueError on anything a node would not have sent."""
    for name in ("call_id", "number", "digits"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise ValueError(f"{name} must be a string")
    try:
        agent = check_agent_id(raw.get("agent"))
    except Exception as exc:
        raise ValueError(f"bad agent: {exc}") from None
    action = raw.get("action")
    if not isinstance(action, str):
        raise ValueError("action must be a string")
    return ConnectorAction(
        agent=agent,
        action=Action(action),
        call_id=raw.get("call_id"),
        number=raw.get("number"),
        digits=raw.get("digits"),
        data=raw.get("data"),
    )
