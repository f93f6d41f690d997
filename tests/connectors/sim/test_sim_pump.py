"""SimulatorConnector on a real event loop, with delays 100 times shorter than life."""

from __future__ import annotations

import asyncio
import logging
import re
from collections.abc import Callable

import pytest

from ctikit.connectors.base import ActionFailedError, CallPlacer, Connector
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

FAST = SimTimings().scaled(0.01)  # ring timeout 0.3 s, answer 1.5 ms, far end 15 ms


class RecordingSink:
    """Records events, applies them to a real registry, and can answer ringing calls."""

    def __init__(self, clock: Callable[[], float] = lambda: 0.0) -> None:
        self.events: list[TelephonyEvent] = []
        self.errors: list[Exception] = []
        self.registry = CallRegistry()
        self.clock = clock
        self.auto_answer: SimulatorConnector | None = None
        self._changed = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def report(self, event: TelephonyEvent) -> None:
        self.events.append(event)
        self._changed.set()
        try:
            self.registry.apply(event, now=self.clock())
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

    async def wait_for(
        self, pred: Callable[[list[TelephonyEvent]], bool], within: float = 3.0
    ) -> None:
        async with asyncio.timeout(within):
            while not pred(self.events):
                self._changed.clear()
                await self._changed.wait()

    async def wait_released(self, call_id: str) -> CallReleased:
        await self.wait_for(
            lambda evs: any(isinstance(e, CallReleased) and e.call_id == call_id for e in evs)
        )
        return next(e for e in self.events if isinstance(e, CallReleased) and e.call_id == call_id)

    def of_call(self, call_id: str) -> list[str]:
        return [type(e).__name__ for e in self.events if getattr(e, "call_id", None) == call_id]


def make(**kw: object) -> SimulatorConnector:
    kw.setdefault("timings", FAST)
    kw.setdefault("directory", Directory.numbered(["agent1", "agent2"]))
    kw.setdefault("id_factory", counter_ids())
    return SimulatorConnector(**kw)  # type: ignore[arg-type]


def act(agent: str, action: Action, call_id: str | None = None, **kw: str) -> ConnectorAction:
    return ConnectorAction(agent=agent, action=action, call_id=call_id, **kw)


def test_it_is_a_connector_and_a_call_placer() -> None:
    conn = SimulatorConnector()
    assert isinstance(conn, Connector) and isinstance(conn, CallPlacer)
    assert conn.name == "sim"
    placer: CallPlacer = conn  # mypy checks the signature is compatible
    assert placer is conn


async def test_place_answer_hold_hangup_end_to_end() -> None:
    sink = RecordingSink()
    conn = make()
    await conn.start(sink)
    assert sink.events == [LineStatus(agent="agent1", up=True), LineStatus(agent="agent2", up=True)]
    cid = await conn.place_inbound_call(
        "agent1", ani="+442079460123", dnis=DEFAULT_DNIS, data={"account": "ACME-1042"}
    )
    await conn.execute(act("agent1", Action.ANSWER, cid))
    await sink.wait_for(lambda evs: isinstance(evs[-1], CallAnswered))
    await conn.execute(act("agent1", Action.HOLD, cid))
    await sink.wait_for(lambda evs: len(sink.of_call(cid)) == 3)
    await conn.execute(act("agent1", Action.RETRIEVE, cid))
    await sink.wait_for(lambda evs: len(sink.of_call(cid)) == 4)
    await conn.execute(act("agent1", Action.HANGUP, cid))
    released = await sink.wait_released(cid)
    assert released.reason == "agent hung up"
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
    await conn.stop()


async def test_internal_call_and_transfer_through_the_pump() -> None:
    sink = RecordingSink()
    conn = make()
    await conn.start(sink)
    await conn.execute(act("agent1", Action.DIAL, number="1002"))
    offered = [e for e in sink.events if isinstance(e, CallOffered)]
    assert [(e.agent, e.call_type) for e in offered] == [
        ("agent1", CallType.INTERNAL),
        ("agent2", CallType.INTERNAL),
    ]
    await conn.execute(act("agent2", Action.ANSWER, offered[1].call_id))
    await sink.wait_for(lambda evs: sum(isinstance(e, CallAnswered) for e in evs) == 2)
    await conn.execute(act("agent2", Action.HANGUP, offered[1].call_id))
    assert (await sink.wait_released(offered[0].call_id)).reason == "other party hung up"

    cid = await conn.place_inbound_call("agent1", data={"account": "ACME-1042"})
    await conn.execute(act("agent1", Action.ANSWER, cid))
    await sink.wait_for(lambda evs: isinstance(evs[-1], CallAnswered))
    conn.note_data("agent1", cid, {"account": "ACME-1042", "note": "VIP"})
    await conn.execute(act("agent1", Action.TRANSFER, cid, number="agent2"))
    assert (await sink.wait_released(cid)).reason == "transferred"
    moved = sink.events[-1]
    assert isinstance(moved, CallOffered) and moved.agent == "agent2"
    assert moved.data == {"account": "ACME-1042", "note": "VIP"}
    assert sink.errors == []
    await conn.stop()


async def test_missing_caller_details_are_made_up() -> None:
    sink = RecordingSink()
    conn = make()
    await conn.start(sink)
    await conn.place_inbound_call("agent1")
    offered = sink.events[-1]
    assert isinstance(offered, CallOffered)
    assert offered.ani is not None and re.fullmatch(r"\+1415555\d{4}", offered.ani)
    assert offered.dnis == DEFAULT_DNIS
    assert {"account", "reason", "language", "verified"} <= set(offered.data)
    await conn.stop()


