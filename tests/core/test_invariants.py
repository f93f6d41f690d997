"""Property tests: whatever sequence of inputs, the registry's invariants hold."""

from __future__ import annotations

from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule

from ctikit.core import CallRegistry, CallType, CtiError, Limits, parse_cti_message
from ctikit.core import telephony as tel

AGENTS = ["a1", "a2", "a3"]
IDS = st.sampled_from([f"c{i}" for i in range(8)])


class RegistryMachine(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.reg = CallRegistry(Limits(max_active_calls=5, event_log_size=50))
        self.now = 0.0
        # Model: per agent, the expected ordered list of active IDs.
        self.model: dict[str, list[str]] = {a: [] for a in AGENTS}
        self.seqs: dict[str, int] = dict.fromkeys(AGENTS, 0)
        # Calls the telephony side offered (on a line), per agent.
        self.lines: dict[str, set[str]] = {a: set() for a in AGENTS}

    def _tick(self) -> float:
        self.now += 1.5
        return self.now

    def _record(self, agent: str, events: list) -> None:  # type: ignore[type-arg]
        for e in events:
            assert e.agent == agent, "an event reached the wrong agent"
            self.seqs[agent] += 1
            assert e.seq == self.seqs[agent], "sequence numbers must have no gaps"

    @rule(
        agent=st.sampled_from(AGENTS),
        cid=IDS,
        ctype=st.sampled_from(["inbound", "OUTBOUND", "Internal", "bogus"]),
    )
    def fire_begin(self, agent: str, cid: str, ctype: str) -> None:
        try:
            events = self.reg.begin_call(agent, cid, ctype, "label", now=self._tick())
        except CtiError:
            return
        if cid not in self.model[agent]:
            self.model[agent].append(cid)
        self._record(agent, events)

    @rule(agent=st.sampled_from(AGENTS), cid=IDS)
    def offer(self, agent: str, cid: str) -> None:
        ev = tel.CallOffered(agent=agent, call_id=cid, call_type=CallType.INBOUND, ani="+1")
        try:
            events = self.reg.apply(ev, now=self._tick())
        except CtiError:
            assert cid in self.model[agent] or len(self.model[agent]) >= 5
            return
        self.model[agent].append(cid)
        self.lines[agent].add(cid)
        self._record(agent, events)

    @rule(agent=st.sampled_from(AGENTS), cid=IDS, duration=st.integers(0, 500))
    def fire_end(self, agent: str, cid: str, duration: int) -> None:
        try:
            events = self.reg.end_call(agent, cid, duration, "done", now=self._tick())
        except CtiError:
            assert cid not in self.model[agent] or cid in self.lines[agent]
            return
        assert cid not in self.lines[agent], "a call on a line was ended by a component"
        self.model[agent].remove(cid)
        self._record(agent, events)

    @rule(agent=st.sampled_from(AGENTS), ids=st.lists(IDS, max_size=6))
    def set_ids(self, agent: str, ids: list[str]) -> None:
        try:
            events = self.reg.set_call_ids(agent, ids, now=self._tick())
        except CtiError:
            drops_a_line = not self.lines[agent] <= set(ids)
            assert len(set(ids)) != len(ids) or len(ids) > 5 or drops_a_line
            return
        assert self.lines[agent] <= set(ids), "a call on a line was dropped"
        self.model[agent] = list(ids)
        self._record(agent, events)

    @rule(
        agent=st.sampled_from(AGENTS),
        cid=IDS,
        msg=st.sampled_from(["/ANSWER", "/HANGUP", "/HOLD", "/RETRIEVE", "/MUTE"]),
    )
    def connector_follows_command(self, agent: str, cid: str, msg: str) -> None:
        cmd = parse_cti_message(msg)
        assert cmd is not None
        try:
            action = self.reg.resolve_command(agent, cmd)
        except CtiError:
            return
        assert action.call_id in self.model[agent]
        assert action.call_id is not None
        kinds = {"/ANSWER": tel.CallAnswered, "/HOLD": tel.CallHeld, "/RETRIEVE": tel.CallRetrieved}
        now = self._tick()
        if msg == "/HANGUP":
            events = self.reg.apply(
                tel.CallReleased(agent=agent, call_id=action.call_id, reason="agent hung up"),
                now=now,
            )
            self.model[agent].remove(action.call_id)
            self.lines[agent].discard(action.call_id)
        elif msg == "/MUTE":
            events = self.reg.apply(
                tel.CallMuted(agent=agent, call_id=action.call_id, muted=True), now=now
            )
        else:
            events = self.reg.apply(kinds[msg](agent=agent, call_id=action.call_id), now=now)
        self._record(agent, events)

    @precondition(lambda self: True)
    @invariant()
    def matches_model(self) -> None:
        for agent in AGENTS:
            ids = self.reg.call_ids(agent)
            assert ids == self.model[agent], "arrival order must be preserved"
            assert len(ids) == len(set(ids)), "no duplicate IDs"
            assert self.reg.last_seq(agent) == self.seqs[agent]
            for other in AGENTS:
                if other != agent:
                    for cid in ids:
                        # IDs may coincide across agents, but state never leaks: each
                        # agent's view of a shared ID is its own call.
                        assert self.reg.get_call(agent, cid) is not None


TestRegistry = RegistryMachine.TestCase
TestRegistry.settings = settings(max_examples=150, stateful_step_count=40, deadline=None)
