"""The CTI service of a cluster node: the same operations, state and events in Redis.

Each operation runs the core registry on a copy of the agent's state (the one this node
committed last, or read from Redis) and commits the result with the events it caused (see
:mod:`.state`); every node serving that agent, this one included, hears the events on the
agent's fan-out channel and sends them to its own sockets (:mod:`.fanout`). The telephony
connector runs on the node that holds the lease (:mod:`.lease`); other nodes send it their
commands through Redis (:mod:`.remote`).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import secrets
import zlib
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import replace
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..connectors.base import ActionFailedError, CallPlacer, Connector
from ..core.errors import CtiRequestError, TelephonyError
from ..core.events import Event
from ..core.model import Limits, check_agent_id
from ..core.registry import CallRegistry
from ..core.telephony import ConnectorAction, TelephonyEvent
from ..server import wire
from ..server.hub import Hub, Outbox
from ..server.service import CtiService, T, snapshot_of
from ..storage import CallLogStore
from . import remote
from .fanout import Fanout
from .lease import Lease
from .state import ClusterUnavailableError, CorruptStateError, EpochChangedError, RedisState

log = logging.getLogger("ctikit.cluster")

CLOSE_SERVICE_RESTART = 1012
COMMIT_ATTEMPTS = 50
REPORT_WORKERS = 16  # connector events of one agent always go to the same worker: in order
REPORT_RETRY_SECONDS = 60.0  # how long a connector event waits for Redis before it is dropped
REQUEST_TIMEOUT = 10.0
CACHED_AGENTS = 20_000  # agent states a node keeps between its own changes
BULK_IN_FLIGHT = 64  # commits in flight for one change to many agents (a campaign)


class ClusterService(CtiService):
    """See the module docstring. ``make_connector`` builds a fresh connector each time this
    node takes the lease; ``connector`` (what the rest of the server sees) forwards to it."""

    def __init__(
        self,
        redis: aioredis.Redis,
        make_connector: Callable[[], Connector],
        store: CallLogStore,
        hub: Hub,
        *,
        limits: Limits,
        prefix: str = "ctikit:",
        lease_seconds: float = 3.0,
        node_id: str | None = None,
        lease_redis: aioredis.Redis | None = None,
    ) -> None:
        self.node_id = node_id or secrets.token_hex(6)
        self.redis = redis
        self._lease_redis = lease_redis
        self.state = RedisState(redis, prefix=prefix, replay_window=limits.event_log_size)
        self.prefix = prefix
        self.lease = Lease(
            lease_redis or redis, f"{prefix}lease:connector", self.node_id, lease_seconds
        )
        self.lease_seconds = lease_seconds
        self._make_connector = make_connector
        self.live: Connector | None = None  # the started connector, while holding the lease
        super().__init__(CallRegistry(limits), ClusterConnector(self, make_connector()), store, hub)
        self.epoch = ""
        self.fanout = Fanout(self.state, on_resubscribed=self._check_epoch)
        self._locks: dict[str, asyncio.Lock] = {}
        #: agent -> (version in Redis, registry holding that state): see _run.
        self._cache: OrderedDict[str, tuple[int, CallRegistry]] = OrderedDict()
        # Copies keep no event log: replay comes from the Redis streams.
        self._copy_limits = replace(limits, event_log_size=1)
        self._queues = [
            asyncio.Queue[TelephonyEvent | asyncio.Future[None]]() for _ in range(REPORT_WORKERS)
        ]
        self._loops: list[asyncio.Task[None]] = []
        self._leading = False
        self._stopping = False

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        try:
            await self.redis.ping()
        except (RedisError, OSError) as exc:
            raise RuntimeError(f"cannot reach the cluster's Redis: {exc}") from None
        self.epoch = await self.state.epoch() or ""
        control = f"{self.prefix}node:{self.node_id}"  # keeps the subscription open
        self._loops = [asyncio.create_task(self.fanout.run(control), name="cluster-fanout")]
        self._loops += [
            asyncio.create_task(self._apply_reports(q), name=f"cluster-report-{i}")
            for i, q in enumerate(self._queues)
        ]
        await asyncio.wait_for(self.fanout.subscribed.wait(), 10)
        # The first node up drives the connector from the start (no wait for the loop).
        with contextlib.suppress(RedisError, OSError):
            if await self.lease.acquire():
                await self._take_over()
        self._loops.append(asyncio.create_task(self._lead_forever(), name="cluster-lease"))
        log.info("cluster node %s joined (epoch %s)", self.node_id, self.epoch)

    async def stop(self) -> None:
        # The flag, not only cancellation: a cancel can land inside the Redis client, which
        # may swallow it, and a loop must not take the lease again while we stop.
        self._stopping = True
        self._leading = False
        for task in self._loops:
            task.cancel()
        if self._loops:
            _, stuck = await asyncio.wait(self._loops, timeout=5)
            for task in stuck:
                log.warning("cluster task %s did not stop in 5 s", task.get_name())
        self._loops = []
        await self._step_down()
        await self.lease.release()
        await self.redis.aclose(close_connection_pool=True)
        if self._lease_redis is not None:
            await self._lease_redis.aclose(close_connection_pool=True)

    # ---------------------------------------------------------- state hooks

    async def _run(self, agent: str, change: Callable[[CallRegistry], list[Event]]) -> list[Event]:
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
                events = change(reg)
                try:
                    done = await self.state.commit(
                        agent,
                        epoch=self.epoch,
                        expected_ver=ver,
                        dump=reg.dump_agent(agent),
                        seq=reg.last_seq(agent),
                        frames=[(e.seq, wire.encode_event(e)) for e in events],
                    )
                except EpochChangedError:
                    await self._check_epoch()
                    continue
                if done:
                    self._cache[agent] = (ver + 1, reg)
                    if len(self._cache) > CACHED_AGENTS:
                        self._cache.popitem(last=False)
                    return events
                # Another node changed this agent first: read again and redo the change.
                await asyncio.sleep(random.uniform(0, 0.002 * (attempt + 1)))
        raise ClusterUnavailableError(f"the state of {agent} is changing too fast; try again")

    async def _run_many(
        self, agents: list[str], change: Callable[[CallRegistry, list[str]], list[Event]]
    ) -> int:
        # Each agent's state is its own commit in Redis: one change per agent, a bounded
        # number in flight. A failure stops the rest; those already committed stay.
        pending = iter(agents)
        failed: list[Exception] = []

        def only(agent: str) -> Callable[[CallRegistry], list[Event]]:
            return lambda r: change(r, [agent])

        async def worker() -> None:
            for agent in pending:
                if failed:
                    return
                try:
                    await self._run(agent, only(agent))
                except Exception as exc:
                    failed.append(exc)
                    return

        await asyncio.gather(*(worker() for _ in range(min(BULK_IN_FLIGHT, len(agents)))))
        if failed:
            raise failed[0]
        return len(agents)

    async def _read(self, agent: str, look: Callable[[CallRegistry], T]) -> T:
        check_agent_id(agent)
        _, reg = await self._load(agent)
        return look(reg)

    async def _load(self, agent: str) -> tuple[Any, CallRegistry]:
        loaded = await self.state.load(agent)
        reg = CallRegistry(self._copy_limits)
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

    def health(self) -> dict[str, Any]:
        return {
            "cluster": {
                "node": self.node_id,
                "epoch": self.epoch,
                "drivesConnector": self.live is not None,
                "subscribed": self.fanout.subscribed.is_set(),
            }
        }

    async def overview(self) -> list[tuple[str, int]]:
        out = []
        for agent in await self.state.agents():
            try:
                out.append((agent, len(await self._read(agent, _call_ids_of(agent)))))
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
            missed = None
            if since is not None and epoch == self.epoch and since <= loaded.seq:
                missed = await self.state.frames_between(box.agent, since, loaded.seq)
        except BaseException:
            self.fanout.unwatch(box)
            raise
        hello = {**hello, "epoch": self.epoch, "node": self.node_id}
        if missed is not None:
            box.send(wire.frame({**hello, "resumed": "replay", "seq": since}))
            for _, frame in missed:
                box.send(frame)
        else:
            resumed = "fresh" if since is None else "snapshot"
            box.send(wire.frame({**hello, "resumed": resumed, **snapshot_of(reg, box.agent)}))
        self.hub.add(box)
        await self.fanout.start(box, loaded.seq)

    def disconnect_console(self, box: Outbox) -> None:
        self.fanout.unwatch(box)
        self.hub.remove(box)

    async def _check_epoch(self) -> None:
        """If Redis lost the cluster's state, start a new epoch and make consoles resync."""
        current = await self.state.epoch()
        if current == self.epoch:
            return
        old, self.epoch = self.epoch, current or ""
        self._cache.clear()
        if old:
            log.warning("the cluster's shared state was lost: new epoch %s", self.epoch)
            for box in self.fanout.boxes():
                self.fanout.unwatch(box)
                box.close(CLOSE_SERVICE_RESTART, "cluster state reset: reconnect")
            if self.live is not None:
                # Its lines hold calls the new state does not know: start the connector
                # afresh (the lease loop takes the lease again) so both agree.
                await self._step_down()
                with contextlib.suppress(RedisError, OSError):
                    await self.lease.release()

    # ------------------------------------------------------- connector events

    def report(self, event: TelephonyEvent) -> None:
        """Queue a connector event; one worker per agent hash applies them in order."""
        self._queue_of(event.agent).put_nowait(event)

    def _queue_of(self, agent: str) -> asyncio.Queue[TelephonyEvent | asyncio.Future[None]]:
        return self._queues[zlib.crc32(agent.encode(errors="replace")) % REPORT_WORKERS]

    async def _reported(self, agent: str) -> None:
        """Wait until what the connector reported for ``agent`` so far is committed, so a
        caller sees the same state after a command as on a single node."""
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
                    await self._run(event.agent, apply)
                    break
                except TelephonyError as exc:
                    self._dropped(event, exc)
                    break
                except CtiRequestError as exc:  # a bad agent ID from the connector
                    log.warning("dropped telephony event %s: %s", type(event).__name__, exc)
                    break
                except ClusterUnavailableError as exc:
                    if asyncio.get_running_loop().time() > deadline:
                        log.error("lost telephony event %s: %s", event, exc.message)
                        break
                    await asyncio.sleep(delay)  # Redis away: keep the event, in order
                    delay = min(delay * 2, 1.0)
                except CorruptStateError as exc:
                    self._dropped(event, TelephonyError(exc.message))
                    break

    def _applying(self, event: TelephonyEvent) -> Callable[[CallRegistry], list[Event]]:
        # The clock is read on each attempt, as the retries may come much later.
        return lambda r: r.apply(event, now=self.clock())

    # ------------------------------------------------------------ the lease

    async def _lead_forever(self) -> None:
        loop = asyncio.get_running_loop()
        renewed_at = 0.0
        while not self._stopping:
            try:
                if not self._leading:
                    if await self.lease.acquire():
                        renewed_at = loop.time()
                        await self._take_over()
                elif await self.lease.renew():
                    renewed_at = loop.time()
                else:
                    log.warning("node %s lost the connector lease", self.node_id)
                    await self._step_down()
            except (RedisError, OSError) as exc:
                if self._leading and loop.time() - renewed_at > self.lease_seconds * 0.8:
                    log.warning("cannot renew the connector lease (%s): stepping down", exc)
                    await self._step_down()
            except (ClusterUnavailableError, CorruptStateError) as exc:
                log.warning("connector takeover interrupted: %s", exc.message)
                await self._step_down()
                with contextlib.suppress(RedisError, OSError):
                    await self.lease.release()
            await asyncio.sleep(self.lease_seconds / 4)

    async def _take_over(self) -> None:
        """This node now drives the connector: start one and give it the calls on lines."""
        if self._stopping:
            return
        connector = self._make_connector()
        await connector.start(self)
        self.live, self._leading = connector, True
        self._loops.append(asyncio.create_task(self._serve_requests(), name="cluster-requests"))
        on_lines = []
        for agent in await self.state.agents():
            try:
                _, reg = await self._load(agent)
            except CorruptStateError as exc:
                log.warning("not resyncing %s: %s", agent, exc.message)
                continue
            on_lines += [(agent, c) for c in reg.calls(agent) if c.line_state is not None]
        refused = await self.hand_over_calls(
            connector, on_lines, "telephony connector moved to another node: the call was lost"
        )
        log.info(
            "node %s drives the %s connector (%d calls on lines taken over, %d lost)",
            self.node_id,
            connector.name,
            len(on_lines) - len(refused),
            len(refused),
        )

    async def _step_down(self) -> None:
        self._leading = False
        live, self.live = self.live, None
        if live is not None:
            try:
                await live.stop()
            except Exception:
                log.exception("stopping the connector failed")

    async def _serve_requests(self) -> None:
        key = f"{self.prefix}connector:requests"
        while self._leading and not self._stopping:
            try:
                item = await self.redis.blpop([key], timeout=1)
            except (RedisError, OSError):
                await asyncio.sleep(0.2)
                continue
            if item is not None:
                self._spawn(self._serve_one(item[1]))

    async def _serve_one(self, raw: bytes | str) -> None:
        try:
            kind, payload, reply, deadline = remote.parse_request(raw, prefix=self.prefix)
        except ValueError as exc:
            log.warning("ignored a malformed connector request: %s", exc)
            return
        if deadline < self.clock():
            return  # its sender gave up already
        try:
            value = await self.run_locally(kind, payload)
            out = remote.encode_reply(ok=True, value=value)
        except (ActionFailedError, ValueError, CtiRequestError) as exc:
            out = remote.encode_reply(ok=False, error=str(exc))
        except Exception:
            log.exception("connector request %s failed", kind)
            out = remote.encode_reply(ok=False, error="internal error on the connector node")
        try:
            await self.redis.rpush(reply, out)
            await self.redis.expire(reply, remote.REPLY_TTL_SECONDS)
        except (RedisError, OSError) as exc:
            log.warning("could not reply to a connector request: %s", exc)

    async def run_locally(self, kind: remote.Kind, payload: Mapping[str, Any]) -> Any:
        live = self.live
        if live is None:
            raise ActionFailedError("this node no longer drives the telephony connector")
        if kind is remote.Kind.EXECUTE:
            action = remote.action_from_dict(payload)
            await live.execute(action)
            await self._reported(action.agent)
            return None
        if not isinstance(live, CallPlacer):
            raise ActionFailedError(f"the {live.name} connector cannot place test calls")
        data, agent = payload.get("data"), check_agent_id(payload.get("agent"))
        call_id = await live.place_inbound_call(
            agent,
            ani=_str(payload.get("ani")),
            dnis=_str(payload.get("dnis")),
            data=data if isinstance(data, dict) else None,
        )
        await self._reported(agent)
        return call_id

    async def ask_leader(self, kind: remote.Kind, payload: Mapping[str, Any]) -> Any:
        if self.live is not None:
            return await self.run_locally(kind, payload)
        try:
            if await self.lease.holder_now() is None:
                raise ActionFailedError(
                    "no node drives the telephony connector right now (a takeover takes up to "
                    f"{self.lease_seconds:g} s): try again"
                )
            reply, body = remote.new_request(
                kind, payload, prefix=self.prefix, within=REQUEST_TIMEOUT
            )
            await self.redis.rpush(f"{self.prefix}connector:requests", body)
            got = await self.redis.blpop([reply], timeout=REQUEST_TIMEOUT)
        except (RedisError, OSError) as exc:
            raise ActionFailedError(f"the cluster's Redis is unreachable: {exc}") from None
        if got is None:
            raise ActionFailedError("the node driving the telephony connector did not answer")
        return remote.parse_reply(got[1])


