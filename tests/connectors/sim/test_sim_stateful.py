"""The simulator and the real call registry, driven together by Hypothesis.

Every model event goes to ``CallRegistry.apply`` (which raises TelephonyError on nonsense);
commands go through ``CallRegistry.resolve_command`` first and only what the registry accepts
reaches the model, as in the server.
"""

from __future__ import annotations

from typing import Any

import hypothesis.strategies as st
from hypothesis import event, settings
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, rule

from ctikit.connectors.base import ActionFailedError
from ctikit.connectors.sim import SimTimings, Timer, TimerKind
from ctikit.core import CallRegistry, CommandRejectedError, CtiCommand
from ctikit.core.commands import Action
from ctikit.core.telephony import CallOffered, CallReleased, ConnectorAction, TelephonyEvent

from .simkit import AGENTS, Driver

NUMBERS = [
    "1001",
    "1002",
    "1003",
    "agent2",
    "agent3",
    "+14155550100",
    "+14155550486",
    "+14155550404",
    "+14155550603",
    "+14155550408",
]
MAX_LINES = 4
agents = st.sampled_from(AGENTS)


class SimAgainstRegistry(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.registry = CallRegistry()
        self.d = Driver(SimTimings(), max_lines=MAX_LINES, on_event=self._apply)
        # Agents the current input may offer a new call to (a call never "leaks" elsewhere).
        self.may_offer: set[str] = set()
        self.offered: dict[str, str] = {}  # call ID -> agent, over the whole run
        self.released: dict[str, int] = {}

    # ------------------------------------------------------------- plumbing

    def _apply(self, ev: TelephonyEvent, now: float) -> None:
        call_id = getattr(ev, "call_id", None)
        if isinstance(ev, CallOffered):
            assert ev.agent in self.may_offer, f"{ev.agent} was offered a call from nowhere"
            assert ev.call_id not in self.offered, f"call ID {ev.call_id} used twice"
            self.offered[ev.call_id] = ev.agent
        elif call_id is not None:
            # Events name only calls that are on that agent's line and not over.
            assert self.offered.get(call_id) == ev.agent
            assert call_id not in self.released
        if isinstance(ev, CallReleased):
            self.released[ev.call_id] = self.released.get(ev.call_id, 0) + 1
        self.registry.apply(ev, now=now)  # TelephonyError here fails the test

    def _fire_until(self, until: float) -> None:
        while (timer := self.d.next_timer()) is not None and timer.at <= until:
            self.may_offer = self._offers_of(timer)
            self.d.fire(timer)
        self.d.now = max(self.d.now, until)
        self.may_offer = set()

    def _offers_of(self, timer: Timer) -> set[str]:
        if timer.kind is TimerKind.TRANSFER and timer.number is not None:
            target = self.d.model.directory.agent_for(timer.number)
            return {target} if target else set()
        return set()

    def _all_ids(self) -> list[str]:
        return [ln.call_id for a in AGENTS for ln in self.d.model.lines(a)]

    def _snapshot(self) -> Any:
        return [self.d.model.lines(a) for a in AGENTS], self.d.model.timers()

    # ---------------------------------------------------------------- rules

    @initialize(agent=agents)
    def start_with_a_call_in_progress(self, agent: str) -> None:
        self.connected_call(agent, None)

    @rule(agent=agents, talk_time=st.none() | st.sampled_from([2.0, 45.0]))
    def connected_call(self, agent: str, talk_time: float | None) -> None:
        """A call rings and the agent answers it at once (so that hold, transfer... happen)."""
        if len(self.d.model.lines(agent)) >= MAX_LINES:
            return
        self.may_offer = {agent}
        cid = self.d.place(agent, data={"account": "GLOBEX-2210"}, talk_time=talk_time)
        self._run_command(agent, CtiCommand(action=Action.ANSWER, call_id=cid))
        self._fire_until(self.d.now + self.d.model.timings.answer_delay)

    @rule(
        agent=agents,
        talk_time=st.none() | st.sampled_from([0.0, 2.0, 45.0]),
        with_data=st.booleans(),
    )
    def place_call(self, agent: str, talk_time: float | None, with_data: bool) -> None:
        self.may_offer = {agent}
        data = {"account": "ACME-1042", "verified": True} if with_data else None
        try:
            self.d.place(agent, data=data, talk_time=talk_time)
        except ActionFailedError:
            assert len(self.d.model.lines(agent)) == MAX_LINES
            event("place: lines full")
        self.may_offer = set()

    @rule(
        agent=agents,
        action=st.sampled_from(list(Action)),
        aim=st.none() | st.integers(1, 4) | st.tuples(st.just("id"), st.integers(0, 30)),
        number=st.sampled_from(NUMBERS),
        digits=st.sampled_from(["1", "123#", "*9"]),
    )
    def command(
        self,
        agent: str,
        action: Action,
        aim: int | tuple[str, int] | None,
        number: str,
        digits: str,
    ) -> None:
        line_number = aim if isinstance(aim, int) else None
        call_id = None
        if isinstance(aim, tuple) and action is not Action.DIAL:
            ids = self._all_ids()  # other agents' calls too: the registry must refuse those
            call_id = ids[aim[1] % len(ids)] if ids else "sim-gone"
        if action is Action.DIAL:
            line_number = None
        cmd = CtiCommand(
            action=action,
            number=number if action in (Action.DIAL, Action.TRANSFER) else None,
            digits=digits if action is Action.DTMF else None,
            line_number=line_number,
            call_id=call_id,
        )
        self._run_command(agent, cmd)

    @rule(agent=agents)
    def agent_answers(self, agent: str) -> None:
        self._run_command(agent, CtiCommand(action=Action.ANSWER))

    @rule(
        agent=agents,
        action=st.sampled_from(
            [
                Action.HOLD,
                Action.RETRIEVE,
                Action.MUTE,
                Action.UNMUTE,
                Action.DTMF,
                Action.TRANSFER,
                Action.HANGUP,
            ]
        ),
        number=st.sampled_from(NUMBERS),
    )
    def agent_acts_on_a_call(self, agent: str, action: Action, number: str) -> None:
        cmd = CtiCommand(
            action=action,
            number=number if action is Action.TRANSFER else None,
            digits="5" if action is Action.DTMF else None,
        )
        self._run_command(agent, cmd)

    def _run_command(self, agent: str, cmd: CtiCommand) -> None:
        try:
            act: ConnectorAction = self.registry.resolve_command(agent, cmd)
        except CommandRejectedError:
            event("command: registry rejected")
            return
        assert act.call_id is None or act.call_id in [
            ln.call_id for ln in self.d.model.lines(agent)
        ], "the registry handed over another agent's call"
        self.may_offer = set()
        if cmd.action is Action.DIAL and cmd.number is not None:
            target_agent = self.d.model.directory.agent_for(cmd.number)
            self.may_offer = {agent} | ({target_agent} if target_agent else set())
        before = self._snapshot()
        try:
            self.d.feed(self.d.model.execute(act, self.d.now))
            event(f"command: {cmd.action} executed")
        except ActionFailedError:
            assert self._snapshot() == before, "a refused action changed the model"
            event(f"command: {cmd.action} refused by the simulator")
        self.may_offer = set()

    @rule(seconds=st.sampled_from([0.05, 0.1, 0.15, 0.2, 0.5, 1.5, 3.0, 30.0, 60.0]))
    def wait(self, seconds: float) -> None:
        self._fire_until(self.d.now + seconds)

    @rule()
    def fire_next_timer(self) -> None:
        timer = self.d.next_timer()
        if timer is not None:
            self._fire_until(timer.at)

    @rule(index=st.integers(0, 30))
    def caller_hangs_up(self, index: int) -> None:
        ids = self._all_ids()
        if ids:
            self.d.feed(self.d.model.caller_hangup(ids[index % len(ids)], self.d.now))

    @rule(index=st.integers(0, 30), key=st.sampled_from(["verified", "queue", "account"]))
    def ivr_attaches(self, index: int, key: str) -> None:
        ids = self._all_ids()
        if ids:
            self.d.feed(self.d.model.attach_data(ids[index % len(ids)], {key: "x"}, self.d.now))

    @rule(index=st.integers(0, 30))
    def server_notes_data(self, index: int) -> None:
        ids = self._all_ids()
        if ids:
            cid = ids[index % len(ids)]
            owner = self.offered[cid]
            assert self.d.model.note_data(owner, cid, self.registry.get_call(owner, cid).data)

    # ----------------------------------------------------------- invariants

    @invariant()
    def registry_mirrors_the_lines(self) -> None:
        for agent in AGENTS:
            lines = self.d.model.lines(agent)
            assert self.registry.call_ids(agent) == [ln.call_id for ln in lines]
            for ln, call in zip(lines, self.registry.calls(agent), strict=True):
                want = ln.state
                assert (call.line_state, call.muted, call.call_type) == (
                    want,
                    ln.muted,
                    ln.call_type,
                )

    @invariant()
    def ids_unique_timers_belong_to_live_lines_peers_symmetric(self) -> None:
        ids = self._all_ids()
        assert len(ids) == len(set(ids))
        for timer in self.d.model.timers():
            line = self.d.model.line(timer.call_id)
            assert line is not None and line.agent == timer.agent
        for cid in ids:
            line = self.d.model.line(cid)
            assert line is not None
            if line.peer is not None:
                other = self.d.model.line(line.peer[1])
                assert other is not None and other.agent == line.peer[0] != line.agent
                assert other.peer == (line.agent, line.call_id)

    def teardown(self) -> None:
        # Hang everything up and let every timer run: each call is released exactly once.
        for _ in range(5):
            for agent in AGENTS:
                for ln in self.d.model.lines(agent):
                    if ln.pending is not Action.HANGUP:
                        act = ConnectorAction(agent=agent, action=Action.HANGUP, call_id=ln.call_id)
                        self.d.feed(self.d.model.execute(act, self.d.now))
            while (timer := self.d.next_timer()) is not None:
                self._fire_until(timer.at)
        assert self.d.model.agents() == [] and self.d.model.timers() == []
        assert all(self.registry.call_ids(a) == [] for a in AGENTS)
        assert set(self.released) == set(self.offered)
        assert set(self.released.values()) <= {1}


SimAgainstRegistry.TestCase.settings = settings(
    max_examples=100, stateful_step_count=50, deadline=None
)
TestSimAgainstRegistry = SimAgainstRegistry.TestCase
