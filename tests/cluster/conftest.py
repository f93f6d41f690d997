"""Real `ctikit serve --cluster` processes sharing a real Redis and a real PostgreSQL."""

from __future__ import annotations

import asyncio
import json
import secrets
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.testing import CtikitProcess

PASSWORD = "cluster-test-password"
AGENTS = {"agent1": "1001", "agent2": "1002", "agent3": "1003"}


class Node(CtikitProcess):
    """One `ctikit serve --cluster` process."""

    def __init__(self, name: str, config: Path, redis_url: str, log: Path) -> None:
        self.name = name
        args = ["serve", "--config", str(config), "--port", "0"]
        super().__init__([*args, "--cluster", redis_url, "--node-id", name], log)

    def kill(self) -> None:
        self.stop(kill=True)

    def terminate(self) -> int:
        return self.stop()


class Cluster:
    """Nodes, users and helpers for one test."""

    def __init__(self, root: Path, redis_url: str, database: str) -> None:
        self.root = root
        self.redis_url = redis_url
        self.database = database
        self.prefix = f"c{secrets.token_hex(4)}:"
        self.config = root / "cluster.toml"
        agents = "\n".join(
            f'[[agents]]\nid = "{a}"\nextension = "{ext}"\n' for a, ext in AGENTS.items()
        )
        self.config.write_text(
            f'[server]\ndatabase = "{database}"\ncluster_prefix = "{self.prefix}"\n'
            f"cluster_lease_seconds = 1.5\n\n{agents}"
        )
        self.nodes: list[Node] = []
        self.tokens: dict[str, str] = {}

    def add_users(self) -> None:
        for agent in AGENTS:
            out = subprocess.run(
                [
                    sys.executable,
                    "-m",
                    "ctikit",
                    "user",
                    "add",
                    agent,
                    "--password-stdin",
                    "--database",
                    self.database,
                ],
                input=PASSWORD + "\n",
                text=True,
                capture_output=True,
                timeout=60,
            )
            assert out.returncode == 0, out.stderr
        out = subprocess.run(
            [
                sys.executable,
                "-m",
                "ctikit",
                "token",
                "create",
                "ivr",
                "--scope",
                "calls:attach",
                "--scope",
                "logs:read",
                "--database",
                self.database,
            ],
            text=True,
            capture_output=True,
            timeout=60,
        )
        assert out.returncode == 0, out.stderr
        self.tokens["ivr"] = out.stdout.strip().splitlines()[-1].split()[-1]

    def start(self, name: str) -> Node:
        node = Node(name, self.config, self.redis_url, self.root / f"{name}.log")
        self.nodes.append(node)
        return node

    def stop_all(self) -> None:
        for node in self.nodes:
            node.kill()

    async def login(self, s: aiohttp.ClientSession, node: Node, agent: str) -> str:
        if agent not in self.tokens:
            async with s.post(
                f"{node.url}/api/login", json={"username": agent, "password": PASSWORD}
            ) as r:
                body = await r.json()
                assert body["success"], body
                self.tokens[agent] = body["token"]
        return self.tokens[agent]

    def bearer(self, who: str) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.tokens[who]}"}

    async def health(self, s: aiohttp.ClientSession, node: Node) -> dict[str, Any]:
        async with s.get(f"{node.url}/api/health") as r:
            return dict(await r.json())

    async def leader(self, s: aiohttp.ClientSession, within: float = 10.0) -> Node:
        """The live node that drives the connector (waits for a takeover)."""
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for node in self.nodes:
                if node.poll() is None:
                    try:
                        h = await self.health(s, node)
                    except aiohttp.ClientError:
                        continue
                    if h["cluster"]["drivesConnector"]:
                        return node
            if asyncio.get_running_loop().time() > deadline:
                raise AssertionError("no node drives the connector")
            await asyncio.sleep(0.1)


class Console:
    """A console socket: events in order, requests with ids, reconnect with since/epoch."""

    def __init__(self, cluster: Cluster, agent: str) -> None:
        self.cluster = cluster
        self.agent = agent
        self.events: list[dict[str, Any]] = []
        self.hellos: list[dict[str, Any]] = []
        self.ws: aiohttp.ClientWebSocketResponse | None = None
        self._task: asyncio.Task[None] | None = None
        self._ids = 0
        self._responses: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self.changed = asyncio.Event()

    @property
    def seq(self) -> int:
        return self.events[-1]["seq"] if self.events else self.hellos[-1].get("seq", 0)

    async def connect(self, s: aiohttp.ClientSession, node: Node, *, resume: bool = False) -> None:
        token = await self.cluster.login(s, node, self.agent)
        query = f"agent={self.agent}&token={token}"
        if resume:
            query += f"&since={self.seq}&epoch={self.hellos[-1]['epoch']}"
        self.ws = await s.ws_connect(f"{node.url}/ws?{query}")
        hello = await self.ws.receive_json(timeout=10)
        assert hello["type"] == "hello", hello
        self.hellos.append(hello)
        self._task = asyncio.create_task(self._read(self.ws))

    async def _read(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        async for msg in ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["type"] == "event":
                self.events.append(frame)
                self.changed.set()
            elif frame["type"] == "response":
                fut = self._responses.pop(frame["id"], None)
                if fut is not None and not fut.done():
                    fut.set_result(frame)

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        assert self.ws is not None
        self._ids += 1
        fut = asyncio.get_running_loop().create_future()
        self._responses[self._ids] = fut
        await self.ws.send_str(json.dumps({"id": self._ids, "op": op, **fields}))
        return await asyncio.wait_for(fut, 15)

    async def wait_for(self, name: str, within: float = 10.0, **data: Any) -> dict[str, Any]:
        deadline = asyncio.get_running_loop().time() + within
        while True:
            for ev in self.events:
                if ev["event"] == name and all(_get(ev["data"], k) == v for k, v in data.items()):
                    return ev
            left = deadline - asyncio.get_running_loop().time()
            if left <= 0:
                raise AssertionError(f"{self.agent}: no {name} {data} in {self.names()}")
            self.changed.clear()
            try:
                await asyncio.wait_for(self.changed.wait(), left)
            except TimeoutError:
                pass

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    def seqs(self) -> list[int]:
        return [e["seq"] for e in self.events]

    async def close(self) -> None:
        if self.ws is not None:
            await self.ws.close()
        if self._task is not None:
            await self._task


def _get(data: dict[str, Any], dotted: str) -> Any:
    for part in dotted.split("__"):
        data = data.get(part) if isinstance(data, dict) else None  # type: ignore[assignment]
    return data


@pytest.fixture
def cluster(tmp_path: Path, redis_server: Any, pg_database: str) -> Iterator[Cluster]:
    c = Cluster(tmp_path, redis_server.url, pg_database)
    c.add_users()
    try:
        yield c
    finally:
        c.stop_all()