async def test_errors_before_start_and_on_bad_actions() -> None:
    conn = make()
    with pytest.raises(ActionFailedError, match="not running"):
        await conn.execute(act("agent1", Action.ANSWER, "sim-x"))
    with pytest.raises(ActionFailedError, match="not running"):
        await conn.place_inbound_call("agent1")
    with pytest.raises(RuntimeError, match="start the simulator"):
        conn.run_scenario(DEMO_SCENARIO)
    sink = RecordingSink()
    await conn.start(sink)
    with pytest.raises(RuntimeError, match="already running"):
        await conn.start(sink)
    with pytest.raises(ActionFailedError, match="not on agent1's phone"):
        await conn.execute(act("agent1", Action.ANSWER, "sim-x"))
    with pytest.raises(ScenarioError, match=r"nope\.yaml: scenario files end in \.toml or \.json"):
        conn.run_scenario("nope.yaml")
    await conn.stop()


async def test_stop_cancels_timers_and_scenarios_and_is_idempotent() -> None:
    sink = RecordingSink()
    conn = make()
    await conn.start(sink)
    cid = await conn.place_inbound_call("agent1")  # would ring out after 0.3 s
    scenario = parse_scenario({"steps": [{"at": 60, "action": "call", "agent": "agent2"}]})
    task = conn.run_scenario(scenario)
    await asyncio.sleep(0)
    await conn.stop()
    assert task.cancelled()
    assert sink.events[-2:] == [
        LineStatus(agent="agent1", up=False, reason="simulator stopped"),
        LineStatus(agent="agent2", up=False, reason="simulator stopped"),
    ]
    seen = len(sink.events)
    await asyncio.sleep(FAST.ring_timeout + 0.1)
    assert len(sink.events) == seen and cid not in [
        getattr(e, "call_id", None) for e in sink.events if isinstance(e, CallReleased)
    ]
    await conn.stop()
    assert len(sink.events) == seen
    # Started again, the simulator has fresh lines.
    await conn.start(sink)
    assert conn.model.lines("agent1") == [] and conn.model.timers() == []
    await conn.stop()


async def test_a_scenario_runs_its_steps_in_order() -> None:
    sink = RecordingSink()
    conn = make()
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
                {"at": 0.05, "action": "attach", "call": 1, "data": {"verified": True}},
                {"at": 0.1, "action": "hangup", "call": 1},
                {"at": 0.1, "action": "call", "agent": "agent2", "talk_time": 0.05},
            ]
        }
    )
    sink.auto_answer = conn
    ids = await asyncio.wait_for(conn.run_scenario(scenario), 2)
    first, second = ids
    assert first is not None and second is not None
    # Call 1 was answered at once, then the caller hung up at 0.1 s.
    assert sink.of_call(first) == [
        "CallOffered",
        "CallAnswered",
        "CallDataAttached",
        "CallReleased",
    ]
    attached = next(e for e in sink.events if isinstance(e, CallDataAttached))
    assert attached.data == {"verified": True}
    assert (await sink.wait_released(first)).reason == "caller hung up"
    assert (await sink.wait_released(second)).reason == "caller hung up"  # talk_time
    assert sink.errors == []
    await conn.stop()


async def test_the_demo_scenario_plays_fast() -> None:
    loop = asyncio.get_running_loop()
    sink = RecordingSink(clock=loop.time)
    conn = make(directory=Directory.numbered(["agent1", "agent2", "agent3"]))
    await conn.start(sink)
    sink.auto_answer = conn
    demo = load_scenario(DEMO_SCENARIO)
    ids = await asyncio.wait_for(conn.run_scenario(DEMO_SCENARIO, speed=500), 5)
    assert len(ids) == demo.call_count == 7 and None not in ids
    for cid in ids:
        assert cid is not None
        await sink.wait_released(cid)
    assert sink.errors == []
    assert sum(isinstance(e, CallDataAttached) for e in sink.events) == 2
    await conn.stop()


async def test_scenario_call_to_an_agent_with_no_free_line_is_skipped(
    caplog: pytest.LogCaptureFixture,
) -> None:
    sink = RecordingSink()
    conn = make(max_lines=1)
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
    caplog: pytest.LogCaptureFixture,
) -> None:
    class Broken:
        def report(self, event: TelephonyEvent) -> None:
            raise RuntimeError("boom")

    conn = make()
    with caplog.at_level(logging.ERROR):
        await conn.start(Broken())
        cid = await conn.place_inbound_call("agent1")
        await conn.execute(act("agent1", Action.HANGUP, cid))
        await asyncio.sleep(FAST.hangup_delay + 0.05)
    assert conn.model.lines("agent1") == []
    assert "event sink raised" in caplog.text
    await conn.stop()


async def test_timers_follow_the_injected_clock() -> None:
    sink = RecordingSink()
    conn = make(clock=lambda: 5000.0)  # a frozen clock: delays still come from the loop
    await conn.start(sink)
    cid = await conn.place_inbound_call("agent1")
    assert [t.at for t in conn.model.timers()] == [5000.0 + FAST.ring_timeout]
    released = await sink.wait_released(cid)
    assert released.reason == "caller abandoned"
    await conn.stop()
