"""Telephony events from the connector, on one agent's state, by the transitions table.

The connector is not trusted: an event naming a call the agent does not have on a line, an
impossible transition (:mod:`ctikit.core.transitions`), bad offered data or a call over the
agent's limit raises :class:`~ctikit.core.errors.TelephonyError` and changes nothing (no
state, no sequence number). The server logs, drops and counts it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from . import components
from . import telephony as tel
from .agentstate import AgentState
from .errors import CallAlreadyActiveError, CtiRequestError, LimitExceededError, TelephonyError
from .events import CallFailed, CallUpdated, Event, LineStatusChanged
from .jsonvalue import check_json_value
from .model import Call, Limits, LineState, check_call_id, check_data_size, check_short_text
from .transitions import Edge, LineEvent, after, is_duplicate, line_event


def apply(state: AgentState, event: tel.TelephonyEvent, *, now: float) -> list[Event]:
    """Map a connector's event onto the agent's call state; returns the events caused."""
    if isinstance(event, tel.ActionFailed):
        failed = state.emit(
            CallFailed, now, call_id=event.call_id, reason=event.reason, number=event.number
        )
        return [failed]
    if isinstance(event, tel.LineStatus):
        if state.line_up is event.up:
            return []
        state.line_up = event.up
        return [state.emit(LineStatusChanged, now, up=event.up, reason=event.reason)]
    kind = line_event(event)
    if kind is None:
        raise TelephonyError(f"unknown telephony event {type(event).__name__}")
    if isinstance(event, tel.CallOffered):
        return _offered(state, event, kind, now)
    call = state.calls.get(event.call_id)
    if call is None or call.line_state is None:
        raise TelephonyError(
            f"connector reported {kind.value} on call {event.call_id!r}, which agent "
            f"{state.agent!r} does not have on a line"
        )
    was = call.line_state
    nxt = after(was, kind)
    if nxt is None:
        raise TelephonyError(
            f"connector reported {kind.value} on call {call.id!r}, which is {was.value}: "
            "impossible (see the transitions table)"
        )
    if is_duplicate(was, kind):
        return []
    match event:
        case tel.CallReleased():
            return state.finish(
                call.id,
                now=now,
                duration=None,
                disposition=event.disposition or "",
                reason=event.reason,
            )
        case tel.CallDataAttached():
            try:
                return components.attach_data(state, call.id, event.data, now=now)
            except CtiRequestError as exc:
                raise TelephonyError(f"connector attached bad data: {exc.message}") from None
        case tel.CallMuted():
            if call.muted is event.muted:
                return []  # a repeated report changes nothing
            call.muted = event.muted
    assert isinstance(nxt, LineState)  # only a release ends a call
    if nxt is LineState.CONNECTED and call.answered_at is None:
        call.answered_at = now
    if nxt is not LineState.HELD:
        call.held_at = None
    elif call.line_state is not LineState.HELD:
        call.held_at = now  # the console's hold timer counts from here
    call.line_state = nxt
    return [state.emit(CallUpdated, now, call=call.view())]


def _offered(state: AgentState, ev: tel.CallOffered, kind: LineEvent, now: float) -> list[Event]:
    limits = state.limits
    try:
        cid = check_call_id(ev.call_id, limits)
        if cid in state.calls:
            raise CallAlreadyActiveError(f"connector offered call {cid!r}, which is already active")
        data = check_offered_data(limits, ev.ani, ev.dnis, ev.data)
        label = check_short_text(ev.label, "call label", limits.max_label_length)
    except CtiRequestError as exc:
        raise TelephonyError(f"connector offered a bad call: {exc.message}") from None
    first = after(Edge.NEW, kind)
    assert isinstance(first, LineState)  # the table offers into ringing or dialing
    call = Call(
        id=cid,
        call_type=ev.call_type,
        label=label or ev.ani or ev.dnis,
        data=data,
        started_at=now,
        line_state=first,
        ani=ev.ani,
        dnis=ev.dnis,
    )
    try:
        return state.add_call(call, now)
    except LimitExceededError as exc:
        raise TelephonyError(exc.message) from None


def check_offered_data(
    limits: Limits, ani: str | None, dnis: str | None, data: Mapping[str, Any]
) -> dict[str, Any]:
    """The attached data a call offered with these values would have (ANI and DNIS
    first); raises CtiRequestError if the registry would refuse it."""
    merged: dict[str, Any] = {}
    if ani is not None:
        merged["ANI"] = ani
    if dnis is not None:
        merged["DNIS"] = dnis
    merged.update(data)
    check_json_value(merged, "offered call data")
    check_data_size(merged, limits)
    return merged
