"""Consult transfer and three-way conference on the simulated lines.

``/CONSULT`` holds the agent's call (after ``hold_delay``) and places a *consult call* to the
number, as ``/DIAL`` would, with ``{"consultOf": <held call ID>}`` in its attached data; a
target agent's ringing line gets the held call's data, so they know what the consult is
about. The two lines are linked (``Line.consult_for`` / ``Line.consult``) until one ends.
Then, on the consult call:

- ``/COMPLETE_TRANSFER`` (after ``transfer_delay``): the held call's far end now talks to the
  consult call's. Both calls leave the agent, disposition ``transferred``: first the held
  call, then the consult call. A target agent's line takes over the held call's data (a
  ``CallDataAttached``) and, for an internal held call, its other agent as peer.
- ``/CANCEL_CONSULT`` (after ``hangup_delay``): the consult call ends ("consult cancelled"),
  a target agent's line ends as if hung up, and the held call is retrieved.
- ``/CONFERENCE`` (after ``retrieve_delay``): the held call is retrieved and joined with the
  consult call: both connected, each with ``{"conferenceWith": <other call ID>}`` attached.
  Either may then be hung up alone (the agent's phone mixes the audio).

A consult to a number shaped like an extension of the directory (all digits, the length of
one) that nobody has is refused at once: ``no extension 1099 (not found)``. Other numbers
behave as for ``/DIAL`` (the failing endings of :mod:`.model`): the consult call fails and
the held call stays held, for the agent to retrieve.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from ...core.commands import CONSULT_OF, Action
from ...core.model import LineState
from ...core.telephony import (
    ActionFailed,
    CallDataAttached,
    CallHeld,
    CallRetrieved,
    ConnectorAction,
)
from ..errors import ActionFailedError
from .lines import Line, SimStep, TimerKind

if TYPE_CHECKING:
    from .model import SimModel

CONFERENCE_WITH = "conferenceWith"


def start(model: SimModel, line: Line, action: ConnectorAction, now: float) -> SimStep:
    """Begin a consult, complete, cancel or conference on ``line`` (checked against the
    transitions table by the caller); raises :class:`ActionFailedError` if it cannot."""
    step = SimStep()
    t = model.timings
    if action.action is Action.CONSULT:
        number = action.number
        if not number:
            raise ActionFailedError("/CONSULT needs a NUMBER")
        if line.consult is not None or line.consult_for is not None:
            raise ActionFailedError(f"call {line.call_id!r} already has a consult call")
        target = model.directory.agent_for(number)
        if target == line.agent:
            raise ActionFailedError("cannot consult your own extension")
        if target is None and _looks_internal(model, number):
            raise ActionFailedError(f"no extension {number} (not found)")
        model._check_room(line.agent)
        if isinstance(action.data, dict):
            line.data = dict(action.data)  # the registry's copy is the truth (as for TRANSFER)
        delay = t.hold_delay if line.line_state is LineState.CONNECTED else 0.0
        model._begin(line, Action.CONSULT, TimerKind.CONSULT, now + delay, step, number=number)
        return step
    held = line.consult_for
    if held is None or (action.held_call_id not in (None, held.call_id)):
        raise ActionFailedError(f"call {line.call_id!r} is not a consult call")
    if held.pending is not None:
        raise ActionFailedError(f"call {held.call_id!r}: /{held.pending} is still in progress")
    if held.line_state is not LineState.HELD:
        raise ActionFailedError(f"call {held.call_id!r} is {held.state}, not held")
    kind, delay = {
        Action.COMPLETE_TRANSFER: (TimerKind.COMPLETE, t.transfer_delay),
        Action.CANCEL_CONSULT: (TimerKind.CANCEL, t.hangup_delay),
        Action.CONFERENCE: (TimerKind.CONFERENCE, t.retrieve_delay),
    }[action.action]
    if action.action is Action.COMPLETE_TRANSFER and isinstance(action.data, dict):
        held.data = dict(action.data)
    if action.action is Action.CANCEL_CONSULT:
        model._cancel_all(line, step)  # a consult still dialling: no answer or failure now
    model._begin(line, action.action, kind, now + delay, step)
    return step


#: The timers :func:`fired` handles.
TIMERS = frozenset({TimerKind.CONSULT, TimerKind.COMPLETE, TimerKind.CANCEL, TimerKind.CONFERENCE})
#: The commands :func:`start` handles.
ACTIONS = frozenset(
    {Action.CONSULT, Action.COMPLETE_TRANSFER, Action.CANCEL_CONSULT, Action.CONFERENCE}
)


def fired(
    model: SimModel, line: Line, kind: TimerKind, number: str | None, now: float, step: SimStep
) -> None:
    """A consult timer of ``line`` is due."""
    line.pending = None
    match kind:
        case TimerKind.CONSULT:
            assert number is not None
            _dial_consult(model, line, number, now, step)
        case TimerKind.COMPLETE:
            _complete(model, line, step)
        case TimerKind.CANCEL:
            _cancel(model, line, step)
        case TimerKind.CONFERENCE:
            _conference(model, line, step)


def _looks_internal(model: SimModel, number: str) -> bool:
    lengths = {
        len(ext) for a in model.directory.agents() if (ext := model.directory.extension_of(a))
    }
    return number.isascii() and number.isdigit() and len(number) in lengths


def _dial_consult(model: SimModel, held: Line, number: str, now: float, step: SimStep) -> None:
    if held.line_state is LineState.CONNECTED:
        model._report(held, CallHeld(agent=held.agent, call_id=held.call_id), step)
    try:
        consult = model._place(
            held.agent,
            number,
            now,
            step,
            data={CONSULT_OF: held.call_id},
            callee_data=dict(held.data),
        )
    except ActionFailedError as exc:  # the lines filled up or the directory changed meanwhile
        step.events.append(ActionFailed(agent=held.agent, reason=str(exc), number=number))
        return
    consult.consult_for, held.consult = held, consult


def _complete(model: SimModel, consult: Line, step: SimStep) -> None:
    held = consult.consult_for
    if held is None or held.line_state is not LineState.HELD:
        step.events.append(
            ActionFailed(
                agent=consult.agent,
                reason="the call consulted about is no longer held",
                call_id=consult.call_id,
            )
        )
        return
    target, other = consult.peer, held.peer
    where = consult.dnis or "the consult target"
    data, origin, talk_time = dict(held.data), held.origin, held.talk_time
    model._release(held, f"transferred to {where}", "transferred", step)
    model._release(consult, f"transfer to {where} completed", "transferred", step)
    if target is not None:
        # The target agent now talks to the held call's far end, with its data.
        target.origin, target.talk_time = origin, talk_time
        if data:
            model._report(
                target,
                CallDataAttached(agent=target.agent, call_id=target.call_id, data=data),
                step,
            )
            target.data.update(data)
        if other is not None:
            target.peer, other.peer = other, target


def _cancel(model: SimModel, consult: Line, step: SimStep) -> None:
    held, target = consult.consult_for, consult.peer
    model._release(consult, "consult cancelled", "consult cancelled", step)
    if target is not None:
        model._other_side_gone(target, step)
    if held is not None and held.line_state is LineState.HELD:
        model._report(held, CallRetrieved(agent=held.agent, call_id=held.call_id), step)


def _conference(model: SimModel, consult: Line, step: SimStep) -> None:
    held = consult.consult_for
    if held is None or held.line_state is not LineState.HELD:
        step.events.append(
            ActionFailed(
                agent=consult.agent,
                reason="the call consulted about is no longer held",
                call_id=consult.call_id,
            )
        )
        return
    consult.consult_for = held.consult = None
    consult.conference, held.conference = held, consult
    model._report(held, CallRetrieved(agent=held.agent, call_id=held.call_id), step)
    for line, other in ((held, consult), (consult, held)):
        joined = {CONFERENCE_WITH: other.call_id}
        model._report(
            line, CallDataAttached(agent=line.agent, call_id=line.call_id, data=joined), step
        )
        line.data.update(joined)
