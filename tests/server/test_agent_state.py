"""Agent state end to end: REST and the console socket, the simulator respecting it,
after-call work on the server's timer, the report rows, both state backends, a restart."""

from __future__ import annotations

import asyncio
import os
import signal
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.config import AgentStateConfig, Config
from ctikit.server.keys import SERVICE
from ctikit.storage import AgentStateLog
from ctikit.testing import CtikitProcess, run_ctikit

from .conftest import MODES, auth

both = pytest.mark.parametrize("mode", MODES, indirect=True)


@pytest.fixture
def config(config: Config) -> Config:
    return replace(config, agent_state=AgentStateConfig(acw_seconds=0.5))


async def _state(server: Any, agent: str = "agent1", who: str = "agent1") -> Any:
    r = await server.get(f"/api/agents/{agent}/state", headers=auth(server, who))
    return r.status, await r.json()


async def _put(server: Any, body: Any, agent: str = "agent1", who: str = "agent1") -> Any:
    r = await server.put(f"/api/agents/{agent}/state", json=body, headers=auth(server, who))
    return r.status, await r.json()


@both
async def test_rest_reads_and_sets_state_and_consoles_hear_it(server: Any, connect: Any) -> None:
    console = await connect("agent1")
    assert console.hello["agentState"]["status"] == "available"
    assert console.hello["awayReasons"] == ["Break", "Lunch", "Meeting", "Training"]
    status, body = await _state(server)
    assert status == 200
    assert body["status"] == "available" and body["since"] is None
    status, body = await _put(server, {"status": "away", "reason": "Lunch"})
    assert status == 200 and body["status"] == "away" and body["reason"] == "Lunch"
    ev = await console.wait_event("agentState", status="away")
    assert ev["data"]["reason"] == "Lunch" and ev["data"]["previous"] == "available"
    assert (await _state(server))[1]["status"] == "away"
    # The console sets it too, and a reconnecting console gets it in its snapshot.
    resp = await console.request("setAgentState", status="offline")
    assert resp["success"] and resp["agentState"]["status"] == "offline"
    again = await connect("agent1")
    assert again.hello["agentState"]["status"] == "offline"


@both
async def test_bad_states_and_foreign_agents_are_refused(server: Any, connect: Any) -> None:
    for body, message in [
        ({"status": "busy"}, "status must be one of available, away, offline"),
        ({"status": "away"}, "away needs a reason"),
        ({"status": "away", "reason": "Nap"}, "away needs a reason"),
        ({"status": "acw"}, "status must be one of"),
    ]:
        status, out = await _put(server, body)
        assert (status, out["success"], out["code"]) == (400, False, "bad_request")
        assert message in out["error"]
    # A supervisor reads its team's agent but changes nothing; another agent sees nothing.
    assert (await _state(server, who="sup-blue"))[0] == 200
    status, out = await _put(server, {"status": "offline"}, who="sup-blue")
    assert (status, out["code"]) == (403, "forbidden")
    assert (await _state(server, who="agent2"))[0] == 403
    watcher = await connect("agent1", who="sup-blue")
    assert (await watcher.request("setAgentState", status="offline"))["code"] == "forbidden"
    assert (await _state(server))[1]["status"] == "available"


@both
async def test_the_simulator_does_not_ring_an_unavailable_agent(server: Any, connect: Any) -> None:
    agent1 = await connect("agent1")
    agent2 = await connect("agent2")
    await _put(server, {"status": "away", "reason": "Break"})
    r = await server.post("/api/agents/agent1/simulate-call", headers=auth(server))
    body = await r.json()
    assert (r.status, body["code"]) == (409, "command_rejected")
    assert "agent1 is away" in body["error"]
    # An internal call to the away agent's extension is refused at its phone.
    dial = await agent2.request("sendCTIMessage", message="/DIAL?NUMBER=1001")
    assert dial["success"], dial
    await agent2.wait_event("callEnd")
    assert "callBegin" not in agent1.names()
    # Back to available: the same call rings.
    await _put(server, {"status": "available"})
    assert (await agent2.request("sendCTIMessage", message="/DIAL?NUMBER=1001"))["success"]
    await agent1.wait_event("callBegin")


