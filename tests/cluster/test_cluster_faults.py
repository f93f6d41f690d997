"""Redis restarts and hostile data in Redis: nodes recover, nothing acknowledged is lost."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from .conftest import Cluster, Console


async def _calls(s: aiohttp.ClientSession, cluster: Cluster, url: str, agent: str) -> Any:
    async with s.get(f"{url}/api/agents/{agent}/calls", headers=cluster.bearer(agent)) as r:
        return await r.json()


async def _eventually(check: Any, within: float = 10.0) -> Any:
    deadline = asyncio.get_running_loop().time() + within
    while True:
        try:
            result = await check()
            if result:
                return result
        except (aiohttp.ClientError, AssertionError, KeyError):
            if asyncio.get_running_loop().time() > deadline:
                raise
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.2)


async def test_redis_restart_loses_nothing_acknowledged(
    tmp_path: Path, pg_database: str, private_redis: Any
) -> None:
    # A Redis of its own, with the documented persistence: appendonly + appendfsync always.
    redis = private_redis
    cluster = Cluster(tmp_path, redis.url, pg_database)
    cluster.add_users()
    try:
        a, b = cluster.start("a"), cluster.start("b")
        async with aiohttp.ClientSession() as s:
            console = Console(cluster, "agent1")
            await console.connect(s, b)
            r = await console.request("simulateCall", ani="+33142685300", data={"case": "C-1"})
            assert r["success"], r
            call_id = r["callId"]
            async with s.post(
                f"{a.url}/api/agents/agent1/calls/{call_id}/data",
                json={"acknowledged": "yes"},
                headers=cluster.bearer("ivr"),
            ) as resp:
                assert (await resp.json())["success"]  # acknowledged: must survive
            await console.wait_for("callUpdate", call__data__acknowledged="yes")
            seq_before = console.seq
            # kill -9: only what was fsynced survives, and everything acknowledged was.
            redis.stop(kill=True)
            async with s.get(f"{a.url}/api/health") as resp:
                assert (await resp.json())["success"]  # the node is alive without Redis
            # Requests fail cleanly while Redis is away (no hang, no crash).
            r = await console.request("getCallObjectIds")
            assert r["success"] is False and r["code"] == "unavailable", r
            async with s.get(
                f"{a.url}/api/agents/agent1/calls", headers=cluster.bearer("ivr")
            ) as resp:
                assert resp.status == 503 and resp.headers["Retry-After"] == "1"
                assert (await resp.json())["code"] == "unavailable"
            redis.start()
            # Nodes reconnect by themselves; the state is all there, on both nodes.
            for node in (a, b):
                body = await _eventually(
                    lambda n=node: _calls(s, cluster, n.url, "agent1"), within=15
                )
                (call,) = body["calls"]
                assert call["id"] == call_id
                assert call["data"]["acknowledged"] == "yes" and call["data"]["case"] == "C-1"

            # Live events flow again, to the console that stayed connected, in order.
            async def answered() -> bool:
                r = await console.request("sendCTIMessage", message="/ANSWER")
                return bool(r["success"])

            await _eventually(answered, within=15)
            await console.wait_for("callUpdate", within=15, call__lineState="connected")
            seqs = [e["seq"] for e in console.events]
            assert seqs == list(range(seqs[0], seqs[0] + len(seqs))), seqs
            assert console.seq > seq_before
            # The epoch did not change: the numbering went on, no console had to resync.
            async with s.get(f"{b.url}/api/health") as resp:
                health = await resp.json()
            assert health["cluster"]["epoch"] == console.hellos[0]["epoch"]
            await console.close()
    finally:
        cluster.stop_all()
        redis.stop()


async def test_hostile_data_in_redis_does_not_crash_a_node(cluster: Cluster) -> None:
    a, b = cluster.start("a"), cluster.start("b")
    r = aioredis.from_url(cluster.redis_url)
    p = cluster.prefix
    try:
        async with aiohttp.ClientSession() as s:
            good = Console(cluster, "agent3")
            await good.connect(s, a)
            for agent in ("agent1", "agent2"):
                await cluster.login(s, a, agent)
            # Garbage of every kind where ctikit keeps its state.
            await r.set(f"{p}agent:agent1", "not a hash")  # wrong type
            await r.hset(f"{p}agent:agent2", mapping={"ver": "x", "seq": "1", "state": "{oops"})
            await r.sadd(f"{p}agents", "agent1", "agent2", "../../etc", "\x00bad")
            await r.set(f"{p}events:agent3", "not a stream")
            await r.publish(f"{p}fanout:agent3", b"garbage without newlines")
            await r.publish(f"{p}fanout:agent3", b"agent3\nnot-a-number\n{}")
            await r.publish(f"{p}fanout:agent3", b"\xff\xfe\n1\n\xff")
            await r.publish(f"{p}fanout:agent3", b"agent3\n999999\n{}")  # a gap: refilled
            await r.rpush(f"{p}connector:requests", b"{not json", b'{"kind":"execute"}')
            await r.rpush(
                f"{p}connector:requests",
                json.dumps(
                    {
                        "kind": "execute",
                        "payload": {"agent": "agent1", "action": "EXPLODE"},
                        "reply": f"{p}connector:reply:x",
                        "deadline": 4e9,
                    }
                ),
            )
            await asyncio.sleep(0.5)
            for node in (a, b):
                async with s.get(f"{node.url}/api/health") as resp:
                    assert (await resp.json())["success"], node.name
            # The damaged agents get a clear error in the API's shape...
            for agent in ("agent1", "agent2"):
                body = await _calls(s, cluster, b.url, agent)
                assert body["success"] is False and body["code"] == "corrupt_state", body
            # ...and a refused malformed request was answered, not run.
            reply = await r.blpop([f"{p}connector:reply:x"], timeout=5)
            assert reply is not None and json.loads(reply[1])["ok"] is False
            # Everyone else works: agent3's calls, through either node.
            resp = await good.request("simulateCall")
            assert resp["success"], resp
            await good.wait_for("callBegin", call__id=resp["callId"])
            async with s.get(f"{b.url}/api/agents", headers=cluster.bearer("ivr")) as resp2:
                listing = await resp2.json()
            assert listing["success"], listing
            assert "agent3" in {x["id"] for x in listing["agents"]}
            await good.close()
            # A lease key without expiry (not written by a node) does not block takeovers.
            leader = await cluster.leader(s)
            await r.delete(f"{p}lease:connector")
            await r.set(f"{p}lease:connector", "squatter")
            leader.kill()
            await cluster.leader(s, within=8)
    finally:
        await r.aclose()


async def test_redis_losing_its_data_starts_a_new_epoch(cluster: Cluster) -> None:
    a = cluster.start("a")
    r = aioredis.from_url(cluster.redis_url)
    try:
        async with aiohttp.ClientSession() as s:
            console = Console(cluster, "agent1")
            await console.connect(s, a)
            resp = await console.request("simulateCall")
            assert resp["success"], resp
            old_epoch = console.hellos[0]["epoch"]
            # Redis comes back empty (no persistence): every ctikit key is gone.
            keys = [k async for k in r.scan_iter(match=f"{cluster.prefix}*")]
            await r.delete(*keys)
            # The next change notices: consoles are told to resync (1012) and the numbering
            # starts a new epoch, so no console trusts a cursor from the old one.
            assert console.ws is not None
            await console.ws.send_str(
                json.dumps({"id": 99, "op": "fireOnCallLogSaved", "logId": "x"})
            )
            await asyncio.wait_for(console._task, 10)  # type: ignore[arg-type]
            assert console.ws is not None and console.ws.close_code == 1012
            await console.connect(s, a, resume=True)
            hello = console.hellos[-1]
            assert hello["epoch"] != old_epoch and hello["resumed"] == "snapshot"
            assert hello["calls"] == []

            # The connector was restarted to match: a new call works and is alone.
            async def placed() -> bool:
                out = await console.request("simulateCall")
                return bool(out["success"])

            await _eventually(placed, within=10)
            body = await _eventually(lambda: _calls(s, cluster, a.url, "agent1"))
            assert len(body["calls"]) == 1
            await console.close()
    finally:
        await r.aclose()
