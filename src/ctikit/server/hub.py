"""Fan-out of events to every console socket of an agent.

Each socket has a small outbox drained by one sender task, so a slow console never delays
the others and frames leave in order. An outbox that grows past its bound means the console
cannot keep up: it is closed (code 1013, "try again later") and will reconnect and resync,
rather than growing memory without limit.
"""

from __future__ import annotations

import asyncio
import logging
import struct
from collections import deque
from collections.abc import Iterable

from aiohttp import WSMsgType, web

from ..core.events import Event
from .measures import SLOW_CONSUMER_CLOSES
from .wire import encode_event

log = logging.getLogger("ctikit.hub")

CLOSE_TRY_AGAIN = 1013

_HEADER_SHORT = struct.Struct("!BB").pack
_HEADER_16 = struct.Struct("!BBH").pack
_HEADER_64 = struct.Struct("!BBQ").pack
_FIN_TEXT = 0x81  # FIN + opcode 1 (RFC 6455 §5.2)


def _text_header(length: int) -> bytes:
    """The header of an unmasked, final text frame carrying ``length`` bytes."""
    if length < 126:
        return _HEADER_SHORT(_FIN_TEXT, length)
    if length < 65536:
        return _HEADER_16(_FIN_TEXT, 126, length)
    return _HEADER_64(_FIN_TEXT, 127, length)


class Outbox:
    """One socket's ordered queue of text frames.

    A frame goes straight to the socket when nothing is queued and the socket's buffer is
    empty (the common case: a console that keeps up), as ``websockets.broadcast()`` does;
    otherwise it waits in the queue for a sender task that respects flow control.
    """

    __slots__ = (
        "_closed",
        "_closer",
        "_frames",
        "_sending",
        "_task",
        "_transport",
        "agent",
        "limit",
        "ws",
    )

    def __init__(
        self,
        ws: web.WebSocketResponse,
        agent: str,
        limit: int,
        transport: asyncio.BaseTransport | None = None,
    ) -> None:
        self.ws = ws
        self.agent = agent
        self.limit = limit
        self._frames: deque[bytes] = deque()
        self._closed = False
        self._closer: asyncio.Task[bool] | None = None
        self._task: asyncio.Task[None] | None = None
        self._sending = False
        # The socket's transport, for the direct path (None: always queue). A compressed
        # socket always goes through aiohttp's writer, which owns the compressor.
        self._transport: asyncio.WriteTransport | None = None
        if isinstance(transport, asyncio.WriteTransport) and not ws.compress:
            self._transport = transport

    def send(self, frame: bytes | str) -> None:
        """Send a text frame (UTF-8 bytes, as ``wire`` encodes them once for every socket)."""
        if self._closed:
            return
        if isinstance(frame, str):
            frame = frame.encode()
        if not self._frames and not self._sending and self._write_now(frame):
            return
        if len(self._frames) >= self.limit:
            log.warning(
                "console of %s too slow (%d frames queued): closing", self.agent, len(self._frames)
            )
            SLOW_CONSUMER_CLOSES.inc()
            self.close(CLOSE_TRY_AGAIN, "too slow")
            return
        self._frames.append(frame)
        if self._task is None or self._task.done():
            self._task = asyncio.create_task(self._run(), name=f"outbox-{self.agent}")

    @property
    def queued(self) -> int:
        """Frames waiting to be written (the send-queue depth)."""
        return len(self._frames)

    def _write_now(self, frame: bytes) -> bool:
        """Write ``frame`` at once if the socket can take it without waiting."""
        t = self._transport
        if t is None or self.ws.closed or t.is_closing() or t.get_write_buffer_size():
            return False
        # The frame goes to the transport whole, as aiohttp's writer would put it there
        # (server frames are unmasked; compression is off), without its per-frame
        # bookkeeping: a write into an empty buffer never needs flow control.
        t.write(_text_header(len(frame)) + frame)
        return True

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
            while frames:
                frame = frames.popleft()
                self._sending = True
                try:
                    await ws.send_frame(frame, WSMsgType.TEXT)
                finally:
                    self._sending = False
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
        if self._task is not None:
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

    def has(self, box: Outbox) -> bool:
        return box in self._by_agent.get(box.agent, ())

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
