"""SimulatorConnector on a real event loop with a ManualClock: the simulator's real delays
(a 30 s ring timeout, a 0.15 s answer) run instantly and in a fixed order, moved on by the
test, never by scaled timers or polling."""

from __future__ import annotations

import asyncio
import logging
import re

import pytest

from ctikit.connectors.base import (
    ActionFailedError,
    CallAdopter,
    CallPlacer,
    Capability,
    Connector,
    ScenarioRunner,
    adopter_of,
    placer_of,
    scenario_runner_of,
)
from ctikit.connectors.clock import ManualClock
from ctikit.connectors.sim import (
    DEFAULT_DNIS,
    DEMO_SCENARIO,
    Directory,
    ScenarioError,
    SimTimings,
    SimulatorConnector,
    load_scenario,
    parse_scenario,
)
from ctikit.core import CallRegistry
from ctikit.core.commands import Action
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import (
    CallAnswered,
    CallDataAttached,
    CallOffered,
    CallReleased,
    ConnectorAction,
    LineStatus,
    TelephonyEvent,
)

from .simkit import counter_ids

T = SimTimings()  # the real delays: the clock is ours


class RecordingSink:
    """Records events, applies them to a real registry, and can answer ringing calls."""

    def __init__(self, clock: ManualClock) -> None:
        self.events: list[TelephonyEvent] = []
        self.errors: list[Exception] = []
        self.registry = CallRegistry()
        self.clock = clock
        self.auto_answer: SimulatorConnector | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    def report(self, event: TelephonyEvent) -> None:
        self.events.append(event)
        try:
            self.registry.apply(event, now=self.clock.time())
        except Exception as exc:  # a test asserts there were none
            self.errors.append(exc)
        conn = self.auto_answer
        if isinstance(event, CallOffered) and conn is not None:
            line = conn.model.line(event.call_id)
            if line is not None and line.state is LineState.RINGING:
                act = ConnectorAction(
                    agent=event.agent, action=Action.ANSWER, call_id=event.call_id
                )
                task = asyncio.get_running_loop().create_task(conn.execute(act))
                self._tasks.add(task)
                task.add_done_callback(self._tasks.discard)

    def released(self, call_id: str) -> CallReleased | None:
        return next(
            (e for e in self.events if isinstance(e, CallReleased) and e.call_id == call_id),
            None,
        )

    def of_call(self, call_id: str) -> list[str]:
        return [type(e).__name__ for e in self.events if getattr(e, "call_id", None) == call_id]


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
def sink(clock: ManualClock) -> RecordingSink:
    return RecordingSink(clock)


def make(clock: ManualClock, **kw: object) -> SimulatorConnector:
    kw.setdefault("directory", Directory.numbered(["agent1", "agent2"]))
    kw.setdefault("id_factory", counter_ids())
    return SimulatorConnector(clock=clock, **kw)  # type: ignore[arg-type]


def act(agent: str, action: Action, call_id: str | None = None, **kw: str) -> ConnectorAction:
    return ConnectorAction(agent=agent, action=action, call_id=call_id, **kw)


def test_it_declares_every_optional_part() -> None:
    conn = SimulatorConnector()
    assert isinstance(conn, Connector) and conn.name == "sim"
    assert conn.capabilities == {
        Capability.PLACE_CALLS,
        Capability.ADOPT_CALLS,
        Capability.SCENARIOS,
        Capability.CONSULT,
        Capability.CONFERENCE,
    }
    # mypy checks the signatures are compatible; the lookups are the server's only way in.
    placer: CallPlacer | None = placer_of(conn)
    adopter: CallAdopter | None = adopter_of(conn)
    runner: ScenarioRunner | None = scenario_runner_of(conn)
    assert placer is conn and adopter is conn and runner is conn


def test_a_connector_claiming_a_part_it_lacks_is_a_clear_bug() -> None:
    class Boasting:
        name = "boast"
        capabilities = frozenset({Capability.ADOPT_CALLS})

    with pytest.raises(TypeError, match="boast connector declares adopt_calls but does not"):
        adopter_of(Boasting())  # type: ignore[arg-type]
    assert placer_of(Boasting()) is None  # type: ignore[arg-type]


