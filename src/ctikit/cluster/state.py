"""Call state and per-agent event logs in Redis, shared by every node of a cluster.

Layout (``P`` is the key prefix, ``ctikit:`` by default):

- ``P epoch``: names the cluster's event numbering. It is created once; if Redis comes back
  empty (it lost its data) it is gone, commits are refused and nodes start a new epoch, so
  no console trusts a replay cursor from the old numbering.
- ``P agent:{id}``: hash with ``state`` (the registry's dump of the agent: calls, recent
  calls, pending data, sequence number), ``seq`` and ``ver`` (bumped by every commit).
- ``P events:{id}``: stream of the agent's events; entry ID ``{seq}-0`` *is* the replay
  cursor, field ``f`` the encoded frame. Trimmed to about the replay window.
- ``P agents``: set of agent IDs with state (for supervisors).
- channel ``P fanout:{id}``: the agent's committed events as ``agent\\nseq\\nframe``; a node
  subscribes to the channels of the agents it has sockets for, and hears nothing else.

A change is optimistic: read ``ver`` and ``state``, run the core on a copy, then commit with
one Lua script that checks ``ver`` is unchanged, writes the state, appends the events and
publishes them -- all or nothing, in one Redis step, so every node sees the same order.
"""

from __future__ import annotations

import logging
import secrets
from dataclasses import dataclass
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError, ResponseError

from ..core.errors import CtiError

log = logging.getLogger("ctikit.cluster")

_decode = msgspec.json.Decoder().decode
_encode = msgspec.json.Encoder().encode

# KEYS: agent hash, stream, agents set, epoch key.
# ARGV: epoch, expected ver, state, seq, channel, maxlen, agent, then (seq, frame) pairs.
# Returns 1 (committed), 0 (someone else committed first: retry), -1 (epoch gone/changed),
# -2 (the agent's key is not a hash: damaged, nothing written).
_COMMIT = """
if redis.call('GET', KEYS[4]) ~= ARGV[1] then return -1 end
-- Check before writing: a script that fails half-way keeps its first writes.
local t = redis.call('TYPE', KEYS[1]).ok
if t ~= 'hash' and t ~= 'none' then return -2 end
-- The stream and the set only index the state: damaged ones are rebuilt.
t = redis.call('TYPE', KEYS[2]).ok
if t ~= 'stream' and t ~= 'none' then redis.call('DEL', KEYS[2]) end
t = redis.call('TYPE', KEYS[3]).ok
if t ~= 'set' and t ~= 'none' then redis.call('DEL', KEYS[3]) end
local ver = tonumber(redis.call('HGET', KEYS[1], 'ver') or '0') or -1
if ver ~= tonumber(ARGV[2]) then return 0 end
redis.call('HSET', KEYS[1], 'ver', ver + 1, 'seq', ARGV[4], 'state', ARGV[3])
redis.call('SADD', KEYS[3], ARGV[7])
for i = 8, #ARGV, 2 do
  redis.call('XADD', KEYS[2], 'MAXLEN', '~', ARGV[6], ARGV[i] .. '-0', 'f', ARGV[i + 1])
  redis.call('PUBLISH', ARGV[5], ARGV[7] .. '\\n' .. ARGV[i] .. '\\n' .. ARGV[i + 1])
end
return 1
"""


#: Frames read from Redis at once for a replay.
REPLAY_PAGE = 50


class ClusterUnavailableError(CtiError):
    """Redis cannot be reached or refused the change; the request may be retried."""

    code = "unavailable"


class CorruptStateError(CtiError):
    """What Redis holds for an agent is not ctikit state (damaged or hostile)."""

    code = "corrupt_state"


class EpochChangedError(ClusterUnavailableError):
    """Redis lost the cluster's state (restarted empty, flushed): a new epoch begins."""


@dataclass(frozen=True, slots=True)
class Loaded:
    """An agent's state as read: the registry dump (None if new), its version and seq."""

    dump: dict[str, Any] | None
    ver: int
    seq: int


