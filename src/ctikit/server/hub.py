"""Fan-out of events to every console socket of an agent.

Each socket has a small outbox drained by one sender task, so a slow console never delays
the others and frames leave in order. An outbox that grows past its bound means the console
cannot keep up: it is closed (code 1013, "try again later") and will reconnect and resync,
rather than growing memory without limit.
"""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from collections.abc import Iterable

from aiohttp import WSMsgType, web

from ..core.events import Event
from .wire import encode_event

log = logging.getLogger("ctikit.hub")

CLOSE_TRY_AGAIN = 1013


class Outbox:
    """One socket's ordered queue of text frames and the task that sends them."""

    __slots__ = ("_closed", "_closer", "_frames", "_task", "_wake", "agent", "limit", "ws")

    def __init__(self, ws: web.WebSocketResponse, agent: str, limit: int) -> None:
        self.ws = ws
        self.agent = agent
        self.limit = limit
        self._frames: deque[bytes | str] = deque()
        self._wake = asyncio.Event()
        self._closed = False
        self._closer: asyncio.Task[bool] | None = None
        self._task = asyncio.create_task(self._run(), name=f"outbox-{agent}")

    def send(self, frame: bytes | str) -> None:
        """Queue a text frame (UTF-8 bytes, as ``wire`` encodes them once for every socket)."""
        if self._closed:
            return
        if len(self._frames) >= self.limit:
            log.warning(
                "console of %s too slow (%d frames queued): closing", self.agent, len(self._frames)
            )
            self.close(CLOSE_TRY_AGAIN, "too slow")
            return
        self._frames.append(frame)
        if len(self._frames) == 1:
            self._wake.set()  # otherwise the sender is awake already and will get to it

    def close(self, code: int, reason: str) -> None:
        """Drop what is queued and close the socket (the console reconnects and resyncs)."""
        if self._closed:
            return
        self._closed = True
        self._frames.clear()
        self._closer = asyncio.create_task(self.ws.close(code=code, message=reason.encode()))

    async def _run(self) -> None:
        frames, ws = self._frames, self.ws
        try:
            while True:
                await self._wake.wait()
                self._wake.clear()
                while frames:
                    frame = frames.popleft()
                    await ws.send_frame(
                        frame if isinstance(frame, bytes) else frame.encode(), WSMsgType.TEXT
                    )
        except (ConnectionError, RuntimeError):
            pass  # the socket went away; the handler cleans up

    async def drain(self, within: float) -> None:
        """Wait (up to ``within`` seconds) until every queued frame has been written."""
        deadline = asyncio.get_running_loop().time() + within
        while self._frames and not self._closed:
            if asyncio.get_running_loop().time() > deadline:
                return
            await asyncio.sleep(0.01)

    async def aclose(self) -> None:
        self._closed = True
        self._task.cancel()
        try:
            await self._task
        except asyncio.CancelledError:
            pass


class Hub:
    """Which sockets belong to which agent."""

    def __init__(self) -> None:
        self._by_agent: dict[str, set[Outbox]] = {}

    def add(self, box: Outbox) -> None:
        self._by_agent.setdefault(box.agent, set()).add(box)

    def remove(self, box: Outbox) -> None:
        boxes = self._by_agent.get(box.agent)
        if boxes is not None:
            boxes.discard(box)
            if not boxes:
                del self._by_agent[box.agent]

    def connections(self, agent: str) -> int:
        return len(self._by_agent.get(agent, ()))

    def total_connections(self) -> int:
        return sum(len(b) for b in self._by_agent.values())

    def all_outboxes(self) -> Iterable[Outbox]:
        for boxes in self._by_agent.values():
            yield from boxes

    def publish(self, events: Iterable[Event]) -> None:
        for event in events:
            boxes = self._by_agent.get(event.agent)
            if not boxes:
                continue
            frame = encode_event(event)  # once per event, shared by every socket
            for box in boxes:
                box.send(frame)
