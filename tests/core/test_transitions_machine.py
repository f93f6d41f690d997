"""Random sequences of telephony events and commands against the registry, checked against
the transitions table (hypothesis' rule-based state machine).

Every event the table refuses must raise TelephonyError and change nothing (state and
sequence number); every event it accepts must move the call where the table says; every
command must be accepted exactly when the table (and the call's mute flag) allows it; at all
times each call on a line is in a table state, and ``answered_at`` is set exactly when the
call was ever connected.
"""

from __future__ import annotations

from typing import Any

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from ctikit.core import (
    CallEnded,
    CallRegistry,
    CommandRejectedError,
    CtiRequestError,
    Limits,
    LineState,
    TelephonyError,
)
from ctikit.core.commands import CONSULT_ACTIONS, Action, CtiCommand
from ctikit.core.model import Call
from ctikit.core.transitions import COMMANDS, EVENTS, Edge, LineEvent, after, is_duplicate

from .test_transitions import event_of

AGENT = "a1"
IDS = [f"c{i}" for i in range(4)]
LIMIT = 3  # fewer than IDS: offers over the limit are refused too
TABLE_STATES = {s for s in EVENTS.values() if isinstance(s, LineState)}
OUTCOME = {  # what the connector reports once it carried out a command
    Action.ANSWER: LineEvent.ANSWERED,
    Action.HANGUP: LineEvent.RELEASED,
    Action.HOLD: LineEvent.HELD,
    Action.RETRIEVE: LineEvent.RETRIEVED,
    Action.MUTE: LineEvent.MUTED,
    Action.UNMUTE: LineEvent.MUTED,
}


class TableMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.reg = CallRegistry(Limits(max_active_calls=LIMIT))
        self.now = 0.0
        self.ever_connected: set[str] = set()  # active calls that were connected at some time

    def _tick(self) -> float:
        self.now += 1.0
        return self.now

    def _calls(self) -> list[Call]:
        return list(self.reg.agent(AGENT).calls.values())

    def _apply(self, kind: LineEvent, cid: str, muted: bool) -> list[Any] | None:
        """Apply one event and check it against the table; None if it was refused."""
        call = self.reg.agent(AGENT).calls.get(cid)
        state = Edge.NEW if call is None else call.line_state
        expected = None if state is None else after(state, kind)
        offer = kind in (LineEvent.OFFERED, LineEvent.OFFERED_OUTGOING)
        full = offer and len(self._calls()) >= LIMIT
        was_muted = call is not None and call.muted
        before = self.reg.dump_agent(AGENT)
        try:
            events = self.reg.apply(event_of(kind, cid, muted=muted), now=self._tick())
        except TelephonyError:
            assert expected is None or full, f"{kind} on a {state} call must be accepted"
            assert self.reg.dump_agent(AGENT) == before, "a refused event changed the state"
            return None
        assert expected is not None and state is not None, f"{kind} on a {state} call"
        assert not full
        if is_duplicate(state, kind) or (kind is LineEvent.MUTED and was_muted is muted):
            assert events == [] and self.reg.dump_agent(AGENT) == before
            return events
        assert len(events) == 1 and events[0].seq == before["seq"] + 1
        if expected is Edge.ENDED:
            assert isinstance(events[0], CallEnded) and cid not in self.reg.call_ids(AGENT)
            self.ever_connected.discard(cid)
            return events
        now_in = self.reg.get_call(AGENT, cid).line_state
        assert now_in is expected, f"{kind} on a {state} call went to {now_in}"
        if offer:
            self.ever_connected.discard(cid)  # a new call that reuses an ended call's ID
        if now_in is LineState.CONNECTED:
            self.ever_connected.add(cid)
        return events

    # ---------------------------------------------------------------- rules

    @rule(kind=st.sampled_from(LineEvent), cid=st.sampled_from(IDS), muted=st.booleans())
    def telephony_event(self, kind: LineEvent, cid: str, muted: bool) -> None:
        self._apply(kind, cid, muted)

    @rule(action=st.sampled_from(list(OUTCOME)), aim=st.sampled_from([None, *IDS]))
    def connector_carries_out(self, action: Action, aim: str | None) -> None:
        """A command the registry accepts, carried out: the connector's report is legal."""
        try:
            resolved = self.reg.resolve_command(AGENT, CtiCommand(action=action, call_id=aim))
        except CommandRejectedError:
            return
        assert resolved.call_id is not None
        events = self._apply(OUTCOME[action], resolved.call_id, action is Action.MUTE)
        assert events, f"the outcome of /{action} was refused or changed nothing"

    @rule(cid=st.sampled_from(IDS), begin=st.sampled_from([True, False, False]))
    def component_call(self, cid: str, begin: bool) -> None:
        """A component's own softphone begins or ends a call (no line state)."""
        call = self.reg.agent(AGENT).calls.get(cid)
        try:
            if begin:
                self.reg.begin_call(AGENT, cid, "inbound", now=self._tick())
            else:
                self.reg.end_call(AGENT, cid, 5, "done", now=self._tick())
        except CtiRequestError:
            if begin:
                assert call is not None or len(self._calls()) >= LIMIT
            else:
                assert call is None or call.line_state is not None

    def _check_command(self, action: Action, aim: tuple[str, Any] | None) -> None:
        calls = self._calls()
        # The table's answer: which call the command acts on, and whether it may.
        call: Call | None
        if aim is None:
            ranked = [c for s in COMMANDS[action] for c in calls if c.line_state is s]
            call = ranked[0] if ranked else None
        elif aim[0] == "call":
            call = next((c for c in calls if c.id == aim[1]), None)
        else:
            call = calls[aim[1] - 1] if aim[1] <= len(calls) else None
        allowed = call is not None and call.line_state in COMMANDS[action]
        if action is Action.MUTE or action is Action.UNMUTE:
            allowed = allowed and call is not None and call.muted is (action is Action.UNMUTE)
        if action in CONSULT_ACTIONS:
            # No call here is a consult call (none has the link in its data): always refused.
            # tests/core/test_consult.py checks the pairs.
            allowed = False
        cmd = CtiCommand(
            action=action,
            call_id=aim[1] if aim and aim[0] == "call" else None,
            line_number=aim[1] if aim and aim[0] == "line" else None,
            number="1002" if action in (Action.TRANSFER, Action.CONSULT) else None,
            digits="1" if action is Action.DTMF else None,
        )
        try:
            resolved = self.reg.resolve_command(AGENT, cmd)
        except CommandRejectedError:
            assert not allowed, f"/{action} {aim} on {call} must be accepted"
        else:
            assert allowed and call is not None, f"/{action} {aim} on {call} must be refused"
            assert resolved.call_id == call.id and resolved.action is action

    # ----------------------------------------------------------- invariants

    @invariant()
    def commands_are_allowed_exactly_as_the_table_says(self) -> None:
        """Every command, without a target and aimed at every call (by ID and by line)."""
        before = self.reg.dump_agent(AGENT)
        n = len(self._calls())
        aims: list[tuple[str, Any] | None] = [None, ("call", "nobody"), ("line", n + 1)]
        aims += [("call", c.id) for c in self._calls()]
        aims += [("line", i) for i in range(1, n + 1)]
        for action in COMMANDS:
            for aim in aims:
                self._check_command(action, aim)
        try:
            self.reg.resolve_command(AGENT, CtiCommand(action=Action.DIAL, number="5551234"))
        except CommandRejectedError:
            assert n >= LIMIT
        else:
            assert n < LIMIT
        assert self.reg.dump_agent(AGENT) == before, "resolving a command changed the state"

    @invariant()
    def every_call_on_a_line_is_in_a_table_state(self) -> None:
        for call in self._calls():
            assert call.line_state is None or call.line_state in TABLE_STATES

    @invariant()
    def answered_at_is_set_exactly_when_the_call_was_ever_connected(self) -> None:
        for call in self._calls():
            if call.line_state is not None:
                assert (call.answered_at is not None) == (call.id in self.ever_connected)
                assert not call.muted or call.answered_at is not None


TestTable = TableMachine.TestCase
TestTable.settings = settings(max_examples=200, stateful_step_count=50, deadline=None)
