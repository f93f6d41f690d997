"""Deliver committed events from Redis to this node's console sockets, once each, in order.

A node subscribes to the fan-out channel of each agent it has sockets for (and to nothing
else: the cost of an event falls on the nodes that serve that agent). A new socket waits
until Redis has confirmed the subscription before its hello state is read, so no event can
fall between the two. Each local socket has a cursor (the last sequence number it was sent):
a frame at or below it is a repeat and is skipped, the next one is sent, and a jump means
messages were missed (pub/sub is at-most-once, e.g. while Redis was away), so the gap is
read back from the agent's stream first. Frames for a socket still getting its hello wait
until the hello says where it starts.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable

from redis.asyncio.client import PubSub
from redis.exceptions import RedisError

from ..server.hub import CLOSE_TRY_AGAIN, Outbox
from ..server.measures import observe_fanout
from .state import ClusterUnavailableError, CorruptStateError, RedisState

log = logging.getLogger("ctikit.cluster")

SUBSCRIBE_TIMEOUT = 5.0


class _Watch:
    __slots__ = ("cursor", "held")

    def __init__(self) -> None:
        self.cursor: int | None = None  # None: hello not sent yet
        self.held: list[tuple[int, bytes]] = []


class Fanout:
    """See the module docstring. ``on_resubscribed`` runs after every (re)connection."""

    def __init__(
        self, state: RedisState, on_resubscribed: Callable[[], Awaitable[None]] | None = None
    ) -> None:
        self.state = state
        self._watches: dict[str, dict[Outbox, _Watch]] = {}
        self._on_resubscribed = on_resubscribed
        self._pubsub: PubSub | None = None
        #: agent -> set once Redis confirmed this connection's subscription to its channel
        self._confirmed: dict[str, asyncio.Event] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self.subscribed = asyncio.Event()  # the subscription connection is up

    # ------------------------------------------------------------- sockets

    async def watch(self, box: Outbox) -> None:
        """Start holding frames for ``box``; returns once its agent's events reach this node
        (then its hello state may be read). Raises ClusterUnavailableError."""
        agent = box.agent
        boxes = self._watches.setdefault(agent, {})
        boxes[box] = _Watch()
        confirmed = self._confirmed.get(agent)
        if confirmed is None:
            confirmed = self._confirmed[agent] = asyncio.Event()
            if self._pubsub is not None and self.subscribed.is_set():
                try:
                    await self._pubsub.subscribe(self.state.channel_of(agent))
                except (RedisError, OSError) as exc:
                    self.unwatch(box)
                    raise ClusterUnavailableError(
                        f"cannot subscribe to {agent}'s events: {exc}"
                    ) from None
            # else: the run loop subscribes every watched agent when it (re)connects
        try:
            await asyncio.wait_for(confirmed.wait(), SUBSCRIBE_TIMEOUT)
        except TimeoutError:
            self.unwatch(box)
            raise ClusterUnavailableError("Redis did not confirm the subscription") from None

    def unwatch(self, box: Outbox) -> None:
        agent = box.agent
        boxes = self._watches.get(agent)
        if boxes is None or boxes.pop(box, None) is None or boxes:
            return
        del self._watches[agent]
        self._confirmed.pop(agent, None)
        pubsub = self._pubsub
        if pubsub is not None and self.subscribed.is_set():
            task = asyncio.get_running_loop().create_task(self._unsubscribe(pubsub, agent))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _unsubscribe(self, pubsub: PubSub, agent: str) -> None:
        if agent in self._watches:
            return  # a socket of that agent came back meanwhile
        with contextlib.suppress(RedisError, OSError):
            await pubsub.unsubscribe(self.state.channel_of(agent))

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
        if seq > w.cursor + 1:
            if not await self._committed(box.agent, seq):
                log.warning("ignored a fan-out message for %s with seq %d: never committed",
                            box.agent, seq)  # fmt: skip
                return
            if not await self._fill(box, w, seq - 1):
                return
        box.send(frame)
        w.cursor = seq

    async def _committed(self, agent: str, seq: int) -> bool:
        """Whether the agent's state has reached ``seq`` (a message beyond it is not ours)."""
        try:
            return (await self.state.load(agent)).seq >= seq
        except (ClusterUnavailableError, CorruptStateError):
            return True  # cannot tell: treat it as a real gap (the socket resyncs)

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
            if seq <= w.cursor:
                continue  # sent meanwhile (by the subscription, or another fill)
            box.send(frame)
            w.cursor = seq
        return True

    async def sent_up_to_now(self, box: Outbox) -> None:
        """Return once ``box`` was sent every event of its agent committed so far. The
        subscription delivers them a moment later than a reply made on this node would
        go out: what it has not delivered yet comes from the stream."""
        w = self._watches.get(box.agent, {}).get(box)
        if w is None or w.cursor is None:
            return  # not watched (closing), or its hello is not out yet: nothing to overtake
        try:
            latest = await self.state.seq(box.agent)
        except (ClusterUnavailableError, CorruptStateError):
            return  # the reply goes out; the events follow as the subscription brings them
        if w.cursor < latest:
            await self._fill(box, w, latest)

    async def catch_up(self, agent: str) -> None:
        """After a gap in the subscription: bring the agent's sockets up to its seq."""
        try:
            latest = (await self.state.load(agent)).seq
        except (ClusterUnavailableError, CorruptStateError) as exc:
            log.warning("cannot catch up %s: %s", agent, exc.message)
            return
        for box, w in list(self._watches.get(agent, {}).items()):
            if w.cursor is not None and w.cursor < latest:
                await self._fill(box, w, latest)

    # ---------------------------------------------------------- subscription

    async def run(self, control_channel: str) -> None:
        """Receive forever, resubscribing after Redis goes away. ``control_channel`` keeps
        the connection subscribed when this node has no sockets."""
        delay = 0.1
        while True:
            pubsub = self.state.redis.pubsub(ignore_subscribe_messages=False)
            try:
                for event in self._confirmed.values():
                    event.clear()
                # Sockets already here may have missed events while we were away: once their
                # channel is confirmed again, they catch up from the stream.
                resubscribed = set(self._watches)
                await pubsub.subscribe(control_channel, *map(self.state.channel_of, resubscribed))
                self._pubsub = pubsub
                self.subscribed.set()
                delay = 0.1
                if self._on_resubscribed is not None:
                    await self._on_resubscribed()
                while True:
                    msg = await pubsub.get_message(timeout=1.0)
                    if msg is None:
                        continue
                    kind = msg.get("type")
                    if kind == "message":
                        await self._handle(msg.get("data"))
                    elif kind == "subscribe":
                        agent = self._confirm(msg.get("channel"))
                        if agent is not None and agent in resubscribed:
                            resubscribed.discard(agent)
                            await self.catch_up(agent)
            except (RedisError, OSError) as exc:
                self.subscribed.clear()
                self._pubsub = None
                log.warning("fan-out subscription lost (%s); resubscribing", exc)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)
            finally:
                with contextlib.suppress(RedisError, OSError):
                    # redis-py leaves PubSub.aclose unannotated
                    await pubsub.aclose()

    def _confirm(self, channel: object) -> str | None:
        """Redis confirmed a subscription: wake the sockets waiting for it; the agent."""
        if isinstance(channel, bytes):
            name = channel.decode(errors="replace")
            if name.startswith(self.state.channel_prefix):
                agent = name[len(self.state.channel_prefix) :]
                event = self._confirmed.get(agent)
                if event is not None:
                    event.set()
                return agent
        return None

    async def _handle(self, data: object) -> None:
        try:
            if not isinstance(data, bytes):
                raise ValueError("not bytes")
            agent_b, seq_b, frame = data.split(b"\n", 2)
            agent, seq = agent_b.decode(), int(seq_b)
            if seq < 1:
                raise ValueError("bad seq")
        except (ValueError, UnicodeDecodeError):
            shown = data[:40] if isinstance(data, bytes) else data
            log.warning("ignored a malformed fan-out message (%r...)", shown)
            return
        observe_fanout(frame)
        await self.deliver(agent, seq, frame)
