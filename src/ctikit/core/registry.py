"""The call registry: every agent's call state, as a state machine.

Theory of operation
-------------------
The registry holds one :class:`AgentState` per agent: the active calls in arrival order, a
few recently ended calls (so the agent can still save a call log during wrap-up), data set
for calls that have not begun yet, and a bounded log of the agent's recent events.

Every change comes in as a method call with the current time ``now`` (seconds since the
epoch, supplied by the caller: the registry never reads a clock) and returns the list of
events it caused, each stamped with the agent's next sequence number. The registry does no
I/O: the server sends the events to consoles, the connector carries out actions.

Inputs come from three places, each validated here:
- components (``fireOnCallBegin``, ``setCallAttachedData``...): bad input raises
  :class:`~ctikit.core.errors.CtiRequestError` and changes nothing;
- the telephony connector (:mod:`ctikit.core.telephony` events): nonsense raises
  :class:`~ctikit.core.errors.TelephonyError` and changes nothing;
- CTI commands (``sendCTIMessage``): :meth:`CallRegistry.resolve_command` checks the call
  state allows the command and names the call it acts on.

No agent's input can reach another agent's state: every method takes the agent ID and looks
only at that agent's :class:`AgentState`.
"""

from __future__ import annotations

import json
from collections import OrderedDict, deque
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from . import telephony as tel
from .commands import Action, CtiCommand
from .errors import (
    CommandRejectedError,
    CtiRequestError,
    LimitExceededError,
    TelephonyError,
    TooLongError,
    UnknownCallError,
)
from .events import (
    CallBegan,
    CallEnded,
    CallFailed,
    CallLogSaved,
    CallsReplaced,
    CallUpdated,
    CtiMessageSent,
    CustomEventFired,
    Event,
    LineStatusChanged,
)
from .jsonvalue import check_json_value, check_text, parse_json_text
from .model import Call, CallType, CallView, Limits, LineState, check_agent_id


class AgentState:
    """One agent's calls and recent events. Only the registry mutates it."""

    __slots__ = ("agent", "calls", "ended", "line_up", "log", "pending_data", "seq")

    def __init__(self, agent: str, limits: Limits) -> None:
        self.agent = agent
        self.calls: OrderedDict[str, Call] = OrderedDict()
        self.ended: OrderedDict[str, Call] = OrderedDict()
        self.pending_data: OrderedDict[str, tuple[Any, CallType | None]] = OrderedDict()
        self.log: deque[Event] = deque(maxlen=limits.event_log_size)
        self.seq = 0
        self.line_up: bool | None = None


