"""Three real nodes, one Redis, one PostgreSQL: one call state, every event once, in order."""

from __future__ import annotations

import asyncio
import json
import os
import signal
from typing import Any

import aiohttp
import asyncpg
import redis.asyncio as aioredis

from ctikit.testing import POSTGRES_ADMIN_DSN as PG_ADMIN

from .conftest import Cluster, Console

LIFE_OF_A_CALL = [
    "callBegin",
    "callUpdate",
    "ctiMessage",
    "callUpdate",
    "ctiMessage",
    "callEnd",
]


def _consecutive(console: Console) -> None:
    seqs = console.seqs()
    assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs


async def test_frames_on_two_nodes_see_one_state_once_in_order(cluster: Cluster) -> None:
    a, b, c = cluster.start("a"), cluster.start("b"), cluster.start("c")
    async with aiohttp.ClientSession() as s:
        on_a, on_b = Console(cluster, "agent1"), Console(cluster, "agent1")
        other = Console(cluster, "agent2")
        await on_a.connect(s, a)
        await on_b.connect(s, b)
        await other.connect(s, c)
        assert on_a.hellos[0]["epoch"] == on_b.hellos[0]["epoch"] == other.hellos[0]["epoch"]
        # Each node hears only the agents it serves: agent1's events reach a and b, not c.
        r = aioredis.from_url(cluster.redis_url)
        try:
            subs = dict(
                await r.pubsub_numsub(*(f"{cluster.prefix}fanout:agent{i}" for i in (1, 2, 3)))
            )
        finally:
            await r.aclose()
        assert list(subs.values()) == [2, 1, 0], subs
        # The IVR places the call through node c (which may not drive the connector).
        async with s.post(
            f"{c.url}/api/agents/agent1/simulate-call",
            json={"ani": "+14155550100", "dnis": "8005550199", "data": {"lang": "fr"}},
            headers=cluster.bearer("agent1"),
        ) as r:
            body = await r.json()
        assert body["success"], body
        call_id = body["callId"]
        began = await on_a.wait_for("callBegin", call__id=call_id)
        assert began["data"]["call"]["data"]["ANI"] == "+14155550100"
        # Data attached on node b, the answer sent from the frame on node a, hang-up from b.
        async with s.post(
            f"{b.url}/api/agents/agent1/calls/{call_id}/data",
            json={"account": "A-42"},
            headers=cluster.bearer("ivr"),
        ) as r:
            assert (await r.json())["success"]
        assert (await on_a.request("sendCTIMessage", message="/ANSWER"))["success"]
        await on_b.wait_for("callUpdate", call__lineState="connected")
        ids = await on_b.request("getCallObjectIds")
        assert ids["ids"] == [call_id]
        r = await on_a.request("getCallAttachedData", callId=call_id)
        data = json.loads(r["data"]) if isinstance(r["data"], str) else r["data"]
        assert data["account"] == "A-42" and data["lang"] == "fr"
        assert (await on_b.request("sendCTIMessage", message="/HANGUP"))["success"]
        await on_a.wait_for("callEnd", call__id=call_id)
        await on_b.wait_for("callEnd", call__id=call_id)
        saved = await on_b.request("saveCallLog", callId=call_id, subject="two nodes")
        assert saved["success"], saved
        await on_a.wait_for("callLogSaved", id=saved["logId"])
        await asyncio.sleep(0.3)  # anything late or repeated would show up now
        # Both frames of agent1 saw exactly the same events, each once, in order.
        assert on_a.events == on_b.events
        _consecutive(on_a)
        assert on_a.names() == [*LIFE_OF_A_CALL, "callLogSaved"]
        assert other.events == []  # nothing of agent1 reached agent2's console
        # The call log is in PostgreSQL once.
        async with s.get(f"{a.url}/api/call-logs?agent=agent1", headers=cluster.bearer("ivr")) as r:
            logs = (await r.json())["logs"]
        assert [entry["call_id"] for entry in logs] == [call_id]
        for console in (on_a, on_b, other):
            await console.close()


