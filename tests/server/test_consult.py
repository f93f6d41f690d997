"""Consult transfer and conference through the service, the WebSocket and REST."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ctikit.connectors.base import Capability
from ctikit.connectors.clock import ManualClock
from ctikit.connectors.sim import Directory, SimTimings, SimulatorConnector
from ctikit.core.errors import CommandRejectedError
from ctikit.core.model import LineState
from ctikit.server.backend import InMemoryBackend
from ctikit.server.hub import Hub
from ctikit.server.service import CtiService, UnsupportedError
from ctikit.server.telephony import LocalTelephony
from ctikit.storage import CallLogStore

from .conftest import MODES, auth
from .test_commands import Rig

T = SimTimings()


class NoConsultSimulator(SimulatorConnector):
    """A connector that offers neither consult nor conference (as the SIP one)."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        return super().capabilities - {Capability.CONSULT, Capability.CONFERENCE}


@pytest.fixture
async def rig(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[Rig]:
    cls = getattr(request, "param", SimulatorConnector)
    clock = ManualClock()
    store = await CallLogStore.open(f"sqlite:///{tmp_path / 'logs.db'}")
    hub = Hub()
    sim = cls(timings=T, directory=Directory.numbered(["agent1", "agent2"]), clock=clock)
    svc = CtiService(
        InMemoryBackend(hub, clock=clock.time),
        LocalTelephony(sim, command_timeout=10.0, clock=clock),
        store,
        hub,
        clock=clock.time,
    )
    await svc.start()
    yield Rig(svc, sim, clock)
    await svc.stop()
    await store.close()


async def run(rig: Rig, message: str, after: float, agent: str = "agent1") -> None:
    """Send ``message``; it must wait for the telephony until ``after`` seconds passed."""
    task = await rig.pending(rig.svc.send_cti_message(agent, message))
    await rig.clock.advance(after)
    await task


async def consulting(rig: Rig) -> tuple[str, str, str]:
    """agent1 talks to a caller and consults agent2, who answers."""
    cid = await rig.svc.place_call("agent1", ani="+14155550100", dnis=None, data=None)
    await run(rig, "/ANSWER", T.answer_delay)
    await run(rig, "/CONSULT?NUMBER=1002", T.hold_delay)
    (held, consult) = await rig.line()
    assert held == (cid, LineState.HELD, False) and consult[1] is LineState.DIALING
    [(target, _, _)] = await rig.line("agent2")
    await run(rig, "/ANSWER", T.answer_delay, agent="agent2")
    assert (await rig.line())[1][1] is LineState.CONNECTED
    call = (await rig.svc.snapshot("agent1"))["calls"][1]
    assert call["data"]["consultOf"] == cid  # what links the consult call to the held one
    return cid, consult[0], target


async def test_consult_then_complete(rig: Rig) -> None:
    cid, consult, target = await consulting(rig)
    await run(rig, "/COMPLETE_TRANSFER", T.transfer_delay)
    assert await rig.line() == []
    assert await rig.line("agent2") == [(target, LineState.CONNECTED, False)]
    ended = (await rig.svc.snapshot("agent1"))["recent"]
    assert {(c["id"], c["disposition"]) for c in ended} >= {
        (cid, "transferred"),
        (consult, "transferred"),
    }


async def test_consult_then_cancel_returns_to_the_caller(rig: Rig) -> None:
    cid, _consult, _target = await consulting(rig)
    await run(rig, f"/CANCEL_CONSULT?CALL_ID={cid}", T.hangup_delay)  # either call names it
    assert await rig.line() == [(cid, LineState.CONNECTED, False)]
    assert await rig.line("agent2") == []


async def test_conference_joins_both(rig: Rig) -> None:
    cid, consult, _target = await consulting(rig)
    await run(rig, "/CONFERENCE", T.retrieve_delay)
    assert [c[:2] for c in await rig.line()] == [
        (cid, LineState.CONNECTED),
        (consult, LineState.CONNECTED),
    ]


async def test_a_made_up_extension_fails_with_the_reason_and_the_call_stays(rig: Rig) -> None:
    cid = await rig.svc.place_call("agent1", ani="+14155550100", dnis=None, data=None)
    await run(rig, "/ANSWER", T.answer_delay)
    with pytest.raises(CommandRejectedError, match=r"^/CONSULT: no extension 1099 \(not found\)$"):
        await rig.svc.send_cti_message("agent1", "/CONSULT?NUMBER=1099")
    assert await rig.line() == [(cid, LineState.CONNECTED, False)]
    failing = await rig.pending(rig.svc.send_cti_message("agent1", "/CONSULT?NUMBER=5550404"))
    await rig.clock.advance(T.hold_delay)
    await failing  # the consult call dials: done; its failure comes as the call's events
    await rig.clock.advance(T.reject_delay)
    assert await rig.line() == [(cid, LineState.HELD, False)]
    with pytest.raises(CommandRejectedError, match="no consult call"):
        await rig.svc.send_cti_message("agent1", "/COMPLETE_TRANSFER")


@pytest.mark.parametrize("rig", [NoConsultSimulator], indirect=True)
async def test_without_the_capability_the_answer_is_unsupported(rig: Rig) -> None:
    await rig.svc.place_call("agent1", ani="+14155550100", dnis=None, data=None)
    await run(rig, "/ANSWER", T.answer_delay)
    for message in ("/CONSULT?NUMBER=1002", "/COMPLETE_TRANSFER", "/CONFERENCE"):
        with pytest.raises(UnsupportedError) as err:
            await rig.svc.send_cti_message("agent1", message)
        assert err.value.code == "unsupported"
        assert "not supported by this connector (sim)" in err.value.message
    assert [c[1] for c in await rig.line()] == [LineState.CONNECTED]
    info = rig.svc.connector_info()
    assert (info["canConsult"], info["canConference"]) == (False, False)


# ------------------------------------------------------------------ over the wire


async def _lines(c: Any) -> list[tuple[str, str]]:
    return [(x["id"], x["lineState"]) for x in (await c.request("getState"))["calls"]]


async def test_consult_complete_and_cancel_over_the_websocket(connect: Any) -> None:
    a1, a2 = await connect("agent1"), await connect("agent2")
    cid = (await a1.request("simulateCall", ani="+14155550100", data={"account": "A-7"}))["callId"]
    assert (await a1.request("sendCTIMessage", message="/ANSWER"))["success"]
    r = await a1.request("sendCTIMessage", message="/CONSULT?NUMBER=1002")
    assert r["success"], r
    [_, consult_call] = (await a1.request("getState"))["calls"]
    consult = consult_call["id"]
    begin = await a1.wait_event("callBegin", id=consult)
    assert begin["data"]["call"]["data"]["consultOf"] == cid
    ring = await a2.wait_event("callBegin")
    assert ring["data"]["call"]["data"]["account"] == "A-7"  # the target sees the context
    # Cancel first: back to the caller; then consult again and complete.
    assert (await a2.request("sendCTIMessage", message="/ANSWER"))["success"]
    assert (await a1.request("sendCTIMessage", message="/CANCEL_CONSULT"))["success"]
    assert await _lines(a1) == [(cid, "connected")]
    end = await a1.wait_event("callEnd", id=consult)
    assert end["data"]["disposition"] == "consult cancelled"
    assert (await a1.request("sendCTIMessage", message="/CONSULT?NUMBER=agent2"))["success"]

    async def ringing_at_agent2() -> str:
        while True:
            calls = (await a2.request("getState"))["calls"]
            if calls:
                return str(calls[0]["id"])
            await asyncio.sleep(0.02)

    target = await asyncio.wait_for(ringing_at_agent2(), 5)
    assert (await a2.request("sendCTIMessage", message=f"/ANSWER?CALL_ID={target}"))["success"]
    r = await a1.request("sendCTIMessage", message="/COMPLETE_TRANSFER")
    assert r["success"], r
    assert await _lines(a1) == []
    assert await _lines(a2) == [(target, "connected")]
    end = await a1.wait_event("callEnd", id=cid)
    assert end["data"]["disposition"] == "transferred"
    assert end["data"]["reason"] == "transferred to 1002"


@pytest.mark.parametrize("mode", MODES, indirect=True)
async def test_consult_and_conference_over_rest(server: Any) -> None:
    r = await server.post("/api/agents/agent1/simulate-call", json={}, headers=auth(server))
    cid = (await r.json())["callId"]

    async def cti(message: str) -> tuple[int, dict[str, Any]]:
        resp = await server.post(
            "/api/agents/agent1/cti-message", json={"message": message}, headers=auth(server)
        )
        return resp.status, await resp.json()

    async def lines() -> list[tuple[str, str]]:
        resp = await server.get("/api/agents/agent1/calls", headers=auth(server))
        return [(c["id"], c["lineState"]) for c in (await resp.json())["calls"]]

    assert await cti("/ANSWER") == (200, {"success": True})
    status, body = await cti("/COMPLETE_TRANSFER")
    assert status == 409 and body["code"] == "command_rejected", body
    assert body["error"] == "/COMPLETE_TRANSFER: no consult call (start one with /CONSULT)"
    assert await cti("/CONSULT?NUMBER=%2B14155550123") == (200, {"success": True})
    [held, (consult, state)] = await lines()
    assert held == (cid, "held") and state in ("dialing", "connected")

    async def answered() -> None:
        while (await lines())[1][1] != "connected":  # noqa: ASYNC110 - REST has no events
            await asyncio.sleep(0.02)

    await asyncio.wait_for(answered(), 10)  # the far end answers after far_end_answer
    assert await cti("/CONFERENCE") == (200, {"success": True})
    assert await lines() == [(cid, "connected"), (consult, "connected")]
    resp = await server.get(f"/api/agents/agent1/calls/{cid}", headers=auth(server))
    assert (await resp.json())["call"]["data"]["conferenceWith"] == consult