class CallRegistry:
    """All agents' call state. See the module docstring."""

    def __init__(self, limits: Limits | None = None) -> None:
        self.limits = limits or Limits()
        self._agents: dict[str, AgentState] = {}

    # ----------------------------------------------------------------- reading

    def agent(self, agent: str) -> AgentState:
        """The agent's state, created empty on first use."""
        state = self._agents.get(agent)
        if state is None:
            check_agent_id(agent)
            state = self._agents[agent] = AgentState(agent, self.limits)
        return state

    def agents(self) -> list[str]:
        return list(self._agents)

    def call_ids(self, agent: str) -> list[str]:
        """Active call IDs in arrival order (``getCallObjectIds``)."""
        return list(self.agent(agent).calls)

    def calls(self, agent: str) -> list[CallView]:
        return [c.view() for c in self.agent(agent).calls.values()]

    def get_call(self, agent: str, call_id: str) -> CallView:
        """An active call; raises :class:`UnknownCallError` if it is not active."""
        call = self.agent(agent).calls.get(call_id)
        if call is None:
            raise UnknownCallError(f"call {call_id!r} is not active")
        return call.view()

    def find_call(self, agent: str, call_id: str) -> CallView | None:
        """An active or recently ended call (for saving its call log), else None."""
        state = self.agent(agent)
        call = state.calls.get(call_id) or state.ended.get(call_id)
        return call.view() if call else None

    def recent_calls(self, agent: str) -> list[CallView]:
        """Recently ended calls, newest last."""
        return [c.view() for c in self.agent(agent).ended.values()]

    def last_seq(self, agent: str) -> int:
        return self.agent(agent).seq

    def events_after(self, agent: str, seq: int) -> list[Event] | None:
        """Events with sequence number > ``seq``, or None if some were already dropped."""
        state = self.agent(agent)
        if seq >= state.seq:
            return []
        if not state.log or state.log[0].seq > seq + 1:
            return None
        return [e for e in state.log if e.seq > seq]

    def owner_of(self, call_id: str) -> str | None:
        """The agent whose active calls include ``call_id`` (connectors use it)."""
        for agent, state in self._agents.items():
            if call_id in state.calls:
                return agent
        return None

    # ------------------------------------------------------------ persistence

    def snapshot_agent(self, agent: str) -> dict[str, Any]:
        """The agent's calls as JSON-ready data, to survive a restart (see restore_agent)."""
        state = self.agent(agent)
        return {
            "calls": [_call_to_dict(c) for c in state.calls.values()],
            "ended": [_call_to_dict(c) for c in state.ended.values()],
        }

    def restore_agent(self, agent: str, snapshot: object) -> list[CallView]:
        """Put back calls saved by :meth:`snapshot_agent` (at start-up, before any console
        connects). Sequence numbers restart: consoles resync from a snapshot. Returns the
        restored active calls; a malformed snapshot raises CtiRequestError and restores
        nothing."""
        state = self.agent(agent)
        if not isinstance(snapshot, dict):
            raise CtiRequestError("call state snapshot must be an object")
        try:
            calls = [_call_from_dict(d) for d in snapshot.get("calls", [])]
            ended = [_call_from_dict(d) for d in snapshot.get("ended", [])]
        except (KeyError, TypeError, ValueError) as exc:
            raise CtiRequestError(f"call state snapshot is malformed: {exc}") from None
        state.calls = OrderedDict((c.id, c) for c in calls[: self.limits.max_active_calls])
        state.ended = OrderedDict((c.id, c) for c in ended[-self.limits.max_recent_ended :])
        return [c.view() for c in state.calls.values()]

    def dump_agent(self, agent: str) -> dict[str, Any]:
        """The agent's whole state (calls, recent calls, pending data, line status and
        sequence number) as JSON-ready data, for a shared state store (see load_agent)."""
        state = self.agent(agent)
        return {
            **self.snapshot_agent(agent),
            "seq": state.seq,
            "line_up": state.line_up,
            "pending": [
                [cid, data, ctype.value if ctype else None]
                for cid, (data, ctype) in state.pending_data.items()
            ],
        }

    def load_agent(self, agent: str, dump: object) -> None:
        """Replace the agent's state with one made by :meth:`dump_agent` (sequence number
        included: numbering goes on where the dump left it). Raises CtiRequestError on a
        malformed dump and then changes nothing."""
        if not isinstance(dump, dict):
            raise CtiRequestError("agent state must be an object")
        seq, line_up, pending_raw = dump.get("seq", 0), dump.get("line_up"), dump.get("pending", [])
        if isinstance(seq, bool) or not isinstance(seq, int) or not 0 <= seq < 2**53:
            raise CtiRequestError("agent state: seq must be a non-negative integer")
        if line_up is not None and not isinstance(line_up, bool):
            raise CtiRequestError("agent state: line_up must be true, false or null")
        try:
            pending: OrderedDict[str, tuple[Any, CallType | None]] = OrderedDict(
                (str(cid), (data, CallType(ctype) if ctype else None))
                for cid, data, ctype in pending_raw
            )
            check_json_value([d for d, _ in pending.values()], "pending data")
        except (TypeError, ValueError) as exc:
            raise CtiRequestError(f"agent state: pending data is malformed: {exc}") from None
        fresh = AgentState(check_agent_id(agent), self.limits)
        self._agents[agent], previous = fresh, self._agents.get(agent)
        try:
            self.restore_agent(agent, dump)
        except CtiRequestError:
            if previous is None:
                del self._agents[agent]
            else:
                self._agents[agent] = previous
            raise
        fresh.seq, fresh.line_up = seq, line_up
        fresh.pending_data = OrderedDict(list(pending.items())[-self.limits.max_pending_data :])

    # ------------------------------------------------------ component requests

    def begin_call(
        self,
        agent: str,
        call_id: object,
        call_type: object,
        label: object = None,
        *,
        now: float,
    ) -> list[Event]:
        """``fireOnCallBegin``: a component's softphone reports a new call."""
        state = self.agent(agent)
        cid = self._check_call_id(call_id)
        ctype = CallType.parse(call_type)
        lab = self._check_text(label, "call label", self.limits.max_label_length)
        existing = state.calls.get(cid)
        if existing is not None:
            if existing.begun:
                raise CtiRequestError(f"call {cid!r} has already begun")
            # Named earlier by setCallObjectIds: it begins now, keeping its place.
            existing.begun = True
            existing.call_type, existing.label, existing.started_at = ctype, lab, now
            return [self._emit(state, CallBegan, now, call=existing.view())]
        call = Call(id=cid, call_type=ctype, label=lab, started_at=now)
        return self._add_call(state, call, now)

    def end_call(
        self,
        agent: str,
        call_id: object,
        duration: object,
        disposition: object,
        *,
        now: float,
    ) -> list[Event]:
        """``fireOnCallEnd``: only a call that began earlier can end."""
        state = self.agent(agent)
        cid = self._check_call_id(call_id)
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
        disp = self._check_text(disposition, "call disposition", self.limits.max_disposition_length)
        return self._finish(state, cid, now=now, duration=secs, disposition=disp or "", reason=None)

    def set_call_ids(self, agent: str, ids: object, *, now: float) -> list[Event]:
        """``setCallObjectIds``: replace the active list (a custom softphone's own order).

        Calls left out of the list are dropped without ``onCallEnd`` (as in the original: the
        softphone that sets the list owns those calls). New IDs become calls that have not
        begun; a later ``fireOnCallBegin`` begins them in place.
        """
        state = self.agent(agent)
        if not isinstance(ids, list | tuple):
            raise CtiRequestError("callObjectIds must be an array of call IDs")
        checked = [self._check_call_id(i) for i in ids]
        if len(set(checked)) != len(checked):
            raise CtiRequestError("callObjectIds has the same ID twice")
        if len(checked) > self.limits.max_active_calls:
            raise LimitExceededError(
                f"at most {self.limits.max_active_calls} active calls per agent"
            )
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
                self._apply_pending(state, call)
            new[cid] = call
        state.calls = new
        return [self._emit(state, CallsReplaced, now, ids=tuple(checked))]

    def set_attached_data(
        self, agent: str, call_id: object, data_json: object, call_type: object, *, now: float
    ) -> list[Event]:
        """``setCallAttachedData``: replace a call's data (a JSON string) and type.

        For a call that has not begun, the data is kept and applied when it begins: custom
        softphones often attach data before they fire the begin event.
        """
        state = self.agent(agent)
        cid = self._check_call_id(call_id)
        if not isinstance(data_json, str):
            raise CtiRequestError("callData must be a JSON string (use JSON.stringify)")
        if len(data_json.encode()) > self.limits.max_data_bytes:
            raise LimitExceededError(f"callData is larger than {self.limits.max_data_bytes} bytes")
        data = parse_json_text(data_json, "callData")
        ctype = None if call_type is None or call_type == "" else CallType.parse(call_type)
        call = state.calls.get(cid)
        if call is None:
            state.pending_data[cid] = (data, ctype)
            state.pending_data.move_to_end(cid)
            while len(state.pending_data) > self.limits.max_pending_data:
                state.pending_data.popitem(last=False)
            return []
        call.data = data
        if ctype is not None:
            call.call_type = ctype
        return [self._emit(state, CallUpdated, now, call=call.view())]

    def attach_data(self, agent: str, call_id: object, data: object, *, now: float) -> list[Event]:
        """Merge keys into a call's data (the REST API and IVRs use this)."""
        state = self.agent(agent)
        cid = self._check_call_id(call_id)
        if not isinstance(data, dict):
            raise CtiRequestError("attached data must be a JSON object")
        check_json_value(data, "attached data")
        call = state.calls.get(cid)
        if call is None:
            raise UnknownCallError(f"call {cid!r} is not active")
        if not isinstance(call.data, dict):
            raise CtiRequestError(f"call {cid!r} holds data that is not an object: cannot merge")
        merged = {**call.data, **data}
        self._check_data_size(merged)
        call.data = merged
        return [self._emit(state, CallUpdated, now, call=call.view())]

    def call_log_saved(self, agent: str, log_id: object, *, now: float) -> list[Event]:
        """``fireOnCallLogSaved``, or the interaction log saved a call log."""
        state = self.agent(agent)
        lid = self._check_call_id(log_id, what="call log ID")
        return [self._emit(state, CallLogSaved, now, log_id=lid)]

    def cti_message(self, agent: str, message: str, *, now: float) -> list[Event]:
        """``sendCTIMessage``: every ``onSendCTIMessage`` handler hears of it."""
        return [self._emit(self.agent(agent), CtiMessageSent, now, message=message)]

    def custom_event(
        self, agent: str, event_type: object, message: object, *, now: float
    ) -> list[Event]:
        """``sforce.console.fireEvent``."""
        return self.custom_events([agent], event_type, message, now=now)

    def custom_events(
        self, agents: Sequence[str], event_type: object, message: object, *, now: float
    ) -> list[Event]:
        """The same custom event for each of ``agents`` (a campaign start): checked once,
        then one event per agent, in each agent's own sequence. Agent IDs are checked
        before any event is emitted, so a bad one fires none."""
        if not isinstance(event_type, str) or not 1 <= len(event_type) <= 255:
            raise CtiRequestError("event type must be a string of 1 to 255 characters")
        if message is not None and not isinstance(message, str):
            raise CtiRequestError("event message must be a string")
        check_text(event_type, "event type")
        if message is not None and len(check_text(message, "event message").encode()) > (
            self.limits.max_data_bytes
        ):
            raise LimitExceededError(f"event message over {self.limits.max_data_bytes} bytes")
        known = self._agents
        for agent in agents:
            if agent not in known:
                check_agent_id(agent)
        events: list[Event] = []
        for agent in agents:
            state = known.get(agent) or self.agent(agent)
            state.seq += 1
            event = CustomEventFired(
                agent=agent, seq=state.seq, at=now, event_type=event_type, message=message
            )
            state.log.append(event)
            events.append(event)
        return events

    # -------------------------------------------------------------- CTI commands

    def resolve_command(self, agent: str, cmd: CtiCommand) -> tel.ConnectorAction:
        """Check ``cmd`` can be carried out now and name the call it acts on."""
        state = self.agent(agent)
        if cmd.action is Action.DIAL:
            if len(state.calls) >= self.limits.max_active_calls:
                raise CommandRejectedError(
                    f"cannot dial: {len(state.calls)} calls already active (the limit)"
                )
            return tel.ConnectorAction(agent=agent, action=cmd.action, number=cmd.number)
        call = self._command_target(state, cmd)
        need = _NEEDS[cmd.action]
        if call.line_state not in need:
            raise CommandRejectedError(
                f"/{cmd.action} needs a {' or '.join(s.value for s in need)} call; "
                f"call {call.id!r} is {call.line_state.value if call.line_state else 'unknown'}"
            )
        if cmd.action is Action.MUTE and call.muted:
            raise CommandRejectedError(f"call {call.id!r} is already muted")
        if cmd.action is Action.UNMUTE and not call.muted:
            raise CommandRejectedError(f"call {call.id!r} is not muted")
        return tel.ConnectorAction(
            agent=agent,
            action=cmd.action,
            call_id=call.id,
            number=cmd.number,
            digits=cmd.digits,
            data=call.data if cmd.action is Action.TRANSFER else None,
        )

    def _command_target(self, state: AgentState, cmd: CtiCommand) -> Call:
        if cmd.call_id is not None:
            call = state.calls.get(cmd.call_id)
            if call is None:
                raise CommandRejectedError(f"/{cmd.action}: call {cmd.call_id!r} is not active")
        elif cmd.line_number is not None:
            if cmd.line_number > len(state.calls):
                raise CommandRejectedError(
                    f"/{cmd.action}: no line {cmd.line_number} ({len(state.calls)} active calls)"
                )
            call = list(state.calls.values())[cmd.line_number - 1]
        else:
            # No target named: the first call (in arrival order) the command applies to.
            need = _NEEDS[cmd.action]
            for state_wanted in _DEFAULT_PREFERENCE[cmd.action]:
                for candidate in state.calls.values():
                    if candidate.line_state is state_wanted and state_wanted in need:
                        return candidate
            if not state.calls:
                raise CommandRejectedError(f"/{cmd.action}: no active call")
            raise CommandRejectedError(
                f"/{cmd.action}: no {' or '.join(s.value for s in need)} call"
            )
        if call.line_state is None:
            raise CommandRejectedError(
                f"/{cmd.action}: call {call.id!r} is not controlled by the telephony connector"
            )
        return call

    # --------------------------------------------------------- telephony events

    def apply(self, event: tel.TelephonyEvent, *, now: float) -> list[Event]:
        """Map a connector's event onto the agent's call state."""
        try:
            state = self.agent(event.agent)
        except CtiRequestError as exc:
            raise TelephonyError(f"connector named a bad agent: {exc.message}") from None
        match event:
            case tel.CallOffered():
                return self._offered(state, event, now)
            case tel.CallReleased():
                self._connector_call(state, event.call_id)
                return self._finish(
                    state,
                    event.call_id,
                    now=now,
                    duration=None,
                    disposition=event.disposition or "",
                    reason=event.reason,
                )
            case tel.CallAnswered():
                call = self._connector_call(state, event.call_id)
                if call.line_state in (LineState.CONNECTED, LineState.HELD):
                    return []  # a duplicate report changes nothing
                call.line_state, call.answered_at = LineState.CONNECTED, now
            case tel.CallHeld():
                call = self._connector_call(state, event.call_id)
                call.line_state = LineState.HELD
            case tel.CallRetrieved():
                call = self._connector_call(state, event.call_id)
                call.line_state = LineState.CONNECTED
            case tel.CallMuted():
                call = self._connector_call(state, event.call_id)
                call.muted = event.muted
            case tel.CallDataAttached():
                self._connector_call(state, event.call_id)
                try:
                    return self.attach_data(state.agent, event.call_id, event.data, now=now)
                except CtiRequestError as exc:
                    raise TelephonyError(f"connector attached bad data: {exc.message}") from None
            case tel.ActionFailed():
                return [
                    self._emit(
                        state,
                        CallFailed,
                        now,
                        call_id=event.call_id,
                        reason=event.reason,
                        number=event.number,
                    )
                ]
            case tel.LineStatus():
                if state.line_up is event.up:
                    return []
                state.line_up = event.up
                return [self._emit(state, LineStatusChanged, now, up=event.up, reason=event.reason)]
            case _:
                raise TelephonyError(f"unknown telephony event {type(event).__name__}")
        return [self._emit(state, CallUpdated, now, call=call.view())]

    def _offered(self, state: AgentState, ev: tel.CallOffered, now: float) -> list[Event]:
        try:
            cid = self._check_call_id(ev.call_id)
            if cid in state.calls:
                raise CtiRequestError(f"call {cid!r} is already active")
            data = self.check_offered_data(ev.ani, ev.dnis, ev.data)
            label = self._check_text(ev.label, "call label", self.limits.max_label_length)
        except CtiRequestError as exc:
            raise TelephonyError(f"connector offered a bad call: {exc.message}") from None
        call = Call(
            id=cid,
            call_type=ev.call_type,
            label=label or ev.ani or ev.dnis,
            data=data,
            started_at=now,
            line_state=LineState.DIALING
            if ev.outgoing or ev.call_type is CallType.OUTBOUND
            else LineState.RINGING,
            ani=ev.ani,
            dnis=ev.dnis,
        )
        try:
            return self._add_call(state, call, now)
        except LimitExceededError as exc:
            raise TelephonyError(exc.message) from None

    def check_offered_data(
        self, ani: str | None, dnis: str | None, data: Mapping[str, Any]
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
        self._check_data_size(merged)
        return merged

    def _connector_call(self, state: AgentState, call_id: str) -> Call:
        call = state.calls.get(call_id)
        if call is None or call.line_state is None:
            raise TelephonyError(
                f"connector reported on call {call_id!r}, which agent {state.agent!r} "
                "does not have on a line"
            )
        return call

    # ------------------------------------------------------------------ helpers

    def _add_call(self, state: AgentState, call: Call, now: float) -> list[Event]:
        if len(state.calls) >= self.limits.max_active_calls:
            raise LimitExceededError(
                f"at most {self.limits.max_active_calls} active calls per agent"
            )
        self._apply_pending(state, call)
        state.ended.pop(call.id, None)
        state.calls[call.id] = call
        return [self._emit(state, CallBegan, now, call=call.view())]

    def _apply_pending(self, state: AgentState, call: Call) -> None:
        pending = state.pending_data.pop(call.id, None)
        if pending is not None:
            data, ctype = pending
            call.data = data
            if ctype is not None:
                call.call_type = ctype

    def _finish(
        self,
        state: AgentState,
        cid: str,
        *,
        now: float,
        duration: float | None,
        disposition: str,
        reason: str | None,
    ) -> list[Event]:
        call = state.calls.pop(cid)
        call.ended_at = now
        call.duration = duration if duration is not None else max(0.0, now - call.started_at)
        call.disposition = disposition
        state.ended[cid] = call
        while len(state.ended) > self.limits.max_recent_ended:
            state.ended.popitem(last=False)
        return [
            self._emit(
                state,
                CallEnded,
                now,
                call=call.view(),
                duration=call.duration,
                disposition=disposition,
                reason=reason,
            )
        ]

    def _emit(self, state: AgentState, cls: type[Any], now: float, **fields: Any) -> Event:
        state.seq += 1
        event: Event = cls(agent=state.agent, seq=state.seq, at=now, **fields)
        state.log.append(event)
        return event

    def _check_call_id(self, value: object, *, what: str = "call ID") -> str:
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)  # the original stringifies everything it is given
        if not isinstance(value, str) or not value.strip():
            raise CtiRequestError(f"{what} must be a non-empty string")
        if len(value) > self.limits.max_id_length:
            raise TooLongError(f"{what} longer than {self.limits.max_id_length} characters")
        if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
            raise CtiRequestError(f"{what} has control characters")
        return check_text(value, what)

    @staticmethod
    def _check_text(value: object, what: str, limit: int) -> str | None:
        if value is None:
            return None
        if not isinstance(value, str):
            raise CtiRequestError(f"{what} must be a string")
        if len(value) > limit:
            raise TooLongError(f"{what} longer than {limit} characters")
        return check_text(value, what)

    def _check_data_size(self, data: Any) -> None:
        if len(json.dumps(data, separators=(",", ":")).encode()) > self.limits.max_data_bytes:
            raise LimitExceededError(
                f"attached data larger than {self.limits.max_data_bytes} bytes"
            )


