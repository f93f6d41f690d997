"""Baseline (b): the ``websockets`` library (asyncio implementation) with ``broadcast()``.

``broadcast()`` writes a frame to every transport synchronously, with no task per socket and
no backpressure: the fastest fan-out plain Python offers. Compression off, 256 KiB frames,
pings every 30 s (as ctikit's heartbeat).
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

from websockets.asyncio.server import Server, ServerConnection, broadcast, serve
from websockets.exceptions import ConnectionClosed

from .baseline_core import BaselineActions, BaselineState, new_call
from .day import DayActions
from .server_base import BenchServer, backlog, run


class WebsocketsBaseline(BenchServer):
    name = "websockets"

    def __init__(self, *a: Any, **kw: Any) -> None:
        super().__init__(*a, **kw)
        self.state = BaselineState()
        if self.probe is not None:
            self.state.on_frame = self.probe.register
        self.by_agent: dict[str, set[ServerConnection]] = {}
        self.everyone: set[ServerConnection] = set()
        self.server: Server | None = None

    async def handler(self, conn: ServerConnection) -> None:
        query = parse_qs(urlsplit(conn.request.path if conn.request else "").query)
        agent = query.get("agent", [""])[0]
        since = query.get("since", [None])[0]
        epoch = query.get("epoch", [None])[0]
        for frame in self.state.hello(agent, since, epoch):
            await conn.send(frame)
        self.by_agent.setdefault(agent, set()).add(conn)
        self.everyone.add(conn)
        try:
            async for msg in conn:
                await conn.send(self.state.answer(agent, msg))
        except ConnectionClosed:
            pass  # a dropped console is normal (the reconnect scenario drops them all)
        finally:
            self.everyone.discard(conn)
            conns = self.by_agent.get(agent)
            if conns is not None:
                conns.discard(conn)
                if not conns:
                    del self.by_agent[agent]

    async def start(self) -> None:
        self.server = await serve(
            self.handler,
            self.args.host,
            self.args.port,
            compression=None,
            max_size=256 * 1024,
            ping_interval=30,
            ping_timeout=30,
            **backlog(self.args),
        )
        sock = next(iter(self.server.sockets))
        self.port = sock.getsockname()[1]

    async def stop(self) -> None:
        if self.server is not None:
            self.server.close()
            await self.server.wait_closed()

    def connections(self) -> int:
        return len(self.everyone)

    def agents(self) -> list[str]:
        return list(self.state.known)

    def seqs(self) -> dict[str, int]:
        return {a: self.state.seq_of(a) for a in self.state.known}

    def send_to(self, agent: str, frame: str) -> None:
        conns = self.by_agent.get(agent)
        if conns:
            broadcast(conns, frame)
            if self.probe is not None:
                self.probe.sent(frame)

    def campaign_round(self, agents: list[str], message: str) -> int:
        frame = self.state.broadcast_frame(message)
        broadcast(self.everyone, frame)
        return len(self.everyone)

    async def place_calls(self, agents: list[str]) -> dict[str, str]:
        out = {}
        for i, agent in enumerate(agents):
            call = self.state.calls[agent] = new_call(f"b-req-{i}")
            out[agent] = str(call["id"])
        return out

    def day_actions(self) -> DayActions:
        return BaselineActions(self.state, self.send_to)


def main() -> None:
    run(WebsocketsBaseline, "websockets baseline server (started by python -m bench)")


if __name__ == "__main__":
    main()
