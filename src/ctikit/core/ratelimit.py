"""A token bucket: ``rate`` actions (or bytes) per second on average, bursts up to ``burst``.

Pure: the caller passes the time. The server keeps one per console socket (requests) and
one per user, shared by its sockets (bytes: :class:`SharedBuckets`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

#: A second with no refusal forgets the refusals before it.
QUIET_SECONDS = 1.0


@dataclass(slots=True)
class TokenBucket:
    rate: float
    burst: float
    _tokens: float = field(init=False)
    _last: float | None = field(init=False, default=None)
    #: Requests refused with no quiet second between them: the server closes a socket that
    #: keeps hammering instead of slowing down. (Not reset by an allowed request: a client
    #: sending ten times the rate gets one through every refill and would never be closed.)
    refused_lately: int = field(init=False, default=0)
    _last_refused: float | None = field(init=False, default=None)

    def __post_init__(self) -> None:
        if self.rate <= 0 or self.burst < 1:
            raise ValueError("rate must be > 0 and burst >= 1")
        self._tokens = self.burst

    def allow(self, now: float, cost: float = 1.0) -> bool:
        """Take ``cost`` tokens if there are that many (a cost over ``burst`` never passes)."""
        if self._last is not None and now > self._last:
            self._tokens = min(self.burst, self._tokens + (now - self._last) * self.rate)
        self._last = now if self._last is None else max(self._last, now)
        if self._last_refused is not None and now - self._last_refused >= QUIET_SECONDS:
            self.refused_lately = 0
        if self._tokens >= cost:
            self._tokens -= cost
            return True
        self.refused_lately += 1
        self._last_refused = now
        return False


@dataclass(slots=True)
class SharedBuckets:
    """One :class:`TokenBucket` per key (a user), shared by its holders (the user's
    sockets) and forgotten when the last lets go: the budget follows the user, not how
    many sockets it opens."""

    rate: float
    burst: float
    _held: dict[str, tuple[TokenBucket, int]] = field(init=False, default_factory=dict)

    def hold(self, key: str) -> TokenBucket:
        bucket, holders = self._held.get(key) or (TokenBucket(self.rate, self.burst), 0)
        self._held[key] = (bucket, holders + 1)
        return bucket

    def release(self, key: str) -> None:
        bucket, holders = self._held[key]
        if holders <= 1:
            del self._held[key]
        else:
            self._held[key] = (bucket, holders - 1)

    def __len__(self) -> int:
        return len(self._held)
