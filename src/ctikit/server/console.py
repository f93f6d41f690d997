"""What a console gets first when it connects: the hello, then a replay or a snapshot.

Written once for every state backend (docs/protocol.md, "Resuming"). A backend supplies what
only it can know -- its epoch, the frames after the console's cursor (or None when it no
longer has them all), and the agent's state -- and sends the frames this module builds.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Sequence
from typing import Any

from ..core.events import Event
from ..core.registry import CallRegistry
from . import wire

#: Bytes of encoded replay frames kept for the next console that asks for the same events.
REPLAY_CACHE_BYTES = 32 * 1024 * 1024


class ReplayFrames:
    """Encoded replay frames, shared: forty sockets of one agent opened with the same old
    cursor get the same ``bytes`` objects, encoded once (issue 13, F2), not forty copies.
    Least recently used frames go first once over ``max_bytes``."""

    def __init__(self, max_bytes: int = REPLAY_CACHE_BYTES) -> None:
        self.max_bytes = max_bytes
        self.size = 0
        self._frames: OrderedDict[tuple[str, str, int, float, str], bytes] = OrderedDict()

    def frames(self, epoch: str, events: Sequence[Event]) -> list[bytes]:
        """The frames of ``events`` (all of one agent, numbered in ``epoch``)."""
        out = []
        cache = self._frames
        for event in events:
            # The time and kind too: an evicted agent (max_agents) numbers from 1 again.
            key = (epoch, event.agent, event.seq, event.at, event.wire_name)
            frame = cache.get(key)
            if frame is None:
                frame = cache[key] = wire.encode_event(event)
                self.size += len(frame)
            else:
                cache.move_to_end(key)
            out.append(frame)
        while self.size > self.max_bytes and cache:
            self.size -= len(cache.popitem(last=False)[1])
        return out


def wants_replay(since: int | None, client_epoch: str | None, epoch: str) -> bool:
    """Whether a console may resume by replay: it has a cursor from this epoch."""
    return since is not None and client_epoch == epoch


def hello_frames(
    hello: dict[str, Any],
    registry: CallRegistry,
    agent: str,
    *,
    epoch: str,
    since: int | None,
    missed: Sequence[bytes] | None,
) -> list[bytes]:
    """The console's first frames.

    ``missed`` are the encoded events after ``since`` (from :func:`wants_replay`'s yes), or
    None: then the hello carries a snapshot of ``agent``'s state read from ``registry``
    ("fresh" on a first connection, "snapshot" when the cursor could not be honoured).
    """
    hello = {**hello, "epoch": epoch}
    if missed is not None and since is not None:
        # The console keeps its state; it gets what it missed, in order, then live events.
        return [wire.frame({**hello, "resumed": "replay", "seq": since}), *missed]
    resumed = "fresh" if since is None else "snapshot"
    return [wire.frame({**hello, "resumed": resumed, **snapshot_of(registry, agent)})]


def snapshot_of(registry: CallRegistry, agent: str) -> dict[str, Any]:
    """What a console needs to draw the agent's state from scratch."""
    return {
        "seq": registry.last_seq(agent),
        "calls": [c.to_dict() for c in registry.calls(agent)],
        "recent": [c.to_dict() for c in registry.recent_calls(agent)],
        "lineUp": registry.line_up(agent),
    }
