"""Requests from components (``sforce.console.cti.*``) and the REST API, on one agent's state.

Each function validates everything first and raises
:class:`~ctikit.core.errors.CtiRequestError` (or a subclass) before changing anything, then
changes the :class:`~ctikit.core.agentstate.AgentState` and returns the events it caused.
Calls a component begins have no line state: the component's own softphone drives them, so
they end with ``fireOnCallEnd``; calls on a telephone line end only through the connector.
"""

from __future__ import annotations

from collections import OrderedDict

from .agentstate import AgentState
from .budget import EVENT_COST
from .errors import CtiRequestError, LimitExceededError, UnknownCallError
from .events import (
    CallBegan,
    CallLogSaved,
    CallsReplaced,
    CallUpdated,
    CtiMessageSent,
    CustomEventFired,
    Event,
)
from .jsonvalue import check_json_value, check_text, parse_json_text
from .model import Call, CallType, check_call_id, check_data_size, check_short_text


def begin_call(
    state: AgentState, call_id: object, call_type: object, label: object, *, now: float
) -> list[Event]:
    """``fireOnCallBegin``: a component's softphone reports a new call."""
    limits = state.limits
    cid = check_call_id(call_id, limits)
    ctype = CallType.parse(call_type)
    lab = check_short_text(label, "call label", limits.max_label_length)
    existing = state.calls.get(cid)
    if existing is not None:
        if existing.begun:
            raise CtiRequestError(f"call {cid!r} has already begun")
        # Named earlier by setCallObjectIds: it begins now, keeping its place.
        existing.begun = True
        existing.call_type, existing.label, existing.started_at = ctype, lab, now
        return [state.emit(CallBegan, now, call=existing.view())]
    return state.add_call(Call(id=cid, call_type=ctype, label=lab, started_at=now), now)


def end_call(
    state: AgentState, call_id: object, duration: object, disposition: object, *, now: float
) -> list[Event]:
    """``fireOnCallEnd``: only a call that began earlier, and is not on a line, can end."""
    limits = state.limits
    cid = check_call_id(call_id, limits)
    if cid not in state.calls:
        raise UnknownCallError(f"call {cid!r} is not active: fireOnCallEnd needs a begun call")
    if state.calls[cid].line_state is not None:
        raise CtiRequestError(
            f"call {cid!r} is on a telephone line: end it with /HANGUP, not fireOnCallEnd"
        )
    if duration is None:
        secs: float | None = None
    elif isinstance(duration, bool) or not isinstance(duration, int | float):
        raise CtiRequestError("call duration must be a number of seconds")
    elif not 0 <= duration < 10**9 or duration != duration:
        raise CtiRequestError("call duration must be between 0 and 10^9 seconds")
    else:
        secs = float(duration)
    disp = check_short_text(disposition, "call disposition", limits.max_disposition_length)
    return state.finish(cid, now=now, duration=secs, disposition=disp or "", reason=None)


def set_call_ids(state: AgentState, ids: object, *, now: float) -> list[Event]:
    """``setCallObjectIds``: replace the active list (a custom softphone's own order).

    Calls left out of the list are dropped without ``onCallEnd`` (as in the original: the
    softphone that sets the list owns those calls). New IDs become calls that have not
    begun; a later ``fireOnCallBegin`` begins them in place.
    """
    limits = state.limits
    if not isinstance(ids, list | tuple):
        raise CtiRequestError("callObjectIds must be an array of call IDs")
    checked = [check_call_id(i, limits) for i in ids]
    if len(set(checked)) != len(checked):
        raise CtiRequestError("callObjectIds has the same ID twice")
    if len(checked) > limits.max_active_calls:
        raise LimitExceededError(f"at most {limits.max_active_calls} active calls per agent")
    kept = set(checked)
    for cid, active in state.calls.items():
        if active.line_state is not None and cid not in kept:
            # The telephony side still has this call: dropping it here would leave a
            # line nobody can see or hang up.
            raise CtiRequestError(
                f"callObjectIds must keep call {cid!r}: it is on a telephone line "
                "(end it with /HANGUP)"
            )
    new: OrderedDict[str, Call] = OrderedDict()
    for cid in checked:
        call = state.calls.get(cid)
        if call is None:
            call = Call(id=cid, call_type=CallType.INBOUND, started_at=now, begun=False)
            state.apply_pending(call)
        new[cid] = call
    state.calls = new
    state.recount()
    return [state.emit(CallsReplaced, now, ids=tuple(checked))]


