"""A command's reply means it happened: CtiService on the in-memory backend and the
simulator, both on one ManualClock, so every delay and time limit is exact and instant."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from ctikit.connectors.base import Capability
from ctikit.connectors.clock import ManualClock
from ctikit.connectors.sim import Directory, SimTimings, SimulatorConnector
from ctikit.core.errors import CommandRejectedError
from ctikit.core.events import CallEnded
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import CallOffered
from ctikit.server.backend import InMemoryBackend
from ctikit.server.hub import Hub
from ctikit.server.service import CommandTimeoutError, CtiService
from ctikit.server.telephony import LocalTelephony
from ctikit.storage import CallLogStore

T = SimTimings()  # the real delays: the clock is ours
SLOW_HOLD = SimTimings(hold_delay=60.0)  # a far end that takes a minute to confirm a hold
TIMEOUT = 10.0
NO_HOLD = SimTimings(answer_delay=T.answer_delay)  # hold_on_answer off (same timings)


@dataclass
class Rig:
    svc: CtiService
    sim: SimulatorConnector
    clock: ManualClock

    async def line(self, agent: str = "agent1") -> list[tuple[str, LineState | None, bool]]:
        calls = (await self.svc.snapshot(agent))["calls"]
        return [(c["id"], LineState(c["lineState"]) if c["lineState"] else None, c["muted"])
                for c in calls]  # fmt: skip

    async def pending(self, awaitable: Awaitable[Any]) -> asyncio.Task[Any]:
        """Start ``awaitable``; check it is still waiting once the loop settled."""
        task = asyncio.ensure_future(awaitable)
        await self.clock.settle()
        assert not task.done(), task
        return task


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    timings = getattr(request, "param", T)
    hold_on_answer = getattr(request, "param", None) is not NO_HOLD
    clock = ManualClock()
    store = await CallLogStore.open(f"sqlite:///{tmp_path / 'logs.db'}")
    hub = Hub()
    sim = SimulatorConnector(
        timings=timings, directory=Directory.numbered(["agent1", "agent2"]), clock=clock
    )
    svc = CtiService(
        InMemoryBackend(hub, clock=clock.time),
        LocalTelephony(sim, command_timeout=TIMEOUT, clock=clock),
        store,
        hub,
        clock=clock.time,
        hold_on_answer=hold_on_answer,
    )
    await svc.start()
    yield Rig(svc, sim, clock)
    await svc.stop()
    await store.close()


async def _ring(rig: Rig, agent: str = "agent1") -> str:
    return await rig.svc.place_call(agent, ani="+14155550100", dnis=None, data=None)


async def test_answer_replies_when_connected_and_hold_works_from_its_reply(rig: Rig) -> None:
    cid = await _ring(rig)
    answer = await rig.pending(rig.svc.send_cti_message("agent1", "/ANSWER"))
    await rig.clock.advance(T.answer_delay - 0.001)
    assert not answer.done()
    await rig.clock.advance(0.001)
    await answer
    assert await rig.line() == [(cid, LineState.CONNECTED, False)]
    # What a component does in /ANSWER's callback: the call is connected, so it holds.
    hold = await rig.pending(rig.svc.send_cti_message("agent1", "/HOLD"))
    await rig.clock.advance(T.hold_delay)
    await hold
    assert await rig.line() == [(cid, LineState.HELD, False)]
    retrieve = await rig.pending(rig.svc.send_cti_message("agent1", "/RETRIEVE"))
    await rig.clock.advance(T.retrieve_delay)
    await retrieve
    # Mute and DTMF are the phone's own: done at once.
    await rig.svc.send_cti_message("agent1", "/MUTE")
    assert await rig.line() == [(cid, LineState.CONNECTED, True)]
    await rig.svc.send_cti_message("agent1", "/DTMF?DIGITS=12#")
    await rig.svc.send_cti_message("agent1", "/UNMUTE")
    hangup = await rig.pending(rig.svc.send_cti_message("agent1", "/HANGUP"))
    await rig.clock.advance(T.hangup_delay)
    await hangup
    assert await rig.line() == []


@pytest.mark.parametrize("rig", [SLOW_HOLD], indirect=True)
async def test_a_command_not_confirmed_in_time_fails_with_a_clear_timeout(rig: Rig) -> None:
    cid = await _ring(rig)
    answer = await rig.pending(rig.svc.send_cti_message("agent1", "/ANSWER"))
    await rig.clock.advance(T.answer_delay)
    await answer
    hold = await rig.pending(rig.svc.send_cti_message("agent1", "/HOLD"))
    await rig.clock.advance(TIMEOUT - 0.01)
    assert not hold.done()
    await rig.clock.advance(0.01)
    with pytest.raises(CommandTimeoutError) as err:
        await hold
    assert err.value.code == "timeout"
    assert err.value.message == (
        "/HOLD: the telephony did not confirm it in 10 s (the call is not held yet)"
    )
    # It was sent: when the far end does confirm, the state shows it.
    await rig.clock.advance(SLOW_HOLD.hold_delay - TIMEOUT)
    assert await rig.line() == [(cid, LineState.HELD, False)]


async def test_a_call_that_ends_first_fails_the_command(rig: Rig) -> None:
    cid = await _ring(rig)
    answer = await rig.pending(rig.svc.send_cti_message("agent1", "/ANSWER"))
    await rig.sim.caller_hangup(cid)  # the caller gives up as the agent answers
    with pytest.raises(CommandRejectedError) as err:
        await answer
    assert err.value.message == (
        f"/ANSWER: call '{cid}' ended before it was connected (caller abandoned)"
    )


async def test_a_transfer_the_telephony_fails_replies_with_its_reason(rig: Rig) -> None:
    cid = await _ring(rig)
    answer = await rig.pending(rig.svc.send_cti_message("agent1", "/ANSWER"))
    await rig.clock.advance(T.answer_delay)
    await answer
    refused = await rig.pending(
        rig.svc.send_cti_message("agent1", "/TRANSFER?NUMBER=%2B14155550404")
    )
    await rig.clock.advance(T.reject_delay)
    with pytest.raises(CommandRejectedError, match=r"^/TRANSFER: not found \(404 Not Found\)$"):
        await refused
    assert await rig.line() == [(cid, LineState.CONNECTED, False)]  # the call stays
    moved = await rig.pending(rig.svc.send_cti_message("agent1", "/TRANSFER?NUMBER=agent2"))
    await rig.clock.advance(T.transfer_delay)
    await moved  # ended as transferred: done
    assert await rig.line() == []
    assert [c[1] for c in await rig.line("agent2")] == [LineState.RINGING]


async def test_dial_replies_when_the_call_is_dialing(rig: Rig) -> None:
    await rig.svc.send_cti_message("agent1", "/DIAL?NUMBER=%2B14155550486")
    [(_, state, _)] = await rig.line()
    assert state is LineState.DIALING  # its failure comes later, as the call's events
    await rig.clock.advance(T.reject_delay)
    assert await rig.line() == []


async def test_a_command_the_connector_refuses_at_once_fails_at_once(rig: Rig) -> None:
    cid = await _ring(rig)
    answer = await rig.pending(rig.svc.send_cti_message("agent1", "/ANSWER"))
    # The registry still says ringing; the phone knows an answer is on its way.
    with pytest.raises(CommandRejectedError, match=r"/ANSWER is still in progress"):
        await rig.svc.send_cti_message("agent1", f"/ANSWER?CALL_ID={cid}")
    await rig.clock.advance(T.answer_delay)
    await answer


async def test_calls_on_lines_go_to_a_fresh_connector_or_end(tmp_path: Path) -> None:
    """What a restart (or a cluster takeover) does with the calls the state has on lines:
    a connector that can adopt them takes them over; one that cannot has them ended."""

    for can_adopt in (True, False):
        clock = ManualClock()
        backend = InMemoryBackend(Hub(), clock=clock.time)
        offer = CallOffered(agent="agent1", call_id="old-1", call_type=CallType.INBOUND)
        backend.registry.apply(offer, now=clock.time())  # left by the previous connector
        sim = SimulatorConnector(timings=T, directory=Directory(), clock=clock)
        if not can_adopt:
            sim.capabilities = frozenset({Capability.PLACE_CALLS})  # type: ignore[misc]
        telephony = LocalTelephony(sim, clock=clock)
        await backend.start(telephony)
        await telephony.start(backend)
        if can_adopt:
            assert [c.id for c in backend.registry.calls("agent1")] == ["old-1"]
            assert [ln.call_id for ln in sim.model.lines("agent1")] == ["old-1"]
        else:
            assert backend.registry.calls("agent1") == []
            [gone] = backend.registry.recent_calls("agent1")
            assert gone.id == "old-1" and sim.model.lines("agent1") == []
            ended = [e for e in backend.registry.events_after("agent1", 0) or []
                     if isinstance(e, CallEnded)]  # fmt: skip
            assert [e.reason for e in ended] == ["telephony restarted: the call was lost"]
        await telephony.stop()
        await backend.stop()


async def _answer(rig: Rig, message: str, *, takes: float) -> None:
    task = await rig.pending(rig.svc.send_cti_message("agent1", message))
    await rig.clock.advance(takes)
    await task


async def test_answering_a_second_call_holds_the_first(rig: Rig) -> None:
    first = await _ring(rig)
    await _answer(rig, "/ANSWER", takes=T.answer_delay)
    second = await _ring(rig)
    # The reply waits for the hold, then for the answer: never two conversations at once.
    task = await rig.pending(rig.svc.send_cti_message("agent1", f"/ANSWER?CALL_ID={second}"))
    await rig.clock.advance(T.hold_delay)
    assert await rig.line() == [(first, LineState.HELD, False), (second, LineState.RINGING, False)]
    assert not task.done()
    await rig.clock.advance(T.answer_delay)
    await task
    assert await rig.line() == [
        (first, LineState.HELD, False),
        (second, LineState.CONNECTED, False),
    ]


@pytest.mark.parametrize("rig", [NO_HOLD], indirect=True)
async def test_hold_on_answer_can_be_turned_off(rig: Rig) -> None:
    first = await _ring(rig)
    await _answer(rig, "/ANSWER", takes=T.answer_delay)
    second = await _ring(rig)
    await _answer(rig, f"/ANSWER?CALL_ID={second}", takes=T.answer_delay)
    assert await rig.line() == [
        (first, LineState.CONNECTED, False),
        (second, LineState.CONNECTED, False),
    ]
