"""Login budgets: failed logins per user name and per client address, and how many password
checks run at once (docs/security.md, "Logins").

An attempt is *reserved* before its password is checked, and counts as a failure until it
proves right: forty guesses sent at once meet the limit at once (issue 13, F1), with no
argon2 work for the ones refused. Two implementations of the same windows:

- :class:`LocalLoginLimiter`: in memory, for a single node. Pure (the caller passes the
  time); its tables are bounded, since anyone can try any name from any address.
- :class:`RedisLoginLimiter`: in Redis, one Lua step per attempt, so the limits hold across
  the nodes of a cluster.

:class:`PasswordChecks` runs argon2 (64 MiB and ~0.15 s of a core per check) on a few
threads of its own with a bounded queue: a flood of logins costs a bounded amount of memory
and CPU, and is refused (503) rather than queued for seconds (F8).
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import logging
import os
import secrets
import threading
from collections import OrderedDict
from collections.abc import AsyncIterator, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any, Protocol

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..config import Config
from ..core.errors import CtiRequestError

log = logging.getLogger("ctikit.auth")

MAX_TRACKED = 10_000  # user names (and, separately, addresses) with recent failures kept
#: Login steps in Redis at once on a node (the rest wait their turn).
REDIS_AT_ONCE = 8


class LoginLockedError(CtiRequestError):
    """Too many failed logins for a user name or from an address: wait ``retry_after``
    seconds (REST: 429 with Retry-After)."""

    code = "rate_limited"

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class LoginBusyError(CtiRequestError):
    """More logins at once than the server checks passwords for (REST: 503, Retry-After)."""

    code = "unavailable"


@dataclass(frozen=True, slots=True)
class LoginLimits:
    per_user: int = 5
    per_address: int = 30
    window: float = 60.0

    @classmethod
    def of(cls, config: Config) -> LoginLimits:
        limits = cls(
            config.login_failures_per_user,
            config.login_failures_per_address,
            float(config.login_window),
        )
        if limits.per_user < 1 or limits.per_address < 1:
            raise ValueError("server.login_failures_per_user and _per_address must be >= 1")
        if not 1 <= limits.window <= 86_400:
            raise ValueError("server.login_window must be 1 to 86400 seconds")
        return limits


@dataclass(frozen=True, slots=True)
class Attempt:
    """A reserved login attempt: give it back with ``failed``, ``succeeded`` or ``released``."""

    user: str
    address: str
    id: str


def _locked(what: str, retry_after: float) -> LoginLockedError:
    wait = max(1, round(retry_after))
    return LoginLockedError(f"too many failed logins {what}: wait {wait} s", retry_after)


_WHAT = ("for this user", "from your address")


class LoginLimiter(Protocol):
    async def reserve(self, user: str, address: str) -> Attempt: ...
    async def failed(self, attempt: Attempt) -> None: ...
    async def succeeded(self, attempt: Attempt) -> None: ...
    async def released(self, attempt: Attempt) -> None: ...


class LocalLoginLimiter:
    """Sliding windows in memory. Each user name and each address holds the times of its
    attempts within the window (failed ones, and ones being checked); at the limit, new ones
    are refused until the oldest leaves the window."""

    def __init__(
        self,
        limits: LoginLimits,
        clock: Callable[[], float],
        *,
        max_tracked: int = MAX_TRACKED,
    ) -> None:
        self.limits = limits
        self._clock = clock
        self._max = max_tracked
        # key -> [(time, attempt id)], oldest first; the dicts in least-recently-used order.
        self._tables: tuple[OrderedDict[str, list[tuple[float, str]]], ...] = (
            OrderedDict(),
            OrderedDict(),
        )
        self._ids = itertools.count()

    def tracked(self) -> tuple[int, int]:
        """How many user names and addresses are held (for tests and health)."""
        return len(self._tables[0]), len(self._tables[1])

    def reserve_now(self, user: str, address: str, now: float) -> Attempt:
        """Reserve an attempt at time ``now``, or raise :class:`LoginLockedError`."""
        keys = (user, address)
        limits = (self.limits.per_user, self.limits.per_address)
        windows = [self._window(i, keys[i], now) for i in range(2)]
        for i, window in enumerate(windows):
            if len(window) >= limits[i]:
                raise _locked(_WHAT[i], window[0][0] + self.limits.window - now)
        attempt = Attempt(user, address, str(next(self._ids)))
        for i, window in enumerate(windows):
            window.append((now, attempt.id))
            self._store(i, keys[i], window, now)
        return attempt

    def _window(self, table: int, key: str, now: float) -> list[tuple[float, str]]:
        window = self._tables[table].get(key, [])
        cutoff = now - self.limits.window
        while window and window[0][0] <= cutoff:
            window.pop(0)
        return window

    def _store(self, table: int, key: str, window: list[tuple[float, str]], now: float) -> None:
        entries = self._tables[table]
        entries[key] = window
        entries.move_to_end(key)
        if len(entries) > self._max:
            # Anyone can try any name from many addresses: drop what has left the window,
            # then the least recently tried (a flood of new names can push a locked one out
            # only by being a flood, which the per-address limit meets first).
            cutoff = now - self.limits.window
            for k in [k for k, w in entries.items() if not w or w[-1][0] <= cutoff]:
                del entries[k]
            while len(entries) > self._max:
                entries.popitem(last=False)

    def _forget(self, table: int, key: str, attempt_id: str) -> None:
        window = self._tables[table].get(key)
        if window is not None:
            window[:] = [entry for entry in window if entry[1] != attempt_id]
            if not window:
                del self._tables[table][key]

    async def reserve(self, user: str, address: str) -> Attempt:
        return self.reserve_now(user, address, self._clock())

    async def failed(self, attempt: Attempt) -> None:
        pass  # the reservation stays in both windows as the failure

    async def succeeded(self, attempt: Attempt) -> None:
        self._tables[0].pop(attempt.user, None)  # a right password clears the name's record
        self._forget(1, attempt.address, attempt.id)

    async def released(self, attempt: Attempt) -> None:
        self._forget(0, attempt.user, attempt.id)
        self._forget(1, attempt.address, attempt.id)


# KEYS: the user's and the address's sorted sets (score: ms). ARGV: window ms, the two
# limits, the attempt's member. Returns {0, 0}, or {1 or 2 (which limit), ms to wait}.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local window = tonumber(ARGV[1])
for i = 1, 2 do
  redis.call('ZREMRANGEBYSCORE', KEYS[i], '-inf', now - window)
  if redis.call('ZCARD', KEYS[i]) >= tonumber(ARGV[i + 1]) then
    local oldest = redis.call('ZRANGE', KEYS[i], 0, 0, 'WITHSCORES')
    return {i, tonumber(oldest[2]) + window - now}
  end
end
for i = 1, 2 do
  redis.call('ZADD', KEYS[i], now, ARGV[4])
  redis.call('PEXPIRE', KEYS[i], window)
end
return {0, 0}
"""


