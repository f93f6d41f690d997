"""Bookkeeping of simulated lines and timers: the data the simulator's model works on.

:class:`LineTable` keeps every agent's lines (arrival order), the timers started for each line
and the call IDs in use. It knows nothing of call behaviour: :class:`~.model.SimModel` builds
on it.
"""

from __future__ import annotations

import enum
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from ...core.commands import Action
from ...core.model import CallType, LineState
from ...core.telephony import CallReleased, TelephonyEvent
from ...core.transitions import Edge, TableState
from ..errors import ActionFailedError
from ..linestate import LineStateError, must_advance, on_line

# Failure numbers: the SIP status they stand for, and the short reason for CallReleased.
FAILURES: dict[str, tuple[str, str]] = {
    "486": ("busy (486 Busy Here)", "busy"),
    "404": ("not found (404 Not Found)", "not found"),
    "603": ("declined (603 Decline)", "declined"),
    "408": ("no answer (408 Request Timeout)", "no answer"),
}


def failure_code(number: str) -> str | None:
    """The SIP failure ``number`` simulates (``"486"``...), or None if it answers."""
    return next((code for code in FAILURES if number.endswith(code)), None)


def default_call_id() -> str:
    """``sim-`` and 12 random hex digits."""
    return "sim-" + secrets.token_hex(6)


class TimerKind(enum.StrEnum):
    RING_TIMEOUT = "ring_timeout"  # a ringing line was not answered: the caller gives up
    ANSWER = "answer"
    HOLD = "hold"
    RETRIEVE = "retrieve"
    HANGUP = "hangup"
    FAR_END_ANSWER = "far_end_answer"
    DIAL_FAILED = "dial_failed"
    TRANSFER = "transfer"
    CALLER_HANGUP = "caller_hangup"  # scripted talk_time is over
    CONSULT = "consult"  # the call is held: the consult call dials
    COMPLETE = "complete"  # consult transfer completed: both calls leave the agent
    CANCEL = "cancel"  # the consult call is hung up: the held call comes back
    CONFERENCE = "conference"  # the held call and the consult call are joined


@dataclass(frozen=True, slots=True, kw_only=True)
class Timer:
    """Call :meth:`SimModel.timer_fired` with ``id`` at time ``at`` (unless cancelled)."""

    id: str
    at: float
    agent: str
    call_id: str
    kind: TimerKind
    number: str | None = None  # TRANSFER, CONSULT: where to
    code: str | None = None  # DIAL_FAILED: the failure (a key of FAILURES)


@dataclass(slots=True)
class SimStep:
    """What one input caused: events to report in order, timers to start and to cancel."""

    events: list[TelephonyEvent] = field(default_factory=list)
    timers: list[Timer] = field(default_factory=list)
    cancel: list[str] = field(default_factory=list)
    call_id: str | None = None  # the call place_inbound_call created


@dataclass(frozen=True, slots=True, kw_only=True)
class LineView:
    """A read-only snapshot of one simulated line."""

    agent: str
    call_id: str
    origin: str  # ID of the call's first leg (stays the same through transfers)
    call_type: CallType
    state: LineState
    outgoing: bool  # this phone placed the call
    ani: str | None
    dnis: str | None
    data: dict[str, Any]
    muted: bool
    digits: str  # DTMF sent on this line
    pending: Action | None
    peer: tuple[str, str] | None  # (agent, call ID) of the other side of an internal call
    talk_time: float | None
    consult_for: str | None = None  # a consult call: the held call it is about
    consult: str | None = None  # a held call: its consult call
    conference: str | None = None  # the other call this one is joined with


@dataclass(slots=True, eq=False)
class Line:
    """One simulated line (mutable; only the model changes it). ``state`` moves only by
    the core's transitions table (:meth:`LineTable._report`): NEW until offered."""

    agent: str
    call_id: str
    origin: str
    call_type: CallType
    outgoing: bool
    state: TableState = Edge.NEW
    ani: str | None = None
    dnis: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    talk_time: float | None = None
    muted: bool = False
    digits: str = ""
    pending: Action | None = None
    peer: Line | None = None
    timers: set[str] = field(default_factory=set)
    consult_for: Line | None = None  # see LineView
    consult: Line | None = None
    conference: Line | None = None

    @property
    def line_state(self) -> LineState | None:
        """The state on the line; None before the offer or after the release."""
        return on_line(self.state)

    def view(self) -> LineView:
        state = self.line_state
        if state is None:  # the table holds only offered, unreleased lines
            raise LineStateError(f"line {self.call_id!r} is {self.state.value}, not on a line")
        return LineView(
            agent=self.agent,
            call_id=self.call_id,
            origin=self.origin,
            call_type=self.call_type,
            state=state,
            outgoing=self.outgoing,
            ani=self.ani,
            dnis=self.dnis,
            data=dict(self.data),
            muted=self.muted,
            digits=self.digits,
            pending=self.pending,
            peer=(self.peer.agent, self.peer.call_id) if self.peer else None,
            talk_time=self.talk_time,
            consult_for=self.consult_for.call_id if self.consult_for else None,
            consult=self.consult.call_id if self.consult else None,
            conference=self.conference.call_id if self.conference else None,
        )


