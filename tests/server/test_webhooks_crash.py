"""A real ctikit process killed with SIGKILL while a webhook is on the wire: after a restart
the event goes again with the same id (at least once), on SQLite and on PostgreSQL."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.testing import CtikitProcess, free_port

from .webhook_receiver import Receiver


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ctikit.db'}"
    return str(request.getfixturevalue("pg_database"))


def _start(tmp_path: Path, database: str, port: int) -> CtikitProcess:
    config = tmp_path / "ctikit.toml"
    # demo: no logins to set up (every request acts as the agent it names, or as a service
    # with every scope); a short receiver timeout so a claim runs out soon after the kill.
    config.write_text(
        f'[server]\ndatabase = "{database}"\ndemo = true\nwebhook_timeout = 2.0\n'
        'webhook_retry_seconds = 0.2\n\n[[agents]]\nid = "agent1"\nextension = "1001"\n'
    )
    args = ["serve", "--config", str(config), "--port", str(port)]
    return CtikitProcess(args, tmp_path / "ctikit.log")


async def _console_op(s: aiohttp.ClientSession, url: str, op: str, **fields: Any) -> None:
    async with s.ws_connect(f"{url.replace('http', 'ws', 1)}/ws?agent=agent1") as ws:
        hello = await ws.receive_json(timeout=10)
        assert hello["type"] == "hello"
        await ws.send_json({"id": 1, "op": op, **fields})
        while True:
            frame = await ws.receive_json(timeout=10)
            if frame["type"] == "response":
                assert frame["success"], frame
                return


async def test_kill_9_mid_delivery_delivers_again_with_the_same_id(
    tmp_path: Path, database: str
) -> None:
    receiver = await Receiver(free_port()).start()
    receiver.hold = asyncio.Event()  # the first delivery hangs until the process is gone
    port = free_port()
    node = _start(tmp_path, database, port)
    try:
        async with aiohttp.ClientSession() as s:
            body = {"url": receiver.url, "events": ["call.begin", "call.end"]}
            async with s.post(f"{node.url}/api/webhooks", json=body) as r:
                answer = await r.json()
                assert r.status == 201, answer
                receiver.secret = answer["secret"]
            await _console_op(s, node.url, "fireOnCallBegin", callId="k1", callType="inbound")
            (first,) = await receiver.wait_for(1)
            node.stop(kill=True)  # SIGKILL while the receiver holds the request
            receiver.hold.set()
            receiver.hold = None
            node = _start(tmp_path, database, port)
            again = await receiver.wait_for(2, within=30, id=first.id)
            assert again[1].attempt == 2 and again[1].signed
            assert json.loads(json.dumps(again[1].body)) == first.body  # the same event
            # ... and the node goes on delivering what comes next.
            await _console_op(s, node.url, "fireOnCallBegin", callId="k2", callType="inbound")
            await _console_op(s, node.url, "fireOnCallEnd", callId="k2", duration=2)
            (end,) = await receiver.wait_for(1, event="call.end")
            assert end.body["data"]["call"]["id"] == "k2" and end.signed
    finally:
        node.stop()
        await receiver.stop()
