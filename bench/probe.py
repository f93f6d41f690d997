"""Server-side probe: time from an event's ``at`` to the moment its frame is written.

It hooks two points without changing ctikit: where a frame is encoded for an event (``at`` is
known there) and ``WebSocketResponse.send_str`` (the write to the socket's transport). Frames
are matched by object identity (one encoded string is shared by every socket of the agent),
so the cost is one dict insert per event and one dict lookup per socket write. The hook wraps
``send_str`` in one more coroutine, so it is only installed when asked (``--probe``): the
throughput scenarios run without it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from .stats import Samples

KEEP_SECONDS = 30.0


class Probe:
    """Pairs frames registered with their event time to their socket writes."""

    def __init__(self) -> None:
        self.frames: dict[int, tuple[str | bytes, float]] = {}
        self.samples = Samples()
        self._last_sweep = time.monotonic()

    def register(self, frame: str | bytes, at: float) -> None:
        self.frames[id(frame)] = (frame, at)
        now = time.monotonic()
        if now - self._last_sweep > KEEP_SECONDS:
            self._sweep(now)

    def sent(self, frame: object) -> None:
        entry = self.frames.get(id(frame))
        if entry is not None and entry[0] is frame:
            self.samples.add((time.time() - entry[1]) * 1000.0)

    def _sweep(self, now: float) -> None:
        self._last_sweep = now
        oldest = time.time() - KEEP_SECONDS
        self.frames = {k: v for k, v in self.frames.items() if v[1] >= oldest}

    def reset(self) -> None:
        self.samples = Samples()

    def summary(self) -> dict[str, Any]:
        return self.samples.summary()


def hook_send_str(probe: Probe) -> Callable[[], None]:
    """Make every ``WebSocketResponse.send_str`` and ``send_frame`` (what ctikit uses: frames
    are encoded to bytes once) report to ``probe``; returns an undo."""
    from aiohttp import web

    original_str = web.WebSocketResponse.send_str
    original_frame = web.WebSocketResponse.send_frame

    async def send_str(self: Any, data: str, compress: int | None = None) -> None:
        probe.sent(data)
        await original_str(self, data, compress)

    async def send_frame(
        self: Any, message: bytes, opcode: Any, compress: int | None = None
    ) -> None:
        probe.sent(message)
        await original_frame(self, message, opcode, compress)

    web.WebSocketResponse.send_str = send_str  # type: ignore[method-assign]
    web.WebSocketResponse.send_frame = send_frame  # type: ignore[method-assign]

    def undo() -> None:
        web.WebSocketResponse.send_str = original_str  # type: ignore[method-assign]
        web.WebSocketResponse.send_frame = original_frame  # type: ignore[method-assign]

    return undo