class RedisLoginLimiter:
    """The same windows as :class:`LocalLoginLimiter`, in Redis sorted sets (Redis's clock),
    shared by every node. Redis unreachable: logins are refused (503), never let through."""

    def __init__(self, redis: Any, prefix: str, limits: LoginLimits) -> None:
        self._redis = redis
        self._prefix = f"{prefix}login:"
        self.limits = limits
        self._script = redis.register_script(_RESERVE)
        # 200 logins at once would open 200 new connections to Redis (~1 ms of the event
        # loop each); in a server, ``redis`` is the login limits' own (few) connections.
        self._turns = asyncio.Semaphore(REDIS_AT_ONCE)

    def _keys(self, attempt: Attempt) -> tuple[str, str]:
        return f"{self._prefix}user:{attempt.user}", f"{self._prefix}addr:{attempt.address}"

    async def reserve(self, user: str, address: str) -> Attempt:
        attempt = Attempt(user, address, secrets.token_hex(8))
        window_ms = int(self.limits.window * 1000)
        try:
            async with self._turns:
                which, wait_ms = await self._script(
                    keys=list(self._keys(attempt)),
                    args=[window_ms, self.limits.per_user, self.limits.per_address, attempt.id],
                )
        except (RedisError, OSError) as exc:
            log.warning("login refused: the cluster's Redis is unreachable (%s)", exc)
            raise LoginBusyError("logins are unavailable right now: try again") from None
        if int(which):
            raise _locked(_WHAT[int(which) - 1], int(wait_ms) / 1000)
        return attempt

    async def failed(self, attempt: Attempt) -> None:
        pass

    async def _quietly(self, *commands: tuple[str, ...]) -> None:
        try:
            async with self._turns, self._redis.pipeline(transaction=False) as pipe:
                for command in commands:
                    pipe.execute_command(*command)
                await pipe.execute()
        except (RedisError, OSError) as exc:  # a stale entry expires with the window
            log.warning("could not update the login record in Redis: %s", exc)

    async def succeeded(self, attempt: Attempt) -> None:
        user, address = self._keys(attempt)
        await self._quietly(("DEL", user), ("ZREM", address, attempt.id))

    async def released(self, attempt: Attempt) -> None:
        user, address = self._keys(attempt)
        await self._quietly(("ZREM", user, attempt.id), ("ZREM", address, attempt.id))


