"""One agent's state, the changes every input ends in, and its persistence.

:class:`AgentState` holds one agent's active calls (arrival order), a few recently ended
calls (so a call log can still be saved during wrap-up), data set for calls that have not
begun yet, a bounded log of recent events and the agent's sequence number. The registry's
modules change it only through the methods here, so that every event gets the next
sequence number and lands in the log.

The second half turns a state into JSON-ready data and back: :func:`snapshot` /
:func:`restore` (the calls only: a restart, where numbering starts again) and :func:`dump` /
:func:`load` (everything: cluster mode's shared store, where numbering goes on).
"""

from __future__ import annotations

from collections import OrderedDict, deque
from typing import Any

from .errors import CtiRequestError, LimitExceededError
from .events import CallBegan, CallEnded, Event
from .jsonvalue import check_json_value
from .model import Call, CallType, CallView, Limits, LineState, check_agent_id


class AgentState:
    """One agent's calls and recent events. Only the registry mutates it."""

    __slots__ = ("agent", "calls", "ended", "limits", "line_up", "log", "pending_data", "seq")

    def __init__(self, agent: str, limits: Limits) -> None:
        self.agent = agent
        self.limits = limits
        self.calls: OrderedDict[str, Call] = OrderedDict()
        self.ended: OrderedDict[str, Call] = OrderedDict()
        self.pending_data: OrderedDict[str, tuple[Any, CallType | None]] = OrderedDict()
        self.log: deque[Event] = deque(maxlen=limits.event_log_size)
        self.seq = 0
        self.line_up: bool | None = None

    def emit(self, cls: type[Any], now: float, **fields: Any) -> Event:
        """Make an event of ``cls`` with the next sequence number and log it."""
        self.seq += 1
        event: Event = cls(agent=self.agent, seq=self.seq, at=now, **fields)
        self.log.append(event)
        return event

    def add_call(self, call: Call, now: float) -> list[Event]:
        """A new active call (last in arrival order), with any data set for it earlier."""
        if len(self.calls) >= self.limits.max_active_calls:
            raise LimitExceededError(
                f"at most {self.limits.max_active_calls} active calls per agent"
            )
        self.apply_pending(call)
        self.ended.pop(call.id, None)
        self.calls[call.id] = call
        return [self.emit(CallBegan, now, call=call.view())]

    def apply_pending(self, call: Call) -> None:
        """Give ``call`` the data (and type) set for it before it began."""
        pending = self.pending_data.pop(call.id, None)
        if pending is not None:
            data, ctype = pending
            call.data = data
            if ctype is not None:
                call.call_type = ctype

    def finish(
        self,
        cid: str,
        *,
        now: float,
        duration: float | None,
        disposition: str,
        reason: str | None,
    ) -> list[Event]:
        """End the active call ``cid``: it moves to the recently ended calls."""
        call = self.calls.pop(cid)
        call.ended_at = now
        call.duration = duration if duration is not None else max(0.0, now - call.started_at)
        call.disposition = disposition
        self.ended[cid] = call
        while len(self.ended) > self.limits.max_recent_ended:
            self.ended.popitem(last=False)
        return [
            self.emit(
                CallEnded,
                now,
                call=call.view(),
                duration=call.duration,
                disposition=disposition,
                reason=reason,
            )
        ]


# ------------------------------------------------------------------ persistence


def snapshot(state: AgentState) -> dict[str, Any]:
    """The agent's calls as JSON-ready data, to survive a restart (see :func:`restore`)."""
    return {
        "calls": [_call_to_dict(c) for c in state.calls.values()],
        "ended": [_call_to_dict(c) for c in state.ended.values()],
    }


def restore(state: AgentState, saved: object) -> list[CallView]:
    """Put back calls saved by :func:`snapshot`; returns the restored active calls. A
    malformed snapshot raises CtiRequestError and changes nothing."""
    if not isinstance(saved, dict):
        raise CtiRequestError("call state snapshot must be an object")
    try:
        calls = [_call_from_dict(d) for d in saved.get("calls", [])]
        ended = [_call_from_dict(d) for d in saved.get("ended", [])]
    except (KeyError, TypeError, ValueError) as exc:
        raise CtiRequestError(f"call state snapshot is malformed: {exc}") from None
    limits = state.limits
    state.calls = OrderedDict((c.id, c) for c in calls[: limits.max_active_calls])
    state.ended = OrderedDict((c.id, c) for c in ended[-limits.max_recent_ended :])
    return [c.view() for c in state.calls.values()]


def dump(state: AgentState) -> dict[str, Any]:
    """The agent's whole state (calls, recent calls, pending data, line status and
    sequence number) as JSON-ready data, for a shared state store (see :func:`load`)."""
    return {
        **snapshot(state),
        "seq": state.seq,
        "line_up": state.line_up,
        "pending": [
            [cid, data, ctype.value if ctype else None]
            for cid, (data, ctype) in state.pending_data.items()
        ],
    }


def load(agent: str, saved: object, limits: Limits) -> AgentState:
    """A new state for ``agent`` made from :func:`dump`'s data (sequence number included:
    numbering goes on where the dump left it). Raises CtiRequestError if it is malformed."""
    check_agent_id(agent)
    if not isinstance(saved, dict):
        raise CtiRequestError("agent state must be an object")
    seq, line_up = saved.get("seq", 0), saved.get("line_up")
    if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
        raise CtiRequestError("agent state: seq must be a non-negative integer")
    if line_up is not None and not isinstance(line_up, bool):
        raise CtiRequestError("agent state: line_up must be true, false or null")
    try:
        pending: OrderedDict[str, tuple[Any, CallType | None]] = OrderedDict(
            (str(cid), (data, CallType(ctype) if ctype else None))
            for cid, data, ctype in saved.get("pending", [])
        )
        check_json_value([d for d, _ in pending.values()], "pending data")
    except (TypeError, ValueError) as exc:
        raise CtiRequestError(f"agent state: pending data is malformed: {exc}") from None
    state = AgentState(agent, limits)
    restore(state, saved)
    state.seq, state.line_up = seq, line_up
    state.pending_data = OrderedDict(list(pending.items())[-limits.max_pending_data :])
    return state


_CALL_FIELDS = (
    "id",
    "label",
    "data",
    "started_at",
    "begun",
    "muted",
    "answered_at",
    "ended_at",
    "duration",
    "disposition",
    "ani",
    "dnis",
    "held_at",
)


def _call_to_dict(call: Call) -> dict[str, Any]:
    out = {name: getattr(call, name) for name in _CALL_FIELDS}
    out["call_type"] = call.call_type.value
    out["line_state"] = call.line_state.value if call.line_state else None
    return out


def _call_from_dict(raw: Any) -> Call:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise ValueError("a call needs an id")
    check_json_value(raw, "call state")
    return Call(
        **{name: raw[name] for name in _CALL_FIELDS if name in raw and name != "id"},
        id=raw["id"],
        call_type=CallType(raw["call_type"]),
        line_state=LineState(raw["line_state"]) if raw.get("line_state") else None,
    )
