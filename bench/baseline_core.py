"""The state of a baseline server: the same JSON shapes as ctikit, and no CTI logic.

Sequence numbers: a broadcast carries one global number (the same bytes go to every socket);
an event for one agent carries that agent's number. A hello reports the sum of both, which is
right as long as one run does not mix broadcasts and per-agent events (no scenario does).
Broadcast frames are kept (bounded) so that a console that reconnects with ``since`` gets the
frames it missed, as ctikit replays its event log.
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
import time
from collections import deque
from collections.abc import Callable
from typing import Any

import msgspec

from .day import DayActions

ANSWER_DELAY = 0.15  # the simulator's default: agent answers -> line connected
LOG_SIZE = 1000

_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


def encode(obj: Any) -> str:
    return _encode(obj).decode()


class BaselineState:
    """Sequence numbers, the replay log, the calls requests answer about."""

    def __init__(self) -> None:
        self.epoch = secrets.token_hex(8)
        self.global_seq = 0
        self.agent_seq: dict[str, int] = {}
        self.log: deque[tuple[int, str]] = deque(maxlen=LOG_SIZE)
        self.calls: dict[str, dict[str, Any]] = {}
        self.known: set[str] = set()
        #: Called with (frame, at) for each event frame (the server-side probe, if on).
        self.on_frame: Callable[[str, float], None] | None = None

    def seq_of(self, agent: str) -> int:
        return self.global_seq + self.agent_seq.get(agent, 0)

    def hello(self, agent: str, since: str | None, epoch: str | None) -> list[str]:
        """The hello frame and any frames to replay, for a console that (re)connects."""
        self.known.add(agent)
        common = {"type": "hello", "protocol": 1, "agent": agent, "epoch": self.epoch}
        if since is not None and epoch == self.epoch and since.isdigit():
            after = int(since)
            if not self.log or self.log[0][0] <= after + 1:
                replay = [frame for seq, frame in self.log if seq > after]
                return [encode({**common, "resumed": "replay", "seq": after}), *replay]
        call = self.calls.get(agent)
        return [
            encode(
                {
                    **common,
                    "resumed": "fresh" if since is None else "snapshot",
                    "seq": self.seq_of(agent),
                    "calls": [call] if call else [],
                    "recent": [],
                    "lineUp": None,
                }
            )
        ]

    def broadcast_frame(self, message: str) -> str:
        """One campaign event, the same bytes for every socket."""
        self.global_seq += 1
        at = time.time()
        frame = encode(
            {
                "type": "event",
                "seq": self.global_seq,
                "event": "customEvent",
                "at": at,
                "data": {"type": "campaign", "message": message},
            }
        )
        self.log.append((self.global_seq, frame))
        if self.on_frame is not None:
            self.on_frame(frame, at)
        return frame

    def agent_frame(self, agent: str, event: str, data: dict[str, Any]) -> str:
        seq = self.agent_seq[agent] = self.agent_seq.get(agent, 0) + 1
        at = time.time()
        frame = encode({"type": "event", "seq": seq, "event": event, "at": at, "data": data})
        if self.on_frame is not None:
            self.on_frame(frame, at)
        return frame

    def answer(self, agent: str, text: str | bytes) -> str:
        """A request frame in, a response frame out (the shapes of docs/protocol.md)."""
        try:
            req = _decode(text)
            rid, op = req["id"], req["op"]
        except (msgspec.DecodeError, KeyError, TypeError):
            return encode(
                {
                    "type": "response",
                    "id": None,
                    "success": False,
                    "error": "bad request",
                    "code": "bad_request",
                }
            )
        call = self.calls.get(agent)
        if op == "getCallObjectIds":
            return encode(
                {
                    "type": "response",
                    "id": rid,
                    "success": True,
                    "ids": [call["id"]] if call else [],
                }
            )
        if op == "getCallAttachedData":
            if call is None or call["id"] != req.get("callId"):
                return encode(
                    {
                        "type": "response",
                        "id": rid,
                        "success": False,
                        "data": None,
                        "error": "call is not active",
                        "code": "unknown_call",
                    }
                )
            out = {"type": "response", "id": rid, "success": True, "data": encode(call["data"])}
            if req.get("getCallType"):
                out["callType"] = call["type"]
            return encode(out)
        return encode({"type": "response", "id": rid, "success": True})


_ids = itertools.count(1)


def new_call(call_id: str) -> dict[str, Any]:
    """A ringing inbound call, as ctikit's CALL object looks on the wire."""
    return {
        "id": call_id,
        "type": "INBOUND",
        "label": "+14155550142",
        "data": {
            "ANI": "+14155550142",
            "DNIS": "+18005550199",
            "account": "ACME-4242",
            "reason": "billing",
            "language": "en",
            "verified": True,
        },
        "startedAt": time.time(),
        "lineState": "ringing",
        "muted": False,
        "answeredAt": None,
        "endedAt": None,
        "duration": None,
        "disposition": None,
        "ani": "+14155550142",
        "dnis": "+18005550199",
    }


class BaselineActions(DayActions):
    """The day's call steps as plain frames sent by ``send(agent, frame)``."""

    def __init__(self, state: BaselineState, send: Callable[[str, str], None]) -> None:
        self.state = state
        self.send = send

    def _pub(self, agent: str, event: str, data: dict[str, Any]) -> None:
        self.send(agent, self.state.agent_frame(agent, event, data))

    async def begin(self, agent: str) -> str:
        call = new_call(f"b-{next(_ids)}")
        self.state.calls[agent] = call
        self._pub(agent, "callBegin", {"id": call["id"], "call": call})
        return str(call["id"])

    async def attach(self, agent: str, call_id: str) -> None:
        call = self.state.calls[agent]
        call["data"] = {**call["data"], "queue": "US Support", "verified": True}
        self._pub(agent, "callUpdate", {"id": call_id, "call": call})

    async def answer(self, agent: str, call_id: str) -> None:
        self._pub(agent, "ctiMessage", {"message": f"/ANSWER?CALL_ID={call_id}"})

        def connected() -> None:
            call = self.state.calls[agent]
            call["lineState"], call["answeredAt"] = "connected", time.time()
            self._pub(agent, "callUpdate", {"id": call_id, "call": call})

        asyncio.get_running_loop().call_later(ANSWER_DELAY, connected)

    async def hangup(self, agent: str, call_id: str) -> None:
        call = self.state.calls.pop(agent)
        call["endedAt"] = time.time()
        call["duration"] = call["endedAt"] - call["startedAt"]
        call["disposition"] = ""
        self._pub(
            agent,
            "callEnd",
            {
                "id": call_id,
                "duration": str(round(call["duration"])),
                "disposition": "",
                "reason": "caller hung up",
                "call": call,
            },
        )

    async def save_log(self, agent: str, call_id: str) -> None:
        self._pub(agent, "callLogSaved", {"id": f"log-{next(_ids)}"})