def unlink(line: Line) -> None:
    """Undo ``line``'s consult and conference links, on both sides."""
    if line.consult_for is not None:
        line.consult_for.consult = None
        line.consult_for = None
    if line.consult is not None:
        line.consult.consult_for = None
        line.consult = None
    if line.conference is not None:
        line.conference.conference = None
        line.conference = None


_ID_ATTEMPTS = 16


class LineTable:
    """Active lines by agent and by call ID, and their timers. Base of :class:`SimModel`."""

    def __init__(self, id_factory: Callable[[], str] | None, max_lines: int) -> None:
        if max_lines < 1:
            raise ValueError("max_lines must be at least 1")
        self.max_lines = max_lines
        self._new_id = id_factory or default_call_id
        self._lines: dict[str, dict[str, Line]] = {}  # agent -> call ID -> line, arrival order
        self._by_id: dict[str, Line] = {}  # every active line (IDs are unique across agents)
        self._timers: dict[str, Timer] = {}
        self._timer_seq = 0

    # ----------------------------------------------------------------- reading

    def lines(self, agent: str) -> list[LineView]:
        """``agent``'s active lines in arrival order."""
        return [line.view() for line in self._lines.get(agent, {}).values()]

    def line(self, call_id: str) -> LineView | None:
        line = self._by_id.get(call_id)
        return line.view() if line else None

    def agents(self) -> list[str]:
        """Agents with at least one active line."""
        return [agent for agent, lines in self._lines.items() if lines]

    def timers(self) -> list[Timer]:
        """Timers started and not yet fired or cancelled, soonest first."""
        return sorted(self._timers.values(), key=lambda t: t.at)

    def digits(self, call_id: str) -> str:
        """DTMF digits sent on an active call so far."""
        line = self._by_id.get(call_id)
        return line.digits if line else ""

    # ------------------------------------------------------------------ helpers

    def _check_room(self, agent: str) -> None:
        if len(self._lines.get(agent, {})) >= self.max_lines:
            raise ActionFailedError(f"all {self.max_lines} lines of {agent} are in use")

    def _fresh_ids(self, count: int) -> list[str]:
        # Drawn before any change, so that a failing factory leaves the model as it was.
        ids: list[str] = []
        for _ in range(count):
            for _attempt in range(_ID_ATTEMPTS):
                cid = self._new_id()
                if cid not in self._by_id and cid not in ids:
                    ids.append(cid)
                    break
            else:
                raise RuntimeError(f"id_factory gave {_ID_ATTEMPTS} call IDs already in use")
        return ids

    def _add(
        self,
        agent: str,
        call_id: str,
        call_type: CallType,
        *,
        outgoing: bool = False,
        ani: str | None = None,
        dnis: str | None = None,
        data: dict[str, Any] | None = None,
        talk_time: float | None = None,
        origin: str | None = None,
    ) -> Line:
        line = Line(
            agent=agent,
            call_id=call_id,
            origin=origin or call_id,
            call_type=call_type,
            outgoing=outgoing,
            ani=ani,
            dnis=dnis,
            data=data or {},
            talk_time=talk_time,
        )
        self._lines.setdefault(agent, {})[call_id] = line
        self._by_id[call_id] = line
        return line

    def _release(self, line: Line, reason: str, disposition: str | None, step: SimStep) -> None:
        released = CallReleased(
            agent=line.agent, call_id=line.call_id, reason=reason, disposition=disposition
        )
        self._report(line, released, step)  # first: a refused release changes nothing
        self._cancel_all(line, step)
        if line.peer is not None:
            line.peer.peer = None
            line.peer = None
        unlink(line)
        agent_lines = self._lines[line.agent]
        del agent_lines[line.call_id]
        if not agent_lines:
            del self._lines[line.agent]
        del self._by_id[line.call_id]

    @staticmethod
    def _report(line: Line, event: TelephonyEvent, step: SimStep) -> None:
        """Report ``event`` about ``line``, moving the line by the core's transitions table;
        the simulator making a move the table refuses is a bug (:class:`LineStateError`)."""
        if must_advance(line, event).reported:
            step.events.append(event)

    def _find(self, call_id: str) -> Line | None:
        """The active line of ``call_id``, or of a later leg of it (after transfers)."""
        line = self._by_id.get(call_id)
        if line is None:
            line = next((ln for ln in self._by_id.values() if ln.origin == call_id), None)
        return line

    def _begin(
        self,
        line: Line,
        pending: Action,
        kind: TimerKind,
        at: float,
        step: SimStep,
        *,
        number: str | None = None,
    ) -> None:
        line.pending = pending
        self._start(step, line, kind, at, number=number)

    def _start(
        self,
        step: SimStep,
        line: Line,
        kind: TimerKind,
        at: float,
        *,
        number: str | None = None,
        code: str | None = None,
    ) -> None:
        self._timer_seq += 1
        timer = Timer(
            id=f"t{self._timer_seq}",
            at=at,
            agent=line.agent,
            call_id=line.call_id,
            kind=kind,
            number=number,
            code=code,
        )
        self._timers[timer.id] = timer
        line.timers.add(timer.id)
        step.timers.append(timer)

    def _cancel_all(self, line: Line, step: SimStep) -> None:
        for tid in sorted(line.timers):
            del self._timers[tid]
            # A timer started earlier in this same step need not reach the pump at all.
            started = [t for t in step.timers if t.id == tid]
            if started:
                step.timers.remove(started[0])
            else:
                step.cancel.append(tid)
        line.timers.clear()
