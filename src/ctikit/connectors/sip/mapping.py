"""baresip events -> core telephony events: the SIP connector's state machine (sans-I/O).

Theory of operation
-------------------
Every agent has one or more *lines*; each line is one baresip process with
``call_max_calls 1`` that registers the agent's extension (and any queue numbers) at the
proxy. A busy line answers ``486 Max Calls`` and the proxy hunts to the agent's next line, so
a line normally holds at most one call and baresip's "current call" is never ambiguous.
:class:`SipModel` keeps the lines and their calls and turns what each line's ``ctrl_tcp`` says
(:class:`~.baresip.BaresipEvent`) into :mod:`ctikit.core.telephony` events. It does no I/O and
reads no clock (``now`` is a parameter): the pump (:mod:`.connector`) sends the baresip
commands and tells the model what it sent (``set_pending``, ``begin_dial``...), so that the
events coming back are read in the right light (a ``CALL_CLOSED`` after our ``hangup`` is "agent
hung up", after a ``transfer`` it is "transferred").

Call IDs are SIP Call-IDs (both legs of a call through the proxy share one, so an internal call
has the same ID at both agents; each agent's registry is separate). If one agent ever holds
both legs (it dialled a queue it belongs to), the second gets ``~2`` appended.

What baresip 1.0.0 reports, and how it maps (see docs/connectors.md):

=====================  ======================================================================
CALL_INCOMING          ``CallOffered`` (INBOUND, or INTERNAL if the caller is an agent's
                       extension; ani = caller's user, dnis = the AOR called)
CALL_RINGING           an outgoing call got its Call-ID: ``CallOffered`` (OUTBOUND/INTERNAL)
CALL_ESTABLISHED       ``CallAnswered``
CALL_RTPESTAB          media flows: :attr:`SipCall.media` (logged, no core event)
CALL_REMOTE_SDP        "answer" to our hold / resume re-INVITE: ``CallHeld`` / ``CallRetrieved``
TRANSFER_FAILED        ``ActionFailed`` + ``CallReleased`` (baresip 1.0.0 drops the call)
CALL_CLOSED            ``CallReleased``; before answer on an outgoing call, ``ActionFailed``
                       with the SIP status ("busy (486 Busy Here)") first
REGISTER_OK/_FAIL      the line's registration; ``LineStatus`` for the agent when all its
                       lines are up, or when one goes down
=====================  ======================================================================
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from ...core.commands import Action
from ...core.model import CallType, LineState, check_agent_id
from ...core.telephony import (
    ActionFailed,
    CallAnswered,
    CallHeld,
    CallMuted,
    CallOffered,
    CallReleased,
    CallRetrieved,
    LineStatus,
    TelephonyEvent,
)
from ...core.transitions import Edge, TableState
from ..directory import Directory
from ..errors import ActionFailedError
from ..linestate import Change, advance, on_line
from .baresip import BaresipEvent, sip_user

log = logging.getLogger(__name__)

# Short reasons (CallReleased.reason / disposition) for SIP failure classes.
_FAILURE_SHORT: dict[int, str] = {
    404: "not found",
    408: "no answer",
    480: "unavailable",
    486: "busy",
    487: "cancelled",
    600: "busy",
    603: "declined",
    604: "not found",
}
_SIP_STATUS_RE = re.compile(r"^([3-6]\d\d)\b")
#: ``param`` of CALL_CLOSED when the far end sent BYE/CANCEL, and after a completed transfer
#: (sic: baresip spells it so).
PEER_HUNG_UP = "Connection reset by peer"
TRANSFERRED = "Call transfered"


def failure_reason(status: str) -> str:
    """What the agent is told of a SIP failure, in the simulator's words: the short reason
    and the status line (``"486 Busy Here"`` -> ``"busy (486 Busy Here)"``); anything that
    is not a status line is passed on as it is."""
    return f"{failure_short(status)} ({status})" if _SIP_STATUS_RE.match(status) else status


def failure_short(status: str) -> str:
    """A one-word reason for a SIP failure status line (``"486 Busy Here"`` -> ``"busy"``)."""
    m = _SIP_STATUS_RE.match(status)
    if not m:
        return "failed"
    code = int(m.group(1))
    return _FAILURE_SHORT.get(code) or _FAILURE_SHORT.get(code // 100 * 100) or "failed"


@dataclass(slots=True, eq=False)
class SipCall:
    """One call on a line (mutable; only the model changes it). ``state`` moves only by the
    core's transitions table (:meth:`SipModel._report`): NEW until offered, ENDED once
    released."""

    key: str  # the call ID the core knows
    sip_id: str | None  # None while an outgoing call has not told us its Call-ID yet
    line: PhoneLine
    outgoing: bool
    call_type: CallType
    state: TableState = Edge.NEW
    ani: str | None = None
    dnis: str | None = None
    number: str | None = None  # what the agent dialled
    data: dict[str, Any] = field(default_factory=dict)
    pending: Action | None = None  # a command sent whose outcome baresip has not reported
    transfer_to: str | None = None
    muted: bool = False
    media: bool = False  # CALL_RTPESTAB seen: RTP really flows

    @property
    def line_state(self) -> LineState | None:
        """The state on the line; None before the offer or after the release."""
        return on_line(self.state)

    @property
    def offered(self) -> bool:
        """CallOffered was reported (and the call may since have ended)."""
        return self.state is not Edge.NEW


@dataclass(slots=True, eq=False)
class PhoneLine:
    """One baresip process: ``aors[0]`` is the agent's own extension, then queue numbers."""

    agent: str
    index: int  # 1-based
    aors: tuple[str, ...]
    connected: bool = False
    registered: dict[str, bool] = field(default_factory=dict)
    reason: str | None = "not connected yet"
    calls: dict[str, SipCall] = field(default_factory=dict)  # by SIP Call-ID
    dialing: SipCall | None = None  # an outgoing call without a Call-ID yet

    @property
    def name(self) -> str:
        return f"{self.agent}/line{self.index}"

    @property
    def up(self) -> bool:
        return self.connected and all(self.registered.get(a, False) for a in self.aors)

    @property
    def busy(self) -> bool:
        return bool(self.calls) or self.dialing is not None

    def all_calls(self) -> list[SipCall]:
        return [*self.calls.values(), *([self.dialing] if self.dialing else [])]


