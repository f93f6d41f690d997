"""Replay frames are encoded once and shared by every socket asking for them (issue 13, F2)."""

from __future__ import annotations

from ctikit.core.events import CtiMessageSent
from ctikit.server import wire
from ctikit.server.console import ReplayFrames


def _events(agent: str, n: int, at: float = 1.0) -> list[CtiMessageSent]:
    return [CtiMessageSent(agent=agent, seq=i, at=at, message="x" * 100) for i in range(1, n + 1)]


def test_the_same_events_share_their_frames() -> None:
    cache = ReplayFrames()
    events = _events("a", 5)
    first = cache.frames("e1", events)
    second = cache.frames("e1", events[2:])
    assert first == [wire.encode_event(e) for e in events]
    assert all(x is y for x, y in zip(first[2:], second, strict=True))
    assert cache.size == sum(len(f) for f in first)
    # Another epoch, or the same numbers after the agent's state was forgotten (another
    # time), is another frame.
    assert cache.frames("e2", events[:1])[0] is not first[0]
    assert cache.frames("e1", _events("a", 1, at=2.0))[0] is not first[0]


def test_the_cache_keeps_its_byte_budget_least_recently_used_first() -> None:
    events = _events("a", 10)
    one = len(wire.encode_event(events[0]))
    cache = ReplayFrames(max_bytes=3 * one)
    cache.frames("e", events[:3])
    cache.frames("e", events[:1])  # used again: kept
    cache.frames("e", events[3:4])
    assert cache.size <= 3 * one
    again = cache.frames("e", events[:1])
    assert cache.size <= 3 * one and again == [wire.encode_event(events[0])]