async def test_kill_9_a_node_mid_call_consoles_resume_and_the_lease_moves(cluster: Cluster) -> None:
    nodes = [cluster.start("a"), cluster.start("b"), cluster.start("c")]
    async with aiohttp.ClientSession() as s:
        leader = await cluster.leader(s)
        others = [n for n in nodes if n is not leader]
        on_leader, elsewhere = Console(cluster, "agent1"), Console(cluster, "agent1")
        await on_leader.connect(s, leader)
        await elsewhere.connect(s, others[0])
        r = await on_leader.request("simulateCall", ani="+442079460000")
        assert r["success"], r
        call_id = r["callId"]
        assert (await elsewhere.request("sendCTIMessage", message="/ANSWER"))["success"]
        await on_leader.wait_for("callUpdate", call__lineState="connected")
        # kill -9 the node that drives the connector, mid-call.
        os.kill(leader.pid, signal.SIGKILL)
        leader.kill()
        await on_leader._task  # type: ignore[misc]  # its socket drops
        # While it is down, the IVR attaches data through a live node: not lost.
        async with s.post(
            f"{others[1].url}/api/agents/agent1/calls/{call_id}/data",
            json={"during": "outage"},
            headers=cluster.bearer("ivr"),
        ) as r:
            assert (await r.json())["success"]
        # The lease moves to a live node within a few seconds.
        new_leader = await cluster.leader(s, within=8)
        assert new_leader is not leader
        # The console that lost its node reconnects elsewhere and replays what it missed.
        await on_leader.connect(s, others[1], resume=True)
        assert on_leader.hellos[-1]["resumed"] == "replay"
        await on_leader.wait_for("callUpdate", call__data__during="outage")
        # The call survived the takeover: the new connector hangs it up.
        assert (await elsewhere.request("sendCTIMessage", message="/HANGUP"))["success"]
        await on_leader.wait_for("callEnd", call__id=call_id)
        await elsewhere.wait_for("callEnd", call__id=call_id)
        saved = await on_leader.request("saveCallLog", callId=call_id, subject="after failover")
        assert saved["success"], saved
        await elsewhere.wait_for("callLogSaved", id=saved["logId"])
        await asyncio.sleep(0.3)
        # No event lost or repeated on either console, across the failover.
        assert on_leader.events == elsewhere.events
        _consecutive(elsewhere)
        assert elsewhere.names().count("callEnd") == 1
        assert elsewhere.names().count("callBegin") == 1
        for console in (on_leader, elsewhere):
            await console.close()
    database = cluster.database.rsplit("/", 1)[1]
    conn = await asyncpg.connect(PG_ADMIN.rsplit("/", 1)[0] + f"/{database}")
    try:
        rows = await conn.fetch("SELECT call_id FROM call_logs WHERE agent_id = 'agent1'")
    finally:
        await conn.close()
    assert [row["call_id"] for row in rows] == [call_id]


async def test_a_request_on_any_node_reaches_the_connector(cluster: Cluster) -> None:
    nodes = [cluster.start("a"), cluster.start("b")]
    async with aiohttp.ClientSession() as s:
        leader = await cluster.leader(s)
        follower = next(n for n in nodes if n is not leader)
        console = Console(cluster, "agent2")
        await console.connect(s, follower)
        # A command refused by the connector comes back as the connector's error.
        r = await console.request("simulateCall")
        assert r["success"], r
        assert (await console.request("sendCTIMessage", message="/ANSWER"))["success"]
        r = await console.request("sendCTIMessage", message="/DIAL?NUMBER=1003")
        assert r["success"] or r["code"] == "command_rejected", r
        health = await cluster.health(s, follower)
        assert health["cluster"]["drivesConnector"] is False
        await console.close()


async def test_a_wave_of_consoles_connecting_at_once_all_get_their_hello(
    cluster: Cluster,
) -> None:
    """More simultaneous handshakes than a Redis pool's default size: they wait their
    turn for a connection instead of failing as "unreachable"."""
    node = cluster.start("a")
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=0)) as s:
        token = await cluster.login(s, node, "agent1")

        async def one() -> dict[str, Any]:
            ws = await s.ws_connect(f"{node.url}/ws?agent=agent1&token={token}")
            try:
                return dict(await ws.receive_json(timeout=20))
            finally:
                await ws.close()

        # Redis stalls for a second (as under load or while it saves): every handshake
        # waits on it at the same time.
        r = aioredis.from_url(cluster.redis_url)
        try:
            await r.execute_command("CLIENT", "PAUSE", "1000", "ALL")
            hellos = await asyncio.gather(*(one() for _ in range(300)))
        finally:
            await r.aclose()
    assert all(h["type"] == "hello" for h in hellos)
    assert len({h["epoch"] for h in hellos}) == 1


async def test_sigterm_stops_a_node_that_drives_the_connector(cluster: Cluster) -> None:
    a, b = cluster.start("a"), cluster.start("b")
    async with aiohttp.ClientSession() as s:
        leader = await cluster.leader(s)
        assert leader.terminate() == 0  # exits promptly (Node.terminate waits 15 s at most)
        other = b if leader is a else a
        assert await cluster.leader(s, within=8) is other
