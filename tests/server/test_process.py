"""The real `ctikit serve` process: acknowledged call logs survive kill -9; SIGTERM is graceful."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import uuid
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.testing import CtikitProcess, run_ctikit

PASSWORD = "process-test-password"


def start_server(database: str, log: Path) -> CtikitProcess:
    return CtikitProcess(["serve", "--port", "0", "--database", database], log)


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'ctikit.db'}"
    return str(request.getfixturevalue("pg_database"))


async def _login(session: aiohttp.ClientSession, url: str, user: str) -> str:
    async with session.post(f"{url}/api/login", json={"username": user, "password": PASSWORD}) as r:
        body = await r.json()
        assert body["success"], body
        return str(body["token"])


async def test_acknowledged_call_log_survives_kill_9(database: str, tmp_path: Path) -> None:
    agent = f"k9-{uuid.uuid4().hex[:8]}"
    run_ctikit(
        "user", "add", agent, "--password-stdin", "--database", database, stdin=PASSWORD + "\n"
    )
    proc = start_server(database, tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as s:
            token = await _login(s, proc.url, agent)
            ws = await s.ws_connect(f"{proc.url}/ws?agent={agent}&token={token}")
            assert (await ws.receive_json())["type"] == "hello"
            for i, (op, fields) in enumerate(
                [
                    ("fireOnCallBegin", {"callId": "k1", "callType": "inbound"}),
                    ("fireOnCallEnd", {"callId": "k1", "duration": 9}),
                    ("saveCallLog", {"callId": "k1", "subject": "must survive"}),
                ]
            ):
                await ws.send_str(json.dumps({"id": i, "op": op, **fields}))
            log_id = None
            while log_id is None:
                frame = await ws.receive_json(timeout=10)
                if frame.get("event") == "callLogSaved":
                    log_id = frame["data"]["id"]
            # Acknowledged: now the process dies without any chance to flush.
            os.kill(proc.pid, signal.SIGKILL)
            proc.stop()
            await ws.close()
        proc = start_server(database, tmp_path / "server.log")
        async with aiohttp.ClientSession() as s:
            token = await _login(s, proc.url, agent)
            async with s.get(
                f"{proc.url}/api/call-logs/{log_id}", headers={"Authorization": f"Bearer {token}"}
            ) as r:
                body = await r.json()
        assert body["success"] and body["log"]["subject"] == "must survive"
        assert body["log"]["agent_id"] == agent and body["log"]["duration_seconds"] == 9
    finally:
        proc.stop()


async def test_sigterm_closes_consoles_with_1001_and_exits(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ctikit.db'}"
    run_ctikit(
        "user", "add", "term1", "--password-stdin", "--database", database, stdin=PASSWORD + "\n"
    )
    proc = start_server(database, tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as s:
            token = await _login(s, proc.url, "term1")
            ws = await s.ws_connect(f"{proc.url}/ws?agent=term1&token={token}")
            assert (await ws.receive_json())["type"] == "hello"
            proc.send_signal(signal.SIGTERM)
            msg: Any = await ws.receive(timeout=10)
            assert msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED)
            assert ws.close_code == 1001
        assert await asyncio.to_thread(proc.proc.wait, 10) == 0
    finally:
        proc.stop()


async def _ws_request(
    ws: Any, rid: int, op: str, events: list[dict[str, Any]] | None = None, **fields: Any
) -> dict[str, Any]:
    """Send a request; its response. Events that come first go to ``events``."""
    await ws.send_str(json.dumps({"id": rid, "op": op, **fields}))
    while True:
        frame = await ws.receive_json(timeout=10)
        if frame.get("type") == "response" and frame.get("id") == rid:
            return dict(frame)
        if events is not None and frame.get("type") == "event":
            events.append(frame)


async def test_active_calls_come_back_after_a_restart(tmp_path: Path) -> None:
    database = f"sqlite:///{tmp_path / 'ctikit.db'}"
    run_ctikit(
        "user", "add", "back1", "--password-stdin", "--database", database, stdin=PASSWORD + "\n"
    )
    proc = start_server(database, tmp_path / "server.log")
    try:
        async with aiohttp.ClientSession() as s:
            token = await _login(s, proc.url, "back1")
            ws = await s.ws_connect(f"{proc.url}/ws?agent=back1&token={token}")
            await ws.receive_json()
            placed = await _ws_request(
                ws, 1, "simulateCall", ani="+14155550177", data={"account": "ACME-9"}
            )
            call_id = placed["callId"]
            await _ws_request(ws, 2, "fireOnCallBegin", callId="soft-1", callType="outbound")
            # The reply comes once the call is connected.
            assert (await _ws_request(ws, 3, "sendCTIMessage", message="/ANSWER"))["success"]
            calls = (await _ws_request(ws, 4, "getState"))["calls"]
            assert calls[0]["lineState"] == "connected"
            await asyncio.sleep(0.6)  # saved (state is flushed every 0.2 s)
            os.kill(proc.pid, signal.SIGKILL)
            proc.stop()
            await ws.close()
        proc = start_server(database, tmp_path / "server.log")
        async with aiohttp.ClientSession() as s:
            token = await _login(s, proc.url, "back1")
            ws = await s.ws_connect(f"{proc.url}/ws?agent=back1&token={token}")
            hello = await ws.receive_json()
            calls = {c["id"]: c for c in hello["calls"]}
            assert list(calls) == [call_id, "soft-1"]  # arrival order kept
            assert calls[call_id]["lineState"] == "connected"
            assert calls[call_id]["data"]["account"] == "ACME-9"
            assert calls["soft-1"]["lineState"] is None
            # The restored call is really back on a (simulated) line: it can be hung up,
            # and the reply comes once it ended.
            events: list[dict[str, Any]] = []
            hangup = await _ws_request(ws, 1, "sendCTIMessage", events, message="/HANGUP")
            assert hangup["success"], hangup
            ended = [e["data"]["id"] for e in events if e["event"] == "callEnd"]
            assert ended == [call_id]
            await ws.close()
    finally:
        proc.stop()