def login_limiter(
    config: Config, redis: aioredis.Redis | None, clock: Callable[[], float]
) -> LoginLimiter:
    """Kept in ``redis`` (the cluster's, shared by every node) when given, else local."""
    limits = LoginLimits.of(config)
    if redis is not None:
        return RedisLoginLimiter(redis, config.cluster_prefix, limits)
    return LocalLoginLimiter(limits, clock)


# ----------------------------------------------------------------------- password checks


def _lower_priority() -> None:
    # The event loop serves every console; a password check can wait a few milliseconds.
    try:
        tid = threading.get_native_id()
        os.setpriority(os.PRIO_PROCESS, tid, min(19, os.getpriority(os.PRIO_PROCESS, tid) + 10))
    except (OSError, AttributeError):
        pass


def cores() -> int:
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:
        return os.cpu_count() or 1


class PasswordChecks:
    """Runs ``check(hash, password)`` (argon2) on ``slots`` threads of its own, niced below
    the event loop; at most ``queue`` more wait, and the rest are refused at once with
    :class:`LoginBusyError`."""

    def __init__(self, check: Callable[[str | None, str], bool], *, slots: int, queue: int) -> None:
        if slots < 1 or queue < 0:
            raise ValueError("server.login_concurrency must be >= 0 and login_queue >= 0")
        self._check = check
        self.slots, self.queue = slots, queue
        self._executor = ThreadPoolExecutor(
            max_workers=slots, thread_name_prefix="ctikit-argon2", initializer=_lower_priority
        )
        self._free = asyncio.Semaphore(slots)
        self.waiting = 0

    @classmethod
    def of(cls, config: Config, check: Callable[[str | None, str], bool]) -> PasswordChecks:
        return cls(check, slots=config.login_concurrency or cores(), queue=config.login_queue)

    @contextlib.asynccontextmanager
    async def turn(self) -> AsyncIterator[None]:
        """A slot for one login's checks (the user's record, then :meth:`check`): refused
        at once with :class:`LoginBusyError` when ``queue`` logins wait already, so a flood
        is refused before it reaches the database."""
        if self._free.locked():
            if self.waiting >= self.queue:
                raise LoginBusyError("too many logins at once: try again in a second")
            self.waiting += 1
            try:
                await self._free.acquire()
            finally:
                self.waiting -= 1
        else:
            await self._free.acquire()
        try:
            yield
        finally:
            self._free.release()

    def warm(self, work: Callable[[], object]) -> None:
        """Run ``work`` on the checks' threads now (a login's checks queue behind it)."""
        self._executor.submit(work)

    async def check(self, hash_: str | None, password: str) -> bool:
        """argon2 on a thread of its own (call it within a :meth:`turn`)."""
        loop = asyncio.get_running_loop()
        return await loop.run_in_executor(self._executor, self._check, hash_, password)

    def close(self) -> None:
        self._executor.shutdown(wait=False, cancel_futures=True)
