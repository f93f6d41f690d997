"""The line-state rules, as data: what telephony events do to a call, what commands it takes.

Theory of operation
-------------------
A call the telephony connector controls is in one :class:`~ctikit.core.model.LineState`:
*ringing*, *dialing*, *connected* or *held*. Before the connector offers it the call is
:attr:`Edge.NEW` (no call with that ID on the agent's line); once released it is
:attr:`Edge.ENDED`. Two tables hold every rule, and nothing else in ctikit repeats them:

:data:`EVENTS` maps *(state, line event) -> next state*. A pair that is not in it is
impossible (a ringing call cannot be held, a call cannot be retrieved before it was held):
the registry refuses such an event with :class:`~ctikit.core.errors.TelephonyError` and
changes nothing; the server logs it, drops it and counts it. Pairs in :data:`DUPLICATES`
are accepted but change nothing and emit no event: a backend that reports the same thing
twice (a second "answered", a late "answered" after a hold) is noisy, not wrong.

:data:`COMMANDS` maps each CTI command that acts on a call to the line states in which a
call accepts it, in the order a command naming no call (no ``CALL_ID``/``LINE_NUMBER``)
picks its target: ``/HANGUP`` alone takes the connected call first, then one dialling,
ringing, held. ``/DIAL`` acts on no call and is not in the table (it is refused only over
``Limits.max_active_calls``).

Mute follows what phones do: mute is the microphone of an answered call, and putting the
call on hold does not undo it (baresip keeps the mute flag on the call's audio stream, which
a hold, a re-INVITE changing only the media direction, leaves alone), so a connector may
report a mute change on a connected *or* held call; before answer there is no call audio to
mute, so ringing and dialling calls refuse it. The *commands* ``/MUTE`` and ``/UNMUTE`` need
a connected call: on hold the far end hears nothing anyway. A mute report repeating the
call's current mute flag changes nothing (no event).

Who uses the tables: :class:`~ctikit.core.registry.CallRegistry` (both), the simulator and
the SIP connector (:data:`COMMANDS`, checked again on their own line state, which runs ahead
of the registry's while an action is in flight), and docs/connectors.md, whose copy of the
tables a test compares with :func:`as_markdown`.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from types import MappingProxyType

from . import telephony as tel
from .commands import Action
from .model import CallType, LineState


class Edge(enum.StrEnum):
    """The two ends of a call's life on a line, beside the :class:`LineState` values."""

    NEW = "new"  # no call with this ID on the agent's line yet
    ENDED = "ended"  # released: no longer on the line


TableState = LineState | Edge


class LineEvent(enum.StrEnum):
    """What a telephony event does to a call's line, named as in docs/connectors.md."""

    OFFERED = "CallOffered"  # someone calls the agent: the phone rings
    OFFERED_OUTGOING = "CallOffered(outgoing)"  # the agent's phone places the call
    ANSWERED = "CallAnswered"
    HELD = "CallHeld"
    RETRIEVED = "CallRetrieved"
    MUTED = "CallMuted"
    DATA_ATTACHED = "CallDataAttached"
    RELEASED = "CallReleased"


_R, _D, _C, _H = LineState.RINGING, LineState.DIALING, LineState.CONNECTED, LineState.HELD
_ON_A_LINE = (_R, _D, _C, _H)

#: (state, line event) -> next state. Absent pairs are impossible (TelephonyError).
EVENTS: Mapping[tuple[TableState, LineEvent], TableState] = MappingProxyType(
    {
        (Edge.NEW, LineEvent.OFFERED): _R,
        (Edge.NEW, LineEvent.OFFERED_OUTGOING): _D,
        (_R, LineEvent.ANSWERED): _C,
        (_D, LineEvent.ANSWERED): _C,
        (_C, LineEvent.ANSWERED): _C,
        (_H, LineEvent.ANSWERED): _H,
        (_C, LineEvent.HELD): _H,
        (_H, LineEvent.HELD): _H,
        (_H, LineEvent.RETRIEVED): _C,
        (_C, LineEvent.RETRIEVED): _C,
        (_C, LineEvent.MUTED): _C,
        (_H, LineEvent.MUTED): _H,
        **{(s, LineEvent.DATA_ATTACHED): s for s in _ON_A_LINE},
        **{(s, LineEvent.RELEASED): Edge.ENDED for s in _ON_A_LINE},
    }
)

