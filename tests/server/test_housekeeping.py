"""The housekeeping pass: survivors are frozen every pass; the hourly pass still frees
garbage in reference cycles among frozen objects."""

from __future__ import annotations

import asyncio
import gc
import weakref
from pathlib import Path
from typing import Any

from ctikit.server.app import _housekeeping
from ctikit.server.hub import Hub


class Node:
    def __init__(self) -> None:
        self.other: Node | None = None


def cycle() -> Node:
    a, b = Node(), Node()
    a.other, b.other = b, a
    return a


async def _passes(full_every: float, seconds: float) -> None:
    task = asyncio.create_task(_housekeeping(Hub(), every=0.02, full_every=full_every))
    await asyncio.sleep(seconds)
    task.cancel()


async def test_frozen_cycles_are_freed_by_the_full_pass_only() -> None:
    try:
        live = cycle()  # a console's objects, say
        kept = weakref.ref(live)
        await _passes(full_every=3600, seconds=0.1)  # frozen by a pass
        assert gc.get_freeze_count() > 0
        del live  # the console went away: garbage, in a cycle
        gc.collect()  # a full collection does not look at frozen objects...
        assert kept() is not None
        await _passes(full_every=0.05, seconds=0.3)  # ...the hourly pass does
        assert kept() is None
    finally:
        gc.unfreeze()


async def test_a_stopped_server_leaves_nothing_frozen(aiohttp_client: Any, tmp_path: Path) -> None:
    from ctikit.config import Config
    from ctikit.server.app import build_app

    app = await build_app(Config(database=f"sqlite:///{tmp_path / 'c.db'}", demo=True))
    client = await aiohttp_client(app)
    try:
        gc.freeze()  # as a housekeeping pass would have, had the test waited 2 s
        assert gc.get_freeze_count() > 0
    finally:
        await client.close()
    assert gc.get_freeze_count() == 0  # a process embedding ctikit (a test run) can collect again
