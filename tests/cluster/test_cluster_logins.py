"""Logins on a cluster node use Redis connections of their own (issue 13, F1 over two nodes).

The login limits are a Lua step in Redis per attempt. With one pool for both, a flood of
logins took every idle connection and a console's read waited for a new one: a connection's
handshake is several turns of a busy event loop (REST p99 35 to 89 ms in the attack suite).
Here Redis holds the logins' writes (``CLIENT PAUSE ... WRITE``) so they keep their
connections, and a read must get through on the connection it already had.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from .conftest import Cluster


async def _clients(r: aioredis.Redis) -> int:
    return len(await r.client_list())


async def test_a_login_flood_does_not_take_the_connections_reads_use(
    tmp_path: Path, private_redis: Any
) -> None:
    c = Cluster(tmp_path, private_redis.url, f"sqlite:///{tmp_path / 'cluster.db'}")
    c.add_users()
    node = c.start("a")
    r = aioredis.from_url(private_redis.url)
    try:
        async with aiohttp.ClientSession() as s:
            await c.login(s, node, "agent1")  # the limiter's connection is open from here
            calls = f"{node.url}/api/agents/agent1/calls"
            async with s.get(calls, headers=c.bearer("agent1")) as resp:
                assert resp.status == 200  # the state's connection is open from here

            await r.execute_command("CLIENT", "PAUSE", "5000", "WRITE")
            guesses = [
                asyncio.create_task(
                    s.post(
                        f"{node.url}/api/login", json={"username": "agent2", "password": f"x{i}"}
                    )
                )
                for i in range(20)
            ]
            await asyncio.sleep(0.5)  # the logins are in Redis, held with their connections
            before = await _clients(r)
            async with s.get(
                calls, headers=c.bearer("agent1"), timeout=aiohttp.ClientTimeout(3)
            ) as resp:
                assert resp.status == 200
            assert await _clients(r) == before, "the read needed a new connection to Redis"
            await r.execute_command("CLIENT", "UNPAUSE")
            answered = await asyncio.gather(*guesses)
            assert {resp.status for resp in answered} <= {401, 429}
            for resp in answered:
                resp.close()
    finally:
        await r.aclose()
        c.stop_all()
