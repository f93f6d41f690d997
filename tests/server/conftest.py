"""Server tests: the real aiohttp app on a real socket, the simulator, a SQLite file."""

from __future__ import annotations

import asyncio
import itertools
import json
import secrets
from collections.abc import AsyncIterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.config import AgentConfig, Config
from ctikit.connectors.sim import Directory, SimTimings, SimulatorConnector
from ctikit.server.app import build_app, single_node_service
from ctikit.server.auth import hash_password
from ctikit.server.keys import SERVICE
from ctikit.storage import AccountStore

PASSWORD = "correct horse battery"
_HASH = hash_password(PASSWORD)  # once per run: argon2 is slow on purpose
#: username -> (role, agent, team)
USERS = {
    "agent1": ("agent", "agent1", "blue"),
    "agent2": ("agent", "agent2", "red"),
    "sup-blue": ("supervisor", None, "blue"),
}
SERVICES = {
    "ivr": frozenset({"calls:attach"}),
    "crm": frozenset({"logs:read"}),
    "dialer": frozenset({"calls:control"}),
}


class WsClient:
    """A console as the server sees it: requests with ids, events collected in order."""

    def __init__(self, ws: aiohttp.ClientWebSocketResponse) -> None:
        self.ws = ws
        self.hello: dict[str, Any] = {}
        self.events: list[dict[str, Any]] = []
        self._responses: dict[Any, asyncio.Future[dict[str, Any]]] = {}
        self._ids = itertools.count(1)
        self._task: asyncio.Task[None] | None = None
        self._event_added = asyncio.Event()
        self.closed = asyncio.Event()
        #: ``{"type": "phone"}`` frames: commands for a browser phone (connector webrtc)
        self.phone: asyncio.Queue[dict[str, Any]] = asyncio.Queue()

    async def start(self) -> WsClient:
        first = await self.ws.receive_json(timeout=5)
        assert first["type"] == "hello", first
        self.hello = first
        self._task = asyncio.create_task(self._read())
        return self

    async def _read(self) -> None:
        async for msg in self.ws:
            if msg.type is not aiohttp.WSMsgType.TEXT:
                break
            frame = json.loads(msg.data)
            if frame["type"] == "event":
                self.events.append(frame)
                self._event_added.set()
            elif frame["type"] == "phone":
                self.phone.put_nowait(frame)
            elif frame["type"] == "response":
                fut = self._responses.pop(frame["id"], None)
                if fut is None:
                    fut = self._responses.setdefault(
                        frame["id"], asyncio.get_running_loop().create_future()
                    )
                if not fut.done():
                    fut.set_result(frame)
        self.closed.set()

    async def send_raw(self, text: str, expect_id: Any = None) -> dict[str, Any]:
        fut = asyncio.get_running_loop().create_future()
        self._responses[expect_id] = fut
        await self.ws.send_str(text)
        return await asyncio.wait_for(fut, 5)

    async def request(self, op: str, **fields: Any) -> dict[str, Any]:
        rid = next(self._ids)
        return await self.send_raw(json.dumps({"id": rid, "op": op, **fields}), rid)

    async def wait_event(self, name: str, within: float = 5, **match: Any) -> dict[str, Any]:
        async def find() -> dict[str, Any]:
            seen = 0
            while True:
                for ev in self.events[seen:]:
                    if ev["event"] == name and all(
                        ev["data"].get(k) == v for k, v in match.items()
                    ):
                        return ev
                seen = len(self.events)
                self._event_added.clear()
                await self._event_added.wait()

        return await asyncio.wait_for(find(), within)

    def names(self) -> list[str]:
        return [e["event"] for e in self.events]

    async def close(self) -> None:
        await self.ws.close()
        if self._task:
            await self._task


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        database=f"sqlite:///{tmp_path / 'ctikit.db'}",
        agents=(
            AgentConfig(id="agent1", extension="1001"),
            AgentConfig(id="agent2", extension="1002"),
        ),
    )


@pytest.fixture
def mode(request: pytest.FixtureRequest) -> str:
    """``single`` (the default) or ``cluster``: modules that are conformance tests of both
    modes parametrize it (``pytest.mark.parametrize("mode", MODES, indirect=True)``)."""
    return str(getattr(request, "param", "single"))


MODES = ["single", "cluster"]


@pytest.fixture
async def server(
    aiohttp_client: Any, config: Config, mode: str, request: pytest.FixtureRequest
) -> Any:
    def new_connector() -> SimulatorConnector:
        return SimulatorConnector(
            timings=SimTimings().scaled(0.02),
            directory=Directory({a.extension: a.id for a in config.agents if a.extension}),
        )

    make_service: Any = single_node_service
    if mode == "cluster":
        from ctikit.cluster import cluster_service

        redis = request.getfixturevalue("redis_server")
        config = replace(
            config,
            cluster=redis.url,
            cluster_prefix=f"t{secrets.token_hex(4)}:",
            cluster_lease_seconds=1.0,
        )

        def make_service(cfg: Config, conn: Any, store: Any, hub: Any) -> Any:
            return cluster_service(cfg, conn, store, hub, make=new_connector)

    app = await build_app(config, connector=new_connector(), make_service=make_service)
    client = await aiohttp_client(app)
    accounts = AccountStore(app[SERVICE].store)
    for name, (role, agent, team) in USERS.items():
        await accounts.add_user(name, role=role, password_hash=_HASH, agent_id=agent, team=team)
    client.tokens = {}
    for name in USERS:
        r = await client.post("/api/login", json={"username": name, "password": PASSWORD})
        assert r.status == 200, await r.text()
        client.tokens[name] = (await r.json())["token"]
    client.session.cookie_jar.clear()  # each test says who it is; no lingering session
    for name, scopes in SERVICES.items():
        _, secret = await accounts.create_token(name, scopes)
        client.tokens[name] = secret
    return client


def auth(server: Any, who: str = "agent1") -> dict[str, str]:
    """Headers that authenticate as ``who`` (a user or a service)."""
    return {"Authorization": f"Bearer {server.tokens[who]}"}


@pytest.fixture
async def connect(server: Any) -> AsyncIterator[Any]:
    clients: list[WsClient] = []

    async def open_console(agent: str, who: str | None = None, query: str = "") -> WsClient:
        token = server.tokens[who or agent]
        ws = await server.ws_connect(f"/ws?agent={agent}&token={token}{query}")
        client = await WsClient(ws).start()
        clients.append(client)
        return client

    yield open_console
    for c in clients:
        await c.close()
