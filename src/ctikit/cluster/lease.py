"""A lease in Redis: which node drives the telephony connector.

The holder renews the key well before it expires; a node that dies stops renewing and
another takes over after at most ``ttl`` seconds. A holder that cannot renew in time (Redis
away, the process stalled) gives the lease up itself, so two nodes never drive one PBX at
once for longer than a renew interval.
"""

from __future__ import annotations

import logging

import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

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

    async def holder_now(self) -> str | None:
        try:
            value = await self.redis.get(self.key)
        except ResponseError:
            return None
        return value.decode(errors="replace") if isinstance(value, bytes) else None