async def test_place_answer_hold_hangup_end_to_end(clock: ManualClock, sink: RecordingSink) -> None:
    conn = make(clock)
    await conn.start(sink)
    assert sink.events == [LineStatus(agent="agent1", up=True), LineStatus(agent="agent2", up=True)]
    cid = await conn.place_inbound_call(
        "agent1", ani="+442079460123", dnis=DEFAULT_DNIS, data={"account": "ACME-1042"}
    )
    await conn.execute(act("agent1", Action.ANSWER, cid))
    await clock.advance(T.answer_delay - 0.001)
    assert sink.of_call(cid) == ["CallOffered"]  # not a moment early
    await clock.advance(0.001)
    assert sink.of_call(cid) == ["CallOffered", "CallAnswered"]
    await conn.execute(act("agent1", Action.HOLD, cid))
    await clock.advance(T.hold_delay)
    await conn.execute(act("agent1", Action.RETRIEVE, cid))
    await clock.advance(T.retrieve_delay)
    await conn.execute(act("agent1", Action.HANGUP, cid))
    await clock.advance(T.hangup_delay)
    released = sink.released(cid)
    assert released is not None and released.reason == "agent hung up"
    assert sink.of_call(cid) == [
        "CallOffered",
        "CallAnswered",
        "CallHeld",
        "CallRetrieved",
        "CallReleased",
    ]
    assert sink.errors == [] and sink.registry.call_ids("agent1") == []
    assert sink.registry.recent_calls("agent1")[0].data == {
        "ANI": "+442079460123",
        "DNIS": DEFAULT_DNIS,
        "account": "ACME-1042",
    }
    assert clock.pending() == []
    await conn.stop()


async def test_a_ringing_call_rings_out_after_exactly_the_ring_timeout(
    clock: ManualClock, sink: RecordingSink
) -> None:
    conn = make(clock)
    await conn.start(sink)
    cid = await conn.place_inbound_call("agent1")
    assert clock.pending() == [clock.now + T.ring_timeout]  # 30 s, run in no time
    await clock.advance(T.ring_timeout - 0.01)
    assert sink.released(cid) is None
    await clock.advance(0.01)
    released = sink.released(cid)
    assert released is not None and released.reason == "caller abandoned"
    await conn.stop()


async def test_internal_call_and_transfer_through_the_pump(
    clock: ManualClock, sink: RecordingSink
) -> None:
    conn = make(clock)
    await conn.start(sink)
    await conn.execute(act("agent1", Action.DIAL, number="1002"))
    offered = [e for e in sink.events if isinstance(e, CallOffered)]
    assert [(e.agent, e.call_type) for e in offered] == [
        ("agent1", CallType.INTERNAL),
        ("agent2", CallType.INTERNAL),
    ]
    await conn.execute(act("agent2", Action.ANSWER, offered[1].call_id))
    await clock.advance(T.answer_delay)
    assert sum(isinstance(e, CallAnswered) for e in sink.events) == 2
    await conn.execute(act("agent2", Action.HANGUP, offered[1].call_id))
    await clock.advance(T.hangup_delay)
    gone = sink.released(offered[0].call_id)
    assert gone is not None and gone.reason == "other party hung up"

    cid = await conn.place_inbound_call("agent1", data={"account": "ACME-1042"})
    await conn.execute(act("agent1", Action.ANSWER, cid))
    await clock.advance(T.answer_delay)
    conn.note_data("agent1", cid, {"account": "ACME-1042", "note": "VIP"})
    await conn.execute(act("agent1", Action.TRANSFER, cid, number="agent2"))
    await clock.advance(T.transfer_delay)
    moved_off = sink.released(cid)
    assert moved_off is not None and moved_off.reason == "transferred"
    moved = sink.events[-1]
    assert isinstance(moved, CallOffered) and moved.agent == "agent2"
    assert moved.data == {"account": "ACME-1042", "note": "VIP"}
    assert sink.errors == []
    await conn.stop()