class ClusterConnector:
    """What the server sees as its connector on every node: forwards to the lease holder."""

    def __init__(self, service: ClusterService, prototype: Connector) -> None:
        self._service = service
        self.name = prototype.name
        self._can_place = isinstance(prototype, CallPlacer) and bool(
            getattr(prototype, "can_place_calls", True)
        )

    @property
    def can_place_calls(self) -> bool:
        return self._can_place

    async def start(self, sink: Any) -> None:
        """The lease decides where the real connector runs."""

    async def stop(self) -> None:
        """See :meth:`start`."""

    async def execute(self, action: ConnectorAction) -> None:
        await self._service.ask_leader(remote.Kind.EXECUTE, remote.action_to_dict(action))

    async def place_inbound_call(
        self,
        agent: str,
        *,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> str:
        if not self._can_place:
            raise ActionFailedError(f"the {self.name} connector cannot place test calls")
        call_id = await self._service.ask_leader(
            remote.Kind.PLACE_CALL,
            {"agent": agent, "ani": ani, "dnis": dnis, "data": dict(data) if data else None},
        )
        if not isinstance(call_id, str):
            raise ActionFailedError("the connector node sent a malformed call ID")
        return call_id


def _call_ids_of(agent: str) -> Callable[[CallRegistry], list[str]]:
    return lambda r: r.call_ids(agent)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