#: Pairs of :data:`EVENTS` that repeat what already happened: nothing changes, no event.
DUPLICATES: frozenset[tuple[TableState, LineEvent]] = frozenset(
    {
        (_C, LineEvent.ANSWERED),
        (_H, LineEvent.ANSWERED),  # a late "answered" after the hold it preceded
        (_H, LineEvent.HELD),
        (_C, LineEvent.RETRIEVED),
    }
)

#: Command -> line states that accept it, in the order a command without a target picks.
COMMANDS: Mapping[Action, tuple[LineState, ...]] = MappingProxyType(
    {
        Action.ANSWER: (_R,),
        Action.HANGUP: (_C, _D, _R, _H),
        Action.HOLD: (_C,),
        Action.RETRIEVE: (_H,),
        Action.TRANSFER: (_C, _H),
        Action.MUTE: (_C,),
        Action.UNMUTE: (_C,),
        Action.DTMF: (_C,),
        # The call consulted about; the consult call then dials while this one is held.
        Action.CONSULT: (_C, _H),
        # These name the consult call (its held original is found through the link).
        Action.COMPLETE_TRANSFER: (_C,),
        Action.CANCEL_CONSULT: (_C, _D),
        Action.CONFERENCE: (_C,),
    }
)


def line_event(event: tel.TelephonyEvent) -> LineEvent | None:
    """What ``event`` does to a call's line; None for events about no line state
    (:class:`~ctikit.core.telephony.ActionFailed`, :class:`~ctikit.core.telephony.LineStatus`)."""
    match event:
        case tel.CallOffered():
            outgoing = event.outgoing or event.call_type is CallType.OUTBOUND
            return LineEvent.OFFERED_OUTGOING if outgoing else LineEvent.OFFERED
        case tel.CallAnswered():
            return LineEvent.ANSWERED
        case tel.CallHeld():
            return LineEvent.HELD
        case tel.CallRetrieved():
            return LineEvent.RETRIEVED
        case tel.CallMuted():
            return LineEvent.MUTED
        case tel.CallDataAttached():
            return LineEvent.DATA_ATTACHED
        case tel.CallReleased():
            return LineEvent.RELEASED
    return None


def after(state: TableState, event: LineEvent) -> TableState | None:
    """The state a call in ``state`` moves to on ``event``; None if that is impossible."""
    return EVENTS.get((state, event))


def is_duplicate(state: TableState, event: LineEvent) -> bool:
    """True if ``event`` in ``state`` only repeats what already happened."""
    return (state, event) in DUPLICATES


def allows(action: Action, state: LineState | None) -> bool:
    """True if a call in line ``state`` accepts ``action`` (never for ``/DIAL``, which names
    no call, nor for a call without a line state: a component's own softphone call)."""
    return state is not None and state in COMMANDS.get(action, ())


def needs(action: Action) -> str:
    """The states ``action`` accepts, for messages: ``"connected or held"``."""
    return " or ".join(s.value for s in COMMANDS[action])


def as_markdown() -> str:
    """Both tables as Markdown, as docs/connectors.md shows them (a test compares)."""
    states: list[TableState] = [Edge.NEW, *_ON_A_LINE]
    lines = ["| event | " + " | ".join(f"on a {s.value} call" for s in states) + " |"]
    lines[0] = lines[0].replace("on a new call", "no call yet")
    lines.append("|---" * (len(states) + 1) + "|")
    for event in LineEvent:
        cells = []
        for state in states:
            nxt = after(state, event)
            if nxt is None:
                cells.append("refused")
            elif is_duplicate(state, event):
                cells.append("no change (duplicate)")
            else:
                cells.append(f"**{nxt.value}**")
        lines.append(f"| `{event.value}` | " + " | ".join(cells) + " |")
    lines += ["", "| command | accepted on a call that is (default target in this order) |"]
    lines.append("|---|---|")
    for action, accepted in COMMANDS.items():
        lines.append(f"| `/{action.value}` | " + ", ".join(s.value for s in accepted) + " |")
    return "\n".join(lines) + "\n"