async def test_missing_caller_details_are_made_up(clock: ManualClock, sink: RecordingSink) -> None:
    conn = make(clock)
    await conn.start(sink)
    await conn.place_inbound_call("agent1")
    offered = sink.events[-1]
    assert isinstance(offered, CallOffered)
    assert offered.ani is not None and re.fullmatch(r"\+1415555\d{4}", offered.ani)
    assert offered.dnis == DEFAULT_DNIS
    assert {"account", "reason", "language", "verified"} <= set(offered.data)
    await conn.stop()


async def test_errors_before_start_and_on_bad_actions(
    clock: ManualClock, sink: RecordingSink
) -> None:
    conn = make(clock)
    with pytest.raises(ActionFailedError, match="not running"):
        await conn.execute(act("agent1", Action.ANSWER, "sim-x"))
    with pytest.raises(ActionFailedError, match="not running"):
        await conn.place_inbound_call("agent1")
    with pytest.raises(RuntimeError, match="start the simulator"):
        conn.run_scenario(DEMO_SCENARIO)
    await conn.start(sink)
    with pytest.raises(RuntimeError, match="already running"):
        await conn.start(sink)
    with pytest.raises(ActionFailedError, match="not on agent1's phone"):
        await conn.execute(act("agent1", Action.ANSWER, "sim-x"))
    with pytest.raises(ScenarioError, match=r"nope\.yaml: scenario files end in \.toml or \.json"):
        conn.run_scenario("nope.yaml")
    await conn.stop()


async def test_stop_cancels_timers_and_scenarios_and_is_idempotent(
    clock: ManualClock, sink: RecordingSink
) -> None:
    conn = make(clock)
    await conn.start(sink)
    cid = await conn.place_inbound_call("agent1")  # would ring out after 30 s
    scenario = parse_scenario({"steps": [{"at": 60, "action": "call", "agent": "agent2"}]})
    task = conn.run_scenario(scenario)
    await clock.settle()
    await conn.stop()
    assert task.cancelled()
    assert sink.events[-2:] == [
        LineStatus(agent="agent1", up=False, reason="simulator stopped"),
        LineStatus(agent="agent2", up=False, reason="simulator stopped"),
    ]
    assert clock.pending() == []  # the ring timeout and the scenario's sleep are gone
    seen = len(sink.events)
    await clock.advance(T.ring_timeout + 60)
    assert len(sink.events) == seen and sink.released(cid) is None
    await conn.stop()
    assert len(sink.events) == seen
    # Started again, the simulator has fresh lines.
    await conn.start(sink)
    assert conn.model.lines("agent1") == [] and conn.model.timers() == []
    await conn.stop()


async def test_a_scenario_runs_its_steps_in_order(clock: ManualClock, sink: RecordingSink) -> None:
    conn = make(clock)
    await conn.start(sink)
    scenario = parse_scenario(
        {
            "steps": [
                {
                    "at": 0,
                    "action": "call",
                    "agent": "agent1",
                    "ani": "+442079460123",
                    "data": {"account": "ACME-1042"},
                },
                {"at": 5, "action": "attach", "call": 1, "data": {"verified": True}},
                {"at": 10, "action": "hangup", "call": 1},
                {"at": 10, "action": "call", "agent": "agent2", "talk_time": 5},
            ]
        }
    )
    sink.auto_answer = conn
    task = conn.run_scenario(scenario)
    await clock.advance(9.9)
    assert not task.done()
    await clock.advance(0.1)
    first, second = await task
    assert first is not None and second is not None
    # Call 1 was answered at once, then the caller hung up at 10 s.
    assert sink.of_call(first) == [
        "CallOffered",
        "CallAnswered",
        "CallDataAttached",
        "CallReleased",
    ]
    attached = next(e for e in sink.events if isinstance(e, CallDataAttached))
    assert attached.data == {"verified": True}
    gone = sink.released(first)
    assert gone is not None and gone.reason == "caller hung up"
    # Call 2 talks for 5 s after its answer (0.15 s after it rang), then the caller hangs up.
    await clock.advance(T.answer_delay + 5 - 0.01)
    assert sink.released(second) is None
    await clock.advance(0.01)
    gone = sink.released(second)
    assert gone is not None and gone.reason == "caller hung up"
    assert sink.errors == []
    await conn.stop()


