"""Outbox: frames written straight to the transport are valid WebSocket frames, in order,
whatever their size, and a socket that cannot keep up falls back to the queued path."""

from __future__ import annotations

import asyncio
from typing import Any

import aiohttp
from aiohttp import web

from ctikit.server.hub import Outbox

SIZES = [0, 1, 125, 126, 127, 65535, 65536, 200_000]


async def _serve(aiohttp_client: Any, script: Any, compress: bool = False) -> Any:
    async def handler(request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(compress=compress)
        await ws.prepare(request)
        box = Outbox(ws, "a1", limit=10_000, transport=request.transport)
        await script(box)
        async for _ in ws:
            pass
        await box.aclose()
        return ws

    app = web.Application()
    app.router.add_get("/ws", handler)
    return await aiohttp_client(app)


async def test_direct_frames_of_every_header_size(aiohttp_client: Any) -> None:
    async def script(box: Outbox) -> None:
        for n in SIZES:
            assert box._transport is not None  # the direct path, not the queue
            box.send(("é" * (n // 2) + "x" * (n % 2)).encode())

    client = await _serve(aiohttp_client, script)
    ws = await client.ws_connect("/ws", max_msg_size=0)
    for n in SIZES:
        msg = await ws.receive(timeout=5)
        assert msg.type is aiohttp.WSMsgType.TEXT and len(msg.data.encode()) == n
    await ws.close()


async def test_a_full_buffer_sends_the_rest_through_the_queue_in_order(
    aiohttp_client: Any,
) -> None:
    count = 3000
    done = asyncio.Event()

    async def script(box: Outbox) -> None:
        for i in range(count):  # 3000 x 8 KiB: far more than the socket buffers take
            box.send(f'{{"i":{i},"pad":"{"p" * 8192}"}}'.encode())
        assert box._frames  # some had to wait
        done.set()

    client = await _serve(aiohttp_client, script)
    ws = await client.ws_connect("/ws")
    await done.wait()
    got = [(await ws.receive_json(timeout=10))["i"] for _ in range(count)]
    assert got == list(range(count))
    await ws.close()


async def test_compressed_sockets_never_take_the_direct_path(aiohttp_client: Any) -> None:
    seen: list[Any] = []

    async def script(box: Outbox) -> None:
        seen.append(box._transport)
        box.send(b'{"hello":1}')

    client = await _serve(aiohttp_client, script, compress=True)
    ws = await client.ws_connect("/ws", compress=15)
    assert (await ws.receive_json(timeout=5)) == {"hello": 1}
    assert seen == [None]
    await ws.close()
