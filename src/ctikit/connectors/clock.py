"""The time and timers of a connector's pump, injected so that tests control them.

A pump asks a :class:`Clock` for the time, to run a callback later and to sleep; it never
reads ``time.time()`` or the event loop itself. :class:`LoopClock` is the real one (the wall
clock, timers on the running asyncio loop). :class:`ManualClock` is trio's ``MockClock`` for
asyncio: time stands still until a test calls :meth:`ManualClock.advance`, which runs the due
timers in order, instantly and deterministically (a 30 s ring timeout takes no time).
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    """A callback scheduled by :meth:`Clock.call_later`."""

    def cancel(self) -> None:
        """Do not run it (nothing happens if it ran already)."""


class Clock(Protocol):
    """Time and timers for a pump."""

    def time(self) -> float:
        """Seconds since the epoch (or any fixed origin: only differences matter)."""

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        """Run ``callback`` (on the event loop) ``delay`` seconds from now."""

    async def sleep(self, delay: float) -> None:
        """Wait ``delay`` seconds."""


class LoopClock:
    """The real clock: ``wall()`` for the time (``time.time`` by default), the running
    asyncio loop for timers and sleeps."""

    def __init__(self, wall: Callable[[], float] = time.time) -> None:
        self._wall = wall

    def time(self) -> float:
        return self._wall()

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        return asyncio.get_running_loop().call_later(max(0.0, delay), callback)

    async def sleep(self, delay: float) -> None:
        await asyncio.sleep(max(0.0, delay))


class _Entry:
    __slots__ = ("callback", "cancelled", "seq", "when")

    def __init__(self, when: float, seq: int, callback: Callable[[], None]) -> None:
        self.when, self.seq, self.callback, self.cancelled = when, seq, callback, False

    def __lt__(self, other: _Entry) -> bool:
        return (self.when, self.seq) < (other.when, other.seq)

    def cancel(self) -> None:
        self.cancelled = True


class ManualClock:
    """A clock that moves only when told to (see the module docstring).

    Timers due at the same time run in the order they were started, as asyncio's would.
    After each timer, :meth:`advance` lets the event loop run what the timer woke (a few
    passes of the loop), so a scenario sleeping in a task goes on before the next timer.
    """

    #: Loop passes given to woken tasks after each timer: enough for a chain of a few
    #: awaits between two sleeps; a test that needs more can call :meth:`settle` itself.
    PASSES = 20

    def __init__(self, start: float = 1_000_000.0) -> None:
        self.now = start
        self._heap: list[_Entry] = []
        self._seq = itertools.count()

    def time(self) -> float:
        return self.now

    def call_later(self, delay: float, callback: Callable[[], None]) -> Timer:
        entry = _Entry(self.now + max(0.0, delay), next(self._seq), callback)
        heapq.heappush(self._heap, entry)
        return entry

    async def sleep(self, delay: float) -> None:
        woken = asyncio.get_running_loop().create_future()

        def wake() -> None:
            if not woken.done():
                woken.set_result(None)

        timer = self.call_later(delay, wake)
        try:
            await woken
        finally:
            timer.cancel()

    def pending(self) -> list[float]:
        """When each timer still to run is due, soonest first."""
        return sorted(e.when for e in self._heap if not e.cancelled)

    async def settle(self) -> None:
        """Let tasks that are ready run (a few passes of the event loop)."""
        for _ in range(self.PASSES):
            await asyncio.sleep(0)

    async def advance(self, seconds: float) -> None:
        """Move time ``seconds`` on, running every timer that falls due, in order."""
        if not seconds >= 0:
            raise ValueError("a clock only moves forward")
        until = self.now + seconds
        await self.settle()
        while self._heap and self._heap[0].when <= until:
            entry = heapq.heappop(self._heap)
            if entry.cancelled:
                continue
            self.now = max(self.now, entry.when)
            entry.callback()
            await self.settle()
        self.now = until

    async def run_all(self, limit: int = 10_000) -> None:
        """Advance to each remaining timer until none is left (timers may start more)."""
        for _ in range(limit):
            await self.settle()
            due = self.pending()
            if not due:
                return
            await self.advance(due[0] - self.now)
        raise RuntimeError(f"timers never ran out after {limit} steps")
