"""A lease in Redis: which node drives the telephony connector, and the loop that holds it.

The holder renews the key well before it expires; a node that dies stops renewing and
another takes over after at most ``ttl`` seconds. A holder that cannot renew in time (Redis
away, the process stalled) gives the lease up itself, so two nodes never drive one PBX at
once for longer than a renew interval.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..connectors.base import Connector
from ..core.errors import CtiError
from ..server.backend import StateBackend
from ..server.telephony import LocalTelephony

log = logging.getLogger("ctikit.cluster")

_RENEW = """
if redis.call('GET', KEYS[1]) == ARGV[1] then
  return redis.call('PEXPIRE', KEYS[1], ARGV[2])
end
return 0
"""
_RELEASE = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


class Lease:
    """The lease key in Redis, held by ``holder`` for ``ttl`` seconds at a time. It owns
    its client (:meth:`close`): renewing must never wait behind a busy shared pool."""

    def __init__(self, redis: aioredis.Redis, key: str, holder: str, ttl: float) -> None:
        self.redis = redis
        self.key = key
        self.holder = holder
        self.ttl_ms = max(int(ttl * 1000), 500)
        self._renew = redis.register_script(_RENEW)
        self._release = redis.register_script(_RELEASE)

    async def acquire(self) -> bool:
        """Take the lease if nobody holds it. Raises RedisError if Redis is away."""
        if await self.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms):
            return True
        try:
            if await self.redis.pttl(self.key) == -1:
                # A key without expiry was not written by a node: it would block every node
                # forever. Replace it.
                log.warning("lease %s had no expiry (not set by ctikit): replacing it", self.key)
                await self.redis.delete(self.key)
                return bool(await self.redis.set(self.key, self.holder, nx=True, px=self.ttl_ms))
        except ResponseError:
            pass
        return False

    async def renew(self) -> bool:
        """Extend the lease if this node still holds it. Raises RedisError if Redis is away."""
        try:
            return bool(await self._renew(keys=[self.key], args=[self.holder, self.ttl_ms]))
        except ResponseError:  # the key was overwritten with another type
            return False

    async def release(self) -> None:
        try:
            await self._release(keys=[self.key], args=[self.holder])
        except RedisError as exc:
            log.info("could not release lease %s (%s): it expires by itself", self.key, exc)

    async def close(self) -> None:
        await self.redis.aclose(close_connection_pool=True)

    async def holder_now(self) -> str | None:
        try:
            value = await self.redis.get(self.key)
        except ResponseError:
            return None
        return value.decode(errors="replace") if isinstance(value, bytes) else None


#: Why a call on a line is ended when the new lease holder's connector cannot take it over.
MOVED = "telephony connector moved to another node: the call was lost"


class LeadLoop:
    """Drives a connector while this node holds the connector lease.

    Every ``lease.ttl / 4`` seconds it renews the lease, or tries to take it. On taking it,
    it builds a fresh connector with ``make_connector`` and starts it on the state backend
    as a :class:`~ctikit.server.telephony.LocalTelephony` (which takes over the calls on
    lines, or ends them with :data:`MOVED`); ``on_lead`` then runs. A holder that cannot
    renew for 80 % of the lease steps down by itself (no split brain), as it does when it
    loses the lease or the cluster's state is lost.
    """

    def __init__(
        self,
        lease: Lease,
        make_connector: Callable[[], Connector],
        *,
        command_timeout: float,
        on_lead: Callable[[], None] | None = None,
    ) -> None:
        self.lease = lease
        self._make_connector = make_connector
        self._command_timeout = command_timeout
        self._on_lead = on_lead
        #: The connector this node drives now, if it holds the lease.
        self.local: LocalTelephony | None = None
        self._backend: StateBackend | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping = False

    async def start(self, backend: StateBackend) -> None:
        """Take the lease at once if it is free (the first node up drives the connector
        from the start), then keep at it in the background."""
        self._backend, self._stopping = backend, False
        with contextlib.suppress(RedisError, OSError):
            if await self.lease.acquire():
                await self._take_over()
        self._task = asyncio.create_task(self._lead_forever(), name="cluster-lease")

    async def stop(self) -> None:
        # The flag, not only cancellation: a cancel can land inside the Redis client, which
        # may swallow it, and the loop must not take the lease again while we stop.
        self._stopping = True
        if self._task is not None:
            self._task.cancel()
            _, stuck = await asyncio.wait([self._task], timeout=5)
            if stuck:
                log.warning("the lease loop did not stop in 5 s")
            self._task = None
        await self.step_down()
        await self.lease.release()
        await self.lease.close()

    async def step_down(self) -> None:
        """Stop driving the connector (the lease is left to expire or be released)."""
        local, self.local = self.local, None
        if local is not None:
            try:
                await local.stop()
            except Exception:
                log.exception("stopping the connector failed")

    async def restart(self) -> None:
        """Start over: step down and release the lease, so that a connector started afresh
        (here or elsewhere) agrees with the state."""
        if self.local is not None:
            await self.step_down()
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()

    async def _lead_forever(self) -> None:
        loop = asyncio.get_running_loop()
        renewed_at = loop.time()
        ttl = self.lease.ttl_ms / 1000
        while not self._stopping:
            try:
                if self.local is None:
                    if await self.lease.acquire():
                        renewed_at = loop.time()
                        await self._take_over()
                elif await self.lease.renew():
                    renewed_at = loop.time()
                else:
                    log.warning("node %s lost the connector lease", self.lease.holder)
                    await self.step_down()
            except (RedisError, OSError) as exc:
                if self.local is not None and loop.time() - renewed_at > ttl * 0.8:
                    log.warning("cannot renew the connector lease (%s): stepping down", exc)
                    await self.step_down()
            await asyncio.sleep(ttl / 4)

    async def _take_over(self) -> None:
        """This node now drives the connector: start one and give it the calls on lines."""
        if self._stopping:
            return
        assert self._backend is not None
        connector = self._make_connector()
        # Set before it starts: the connector's first reports go to it (a refused call is
        # hung up), and a command that comes too early gets the connector's own "not
        # running" refusal.
        self.local = local = LocalTelephony(
            connector, command_timeout=self._command_timeout, lost_reason=MOVED
        )
        try:
            await local.start(self._backend)
        except Exception as exc:
            message = exc.message if isinstance(exc, CtiError) else repr(exc)
            log.warning("connector takeover interrupted: %s", message)
            await self.step_down()
            with contextlib.suppress(RedisError, OSError):
                await self.lease.release()
            return
        log.info("node %s drives the %s connector", self.lease.holder, connector.name)
        if self._on_lead is not None:
            self._on_lead()