@dataclass(slots=True)
class _Expected:
    """A call on its way to ``target`` from ``caller`` (a blind transfer, or a test call we
    placed): when it is offered, it gets this data and DNIS."""

    target: str | None  # agent, if the number is an agent's extension
    caller: str | None  # user part of the calling party
    data: dict[str, Any]
    dnis: str | None
    expires: float


class SipModel:
    """All agents' SIP lines and calls. See the module docstring."""

    def __init__(self, directory: Directory, *, transfer_ttl: float = 60.0) -> None:
        self.directory = directory
        self.transfer_ttl = transfer_ttl
        self._lines: dict[str, list[PhoneLine]] = {}
        self._reported_up: dict[str, bool | None] = {}
        self._expected: list[_Expected] = []

    # ------------------------------------------------------------------ lines

    def add_line(self, agent: str, aors: Iterable[str]) -> PhoneLine:
        """Add a line (a baresip process) to ``agent``; its first AOR is the agent's own."""
        check_agent_id(agent)
        aor_list = tuple(aors)
        if not aor_list:
            raise ValueError("a line needs at least one AOR")
        lines = self._lines.setdefault(agent, [])
        line = PhoneLine(agent=agent, index=len(lines) + 1, aors=aor_list)
        lines.append(line)
        self._reported_up.setdefault(agent, None)
        return line

    def agents(self) -> list[str]:
        return list(self._lines)

    def lines(self, agent: str | None = None) -> list[PhoneLine]:
        if agent is not None:
            return list(self._lines.get(agent, []))
        return [ln for lines in self._lines.values() for ln in lines]

    def line_connected(
        self, line: PhoneLine, registered: Mapping[str, bool]
    ) -> list[TelephonyEvent]:
        """The pump reached the line's ``ctrl_tcp`` and read its registrations."""
        line.connected = True
        line.registered = {aor: bool(registered.get(aor, False)) for aor in line.aors}
        line.reason = None if line.up else "not registered yet"
        return self._agent_status(line.agent)

    def line_lost(self, line: PhoneLine, reason: str) -> list[TelephonyEvent]:
        """The line's baresip is gone (process died, connection lost): its calls are over."""
        events: list[TelephonyEvent] = []
        line.connected = False
        line.reason = reason
        line.registered = {}
        for call in line.all_calls():
            self._release(call, f"phone line lost ({reason})", "failed", events)
        events += self._agent_status(line.agent, news=True)
        return events

    def stopped(self, reason: str) -> list[TelephonyEvent]:
        """The connector stops: every call is released and every agent reported down."""
        events: list[TelephonyEvent] = []
        for line in self.lines():
            for call in line.all_calls():
                self._release(call, reason, None, events)
            line.connected, line.reason, line.registered = False, reason, {}
        for agent in self._lines:
            if self._reported_up.get(agent) is not False:
                self._reported_up[agent] = False
                events.append(LineStatus(agent=agent, up=False, reason=reason))
        return events

    # ----------------------------------------------------------- baresip events

    def event(self, line: PhoneLine, ev: BaresipEvent, now: float) -> list[TelephonyEvent]:
        """Map one event from ``line``'s baresip."""
        if ev.klass == "register":
            return self._register_event(line, ev)
        if ev.call_id is None:
            return []  # e.g. the first CALL_LOCAL_SDP of a dial: nothing to report yet
        events: list[TelephonyEvent] = []
        call = line.calls.get(ev.call_id)
        if call is None:
            call = self._new_call(line, ev, now, events)
            if call is None:
                return events
        match ev.type:
            case "CALL_ESTABLISHED":
                # Also sent again after a hold or resume: the table calls that a duplicate.
                if self._report(call, CallAnswered(agent=line.agent, call_id=call.key), events):
                    if call.pending is Action.ANSWER:
                        call.pending = None
            case "CALL_RTPESTAB":
                if not call.media:
                    call.media = True
                    log.info("%s: call %s: RTP established (%s)", line.name, call.key, ev.param)
            case "CALL_REMOTE_SDP" if ev.param == "answer":
                self._sdp_answer(call, events)
            case "TRANSFER_FAILED":
                status = ev.param or "no reason given"
                events.append(
                    ActionFailed(
                        agent=line.agent,
                        reason=failure_reason(status),
                        call_id=call.key,
                        number=call.transfer_to,
                    )
                )
                self._drop_transfer(call)
                # baresip 1.0.0 hangs the call up itself, without a CALL_CLOSED.
                self._release(call, f"transfer failed ({status})", "transfer failed", events)
            case "CALL_CLOSED":
                self._closed(call, ev.param or "", events)
            case "CALL_DTMF_START":
                log.info("%s: call %s: far end sent DTMF %s", line.name, call.key, ev.param)
        return events

    def _register_event(self, line: PhoneLine, ev: BaresipEvent) -> list[TelephonyEvent]:
        aor = ev.account_aor
        if aor not in line.aors:
            return []
        if ev.type == "REGISTER_OK":
            line.registered[aor] = True
            if line.up:
                line.reason = None
        elif ev.type == "REGISTER_FAIL":
            line.registered[aor] = False
            line.reason = f"registration of {sip_user(aor) or aor} failed: {ev.param or '?'}"
            return self._agent_status(line.agent, news=True)
        else:
            return []
        return self._agent_status(line.agent)

    def _new_call(
        self, line: PhoneLine, ev: BaresipEvent, now: float, events: list[TelephonyEvent]
    ) -> SipCall | None:
        """A Call-ID this line has not reported yet: a new call, or our dial's first news."""
        assert ev.call_id is not None
        if ev.direction == "outgoing":
            call = line.dialing
            if call is None:
                if ev.type == "CALL_CLOSED":
                    return None
                # Dialled on the phone itself, not through ctikit: report it all the same.
                number = sip_user(ev.peer_uri) or "unknown"
                call = self._outgoing(line, number)
            line.dialing = None
            self._adopt(call, ev.call_id, events)
            return call
        if ev.direction != "incoming" or ev.type not in ("CALL_INCOMING", "CALL_ESTABLISHED"):
            return None  # late news of a call already over (RTCP, SDP, AUDIO_ERROR...)
        ani = sip_user(ev.peer_uri)
        dnis = sip_user(ev.account_aor)
        caller_agent = self.directory.agent_for(ani) if ani else None
        ctype = CallType.INTERNAL if caller_agent is not None else CallType.INBOUND
        data: dict[str, Any] = {}
        expected = self._claim(line.agent, ani, now)
        if expected is not None:
            data, dnis = dict(expected.data), expected.dnis or dnis
        call = SipCall(
            key=self._key_for(line.agent, ev.call_id),
            sip_id=ev.call_id,
            line=line,
            outgoing=False,
            call_type=ctype,
            ani=ani,
            dnis=dnis,
            data=data,
        )
        line.calls[ev.call_id] = call
        self._offer(call, events)
        return call

    def _sdp_answer(self, call: SipCall, events: list[TelephonyEvent]) -> None:
        """The far end answered our re-INVITE: a hold or resume is done."""
        agent = call.line.agent
        done: TelephonyEvent
        if call.pending is Action.HOLD:
            done = CallHeld(agent=agent, call_id=call.key)
        elif call.pending is Action.RETRIEVE:
            done = CallRetrieved(agent=agent, call_id=call.key)
        else:
            return  # the answer to a re-INVITE of the far end's, or to no command of ours
        if self._report(call, done, events):
            call.pending = None

    def _closed(self, call: SipCall, param: str, events: list[TelephonyEvent]) -> None:
        agent = call.line.agent
        if call.pending is Action.HANGUP:
            self._release(call, "agent hung up", None, events)
        elif param == TRANSFERRED:
            # As the simulator says it: an agent is named by the offer it gets, a number is not.
            target = call.transfer_to
            external = target is not None and self.directory.agent_for(target) is None
            reason = f"transferred to {target}" if external else "transferred"
            self._release(call, reason, "transferred", events)
        elif call.line_state is LineState.DIALING:
            # The far end never answered: tell the agent why, with the SIP status.
            events.append(
                ActionFailed(
                    agent=agent,
                    reason=failure_reason(param) if param else "call failed",
                    call_id=call.key,
                    number=call.number,
                )
            )
            short = failure_short(param)
            self._release(call, short, short, events)
        elif call.line_state is LineState.RINGING and param == PEER_HUNG_UP:
            self._release(call, "caller abandoned", "abandoned", events)
        elif param == PEER_HUNG_UP:
            who = (
                "caller"
                if call.call_type is CallType.INBOUND and not call.outgoing
                else "other party"
            )
            self._release(call, f"{who} hung up", None, events)
        elif param == "Connection reset by user":
            self._release(call, "agent hung up", None, events)  # hung up on the phone itself
        else:
            self._release(call, f"call ended ({param or 'no reason given'})", None, events)

    # ------------------------------------------------------ commands (the pump)

    def find_call(self, agent: str, key: str | None) -> SipCall:
        """The agent's call ``key``; raises :class:`ActionFailedError` if there is none."""
        for line in self._lines.get(agent, []):
            for call in line.all_calls():
                if call.key == key:
                    if not line.connected:
                        raise ActionFailedError(f"{line.name} is down: {line.reason}")
                    return call
        raise ActionFailedError(f"call {key!r} is not on {agent}'s phone")

    def free_line(self, agent: str) -> PhoneLine:
        """A line of ``agent`` that is up and has no call, else :class:`ActionFailedError`."""
        lines = self._lines.get(agent)
        if not lines:
            raise ActionFailedError(f"{agent} has no SIP phone")
        for line in lines:
            if line.up and not line.busy:
                return line
        if not any(line.up for line in lines):
            reasons = "; ".join(f"{ln.name}: {ln.reason}" for ln in lines)
            raise ActionFailedError(f"{agent}'s phone is down ({reasons})")
        raise ActionFailedError(f"all {len(lines)} lines of {agent} are in use")

    def begin_dial(self, line: PhoneLine, number: str) -> SipCall:
        """The pump is about to send ``dial``: the next outgoing Call-ID on the line is it."""
        own = self.directory.extension_of(line.agent)
        if number == own or self.directory.agent_for(number) == line.agent:
            raise ActionFailedError("cannot call your own extension")
        call = self._outgoing(line, number)
        line.dialing = call
        return call

    def dial_failed(self, call: SipCall, reason: str) -> list[TelephonyEvent]:
        """``dial`` was refused by baresip: nothing was offered, nothing to release."""
        line = call.line
        if line.dialing is call:
            line.dialing = None
        events: list[TelephonyEvent] = []
        if call.offered:
            events.append(
                ActionFailed(agent=line.agent, reason=reason, call_id=call.key, number=call.number)
            )
            self._release(call, failure_short(reason), "failed", events)
        return events

    def dial_identified(self, call: SipCall, sip_id: str) -> list[TelephonyEvent]:
        """``callstat`` told us the Call-ID of the call we dialled (may beat any event)."""
        line = call.line
        events: list[TelephonyEvent] = []
        if line.dialing is call and sip_id not in line.calls:
            line.dialing = None
            self._adopt(call, sip_id, events)
        return events

    def set_pending(self, call: SipCall, action: Action | None) -> None:
        call.pending = action

    def pending_expired(self, call: SipCall, action: Action) -> list[TelephonyEvent]:
        """No event confirmed ``action`` in time (the far end ignored a re-INVITE...): tell
        the agent, and accept commands on the call again."""
        if call.pending is not action or call.key not in self._active_keys(call.line.agent):
            return []
        call.pending = None
        reason = f"/{action} was sent but the far end did not confirm it"
        return [ActionFailed(agent=call.line.agent, reason=reason, call_id=call.key)]

    def muted(self, call: SipCall, muted: bool) -> list[TelephonyEvent]:
        if call.muted is muted or call.key not in self._active_keys(call.line.agent):
            return []
        events: list[TelephonyEvent] = []
        if self._report(
            call, CallMuted(agent=call.line.agent, call_id=call.key, muted=muted), events
        ):
            call.muted = muted
        return events

    def transfer_started(
        self, call: SipCall, number: str, data: Mapping[str, Any] | None, now: float
    ) -> None:
        """A REFER to ``number`` is on its way; the target's new call will carry ``data``."""
        call.pending, call.transfer_to = Action.TRANSFER, number
        # A customer's call keeps the number the customer dialled, as in the simulator.
        inbound = call.call_type is CallType.INBOUND and not call.outgoing
        self.expect_call(
            self.directory.agent_for(number),
            call.dnis if call.outgoing else call.ani,
            data or {},
            dnis=call.dnis if inbound else number,
            now=now,
        )

    def expect_call(
        self,
        agent: str | None,
        caller: str | None,
        data: Mapping[str, Any],
        *,
        dnis: str | None = None,
        now: float,
    ) -> None:
        """The next call from ``caller`` offered to ``agent`` within ``transfer_ttl`` seconds
        carries ``data`` (and ``dnis`` instead of the AOR called)."""
        self._expected = [e for e in self._expected if e.expires > now][-255:]
        self._expected.append(
            _Expected(
                target=agent,
                caller=caller,
                data=dict(data),
                dnis=dnis,
                expires=now + self.transfer_ttl,
            )
        )

    # ------------------------------------------------------------------ helpers

    def _outgoing(self, line: PhoneLine, number: str) -> SipCall:
        internal = self.directory.agent_for(number) is not None
        return SipCall(
            key="",
            sip_id=None,
            line=line,
            outgoing=True,
            call_type=CallType.INTERNAL if internal else CallType.OUTBOUND,
            ani=self.directory.extension_of(line.agent) or sip_user(line.aors[0]),
            dnis=number,
            number=number,
        )

    def _adopt(self, call: SipCall, sip_id: str, events: list[TelephonyEvent]) -> None:
        call.sip_id = sip_id
        call.key = self._key_for(call.line.agent, sip_id)
        call.line.calls[sip_id] = call
        self._offer(call, events)

    def _offer(self, call: SipCall, events: list[TelephonyEvent]) -> None:
        self._report(
            call,
            CallOffered(
                agent=call.line.agent,
                call_id=call.key,
                call_type=call.call_type,
                ani=call.ani,
                dnis=call.dnis,
                data=dict(call.data),
                outgoing=call.outgoing,
            ),
            events,
        )

    @staticmethod
    def _report(call: SipCall, event: TelephonyEvent, events: list[TelephonyEvent]) -> bool:
        """Report ``event`` if the core's transitions table moves ``call`` by it (True); a
        duplicate changes nothing, an impossible move is baresip's noise (logged)."""
        change = advance(call, event)
        if change is Change.REFUSED:
            log.warning(
                "%s: call %s: ignoring %s on a %s call",
                call.line.name,
                call.key,
                type(event).__name__,
                call.state.value,
            )
        if not change.reported:
            return False
        events.append(event)
        return True

    def _release(
        self, call: SipCall, reason: str, disposition: str | None, events: list[TelephonyEvent]
    ) -> None:
        line = call.line
        if line.dialing is call:
            line.dialing = None
        if call.sip_id is not None and line.calls.get(call.sip_id) is call:
            del line.calls[call.sip_id]
        if call.line_state is not None:  # offered and not released yet
            released = CallReleased(
                agent=line.agent, call_id=call.key, reason=reason, disposition=disposition
            )
            self._report(call, released, events)

    def _active_keys(self, agent: str) -> set[str]:
        return {c.key for ln in self._lines.get(agent, []) for c in ln.calls.values()}

    def _key_for(self, agent: str, sip_id: str) -> str:
        used = self._active_keys(agent)
        key, n = sip_id, 1
        while key in used:
            n += 1
            key = f"{sip_id}~{n}"
        return key

    def _claim(self, agent: str, caller: str | None, now: float) -> _Expected | None:
        self._expected = [e for e in self._expected if e.expires > now]
        for e in self._expected:
            if e.target == agent and e.caller == caller:
                self._expected.remove(e)
                return e
        return None

    def _drop_transfer(self, call: SipCall) -> None:
        """Forget the transfer of ``call``: it failed (a success is claimed by the target)."""
        if call.transfer_to is None:
            return
        peer = call.dnis if call.outgoing else call.ani
        target = self.directory.agent_for(call.transfer_to)
        self._expected = [
            e for e in self._expected if not (e.target == target and e.caller == peer)
        ]

    def _agent_status(self, agent: str, *, news: bool = False) -> list[TelephonyEvent]:
        """LineStatus if the agent's status changed. Until the agent was first up, "down" is
        only news when a line failed (``news``), not while the lines are still starting."""
        lines = self._lines.get(agent, [])
        up = bool(lines) and all(ln.up for ln in lines)
        before = self._reported_up.get(agent)
        if before is up or (before is None and not up and not news):
            return []
        self._reported_up[agent] = up
        reason = None
        if not up:
            down = [ln for ln in lines if not ln.up]
            reason = "; ".join(f"line {ln.index}: {ln.reason or 'down'}" for ln in down)
        return [LineStatus(agent=agent, up=up, reason=reason)]
