"""Baseline (a): aiohttp with a per-connection send loop, and nothing else.

The reference for "the best plain aiohttp can do": each socket has a deque and one task
that drains it (the same pattern as ctikit's outbox), frames are encoded once and shared.
Same socket options as ctikit: no compression, 30 s heartbeat, 256 KiB frames.
"""

from __future__ import annotations

import asyncio
from collections import deque
from pathlib import Path

from aiohttp import WSMsgType, web
from prometheus_client import CONTENT_TYPE_LATEST, Gauge, generate_latest

from .baseline_core import BaselineActions, BaselineState, new_call
from .day import DayActions
from .server_base import BenchServer, backlog, run

SOCKETS_GAUGE = Gauge("bench_sockets", "WebSocket connections open")

BARE_CONSOLE = Path(__file__).with_name("web") / "bare_console.html"


class Conn:
    """One socket and its send loop."""

    __slots__ = ("agent", "frames", "task", "wake", "ws")

    def __init__(self, ws: web.WebSocketResponse, agent: str) -> None:
        self.ws = ws
        self.agent = agent
        self.frames: deque[str] = deque()
        self.wake = asyncio.Event()
        self.task = asyncio.create_task(self._run())

    def send(self, frame: str) -> None:
        self.frames.append(frame)
        self.wake.set()

    async def _run(self) -> None:
        frames, ws = self.frames, self.ws
        try:
            while True:
                await self.wake.wait()
                self.wake.clear()
                while frames:
                    await ws.send_str(frames.popleft())
        except (ConnectionError, RuntimeError):
            pass


class AiohttpBaseline(BenchServer):
    name = "aiohttp"

    def __init__(self, *a: object, **kw: object) -> None:
        super().__init__(*a, **kw)  # type: ignore[arg-type]
        self.state = BaselineState()
        if self.probe is not None:
            self.state.on_frame = self.probe.register
        self.by_agent: dict[str, set[Conn]] = {}
        self.runner: web.AppRunner | None = None

    async def handler(self, request: web.Request) -> web.WebSocketResponse:
        agent = request.query.get("agent", "")
        ws = web.WebSocketResponse(max_msg_size=256 * 1024, compress=False, heartbeat=30)
        await ws.prepare(request)
        conn = Conn(ws, agent)
        for frame in self.state.hello(
            agent, request.query.get("since"), request.query.get("epoch")
        ):
            conn.send(frame)
        self.by_agent.setdefault(agent, set()).add(conn)
        try:
            async for msg in ws:
                if msg.type is WSMsgType.TEXT:
                    conn.send(self.state.answer(agent, msg.data))
        finally:
            boxes = self.by_agent.get(agent)
            if boxes is not None:
                boxes.discard(conn)
                if not boxes:
                    del self.by_agent[agent]
            conn.task.cancel()
        return ws

    async def metrics(self, request: web.Request) -> web.Response:
        """A minimal exporter (the scrape scenario's baseline): prometheus-client's default
        registry (process, GC) and the open sockets, summed over agents at scrape time."""
        sockets = sum(len(conns) for conns in self.by_agent.values())
        SOCKETS_GAUGE.set(sockets)
        return web.Response(body=generate_latest(), headers={"Content-Type": CONTENT_TYPE_LATEST})

    async def start(self) -> None:
        app = web.Application()
        app.router.add_get("/ws", self.handler)
        app.router.add_get("/bare", lambda _: web.FileResponse(BARE_CONSOLE))
        app.router.add_get("/metrics", self.metrics)
        self.runner = web.AppRunner(app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(
            self.runner, self.args.host, self.args.port, shutdown_timeout=5, **backlog(self.args)
        )
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()

    def connections(self) -> int:
        return sum(len(c) for c in self.by_agent.values())

    def agents(self) -> list[str]:
        return list(self.state.known)

    def seqs(self) -> dict[str, int]:
        return {a: self.state.seq_of(a) for a in self.state.known}

    def send_to(self, agent: str, frame: str) -> None:
        for conn in self.by_agent.get(agent, ()):
            conn.send(frame)

    def campaign_round(self, agents: list[str], message: str) -> int:
        frame = self.state.broadcast_frame(message)
        n = 0
        for conns in self.by_agent.values():
            for conn in conns:
                conn.send(frame)
                n += 1
        return n

    async def place_calls(self, agents: list[str]) -> dict[str, str]:
        out = {}
        for i, agent in enumerate(agents):
            call = self.state.calls[agent] = new_call(f"b-req-{i}")
            out[agent] = str(call["id"])
        return out

    def day_actions(self) -> DayActions:
        return BaselineActions(self.state, self.send_to)


def main() -> None:
    run(AiohttpBaseline, "aiohttp baseline server (started by python -m bench)")


if __name__ == "__main__":
    main()