class RedisState:
    """The cluster's shared state. Every method raises :class:`ClusterUnavailableError` when
    Redis cannot be used, never a driver exception."""

    def __init__(self, redis: aioredis.Redis, *, prefix: str, replay_window: int) -> None:
        self.redis = redis
        self.prefix = prefix
        self.replay_window = replay_window
        self.channel_prefix = f"{prefix}fanout:"
        self._commit = redis.register_script(_COMMIT)

    def channel_of(self, agent: str) -> str:
        return f"{self.channel_prefix}{agent}"

    def _agent_key(self, agent: str) -> str:
        return f"{self.prefix}agent:{agent}"

    def _stream_key(self, agent: str) -> str:
        return f"{self.prefix}events:{agent}"

    async def epoch(self, *, create: bool = True) -> str | None:
        """The cluster's epoch; created (once, whichever node is first) if missing."""
        key = f"{self.prefix}epoch"
        try:
            value = await self.redis.get(key)
            if value is None and create:
                await self.redis.set(key, secrets.token_hex(8), nx=True)
                value = await self.redis.get(key)
        except ResponseError as exc:  # e.g. WRONGTYPE: the key was overwritten
            raise CorruptStateError(f"the cluster epoch key holds bad data: {exc}") from None
        except RedisError as exc:
            raise _unavailable(exc) from None
        if value is None:
            return None
        text = value.decode(errors="replace") if isinstance(value, bytes) else str(value)
        if not 1 <= len(text) <= 64:
            raise CorruptStateError("the cluster epoch key holds bad data")
        return text

    async def load(self, agent: str) -> Loaded:
        try:
            ver, seq, raw = await self.redis.hmget(self._agent_key(agent), "ver", "seq", "state")
        except ResponseError as exc:
            raise CorruptStateError(f"the state of {agent} in Redis is damaged: {exc}") from None
        except RedisError as exc:
            raise _unavailable(exc) from None
        if raw is None and ver is None:
            return Loaded(None, 0, 0)
        try:
            if raw is None or ver is None or seq is None:
                raise ValueError("ver, seq or state is missing")
            dump = _decode(raw)
            if not isinstance(dump, dict):
                raise ValueError("not an object")
            return Loaded(dump, int(ver), int(seq))
        except (msgspec.DecodeError, TypeError, ValueError) as exc:
            raise CorruptStateError(f"the state of {agent} in Redis is damaged: {exc}") from None

    async def seq(self, agent: str) -> int:
        """The agent's last committed sequence number (0 if it has no state)."""
        try:
            raw = await self.redis.hget(self._agent_key(agent), "seq")
        except RedisError as exc:
            raise _unavailable(exc) from None
        try:
            return 0 if raw is None else int(raw)
        except ValueError:
            raise CorruptStateError(f"the seq of {agent} in Redis is damaged") from None

    async def commit(
        self,
        agent: str,
        *,
        epoch: str,
        expected_ver: int,
        dump: dict[str, Any],
        seq: int,
        frames: list[tuple[int, bytes]],
    ) -> bool:
        """Write ``dump`` and append/publish ``frames`` if nobody committed since
        ``expected_ver``; False if someone did (read again and retry)."""
        args: list[Any] = [
            epoch,
            expected_ver,
            _encode(dump),
            seq,
            self.channel_of(agent),
            self.replay_window,
            agent,
        ]
        for fseq, frame in frames:
            args += [fseq, frame]
        keys = [
            self._agent_key(agent),
            self._stream_key(agent),
            f"{self.prefix}agents",
            f"{self.prefix}epoch",
        ]
        try:
            result: int = await self._commit(keys=keys, args=args)  # the script returns integers
        except ResponseError as exc:  # WRONGTYPE and friends: a damaged key
            raise CorruptStateError(f"cannot write the state of {agent}: {exc}") from None
        except RedisError as exc:
            raise _unavailable(exc) from None
        if result == -1:
            raise EpochChangedError("the cluster's shared state was lost (new epoch)")
        if result == -2:
            raise CorruptStateError(f"the state of {agent} in Redis is damaged (wrong type)")
        return result == 1

    async def frames_between(
        self, agent: str, after: int, upto: int, *, max_bytes: int | None = None
    ) -> list[tuple[int, bytes]] | None:
        """Frames with ``after < seq <= upto`` in order, or None if some were trimmed or
        they add up to more than ``max_bytes`` (read a page at a time: a console asking
        for a long replay costs at most that much, issue 13 F2)."""
        if upto <= after:
            return []
        out: list[tuple[int, bytes]] = []
        expected, size = after + 1, 0
        while expected <= upto:
            try:
                entries = await self.redis.xrange(
                    self._stream_key(agent),
                    min=f"{expected}-0",
                    max=f"{upto}-0",
                    count=REPLAY_PAGE,
                )
            except ResponseError as exc:
                raise CorruptStateError(f"the event log of {agent} is damaged: {exc}") from None
            except RedisError as exc:
                raise _unavailable(exc) from None
            if not entries:  # trimmed (or XRANGE answered nil): nothing can be replayed
                return None
            for entry_id, fields in entries:
                if not isinstance(entry_id, bytes) or fields is None:
                    return None  # not an entry this client reads: treat it as a hole
                seq = int(entry_id.split(b"-", 1)[0])
                frame = fields.get(b"f")
                if seq != expected or not isinstance(frame, bytes):
                    return None  # trimmed, or a hole: the console needs a snapshot
                size += len(frame)
                if max_bytes is not None and size > max_bytes:
                    return None  # too long to replay: a snapshot is smaller
                out.append((seq, frame))
                expected += 1
        return out

    async def agents(self) -> list[str]:
        try:
            members = await self.redis.smembers(f"{self.prefix}agents")
        except ResponseError as exc:
            raise CorruptStateError(f"the agent list in Redis is damaged: {exc}") from None
        except RedisError as exc:
            raise _unavailable(exc) from None
        return sorted(m.decode(errors="replace") if isinstance(m, bytes) else m for m in members)


def _unavailable(exc: Exception) -> ClusterUnavailableError:
    return ClusterUnavailableError(
        f"the cluster's shared state (Redis) is unreachable: {type(exc).__name__}; try again"
    )
