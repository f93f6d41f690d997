"""A console that stops reading is closed with 1013 once its send queue is full, and the
metrics count it (a real socket whose client does not read: TCP pushes back)."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from ctikit.config import AgentConfig, Config
from ctikit.server.keys import SERVICE
from ctikit.server.measures import PROCESS


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        database=f"sqlite:///{tmp_path / 'ctikit.db'}",
        agents=(AgentConfig(id="agent1", extension="1001"),),
        send_queue_frames=4,
    )


def closes() -> float:
    return PROCESS.get_sample_value("ctikit_slow_consumer_closes_total") or 0.0


async def test_a_console_that_does_not_read_is_closed_and_counted(server: Any) -> None:
    before = closes()
    token = server.tokens["agent1"]
    stuck = await server.ws_connect(f"/ws?agent=agent1&token={token}")
    svc = server.app[SERVICE]
    await svc.fire_call_begin("agent1", "s1", "inbound", None)
    # ~60 KB callUpdate frames until the kernel's buffers and the queue of 4 are full.
    for i in range(2000):
        await svc.attach_data("agent1", "s1", {"blob": f"{i}:" + "x" * 60_000})
        if closes() > before:
            break
        await asyncio.sleep(0)
    assert closes() == before + 1

    # The client, reading at last, finds the close code after what was sent.
    async def closing() -> int | None:
        async for msg in stuck:
            if msg.type in (aiohttp.WSMsgType.CLOSE, aiohttp.WSMsgType.CLOSED):
                break
        return stuck.close_code

    assert await asyncio.wait_for(closing(), 30) == 1013
