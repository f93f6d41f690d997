"""The supervisor's live board over /ws/supervisor: the team only, pushed on every change,
the day's numbers, alerts that fire with time; agents are refused."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from ctikit.config import Config, SupervisorConfig

from .conftest import MODES


@pytest.fixture
def config(config: Config) -> Config:
    return replace(config, supervisor=SupervisorConfig(hold_alert_seconds=0.3))


class Board:
    def __init__(self, ws: Any) -> None:
        self.ws = ws
        self.last: dict[str, Any] = {}

    async def until(
        self, ok: Callable[[dict[str, Any]], bool], within: float = 5
    ) -> dict[str, Any]:
        async def wait() -> dict[str, Any]:
            while not (self.last and ok(self.last)):
                msg = await self.ws.receive()
                self.last = json.loads(msg.data)
                assert self.last["type"] == "board"
            return self.last

        return await asyncio.wait_for(wait(), within)


def agent_of(board: dict[str, Any], agent: str) -> dict[str, Any] | None:
    for team in board["teams"]:
        for a in team["agents"]:
            if a["id"] == agent:
                return dict(a)
    return None


@pytest.mark.parametrize("mode", MODES, indirect=True)
async def test_supervisor_sees_its_team_live_with_numbers_and_alerts(
    server: Any, connect: Any
) -> None:
    ws = await server.ws_connect(f"/ws/supervisor?token={server.tokens['sup-blue']}")
    board = Board(ws)
    first = await board.until(lambda b: agent_of(b, "agent1") is not None)
    assert [t["team"] for t in first["teams"]] == ["blue"]
    assert agent_of(first, "agent2") is None  # another team's agent
    assert agent_of(first, "agent1")["state"]["status"] == "available"  # type: ignore[index]
    console = await connect("agent1")
    # A state change is pushed at once (well within the second the tick would take).
    resp = await console.request("setAgentState", status="away", reason="Break")
    assert resp["success"]
    loop = asyncio.get_running_loop()
    t0 = loop.time()
    await board.until(lambda b: agent_of(b, "agent1")["state"]["status"] == "away")  # type: ignore[index]
    assert loop.time() - t0 < 1.0
    await console.request("setAgentState", status="available")
    # A call: ringing, answered, held too long (alert), offline with a call (alert).
    assert (await console.request("simulateCall"))["success"]
    await board.until(lambda b: b["stats"]["ringing"] == 1)
    assert (await console.request("sendCTIMessage", message="/ANSWER"))["success"]
    assert (await console.request("sendCTIMessage", message="/HOLD"))["success"]
    held = await board.until(lambda b: any(a["kind"] == "held_too_long" for a in b["alerts"]))
    (alert,) = held["alerts"]
    assert alert["agent"] == "agent1" and alert["callId"]
    await console.request("setAgentState", status="offline")
    kinds = await board.until(lambda b: len(b["alerts"]) == 2)
    assert {a["kind"] for a in kinds["alerts"]} == {"held_too_long", "offline_with_call"}
    assert (await console.request("sendCTIMessage", message="/HANGUP"))["success"]
    # The alerts clear with the board's next look at the call (under load a frame with the
    # new count may come first).
    done = await board.until(lambda b: b["stats"]["handledToday"] == 1 and not b["alerts"])
    assert done["stats"]["serviceLevel"] == 1.0
    assert done["stats"]["averageHandleSeconds"] is not None
    # Notes saved in wrap-up, after the call ended: the board says so (the page reads the
    # latest logs again).
    assert done["logsSaved"] == 0
    call_id = alert["callId"]
    assert (await console.request("saveCallLog", callId=call_id, comments="wrap-up"))["success"]
    await board.until(lambda b: b["logsSaved"] == 1)
    await ws.close()


async def test_agents_get_no_board_and_services_need_control(server: Any) -> None:
    r = await server.get(f"/ws/supervisor?token={server.tokens['agent1']}")
    assert r.status == 403
    r = await server.get(f"/ws/supervisor?token={server.tokens['crm']}")
    assert r.status == 403
    r = await server.get("/ws/supervisor")
    assert r.status == 401
    ws = await server.ws_connect(f"/ws/supervisor?token={server.tokens['dialer']}")
    board = await Board(ws).until(lambda b: True)
    ids = {a["id"] for t in board["teams"] for a in t["agents"]}
    assert {"agent1", "agent2"} <= ids
    await ws.close()