@both
async def test_after_call_work_ends_in_available_and_every_change_is_recorded(
    server: Any, connect: Any
) -> None:
    console = await connect("agent1")
    placed = await console.request("simulateCall")
    assert placed["success"], placed
    assert (await console.request("sendCTIMessage", message="/ANSWER"))["success"]
    assert (await console.request("sendCTIMessage", message="/HANGUP"))["success"]
    acw = await console.wait_event("agentState", status="acw")
    assert acw["data"]["acwUntil"] == pytest.approx(acw["data"]["since"] + 0.5)
    # Not offered calls during after-call work; the timer makes the agent available.
    r = await server.post("/api/agents/agent1/simulate-call", headers=auth(server))
    assert r.status == 409
    done = await console.wait_event("agentState", status="available", within=5)
    assert done["data"]["previous"] == "acw"
    await _put(server, {"status": "away", "reason": "Meeting"})
    keeper = server.app[SERVICE].agent_states
    await keeper.wait_written()
    rows = await AgentStateLog(server.app[SERVICE].store).history("agent1")
    assert [(r.status, r.reason, r.previous) for r in rows] == [
        ("acw", None, "available"),
        ("available", None, "acw"),
        ("away", "Meeting", "available"),
    ]
    # The same for reports over REST: the agent, its supervisor, a service with logs:read.
    for who in ("agent1", "sup-blue", "crm"):
        r = await server.get("/api/agents/agent1/state/history", headers=auth(server, who))
        body = await r.json()
        assert r.status == 200, body
        assert [c["status"] for c in body["changes"]] == ["acw", "available", "away"]
    since = rows[-1].started_at.isoformat()
    r = await server.get(
        "/api/agents/agent1/state/history",
        params={"since": since, "limit": "5"},
        headers=auth(server),
    )
    assert [c["reason"] for c in (await r.json())["changes"]] == ["Meeting"]
    r = await server.get("/api/agents/agent1/state/history", headers=auth(server, "agent2"))
    assert r.status == 403
    r = await server.get(
        "/api/agents/agent1/state/history", params={"since": "yesterday"}, headers=auth(server)
    )
    assert (r.status, (await r.json())["code"]) == (400, "bad_request")


PASSWORD = "agent-state-password"


async def test_state_survives_a_restart(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ctikit.db'}"
    run_ctikit(
        "user", "add", "back1", "--password-stdin", "--database", database, stdin=PASSWORD + "\n"
    )

    def start() -> CtikitProcess:
        return CtikitProcess(
            ["serve", "--port", "0", "--database", database], tmp_path / "server.log"
        )

    async def login(s: aiohttp.ClientSession, url: str) -> dict[str, str]:
        async with s.post(
            f"{url}/api/login", json={"username": "back1", "password": PASSWORD}
        ) as r:
            return {"Authorization": f"Bearer {(await r.json())['token']}"}

    proc = start()
    try:
        async with aiohttp.ClientSession() as s:
            headers = await login(s, proc.url)
            async with s.put(
                f"{proc.url}/api/agents/back1/state",
                json={"status": "away", "reason": "Training"},
                headers=headers,
            ) as r:
                assert r.status == 200, await r.text()
            await asyncio.sleep(0.6)  # saved (state is flushed every 0.2 s)
        os.kill(proc.pid, signal.SIGKILL)
        proc.stop()
        proc = start()
        async with aiohttp.ClientSession() as s:
            headers = await login(s, proc.url)
            async with s.get(f"{proc.url}/api/agents/back1/state", headers=headers) as r:
                body = await r.json()
            assert (body["status"], body["reason"]) == ("away", "Training")
    finally:
        proc.stop()