async def test_the_demo_scenario_plays_to_its_end(clock: ManualClock, sink: RecordingSink) -> None:
    conn = make(clock, directory=Directory.numbered(["agent1", "agent2", "agent3"]))
    await conn.start(sink)
    sink.auto_answer = conn
    demo = load_scenario(DEMO_SCENARIO)
    task = conn.run_scenario(DEMO_SCENARIO)  # at its real pace: minutes, run in no time
    await clock.run_all()
    ids = await task
    assert len(ids) == demo.call_count == 7 and None not in ids
    assert all(cid is not None and sink.released(cid) is not None for cid in ids)
    assert sink.errors == []
    assert sum(isinstance(e, CallDataAttached) for e in sink.events) == 2
    await conn.stop()


async def test_scenario_call_to_an_agent_with_no_free_line_is_skipped(
    clock: ManualClock, sink: RecordingSink, caplog: pytest.LogCaptureFixture
) -> None:
    conn = make(clock, max_lines=1)
    await conn.start(sink)
    scenario = parse_scenario(
        {
            "steps": [
                {"at": 0, "action": "call", "agent": "agent1"},
                {"at": 0, "action": "call", "agent": "agent1"},
                {"at": 0, "action": "hangup", "call": 2},
            ]
        }
    )
    with caplog.at_level(logging.WARNING):
        ids = await conn.run_scenario(scenario)
    assert ids[1] is None and ids[0] is not None
    assert "call 2 not placed: all 1 lines of agent1 are in use" in caplog.text
    await conn.stop()


async def test_a_raising_sink_does_not_stop_the_simulator(
    clock: ManualClock, caplog: pytest.LogCaptureFixture
) -> None:
    class Broken:
        def report(self, event: TelephonyEvent) -> None:
            raise RuntimeError("boom")

    conn = make(clock)
    with caplog.at_level(logging.ERROR):
        await conn.start(Broken())
        cid = await conn.place_inbound_call("agent1")
        await conn.execute(act("agent1", Action.HANGUP, cid))
        await clock.advance(T.hangup_delay)
    assert conn.model.lines("agent1") == []
    assert "event sink raised" in caplog.text
    await conn.stop()


async def test_timers_follow_the_injected_clock(sink: RecordingSink) -> None:
    clock = ManualClock(start=5000.0)
    conn = make(clock)
    await conn.start(sink)
    cid = await conn.place_inbound_call("agent1")
    assert [t.at for t in conn.model.timers()] == [5000.0 + T.ring_timeout]
    await clock.advance(T.ring_timeout)
    released = sink.released(cid)
    assert released is not None and released.reason == "caller abandoned"
    await conn.stop()


async def test_the_manual_clock_runs_timers_in_order_and_only_forward() -> None:
    clock = ManualClock(start=0.0)
    ran: list[str] = []
    clock.call_later(2, lambda: ran.append("b"))
    clock.call_later(1, lambda: ran.append("a"))
    clock.call_later(2, lambda: ran.append("c"))  # same time: the order they were started
    clock.call_later(3, lambda: ran.append("never")).cancel()
    sleeper = asyncio.create_task(clock.sleep(1.5))
    await clock.advance(1.5)
    assert ran == ["a"] and sleeper.done() and clock.time() == 1.5
    await clock.advance(10)
    assert ran == ["a", "b", "c"] and clock.pending() == []
    with pytest.raises(ValueError, match="only moves forward"):
        await clock.advance(-1)
