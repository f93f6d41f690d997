"""A connector's own view of its calls, moved only by the core's transitions table.

Theory of operation
-------------------
Every connector keeps its own view of each call's line state: it runs ahead of the
registry's while a command is in flight (the connector must refuse a second ``/HOLD``
before the first is confirmed), and it decides what a backend's message means (a SIP
``CALL_CLOSED`` on a *ringing* call is an abandon, on a *dialing* one a failure). But it
never decides a *next* state itself: it hands each event it is about to report to
:func:`advance`, which looks the move up in :mod:`ctikit.core.transitions` and moves the
call. So a connector reports only what the registry accepts, the two views move by the
same rules, and those rules live in one place.

A call starts at :attr:`~ctikit.core.transitions.Edge.NEW` (not offered yet) and ends at
:attr:`~ctikit.core.transitions.Edge.ENDED` (released). What :func:`advance` says:

==========  ===========================================================================
MOVED       the table allows it: report the event (the call is in its new state)
ENDED       a release: report it, then forget the call
REPEATED    the table's duplicate (a second "answered"): report nothing
REFUSED     impossible in this state (a ringing call "held"): report nothing. For a
            model that makes its own events (the simulator) it is a bug
            (:func:`must_advance` raises); for one reading a backend it is the backend's
            noise (log it).
==========  ===========================================================================

Pure: no I/O, no clock.
"""

from __future__ import annotations

import enum
from typing import Protocol

from ..core.model import LineState
from ..core.telephony import TelephonyEvent
from ..core.transitions import Edge, TableState, after, is_duplicate, line_event


class Change(enum.Enum):
    """What an event does to a connector's call (see the module docstring)."""

    MOVED = "moved"
    ENDED = "ended"
    REPEATED = "repeated"
    REFUSED = "refused"

    @property
    def reported(self) -> bool:
        """Whether the event is to be reported to the core."""
        return self in (Change.MOVED, Change.ENDED)


class Tracked(Protocol):
    """A connector's call: anything with a table state."""

    state: TableState


class LineStateError(RuntimeError):
    """A connector was about to report what the transitions table refuses: a bug in it."""


def advance(call: Tracked, event: TelephonyEvent) -> Change:
    """Move ``call`` by ``event`` as the core's table says (nothing moves unless the
    event is to be reported). Raises ValueError for an event about no call's line
    (``ActionFailed``, ``LineStatus``)."""
    kind = line_event(event)
    if kind is None:
        raise ValueError(f"{type(event).__name__} moves no call")
    nxt = after(call.state, kind)
    if nxt is None:
        return Change.REFUSED
    if is_duplicate(call.state, kind):
        return Change.REPEATED
    call.state = nxt
    return Change.ENDED if nxt is Edge.ENDED else Change.MOVED


def must_advance(call: Tracked, event: TelephonyEvent) -> Change:
    """:func:`advance` for a model that makes its own events: a refused move raises
    :class:`LineStateError` (and moves nothing)."""
    change = advance(call, event)
    if change is Change.REFUSED:
        raise LineStateError(
            f"{type(event).__name__} on call {getattr(event, 'call_id', '?')!r} in state "
            f"{call.state.value}: the transitions table refuses it"
        )
    return change


def on_line(state: TableState) -> LineState | None:
    """``state`` as a line state, None before the offer or after the release."""
    return state if isinstance(state, LineState) else None
