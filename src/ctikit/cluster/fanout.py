"""Deliver committed events from Redis to this node's console sockets, once each, in order.

Every node subscribes to the cluster's fan-out channel. Each local socket has a cursor (the
last sequence number it was sent): a frame at or below it is a repeat and is skipped, the
next one is sent, and a jump means messages were missed (pub/sub is at-most-once, e.g. while
Redis was away), so the gap is read back from the agent's stream first. A socket still
getting its hello has no cursor yet: frames for it wait until the hello says where it starts.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable

from redis.exceptions import RedisError

from ..server.hub import CLOSE_TRY_AGAIN, Outbox
from .state import ClusterUnavailableError, CorruptStateError, RedisState

log = logging.getLogger("ctikit.cluster")


class _Watch:
    __slots__ = ("cursor", "held")

    def __init__(self) -> None:
        self.cursor: int | None = None  # None: hello not sent yet
        self.held: list[tuple[int, bytes]] = []


class Fanout:
    """See the module docstring. ``on_resubscribed`` runs after every (re)subscription."""

    def __init__(
        self, state: RedisState, on_resubscribed: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.state = state
        self._watches: dict[str, dict[Outbox, _Watch]] = {}
        self._on_resubscribed = on_resubscribed
        self.subscribed = asyncio.Event()

    # ------------------------------------------------------------- sockets

    def watch(self, box: Outbox) -> None:
        """Start holding frames for ``box`` (before its hello state is read)."""
        self._watches.setdefault(box.agent, {})[box] = _Watch()

    def unwatch(self, box: Outbox) -> None:
        boxes = self._watches.get(box.agent)
        if boxes is not None:
            boxes.pop(box, None)
            if not boxes:
                del self._watches[box.agent]

    async def start(self, box: Outbox, cursor: int) -> None:
        """The hello told ``box`` everything up to ``cursor``: send what came since."""
        w = self._watches.get(box.agent, {}).get(box)
        if w is None:
            return
        w.cursor = cursor
        held, w.held = w.held, []
        for seq, frame in held:
            await self._send(box, w, seq, frame)

    def boxes(self) -> list[Outbox]:
        return [b for boxes in self._watches.values() for b in boxes]

    # ------------------------------------------------------------ delivery

    async def deliver(self, agent: str, seq: int, frame: bytes) -> None:
        boxes = self._watches.get(agent)
        if not boxes:
            return
        for box, w in list(boxes.items()):
            if w.cursor is None:
                w.held.append((seq, frame))
            else:
                await self._send(box, w, seq, frame)

    async def _send(self, box: Outbox, w: _Watch, seq: int, frame: bytes) -> None:
        assert w.cursor is not None
        if seq <= w.cursor:
            return  # already sent (replayed, or a repeat)
        if seq > w.cursor + 1 and not await self._fill(box, w, seq - 1):
            return
        box.send(frame)
        w.cursor = seq

    async def _fill(self, box: Outbox, w: _Watch, upto: int) -> bool:
        """Send the frames a socket missed up to ``upto``; close it if they are gone."""
        assert w.cursor is not None
        try:
            missed = await self.state.frames_between(box.agent, w.cursor, upto)
        except (ClusterUnavailableError, CorruptStateError) as exc:
            log.warning("cannot fill the gap of %s: %s", box.agent, exc.message)
            missed = None
        if missed is None:
            # The console cannot be brought up to date frame by frame: it reconnects and
            # gets a snapshot.
            self.unwatch(box)
            box.close(CLOSE_TRY_AGAIN, "missed events: reconnect")
            return False
        for seq, frame in missed:
            box.send(frame)
            w.cursor = seq
        return True

    async def catch_up(self) -> None:
        """After a gap in the subscription: bring every socket up to the agent's seq."""
        for agent, boxes in list(self._watches.items()):
            try:
                latest = (await self.state.load(agent)).seq
            except (ClusterUnavailableError, CorruptStateError) as exc:
                log.warning("cannot catch up %s: %s", agent, exc.message)
                continue
            for box, w in list(boxes.items()):
                if w.cursor is not None and w.cursor < latest:
                    await self._fill(box, w, latest)

    # ---------------------------------------------------------- subscription

    async def run(self) -> None:
        """Receive the channel forever, resubscribing after Redis goes away."""
        delay = 0.1
        while True:
            pubsub = self.state.redis.pubsub(ignore_subscribe_messages=True)
            try:
                await pubsub.subscribe(self.state.channel)
                self.subscribed.set()
                delay = 0.1
                if self._on_resubscribed is not None:
                    await self._on_resubscribed()
                await self.catch_up()
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is not None and msg.get("type") == "message":
                        await self._handle(msg.get("data"))
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                log.warning("fan-out subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                try:
                    await pubsub.aclose()
                except (RedisError, OSError):
                    pass

    async def _handle(self, data: object) -> None:
        try:
            if not isinstance(data, bytes):
                raise ValueError("not bytes")
            agent_b, seq_b, frame_b = data.split(b"\n", 2)
            agent, seq, frame = agent_b.decode(), int(seq_b), frame_b
            if seq < 1:
                raise ValueError("bad seq")
        except (ValueError, UnicodeDecodeError):
            log.warning(
                "ignored a malformed fan-out message (%r...)",
                bytes(data)[:40] if isinstance(data, bytes) else data,
            )
            return
        await self.deliver(agent, seq, frame)