# Which line states each command accepts, and in which order to pick a default target.
_NEEDS: dict[Action, frozenset[LineState]] = {
    Action.ANSWER: frozenset({LineState.RINGING}),
    Action.HANGUP: frozenset(LineState),
    Action.HOLD: frozenset({LineState.CONNECTED}),
    Action.RETRIEVE: frozenset({LineState.HELD}),
    Action.TRANSFER: frozenset({LineState.CONNECTED, LineState.HELD}),
    Action.MUTE: frozenset({LineState.CONNECTED}),
    Action.UNMUTE: frozenset({LineState.CONNECTED}),
    Action.DTMF: frozenset({LineState.CONNECTED}),
}
_DEFAULT_PREFERENCE: dict[Action, tuple[LineState, ...]] = {
    Action.ANSWER: (LineState.RINGING,),
    Action.HANGUP: (LineState.CONNECTED, LineState.DIALING, LineState.RINGING, LineState.HELD),
    Action.HOLD: (LineState.CONNECTED,),
    Action.RETRIEVE: (LineState.HELD,),
    Action.TRANSFER: (LineState.CONNECTED, LineState.HELD),
    Action.MUTE: (LineState.CONNECTED,),
    Action.UNMUTE: (LineState.CONNECTED,),
    Action.DTMF: (LineState.CONNECTED,),
}


def ids_of(events: Iterable[Event]) -> list[int]:
    """Sequence numbers of ``events`` (handy in tests and logs)."""
    return [e.seq for e in events]


_CALL_FIELDS = (
    "id",
    "label",
    "data",
    "started_at",
    "begun",
    "muted",
    "answered_at",
    "ended_at",
    "duration",
    "disposition",
    "ani",
    "dnis",
)


def _call_to_dict(call: Call) -> dict[str, Any]:
    out = {name: getattr(call, name) for name in _CALL_FIELDS}
    out["call_type"] = call.call_type.value
    out["line_state"] = call.line_state.value if call.line_state else None
    return out


def _call_from_dict(raw: Any) -> Call:
    if not isinstance(raw, dict) or not isinstance(raw.get("id"), str):
        raise ValueError("a call needs an id")
    check_json_value(raw, "call state")
    return Call(
        **{name: raw[name] for name in _CALL_FIELDS if name in raw and name != "id"},
        id=raw["id"],
        call_type=CallType(raw["call_type"]),
        line_state=LineState(raw["line_state"]) if raw.get("line_state") else None,
    )
