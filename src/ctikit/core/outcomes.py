"""Which telephony outcome completes which CTI command.

Theory of operation
-------------------
A CTI command (``/ANSWER``, ``/HOLD``...) is checked against the call state, then carried
out by the telephony connector, which reports what happened later, as telephony events. The
reply to ``sendCTIMessage`` must mean the command happened (docs/protocol.md, "Commands"), so
the server waits until the core has *committed* an event that shows the command's effect, or
one that shows it cannot happen. :data:`COMPLETES` says, as data, what each command waits for;
:func:`judge` reads one committed event in that light. Both are pure: the waiting, the clock
and the time limit belong to the server.

================  =======================================  ===============================
command           done when the call...                    failed when
================  =======================================  ===============================
``/ANSWER``       is connected                             the connector reports the call
``/HOLD``         is held                                  failed (``CallFailed`` for it),
``/RETRIEVE``     is connected                             or the call ended first
``/MUTE``         is muted
``/UNMUTE``       is not muted
``/HANGUP``       ended (for any reason)                   --
``/TRANSFER``     ended as transferred                     as above; also an end that is
                                                           not a transfer
``/DIAL``         exists: a new call of the agent is       a ``CallFailed`` for the dialled
                  dialing                                  number
``/DTMF``         -- (nothing to report: the connector     --
                  accepting the digits is the outcome)
``/CONSULT``      a new call of the agent (the consult     as ``/DIAL``
                  call) is dialing
``/COMPLETE_      the consult call ended as transferred    the consult call reported failed
TRANSFER``        (the held call ended first)              or ended otherwise
``/CANCEL_        the held call is connected again         the held call reported failed
CONSULT``         (the consult call ended first)           or ended
``/CONFERENCE``   the held call is connected again,        as above
                  joined with the consult call
================  =======================================  ===============================

Events are the core's (:mod:`ctikit.core.events`), not the connector's: a report the registry
refused changed nothing, so it completes nothing.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass

from .commands import Action
from .events import CallBegan, CallEnded, CallFailed, CallUpdated, Event
from .model import LineState
from .telephony import ConnectorAction


class Awaits(enum.Enum):
    """What kind of committed event completes a command."""

    LINE_STATE = "line state"  # the call's line reaches ``line_state``
    MUTED = "mute flag"  # the call's mute flag becomes ``muted``
    ENDED = "end"  # the call ends (with ``disposition``, if set)
    NEW_CALL = "new call"  # a new call of the agent, in ``line_state``
    NOTHING = "nothing"  # the connector accepting the command is the outcome


@dataclass(frozen=True, slots=True, kw_only=True)
class Completion:
    """What completes one command. ``shows`` names it in messages ("connected")."""

    awaits: Awaits
    shows: str
    line_state: LineState | None = None
    muted: bool | None = None
    disposition: str | None = None
    #: Whether a ``CallFailed`` for the call fails the command. Not for a hang-up: one then
    #: is about an earlier command on the call, and the end that follows completes it.
    failed_by_call_failed: bool = True
    #: Watch the held call of a consult (``ConnectorAction.held_call_id``), not ``call_id``.
    on_held: bool = False


#: The disposition a connector gives a call it handed over by ``/TRANSFER``.
TRANSFERRED = "transferred"

COMPLETES: dict[Action, Completion] = {
    Action.ANSWER: Completion(
        awaits=Awaits.LINE_STATE, line_state=LineState.CONNECTED, shows="connected"
    ),
    Action.HOLD: Completion(awaits=Awaits.LINE_STATE, line_state=LineState.HELD, shows="held"),
    Action.RETRIEVE: Completion(
        awaits=Awaits.LINE_STATE, line_state=LineState.CONNECTED, shows="connected"
    ),
    Action.MUTE: Completion(awaits=Awaits.MUTED, muted=True, shows="muted"),
    Action.UNMUTE: Completion(awaits=Awaits.MUTED, muted=False, shows="unmuted"),
    Action.HANGUP: Completion(awaits=Awaits.ENDED, shows="ended", failed_by_call_failed=False),
    Action.TRANSFER: Completion(
        awaits=Awaits.ENDED, disposition=TRANSFERRED, shows="ended as transferred"
    ),
    Action.DIAL: Completion(awaits=Awaits.NEW_CALL, line_state=LineState.DIALING, shows="dialing"),
    Action.DTMF: Completion(awaits=Awaits.NOTHING, shows="sent"),
    Action.CONSULT: Completion(
        awaits=Awaits.NEW_CALL, line_state=LineState.DIALING, shows="dialing"
    ),
    Action.COMPLETE_TRANSFER: Completion(
        awaits=Awaits.ENDED, disposition=TRANSFERRED, shows="ended as transferred"
    ),
    Action.CANCEL_CONSULT: Completion(
        awaits=Awaits.LINE_STATE, line_state=LineState.CONNECTED, shows="connected", on_held=True
    ),
    Action.CONFERENCE: Completion(
        awaits=Awaits.LINE_STATE, line_state=LineState.CONNECTED, shows="connected", on_held=True
    ),
}


@dataclass(frozen=True, slots=True)
class Verdict:
    """The outcome of a command: ``ok``, or failed with ``reason`` (shown to the caller)."""

    ok: bool
    reason: str | None = None


DONE = Verdict(True)


def needs_report(action: Action) -> bool:
    """Whether ``action`` completes only when the connector reports an outcome."""
    return COMPLETES[action].awaits is not Awaits.NOTHING


def judge(action: ConnectorAction, event: Event) -> Verdict | None:
    """What ``event``, committed after ``action`` was handed to the connector, says of it:
    done, failed, or ``None`` (the event is not about it: keep waiting)."""
    if event.agent != action.agent:
        return None
    want = COMPLETES[action.action]
    if want.awaits is Awaits.NEW_CALL:
        match event:
            case CallBegan(call=call) if call.line_state is want.line_state:
                return DONE
            case CallFailed(number=number, reason=failed_why) if number == action.number:
                return Verdict(False, failed_why)
        return None
    if want.awaits is Awaits.NOTHING:
        return None
    watched = action.held_call_id if want.on_held else action.call_id
    match event:
        case CallEnded(call=call, disposition=disposition, reason=ended_why) if call.id == watched:
            if want.awaits is Awaits.ENDED and want.disposition in (None, disposition):
                return DONE
            why = f" ({ended_why})" if ended_why else ""
            return Verdict(False, f"call {call.id!r} ended before it was {want.shows}{why}")
        case CallFailed(call_id=call_id, reason=reason) if (
            call_id in (action.call_id, watched) and want.failed_by_call_failed
        ):
            return Verdict(False, reason)
        case CallUpdated(call=call) if call.id == watched:
            if want.awaits is Awaits.LINE_STATE and call.line_state is want.line_state:
                return DONE
            if want.awaits is Awaits.MUTED and call.muted is want.muted:
                return DONE
    return None