def set_attached_data(
    state: AgentState, call_id: object, data_json: object, call_type: object, *, now: float
) -> list[Event]:
    """``setCallAttachedData``: replace a call's data (a JSON string) and type.

    For a call that has not begun, the data is kept and applied when it begins: custom
    softphones often attach data before they fire the begin event.
    """
    limits = state.limits
    cid = check_call_id(call_id, limits)
    if not isinstance(data_json, str):
        raise CtiRequestError("callData must be a JSON string (use JSON.stringify)")
    if len(data_json.encode()) > limits.max_data_bytes:
        raise LimitExceededError(f"callData is larger than {limits.max_data_bytes} bytes")
    data = parse_json_text(data_json, "callData")
    ctype = None if call_type is None or call_type == "" else CallType.parse(call_type)
    call = state.calls.get(cid)
    cost = state.cost_of(data)
    if call is None:
        # Pending data is soft (dropped first when over budget), but must fit on its own.
        state.admit(cost)
        state.pending_data[cid] = (data, ctype)
        state.pending_data.move_to_end(cid)
        while len(state.pending_data) > limits.max_pending_data:
            state.pending_data.popitem(last=False)
        state.recount()
        return []
    state.admit(cost, state.cost_of(call.data))
    call.data = data
    if ctype is not None:
        call.call_type = ctype
    state.recount()
    return [state.emit(CallUpdated, now, call=call.view())]


def attach_data(state: AgentState, call_id: object, data: object, *, now: float) -> list[Event]:
    """Merge keys into a call's data (the REST API, IVRs and connectors use this)."""
    cid = check_call_id(call_id, state.limits)
    if not isinstance(data, dict):
        raise CtiRequestError("attached data must be a JSON object")
    check_json_value(data, "attached data")
    call = state.calls.get(cid)
    if call is None:
        raise UnknownCallError(f"call {cid!r} is not active")
    if not isinstance(call.data, dict):
        raise CtiRequestError(f"call {cid!r} holds data that is not an object: cannot merge")
    merged = {**call.data, **data}
    check_data_size(merged, state.limits)
    state.admit(state.cost_of(merged), state.cost_of(call.data))
    call.data = merged
    state.recount()
    return [state.emit(CallUpdated, now, call=call.view())]


def call_log_saved(state: AgentState, log_id: object, *, now: float) -> list[Event]:
    """``fireOnCallLogSaved``, or the interaction log saved a call log."""
    lid = check_call_id(log_id, state.limits, what="call log ID")
    return [state.emit(CallLogSaved, now, log_id=lid)]


def cti_message(state: AgentState, message: str, *, now: float) -> list[Event]:
    """``sendCTIMessage``: every ``onSendCTIMessage`` handler hears of it."""
    return [state.emit(CtiMessageSent, now, message=message)]


def check_custom_event(
    event_type: object, message: object, *, max_bytes: int
) -> tuple[str, str | None]:
    """``sforce.console.fireEvent(event_type, message)``'s arguments, checked (a message of
    at most ``max_bytes`` bytes); raises CtiRequestError if they are not valid."""
    if not isinstance(event_type, str) or not 1 <= len(event_type) <= 255:
        raise CtiRequestError("event type must be a string of 1 to 255 characters")
    if message is not None and not isinstance(message, str):
        raise CtiRequestError("event message must be a string")
    check_text(event_type, "event type")
    if message is not None and len(check_text(message, "event message").encode()) > max_bytes:
        raise LimitExceededError(f"event message over {max_bytes} bytes")
    return event_type, message


def custom_event(state: AgentState, event_type: str, message: str | None, *, now: float) -> Event:
    """One custom event, already checked by :func:`check_custom_event`. Built directly
    rather than through ``emit``'s keyword arguments: a campaign makes one per agent."""
    state.seq += 1
    event = CustomEventFired(
        agent=state.agent, seq=state.seq, at=now, event_type=event_type, message=message
    )
    state.log_event(event, EVENT_COST + len(event_type) + len(message or ""))
    return event
