"""What an agent's browser phone reports -> core telephony events (sans-I/O).

Theory of operation
-------------------
With the ``webrtc`` connector the SIP endpoint of an agent is a SIP.js user agent in that
agent's console. The browser is the only party that sees its SIP dialogs, so it reports them
(``phoneReport`` over the console WebSocket, docs/webrtc.md). It is *not* trusted beyond that:

* a report is about the agent of the socket it came on, and only from the console that holds
  that agent's phone (:mod:`.connector` checks both); it names no agent;
* each report is checked here (shape, sizes, at most :data:`MAX_CALLS` calls) and moves a call
  only as the core's transitions table allows (:func:`~ctikit.connectors.linestate.advance`),
  so a browser can put its own agent's registry only in states any connector could;
* the reasons a browser gives are short words from a fixed set (``by``), turned into the
  same reasons the SIP connector gives; free text (a SIP reason phrase) is cut to
  :data:`MAX_TEXT` characters.

=============  ==================================================================
report         core event
=============  ==================================================================
``offered``    ``CallOffered`` (``direction`` in: ringing; out: dialing)
``answered``   ``CallAnswered``
``held``       ``CallHeld`` / ``retrieved``: ``CallRetrieved``
``muted``      ``CallMuted`` (``muted``: true or false)
``ended``      ``CallReleased``; an outgoing call that never connected first gets
               ``ActionFailed`` with the SIP status (``status``, ``phrase``)
``line``       ``LineStatus`` (the browser's registration: ``up``, ``reason``)
=============  ==================================================================

Pure: no I/O, no clock.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from ...core.model import CallType, LineState
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
from ..linestate import Change, advance, on_line
from ..sip.mapping import failure_reason, failure_short

log = logging.getLogger(__name__)

#: Live calls one browser phone may report at once (more are refused: a page cannot grow
#: the server's memory without bound).
MAX_CALLS = 8
#: Longest call ID (a SIP Call-ID) and longest free text accepted from a browser.
MAX_CALL_ID = 200
MAX_TEXT = 120
_CALL_ID = re.compile(r"^[!-~]{1,200}$")  # visible ASCII, as SIP allows
_NUMBER = re.compile(r"^[A-Za-z0-9+*#._@-]{1,64}$")

#: ``by`` of an ``ended`` report: who ended the call, as the browser saw it.
ENDED_BY = frozenset({"agent", "peer", "failed", "transferred", "closed", "media"})


class ReportError(ValueError):
    """A report the server does not accept (its message says why, for the browser)."""


@dataclass(slots=True, eq=False)
class WebCall:
    """One call of a browser phone. ``state`` moves only by the transitions table."""

    call_id: str
    outgoing: bool
    call_type: CallType
    peer: str | None
    state: TableState = Edge.NEW

    @property
    def line_state(self) -> LineState | None:
        return on_line(self.state)


@dataclass(slots=True)
class _Phone:
    calls: dict[str, WebCall] = field(default_factory=dict)
    up: bool | None = None


class WebrtcModel:
    """The calls of every agent's browser phone. See the module docstring."""

    def __init__(self, directory: Directory, *, max_calls: int = MAX_CALLS) -> None:
        self.directory = directory
        self.max_calls = max_calls
        self._phones: dict[str, _Phone] = {}
        # Test calls on their way (agent, caller) -> (data, dnis): given to the offer.
        self._expected: dict[tuple[str, str], tuple[dict[str, Any], str | None]] = {}

    def expect_call(
        self, agent: str, ani: str, data: Mapping[str, Any], *, dnis: str | None
    ) -> None:
        """A test call from ``ani`` is about to ring at ``agent``: its offer gets ``data``
        and ``dnis`` (a SIP INVITE from a lab phone carries neither)."""
        if len(self._expected) >= 64:  # never claimed (the call failed): forget the oldest
            del self._expected[next(iter(self._expected))]
        self._expected[(agent, ani)] = (dict(data), dnis)

    def calls(self, agent: str) -> list[WebCall]:
        """The agent's live calls."""
        phone = self._phones.get(agent)
        return list(phone.calls.values()) if phone else []

    def find(self, agent: str, call_id: str | None) -> WebCall | None:
        phone = self._phones.get(agent)
        return phone.calls.get(call_id) if phone and call_id is not None else None

    def report(self, agent: str, raw: object) -> list[TelephonyEvent]:
        """The core events of one report from ``agent``'s phone; :class:`ReportError` if it
        is malformed or the table refuses it."""
        if not isinstance(raw, Mapping):
            raise ReportError("a report is an object")
        kind = raw.get("kind")
        phone = self._phones.setdefault(agent, _Phone())
        if kind == "line":
            up = raw.get("up")
            if not isinstance(up, bool):
                raise ReportError("line: up must be true or false")
            return self.line(agent, up, _text(raw.get("reason")))
        call_id = raw.get("callId")
        if not isinstance(call_id, str) or not _CALL_ID.match(call_id):
            raise ReportError(f"callId must be 1 to {MAX_CALL_ID} visible ASCII characters")
        if kind == "offered":
            return self._offered(agent, phone, call_id, raw)
        call = phone.calls.get(call_id)
        if call is None:
            raise ReportError(f"no call {call_id!r} on this phone")
        event: TelephonyEvent
        if kind == "answered":
            event = CallAnswered(agent=agent, call_id=call_id)
        elif kind == "held":
            event = CallHeld(agent=agent, call_id=call_id)
        elif kind == "retrieved":
            event = CallRetrieved(agent=agent, call_id=call_id)
        elif kind == "muted":
            muted = raw.get("muted")
            if not isinstance(muted, bool):
                raise ReportError("muted: muted must be true or false")
            event = CallMuted(agent=agent, call_id=call_id, muted=muted)
        elif kind == "ended":
            return self._ended(agent, phone, call, raw)
        else:
            raise ReportError(f"unknown report kind {str(kind)[:32]!r}")
        return self._move(call, event)

    def line(self, agent: str, up: bool, reason: str | None) -> list[TelephonyEvent]:
        """The phone of ``agent`` is registered (``up``) or not; news only when it changed."""
        phone = self._phones.setdefault(agent, _Phone())
        if phone.up is up:
            return []
        phone.up = up
        return [LineStatus(agent=agent, up=up, reason=None if up else reason or "phone offline")]

    def release_all(self, agent: str, reason: str) -> list[TelephonyEvent]:
        """End every call of ``agent``'s phone with ``reason`` (the phone is gone)."""
        phone = self._phones.get(agent)
        if phone is None:
            return []
        events: list[TelephonyEvent] = []
        for call in list(phone.calls.values()):
            del phone.calls[call.call_id]
            events += self._move(
                call, CallReleased(agent=agent, call_id=call.call_id, reason=reason)
            )
        return events

    def release_all_of(self, agent: str, call_id: str, reason: str) -> list[TelephonyEvent]:
        """End one call of ``agent``'s phone with ``reason`` (the phone no longer has it)."""
        phone = self._phones.get(agent)
        call = phone.calls.pop(call_id, None) if phone else None
        if call is None:
            return []
        return self._move(call, CallReleased(agent=agent, call_id=call_id, reason=reason))

    def agents(self) -> list[str]:
        return list(self._phones)

    # ----------------------------------------------------------------- internals

    def _offered(
        self, agent: str, phone: _Phone, call_id: str, raw: Mapping[str, Any]
    ) -> list[TelephonyEvent]:
        if call_id in phone.calls:
            return []  # the same offer again (a resent report): nothing new
        if len(phone.calls) >= self.max_calls:
            raise ReportError(f"this phone already has {self.max_calls} calls")
        direction = raw.get("direction")
        if direction not in ("in", "out"):
            raise ReportError('offered: direction must be "in" or "out"')
        peer = raw.get("peer")
        if peer is not None and (not isinstance(peer, str) or not _NUMBER.match(peer)):
            raise ReportError("offered: peer must be a number or SIP user of 1 to 64 characters")
        outgoing = direction == "out"
        internal = peer is not None and self.directory.agent_for(peer) not in (None, agent)
        own = self.directory.extension_of(agent)
        data: dict[str, Any] = {}
        dnis = own
        if not outgoing and peer is not None and (agent, peer) in self._expected:
            data, dnis = self._expected.pop((agent, peer))
            dnis = dnis or own
        call = WebCall(
            call_id=call_id,
            outgoing=outgoing,
            call_type=CallType.INTERNAL
            if internal
            else (CallType.OUTBOUND if outgoing else CallType.INBOUND),
            peer=peer,
        )
        offer = CallOffered(
            agent=agent,
            call_id=call_id,
            call_type=call.call_type,
            ani=own if outgoing else peer,
            dnis=peer if outgoing else dnis,
            data=data,
            outgoing=outgoing,
        )
        events = self._move(call, offer)
        if events:
            phone.calls[call_id] = call
        return events

    def _ended(
        self, agent: str, phone: _Phone, call: WebCall, raw: Mapping[str, Any]
    ) -> list[TelephonyEvent]:
        by = raw.get("by")
        if by not in ENDED_BY:
            raise ReportError(f"ended: by must be one of {', '.join(sorted(ENDED_BY))}")
        status = raw.get("status")
        if status is not None and (
            isinstance(status, bool) or not isinstance(status, int) or not 100 <= status <= 699
        ):
            raise ReportError("ended: status must be a SIP status code")
        phrase = _text(raw.get("phrase")) or ""
        sip_status = f"{status} {phrase}".strip() if status is not None else phrase
        del phone.calls[call.call_id]
        events: list[TelephonyEvent] = []
        disposition = None
        state = call.line_state
        if by == "failed" or (state is LineState.DIALING and by == "peer"):
            if state is LineState.DIALING:
                events.append(
                    ActionFailed(
                        agent=agent,
                        reason=failure_reason(sip_status) if sip_status else "call failed",
                        call_id=call.call_id,
                        number=call.peer,
                    )
                )
            reason = disposition = failure_short(sip_status) if sip_status else "failed"
        elif by == "agent":
            reason = "agent hung up"
        elif by == "transferred":
            external = call.peer is None or self.directory.agent_for(call.peer) is None
            target = _text(raw.get("target"))
            reason = f"transferred to {target}" if external and target else "transferred"
            disposition = "transferred"
        elif by == "closed":
            reason = "the agent's console closed"
        elif by == "media":
            reason = f"no audio ({phrase or 'media failed'})"
        elif state is LineState.RINGING:
            reason, disposition = "caller abandoned", "abandoned"
        else:
            who = (
                "caller"
                if call.call_type is CallType.INBOUND and not call.outgoing
                else ("other party")
            )
            reason = f"{who} hung up"
        released = CallReleased(
            agent=agent, call_id=call.call_id, reason=reason, disposition=disposition
        )
        return events + self._move(call, released)

    @staticmethod
    def _move(call: WebCall, event: TelephonyEvent) -> list[TelephonyEvent]:
        change = advance(call, event)
        if change is Change.REFUSED:
            raise ReportError(f"{type(event).__name__} is impossible on a {call.state.value} call")
        return [event] if change.reported else []


def _text(value: object) -> str | None:
    if not isinstance(value, str) or not value:
        return None
    clean = "".join(ch for ch in value if ch.isprintable())
    return clean[:MAX_TEXT] or None
