"""Events the core emits. Each carries the agent, a per-agent sequence number and a time.

Sequence numbers start at 1 and grow by one per event of that agent, with no gaps: a console
that saw event N and reconnects can ask for everything after N.
"""

from __future__ import annotations

from typing import Any, ClassVar

import msgspec

from .model import CallView
from .presence import Presence


class _Event(msgspec.Struct, frozen=True, kw_only=True, gc=False):
    """Immutable, as cheap to make as a tuple (a campaign makes one per agent), and never
    tracked by the garbage collector: an event refers to nothing that refers back, and an
    agent keeps up to ``Limits.event_log_size`` of them for replay."""

    agent: str
    seq: int
    at: float

    #: Name of the event on the wire (docs/protocol.md); each event class sets its own.
    wire_name: ClassVar[str] = ""


class CallBegan(_Event, frozen=True, kw_only=True, gc=False):
    call: CallView
    wire_name: ClassVar[str] = "callBegin"

    def payload(self) -> dict[str, Any]:
        return {"id": self.call.id, "call": self.call.to_dict()}


class CallEnded(_Event, frozen=True, kw_only=True, gc=False):
    call: CallView
    duration: float
    disposition: str
    reason: str | None = None
    wire_name: ClassVar[str] = "callEnd"

    def payload(self) -> dict[str, Any]:
        return {
            "id": self.call.id,
            "duration": _duration_text(self.duration),
            "disposition": self.disposition,
            "reason": self.reason,
            "call": self.call.to_dict(),
        }


class CallUpdated(_Event, frozen=True, kw_only=True, gc=False):
    """Line state, mute, attached data or type of an active call changed."""

    call: CallView
    wire_name: ClassVar[str] = "callUpdate"

    def payload(self) -> dict[str, Any]:
        return {"id": self.call.id, "call": self.call.to_dict()}


class CallsReplaced(_Event, frozen=True, kw_only=True, gc=False):
    """``setCallObjectIds`` replaced the list of active calls."""

    ids: tuple[str, ...]
    wire_name: ClassVar[str] = "callIds"

    def payload(self) -> dict[str, Any]:
        return {"ids": list(self.ids)}


class CallFailed(_Event, frozen=True, kw_only=True, gc=False):
    """The telephony side could not carry out something (dial busy, transfer refused...)."""

    call_id: str | None
    reason: str
    number: str | None = None
    wire_name: ClassVar[str] = "callFailed"

    def payload(self) -> dict[str, Any]:
        return {"id": self.call_id, "reason": self.reason, "number": self.number}


class CallLogSaved(_Event, frozen=True, kw_only=True, gc=False):
    log_id: str
    wire_name: ClassVar[str] = "callLogSaved"

    def payload(self) -> dict[str, Any]:
        return {"id": self.log_id}


class CtiMessageSent(_Event, frozen=True, kw_only=True, gc=False):
    message: str
    wire_name: ClassVar[str] = "ctiMessage"

    def payload(self) -> dict[str, Any]:
        return {"message": self.message}


class CustomEventFired(_Event, frozen=True, kw_only=True, gc=False):
    """``sforce.console.fireEvent``: a custom event between the frames of one console."""

    event_type: str
    message: str | None
    wire_name: ClassVar[str] = "customEvent"

    def payload(self) -> dict[str, Any]:
        return {"type": self.event_type, "message": self.message}


class LineStatusChanged(_Event, frozen=True, kw_only=True, gc=False):
    """The agent's phone (line) went up or down on the telephony side."""

    up: bool
    reason: str | None = None
    wire_name: ClassVar[str] = "lineStatus"

    def payload(self) -> dict[str, Any]:
        return {"up": self.up, "reason": self.reason}


class AgentStateChanged(_Event, frozen=True, kw_only=True, gc=False):
    """The agent's state (presence: available, away, offline, after-call work) changed."""

    state: Presence
    previous: str
    wire_name: ClassVar[str] = "agentState"

    def payload(self) -> dict[str, Any]:
        return {**self.state.to_dict(), "previous": self.previous}


Event = (
    CallBegan
    | CallEnded
    | CallUpdated
    | CallsReplaced
    | CallFailed
    | CallLogSaved
    | CtiMessageSent
    | CustomEventFired
    | LineStatusChanged
    | AgentStateChanged
)


def _duration_text(seconds: float) -> str:
    """Durations cross to the browser as strings of whole seconds, as in the original."""
    return str(max(0, round(seconds)))
