"""The simulator's phone lines, as a sans-I/O state machine.

Theory of operation
-------------------
:class:`SimModel` holds every agent's simulated lines. It never sleeps and never reads a
clock: each input comes with ``now`` and returns a :class:`SimStep` holding the telephony
events to report (in order), the timers to start (each with the absolute time it is due) and
the IDs of timers to cancel. The asyncio pump (:mod:`.pump`) does the waiting and calls
:meth:`SimModel.timer_fired` when a timer is due; tests call it with any ``now`` they like.

Inputs: :meth:`~SimModel.place_inbound_call` (a caller rings an agent),
:meth:`~SimModel.execute` (a validated CTI command), :meth:`~SimModel.timer_fired`,
:meth:`~SimModel.caller_hangup` and :meth:`~SimModel.attach_data` (scripted caller/IVR
behaviour) and :meth:`~SimModel.note_data` (the server tells us a call's current data, so that
a transfer carries it).

Consult transfer and conference (``/CONSULT`` and what follows it) live in :mod:`.consult`.

Every action that would go over the network takes the delay set in :class:`SimTimings`; while
it is in flight the line has a *pending* action and accepts only ``/HANGUP``. Mute and DTMF are
local to the phone and take effect at once.

Numbers
-------
A number is first looked up in the :class:`Directory` (extension or agent ID: an *internal*
call, or a transfer to that agent). Any other number is external and answers after
``far_end_answer``, except these, which fail the way a SIP carrier would:

============  ============================================  ===========================
ending in     /DIAL                                          /TRANSFER (the call stays)
============  ============================================  ===========================
``486``       ``ActionFailed("busy (486 Busy Here)")`` and  ``ActionFailed`` only
              ``CallReleased("busy")`` after reject_delay
``404``       same, "not found (404 Not Found)"             ``ActionFailed`` only
``603``       same, "declined (603 Decline)"                ``ActionFailed`` only
``408``       same, "no answer (408 Request Timeout)",      ``ActionFailed`` only, after
              after ring_timeout                            ring_timeout
============  ============================================  ===========================

An agent whose lines are all in use (``max_lines``) is busy (486) to internal calls and
transfers.

Invariants: call IDs are unique among all active lines (so no agent can ever name another
agent's call); every event names the agent whose line it is about; a line is released exactly
once, and its timers are cancelled when it is.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from typing import Any

from ...core import transitions
from ...core.commands import Action
from ...core.model import CallType, LineState, check_agent_id
from ...core.telephony import (
    ActionFailed,
    CallAnswered,
    CallDataAttached,
    CallHeld,
    CallMuted,
    CallOffered,
    CallRetrieved,
    ConnectorAction,
)
from ..errors import ActionFailedError
from . import consult
from .config import Directory, SimTimings
from .lines import (
    FAILURES,
    Line,
    LineTable,
    LineView,
    SimStep,
    Timer,
    TimerKind,
    failure_code,
)

# SimStep, Timer and friends live in .lines; they are part of this module's interface too.
__all__ = ["FAILURES", "LineView", "SimModel", "SimStep", "Timer", "TimerKind", "failure_code"]


class SimModel(LineTable):
    """Simulated phone lines of all agents. See the module docstring."""

    def __init__(
        self,
        timings: SimTimings | None = None,
        directory: Directory | None = None,
        id_factory: Callable[[], str] | None = None,
        *,
        max_lines: int = 20,
    ) -> None:
        super().__init__(id_factory, max_lines)
        self.timings = timings or SimTimings()
        self.directory = directory or Directory()

    # ------------------------------------------------------------------ inputs

    def place_inbound_call(
        self,
        agent: str,
        ani: str | None,
        dnis: str | None,
        data: Mapping[str, Any] | None,
        now: float,
        *,
        talk_time: float | None = None,
    ) -> SimStep:
        """A caller rings ``agent``. If ``talk_time`` is set, they hang up that long after answer.

        Raises :class:`ActionFailedError` if all the agent's lines are in use.
        """
        check_agent_id(agent)
        if talk_time is not None and not (math.isfinite(talk_time) and talk_time >= 0):
            raise ValueError("talk_time must be a finite number of seconds >= 0")
        self._check_room(agent)
        (cid,) = self._fresh_ids(1)
        step = SimStep(call_id=cid)
        line = self._add(
            agent,
            cid,
            CallType.INBOUND,
            ani=ani,
            dnis=dnis,
            data=dict(data or {}),
            talk_time=talk_time,
        )
        self._offer(line, step)
        self._start(step, line, TimerKind.RING_TIMEOUT, now + self.timings.ring_timeout)
        return step

    def execute(self, action: ConnectorAction, now: float) -> SimStep:
        """Start carrying out a command; its outcome comes now or from later timers.

        Raises :class:`ActionFailedError` (and changes nothing) if it cannot even start.
        """
        if action.action is Action.DIAL:
            return self._dial(action, now)
        if action.call_id is None:
            raise ActionFailedError(f"/{action.action} needs a call")
        line = self._by_id.get(action.call_id)
        if line is None or line.agent != action.agent:
            raise ActionFailedError(f"call {action.call_id!r} is not on {action.agent}'s phone")
        if line.pending is Action.HANGUP:
            raise ActionFailedError(f"call {line.call_id!r} is already being hung up")
        if action.action is Action.HANGUP:
            return self._hangup(line, now)
        if line.pending is not None:
            raise ActionFailedError(f"call {line.call_id!r}: /{line.pending} is still in progress")
        # The core's table again, on our own line state: the registry's lags behind ours
        # while an action is in flight.
        if not transitions.allows(action.action, line.line_state):
            raise ActionFailedError(
                f"/{action.action} needs a {transitions.needs(action.action)} call; "
                f"call {line.call_id!r} is {line.state}"
            )
        if action.action in consult.ACTIONS:
            return consult.start(self, line, action, now)
        step = SimStep()
        t = self.timings
        match action.action:
            case Action.ANSWER:
                self._cancel_all(line, step)  # the answer is on its way: no more ring timeout
                self._begin(line, Action.ANSWER, TimerKind.ANSWER, now + t.answer_delay, step)
            case Action.HOLD:
                self._begin(line, Action.HOLD, TimerKind.HOLD, now + t.hold_delay, step)
            case Action.RETRIEVE:
                self._begin(line, Action.RETRIEVE, TimerKind.RETRIEVE, now + t.retrieve_delay, step)
            case Action.MUTE | Action.UNMUTE:
                muted = action.action is Action.MUTE
                if line.muted is muted:
                    raise ActionFailedError(
                        f"call {line.call_id!r} is {'already' if muted else 'not'} muted"
                    )
                self._report(
                    line, CallMuted(agent=line.agent, call_id=line.call_id, muted=muted), step
                )
                line.muted = muted
            case Action.DTMF:
                if not action.digits:
                    raise ActionFailedError("/DTMF needs DIGITS")
                line.digits += action.digits
            case Action.TRANSFER:
                self._transfer(line, action.number, now, step)
                if isinstance(action.data, dict):
                    # Accepted: the registry's data is authoritative (it includes what
                    # components set with setCallAttachedData) and must follow the call.
                    line.data = dict(action.data)
        return step

    def adopt(
        self,
        agent: str,
        call_id: str,
        call_type: CallType,
        state: LineState,
        now: float,
        *,
        outgoing: bool = False,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
        muted: bool = False,
    ) -> SimStep:
        """Take over a call that was on ``agent``'s line before a restart.

        No events: the registry already has the call. A ringing call rings for a full ring
        timeout again; a call still dialling is answered by the far end as usual. The other
        side of an internal call is not relinked (each side goes on alone).
        """
        check_agent_id(agent)
        if self.line(call_id) is not None:
            raise ActionFailedError(f"call {call_id!r} is already on a line")
        self._check_room(agent)
        line = self._add(
            agent,
            call_id,
            call_type,
            outgoing=outgoing,
            ani=ani,
            dnis=dnis,
            data=dict(data or {}),
        )
        # Restored as the registry has it (a state, not a move: nothing to report).
        line.state, line.muted = state, muted
        step = SimStep(call_id=call_id)
        if state is LineState.RINGING:
            self._start(step, line, TimerKind.RING_TIMEOUT, now + self.timings.ring_timeout)
        elif state is LineState.DIALING:
            self._start(step, line, TimerKind.FAR_END_ANSWER, now + self.timings.far_end_answer)
        return step

    def timer_fired(self, timer_id: str, now: float) -> SimStep:
        """A timer is due. A timer already cancelled or fired is ignored (empty step)."""
        step = SimStep()
        timer = self._timers.pop(timer_id, None)
        if timer is None:
            return step
        line = self._by_id[timer.call_id]  # a released line's timers are all cancelled
        line.timers.discard(timer_id)
        match timer.kind:
            case TimerKind.RING_TIMEOUT:
                self._unanswered(line, step)
            case TimerKind.ANSWER:
                line.pending = None
                self._connect(line, step)
                peer = line.peer
                if peer is not None and peer.line_state is LineState.DIALING:
                    self._connect(peer, step)
                if line.talk_time is not None:
                    self._start(step, line, TimerKind.CALLER_HANGUP, now + line.talk_time)
            case TimerKind.FAR_END_ANSWER:
                self._connect(line, step)
            case TimerKind.HOLD:
                line.pending = None
                self._report(line, CallHeld(agent=line.agent, call_id=line.call_id), step)
            case TimerKind.RETRIEVE:
                line.pending = None
                self._report(line, CallRetrieved(agent=line.agent, call_id=line.call_id), step)
            case TimerKind.HANGUP:
                peer = line.peer
                self._release(line, "agent hung up", None, step)
                if peer is not None:
                    self._other_side_gone(peer, step)
            case TimerKind.DIAL_FAILED:
                assert timer.code is not None
                reason, short = FAILURES[timer.code]
                step.events.append(
                    ActionFailed(
                        agent=line.agent, reason=reason, call_id=line.call_id, number=line.dnis
                    )
                )
                self._release(line, short, short, step)
            case TimerKind.TRANSFER:
                assert timer.number is not None
                line.pending = None
                self._complete_transfer(line, timer.number, now, step)
            case TimerKind.CALLER_HANGUP:
                self._remote_hangup(line, step)
            case _ if timer.kind in consult.TIMERS:
                consult.fired(self, line, timer.kind, timer.number, now, step)
        return step

    def caller_hangup(self, call_id: str, now: float) -> SimStep:
        """The far end of ``call_id`` (or of a later leg of it, after transfers) hangs up.

        Ringing: "caller abandoned"; else "caller hung up", or "other party hung up" when the
        far end is no caller (the agent placed the call). A call already over: empty step.
        """
        line = self._find(call_id)
        step = SimStep()
        if line is not None:
            self._remote_hangup(line, step)
        return step

    def attach_data(self, call_id: str, data: Mapping[str, Any], now: float) -> SimStep:
        """The IVR (or the telephony side) attaches more data to a call still active."""
        line = self._find(call_id)
        step = SimStep()
        if line is not None and data:
            self._report(
                line,
                CallDataAttached(agent=line.agent, call_id=line.call_id, data=dict(data)),
                step,
            )
            line.data.update(data)
        return step

    def note_data(self, agent: str, call_id: str, data: Mapping[str, Any]) -> bool:
        """Replace what we know of a call's data (the server's copy is the truth).

        Returns False if ``agent`` has no such call (it may have just ended).
        """
        line = self._by_id.get(call_id)
        if line is None or line.agent != agent:
            return False
        line.data = dict(data)
        return True

    # ------------------------------------------------------------ transitions

    def _dial(self, action: ConnectorAction, now: float) -> SimStep:
        if not action.number:
            raise ActionFailedError("/DIAL needs a NUMBER")
        step = SimStep()
        self._place(action.agent, action.number, now, step)
        return step

    def _place(
        self,
        agent: str,
        number: str,
        now: float,
        step: SimStep,
        *,
        data: dict[str, Any] | None = None,
        callee_data: dict[str, Any] | None = None,
    ) -> Line:
        """Place a call from ``agent`` to ``number``; its dialling line. Raises
        :class:`ActionFailedError` (changing nothing) if it cannot even start."""
        self._check_room(agent)
        target = self.directory.agent_for(number)
        if target == agent:
            raise ActionFailedError("cannot call your own extension")
        own = self.directory.extension_of(agent)
        if target is None:
            (cid,) = self._fresh_ids(1)
            line = self._add(
                agent,
                cid,
                CallType.OUTBOUND,
                outgoing=True,
                ani=own,
                dnis=number,
                data=dict(data or {}),
            )
            self._offer(line, step)
            code = failure_code(number)
            if code is None:
                self._start(step, line, TimerKind.FAR_END_ANSWER, now + self.timings.far_end_answer)
            else:
                delay = self.timings.ring_timeout if code == "408" else self.timings.reject_delay
                self._start(step, line, TimerKind.DIAL_FAILED, now + delay, code=code)
            return line
        # Internal call: a dialling line for the caller and a ringing line for the callee.
        caller_id, callee_id = self._fresh_ids(2)
        callee_ext = self.directory.extension_of(target) or target
        line = self._add(
            agent,
            caller_id,
            CallType.INTERNAL,
            outgoing=True,
            ani=own or agent,
            dnis=callee_ext,
            data=dict(data or {}),
        )
        self._offer(line, step)
        if len(self._lines.get(target, {})) >= self.max_lines:
            self._start(
                step, line, TimerKind.DIAL_FAILED, now + self.timings.reject_delay, code="486"
            )
            return line
        callee = self._add(
            target,
            callee_id,
            CallType.INTERNAL,
            ani=own or agent,
            dnis=callee_ext,
            data=dict(callee_data or {}),
        )
        line.peer, callee.peer = callee, line
        self._offer(callee, step)
        # The ring timeout sits on the ringing side; it ends both lines.
        self._start(step, callee, TimerKind.RING_TIMEOUT, now + self.timings.ring_timeout)
        return line

    def _hangup(self, line: Line, now: float) -> SimStep:
        step = SimStep()
        self._cancel_all(line, step)  # whatever was in flight will never complete
        line.pending = Action.HANGUP
        self._start(step, line, TimerKind.HANGUP, now + self.timings.hangup_delay)
        return step

    def _transfer(self, line: Line, number: str | None, now: float, step: SimStep) -> None:
        if not number:
            raise ActionFailedError("/TRANSFER needs a NUMBER")
        target = self._transfer_target(line, number)
        code = None if target is not None else failure_code(number)
        t = self.timings
        delay = t.ring_timeout if code == "408" else t.reject_delay if code else t.transfer_delay
        self._begin(line, Action.TRANSFER, TimerKind.TRANSFER, now + delay, step, number=number)

    def _transfer_target(self, line: Line, number: str) -> str | None:
        target = self.directory.agent_for(number)
        if target == line.agent:
            raise ActionFailedError("cannot transfer a call to yourself")
        if line.peer is not None and target == line.peer.agent:
            raise ActionFailedError(f"{target} is already on this call")
        if line.peer is not None and line.peer.line_state is LineState.RINGING:
            # The other agent's line is itself a transfer still ringing: nobody to hand over.
            raise ActionFailedError(f"{line.peer.agent} has not answered this call yet")
        return target

    def _complete_transfer(self, line: Line, number: str, now: float, step: SimStep) -> None:
        try:
            target = self._transfer_target(line, number)  # the directory may have changed
        except ActionFailedError as exc:
            step.events.append(
                ActionFailed(agent=line.agent, reason=str(exc), call_id=line.call_id, number=number)
            )
            return
        if target is None:
            code = failure_code(number)
            if code is None:
                # Handed to the outside world; an internal peer now talks to that number.
                self._release(line, f"transferred to {number}", "transferred", step)
                return
        else:
            code = "486" if len(self._lines.get(target, {})) >= self.max_lines else None
        if code is not None:
            step.events.append(
                ActionFailed(
                    agent=line.agent, reason=FAILURES[code][0], call_id=line.call_id, number=number
                )
            )
            return
        assert target is not None
        (new_id,) = self._fresh_ids(1)
        peer = line.peer
        remote = line.dnis if line.outgoing else line.ani
        target_ext = self.directory.extension_of(target) or target
        dnis: str | None
        if peer is not None:
            ctype, dnis = CallType.INTERNAL, target_ext
        elif line.call_type is CallType.INBOUND:
            ctype, dnis = CallType.INBOUND, line.dnis  # the number the customer dialled
        else:
            ctype, dnis = CallType.INBOUND, target_ext
        data, talk_time, origin = dict(line.data), line.talk_time, line.origin
        self._release(line, "transferred", "transferred", step)
        new = self._add(
            target,
            new_id,
            ctype,
            ani=remote,
            dnis=dnis,
            data=data,
            talk_time=talk_time,
            origin=origin,
        )
        if peer is not None:
            new.peer, peer.peer = peer, new
        self._offer(new, step)
        self._start(step, new, TimerKind.RING_TIMEOUT, now + self.timings.ring_timeout)

    def _unanswered(self, line: Line, step: SimStep) -> None:
        peer = line.peer
        self._release(line, "caller abandoned", "abandoned", step)
        if peer is None:
            return
        if peer.line_state is LineState.DIALING:
            reason, short = FAILURES["408"]
            step.events.append(
                ActionFailed(
                    agent=peer.agent, reason=reason, call_id=peer.call_id, number=peer.dnis
                )
            )
            self._release(peer, short, short, step)
        else:  # connected to a call transferred to an agent who did not answer
            self._release(peer, "no answer", "no answer", step)

    def _other_side_gone(self, line: Line, step: SimStep) -> None:
        """The other agent of an internal call hung up."""
        if line.line_state is LineState.DIALING:  # the callee rejected the ringing call
            reason, short = FAILURES["603"]
            step.events.append(
                ActionFailed(
                    agent=line.agent, reason=reason, call_id=line.call_id, number=line.dnis
                )
            )
            self._release(line, short, short, step)
        elif line.line_state is LineState.RINGING:
            self._release(line, "caller abandoned", "abandoned", step)
        else:
            self._release(line, "other party hung up", None, step)

    def _remote_hangup(self, line: Line, step: SimStep) -> None:
        peer = line.peer
        if line.line_state is LineState.RINGING:
            self._release(line, "caller abandoned", "abandoned", step)
        else:
            # The far end of a call the agent placed (or of an internal one) is no caller.
            caller = line.call_type is CallType.INBOUND and not line.outgoing
            self._release(line, f"{'caller' if caller else 'other party'} hung up", None, step)
        if peer is not None:
            self._other_side_gone(peer, step)

    def _connect(self, line: Line, step: SimStep) -> None:
        self._report(line, CallAnswered(agent=line.agent, call_id=line.call_id), step)

    def _offer(self, line: Line, step: SimStep) -> None:
        self._report(
            line,
            CallOffered(
                agent=line.agent,
                call_id=line.call_id,
                call_type=line.call_type,
                ani=line.ani,
                dnis=line.dnis,
                data=dict(line.data),
                outgoing=line.outgoing,
            ),
            step,
        )
