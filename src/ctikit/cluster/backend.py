"""The state backend of a cluster node: the call state and events in Redis.

Each change runs the core registry on a copy of the agent's state (the one this node
committed last, or read from Redis) and commits the result with the events it caused (see
:mod:`.state`); every node serving that agent, this one included, hears the events on the
agent's fan-out channel and sends them to its own sockets (:mod:`.fanout`). Connector events
are queued per agent and committed in order by a few workers, retried while Redis is away.
Where the connector runs is not this module's business (:mod:`.lease`, :mod:`.remote`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from dataclasses import replace
from typing import Any, TypeVar

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..core.errors import CtiError, CtiRequestError, TelephonyError
from ..core.events import Event
from ..core.model import CallView, Limits, check_agent_id
from ..core.presence import AgentUnavailableError, PresencePolicy
from ..core.registry import CallRegistry
from ..core.telephony import TelephonyEvent
from ..server import console, wire
from ..server.backend import BulkChange, Change, CommitHook, ReportListener, tell_hooks
from ..server.hub import Hub, Outbox
from ..server.measures import CLUSTER_COMMIT_SECONDS, CLUSTER_CONFLICTS, count_events
from .fanout import Fanout
from .state import ClusterUnavailableError, CorruptStateError, EpochChangedError, Loaded, RedisState

log = logging.getLogger("ctikit.cluster")

T = TypeVar("T")

CLOSE_SERVICE_RESTART = 1012
COMMIT_ATTEMPTS = 50
REPORT_WORKERS = 16  # connector events of one agent always go to the same worker: in order
REPORT_RETRY_SECONDS = 60.0  # how long a connector event waits for Redis before it is dropped
CACHED_AGENTS = 20_000  # agent states a node keeps between its own changes
BULK_IN_FLIGHT = 64  # commits in flight for one change to many agents (a campaign)


class RedisBackend:
    """See the module docstring. ``node_id`` names this node in hellos and health."""

    def __init__(
        self,
        redis: aioredis.Redis,
        hub: Hub,
        *,
        limits: Limits,
        node_id: str,
        prefix: str = "ctikit:",
        clock: Callable[[], float] | None = None,
        policy: PresencePolicy | None = None,
        login_redis: aioredis.Redis | None = None,
    ) -> None:
        self.redis = redis
        self.login_redis = login_redis or redis
        self._policy = policy or PresencePolicy()
        self._hooks: list[CommitHook] = []
        self.hub = hub
        self.node_id = node_id
        self.prefix = prefix
        self.clock = clock or time.time
        self._limits = limits
        self.state = RedisState(redis, prefix=prefix, replay_window=limits.event_log_size)
        self.fanout = Fanout(self.state, on_resubscribed=self._check_epoch)
        self._epoch = ""
        self._listener: ReportListener | None = None
        self.dropped_events = 0
        self._locks: dict[str, asyncio.Lock] = {}
        #: agent -> (version in Redis, registry holding that state): see run.
        self._cache: OrderedDict[str, tuple[int, CallRegistry]] = OrderedDict()
        # Copies keep no event log: replay comes from the Redis streams.
        self._copy_limits = replace(limits, event_log_size=1)
        self._queues = [
            asyncio.Queue[TelephonyEvent | asyncio.Future[None]]() for _ in range(REPORT_WORKERS)
        ]
        self._loops: list[asyncio.Task[None]] = []

    @property
    def epoch(self) -> str:
        return self._epoch

    @property
    def limits(self) -> Limits:
        return self._limits

    @property
    def policy(self) -> PresencePolicy:
        return self._policy

    # -------------------------------------------------------------- lifecycle

    async def start(self, listener: ReportListener) -> None:
        self._listener = listener
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise RuntimeError(f"cannot reach the cluster's Redis: {exc}") from None
        self._epoch = await self.state.epoch() or ""
        control = f"{self.prefix}node:{self.node_id}"  # keeps the subscription open
        self._loops = [asyncio.create_task(self.fanout.run(control), name="cluster-fanout")]
        self._loops += [
            asyncio.create_task(self._apply_reports(q), name=f"cluster-report-{i}")
            for i, q in enumerate(self._queues)
        ]
        await asyncio.wait_for(self.fanout.subscribed.wait(), 10)
        log.info("cluster node %s joined (epoch %s)", self.node_id, self._epoch)

    def on_commit(self, hook: CommitHook) -> None:
        self._hooks.append(hook)

    async def agents_in_acw(self) -> list[tuple[str, float]]:
        out: list[tuple[str, float]] = []
        for agent in await self.state.agents():
            try:
                out += await self.read(agent, lambda r: r.agents_in_acw())
            except (CorruptStateError, CtiRequestError):
                continue
        return out

    async def stop(self) -> None:
        for task in self._loops:
            task.cancel()
        if self._loops:
            _, stuck = await asyncio.wait(self._loops, timeout=5)
            for task in stuck:
                log.warning("cluster task %s did not stop in 5 s", task.get_name())
        self._loops = []
        await self.redis.aclose(close_connection_pool=True)
        if self.login_redis is not self.redis:
            await self.login_redis.aclose(close_connection_pool=True)

    # ------------------------------------------------------------------ state

    async def run(self, agent: str, change: Change) -> list[Event]:
        check_agent_id(agent)
        async with self._agent_lock(agent):
            for attempt in range(COMMIT_ATTEMPTS):
                # The state this node committed last is usually still current (an agent's
                # changes mostly come through one node): start from it and let the commit's
                # version check say when it is not. Taken out of the cache until committed.
                cached = self._cache.pop(agent, None)
                if cached is not None:
                    ver, reg = cached
                else:
                    loaded, reg = await self._load(agent)
                    ver = loaded.ver
                try:
                    events = change(reg)
                except CtiError:
                    if cached is None:
                        raise
                    # Refused on the copy this node kept, which another node's commit may
                    # have made stale (e.g. the call was answered since): decide on the
                    # current state instead.
                    continue
                if not reg.has_agent(agent):
                    # Nothing was made for an agent without state (a campaign to an unknown
                    # ID, issue 13 F4): nothing to commit.
                    return events
                started = time.perf_counter()
                try:
                    done = await self.state.commit(
                        agent,
                        epoch=self._epoch,
                        expected_ver=ver,
                        dump=reg.dump_agent(agent),
                        seq=reg.last_seq(agent),
                        frames=[(e.seq, wire.encode_event(e)) for e in events],
                    )
                except EpochChangedError:
                    await self._check_epoch()
                    continue
                CLUSTER_COMMIT_SECONDS.observe(time.perf_counter() - started)
                if done:
                    count_events(events)
                    self._cache[agent] = (ver + 1, reg)
                    if len(self._cache) > CACHED_AGENTS:
                        self._cache.popitem(last=False)
                    if events:
                        tell_hooks(self._hooks, events)
                    return events
                # Another node changed this agent first: read again and redo the change.
                CLUSTER_CONFLICTS.inc()
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ClusterUnavailableError(f"the state of {agent} is changing too fast; try again")

    async def read(self, agent: str, look: Callable[[CallRegistry], T]) -> T:
        check_agent_id(agent)
        _, reg = await self._load(agent)
        return look(reg)

    async def run_many(self, agents: list[str], change: BulkChange) -> int:
        # Each agent's state is its own commit in Redis: one change per agent, a bounded
        # number in flight. A failure stops the rest; those already committed stay.
        pending = iter(agents)
        failed: list[Exception] = []
        reached = 0

        def only(agent: str) -> Change:
            return lambda r: change(r, [agent])

        async def worker() -> None:
            nonlocal reached
            for agent in pending:
                if failed:
                    return
                try:
                    events = await self.run(agent, only(agent))
                    reached += bool(events)  # not "+= await": a read before the await
                except Exception as exc:
                    failed.append(exc)
                    return

        await asyncio.gather(*(worker() for _ in range(min(BULK_IN_FLIGHT, len(agents)))))
        if failed:
            raise failed[0]
        return reached

    async def _load(self, agent: str) -> tuple[Loaded, CallRegistry]:
        loaded = await self.state.load(agent)
        reg = CallRegistry(self._copy_limits, self._policy)
        if loaded.dump is not None:
            try:
                reg.load_agent(agent, loaded.dump)
            except CtiRequestError as exc:
                raise CorruptStateError(
                    f"the state of {agent} in Redis is damaged: {exc.message}"
                ) from None
        return loaded, reg

    @contextlib.asynccontextmanager
    async def _agent_lock(self, agent: str) -> AsyncIterator[None]:
        # Changes of one agent on this node wait for each other instead of racing in Redis.
        lock = self._locks.setdefault(agent, asyncio.Lock())
        try:
            async with lock:
                yield
        finally:
            if not lock.locked() and self._locks.get(agent) is lock:
                del self._locks[agent]

    async def calls_on_lines(self) -> list[tuple[str, CallView]]:
        on_lines = []
        for agent in await self.state.agents():
            try:
                _, reg = await self._load(agent)
                calls = reg.calls(agent)
            except (CorruptStateError, CtiRequestError) as exc:
                # A damaged entry, or a name no agent can have (written by someone else):
                # skipped, never a reason for no node to drive the connector.
                log.warning("not resyncing %r: %s", agent, exc.message)
                continue
            on_lines += [(agent, c) for c in calls if c.line_state is not None]
        return on_lines

    def health(self) -> dict[str, Any]:
        return {
            "cluster": {
                "node": self.node_id,
                "epoch": self._epoch,
                "subscribed": self.fanout.subscribed.is_set(),
            }
        }

    async def overview(self) -> list[tuple[str, int]]:
        out = []
        for agent in await self.state.agents():
            try:
                out.append((agent, len(await self.read(agent, _call_ids_of(agent)))))
            except (CorruptStateError, CtiRequestError):
                continue  # a damaged or hostile entry: not an agent to show
        return out

    # --------------------------------------------------------------- consoles

    async def connect_console(
        self, box: Outbox, hello: dict[str, Any], since: int | None, epoch: str | None
    ) -> None:
        # Subscribed first (confirmed by Redis): an event committed while we read is held,
        # then sent after the hello. watch() cleans up after itself when it fails.
        await self.fanout.watch(box)
        try:
            await self._check_epoch()
            loaded, reg = await self._load(box.agent)
            if loaded.dump is None:
                # A connected agent has state (a campaign reaches agents with state only).
                await self.run(box.agent, _created(box.agent))
                loaded, reg = await self._load(box.agent)
            missed = None
            if console.wants_replay(since, epoch, self._epoch):
                assert since is not None
                if since <= loaded.seq:
                    frames = await self.state.frames_between(
                        box.agent, since, loaded.seq, max_bytes=self._limits.event_log_bytes
                    )
                    missed = None if frames is None else [f for _, f in frames]
        except BaseException:
            self.fanout.unwatch(box)
            raise
        for frame in console.hello_frames(
            {**hello, "node": self.node_id},
            reg,
            box.agent,
            epoch=self._epoch,
            since=since,
            missed=missed,
        ):
            box.send(frame)
        self.hub.add(box)
        await self.fanout.start(box, loaded.seq)

    async def sent_up_to_now(self, box: Outbox) -> None:
        await self.fanout.sent_up_to_now(box)

    def disconnect_console(self, box: Outbox) -> None:
        self.fanout.unwatch(box)
        self.hub.remove(box)

    async def _check_epoch(self) -> None:
        """If Redis lost the cluster's state, start a new epoch and make consoles resync."""
        current = await self.state.epoch()
        if current == self._epoch:
            return
        old, self._epoch = self._epoch, current or ""
        self._cache.clear()
        if old:
            log.warning("the cluster's shared state was lost: new epoch %s", self._epoch)
            for box in self.fanout.boxes():
                self.fanout.unwatch(box)
                box.close(CLOSE_SERVICE_RESTART, "cluster state reset: reconnect")
            if self._listener is not None:
                await self._listener.state_lost()

    # ------------------------------------------------------- connector events

    def report(self, event: TelephonyEvent) -> None:
        """Queue a connector event; one worker per agent hash applies them in order."""
        self._queue_of(event.agent).put_nowait(event)

    def _queue_of(self, agent: str) -> asyncio.Queue[TelephonyEvent | asyncio.Future[None]]:
        return self._queues[zlib.crc32(agent.encode(errors="replace")) % REPORT_WORKERS]

    async def settled(self, agent: str) -> None:
        """Wait until what the connector reported for ``agent`` so far is committed."""
        done = asyncio.get_running_loop().create_future()
        self._queue_of(agent).put_nowait(done)
        await done

    async def _apply_reports(
        self, queue: asyncio.Queue[TelephonyEvent | asyncio.Future[None]]
    ) -> None:
        while True:
            event = await queue.get()
            if isinstance(event, asyncio.Future):
                if not event.done():
                    event.set_result(None)
                continue
            apply = self._applying(event)
            deadline = asyncio.get_running_loop().time() + REPORT_RETRY_SECONDS
            delay = 0.05
            while True:
                try:
                    events = await self.run(event.agent, apply)
                except TelephonyError as exc:
                    self._dropped(event, exc)
                    break
                except CtiRequestError as exc:  # a bad agent ID from the connector
                    self._dropped(event, TelephonyError(exc.message))
                    break
                except ClusterUnavailableError as exc:
                    if asyncio.get_running_loop().time() > deadline:
                        log.error("lost telephony event %s: %s", event, exc.message)
                        break
                    await asyncio.sleep(delay)  # Redis away: keep the event, in order
                    delay = min(delay * 2, 1.0)
                    continue
                except CorruptStateError as exc:
                    self._dropped(event, TelephonyError(exc.message))
                    break
                if events and self._listener is not None:
                    self._listener.committed(events)
                break

    def _dropped(self, event: TelephonyEvent, exc: TelephonyError) -> None:
        if isinstance(exc, AgentUnavailableError):
            log.info("%s", exc.message)  # the agent's choice, not the connector's fault
        else:
            self.dropped_events += 1
            log.warning("dropped telephony event %s: %s", type(event).__name__, exc.message)
        if self._listener is not None:
            self._listener.dropped(event, exc)

    def _applying(self, event: TelephonyEvent) -> Change:
        # The clock is read on each attempt, as the retries may come much later.
        return lambda r: r.apply(event, now=self.clock())


def _created(agent: str) -> Change:
    def create(r: CallRegistry) -> list[Event]:
        r.agent(agent)
        return []

    return create


def _call_ids_of(agent: str) -> Callable[[CallRegistry], list[str]]:
    return lambda r: r.call_ids(agent)
