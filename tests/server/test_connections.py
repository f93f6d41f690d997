"""New connections take turns (server/connections.py): what they send before their first
request head is handed to aiohttp for at most FRESH_PER_TURN connections per turn of the
event loop, in order and complete; connections past their first request are not held."""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict

from ctikit.server.addresses import TrustedProxies
from ctikit.server.connections import (
    _GUARDED,
    FRESH_PER_TURN,
    ConnectionGuard,
    ConnectionLimits,
)


class Recorder(asyncio.Protocol):
    """Stands for aiohttp's protocol: records what it is handed, and in which turn."""

    turn = 0
    log: list[tuple[int, int, bytes]] = []

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.id = id(self)

    def data_received(self, data: bytes) -> None:
        Recorder.log.append((Recorder.turn, self.id, data))


async def _ticker() -> None:
    while True:  # one step per turn of the loop
        Recorder.turn += 1
        await asyncio.sleep(0)


async def test_new_connections_are_handed_over_a_few_per_turn_in_order() -> None:
    Recorder.log = []
    guard = ConnectionGuard(Recorder, ConnectionLimits(), TrustedProxies(()))
    server = await asyncio.get_running_loop().create_server(guard, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    ticker = asyncio.create_task(_ticker())
    clients = []
    try:
        for _ in range(5 * FRESH_PER_TURN):
            clients.append(await asyncio.open_connection("127.0.0.1", port))
        for i, (_, writer) in enumerate(clients):
            writer.write(b"GET /%d HTTP/1.1\r\n" % i)  # a head not yet complete
        for _, writer in clients:
            await writer.drain()
        for _ in range(500):
            if len({conn for _, conn, _ in Recorder.log}) == len(clients):
                break
            await asyncio.sleep(0.01)
        per_turn = Counter(turn for turn, _, _ in Recorder.log)
        assert max(per_turn.values()) <= FRESH_PER_TURN, per_turn
        got: dict[int, bytes] = defaultdict(bytes)
        for _, conn, data in Recorder.log:
            got[conn] += data
        assert sorted(got.values()) == sorted(
            b"GET /%d HTTP/1.1\r\n" % i for i in range(len(clients))
        )

        # Past its first request head a connection's bytes go straight through.
        Recorder.log = []
        guarded = [g for g in _GUARDED.values() if g._guard is guard]
        for g in guarded:
            g.head_received()
        for _, writer in clients:
            writer.write(b"Host: x\r\n")
        for _, writer in clients:
            await writer.drain()
        for _ in range(500):
            if len(Recorder.log) >= len(clients):
                break
            await asyncio.sleep(0.01)
        assert len(Recorder.log) == len(clients)
    finally:
        ticker.cancel()
        for _, writer in clients:
            writer.close()
        server.close()
        await server.wait_closed()
