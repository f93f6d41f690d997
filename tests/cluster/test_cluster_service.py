"""Two cluster nodes' services (CtiService on a RedisBackend) on one real Redis, in one
process: the commit protocol."""

from __future__ import annotations

import asyncio
import json
import secrets
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ctikit.cluster import RedisBackend, cluster_service
from ctikit.config import Config
from ctikit.connectors.sim import Directory, SimTimings, SimulatorConnector
from ctikit.core.errors import CommandRejectedError, CtiRequestError
from ctikit.core.model import LineState
from ctikit.server.hub import Hub
from ctikit.server.service import CommandTimeoutError, CtiService
from ctikit.storage import CallLogStore


async def _nodes(
    redis_server: Any,
    store: CallLogStore,
    *,
    timings: SimTimings | None = None,
    command_timeout: float = 10.0,
) -> list[CtiService]:
    """Two started nodes, x then y (x takes the connector lease: it starts first)."""
    prefix = f"s{secrets.token_hex(4)}:"

    def sim() -> SimulatorConnector:
        return SimulatorConnector(timings=timings, directory=Directory())

    nodes = [
        cluster_service(
            Config(
                cluster=redis_server.url,
                cluster_prefix=prefix,
                cluster_lease_seconds=1.0,
                node_id=name,
                command_timeout=command_timeout,
            ),
            sim(),
            store,
            Hub(),
            make=sim,
        )
        for name in ("x", "y")
    ]
    for node in nodes:
        await node.start()
    return nodes


@pytest.fixture
async def pair(redis_server: Any, tmp_path: Path) -> AsyncIterator[list[CtiService]]:
    store = await CallLogStore.open(f"sqlite:///{tmp_path / 'logs.db'}")
    nodes = await _nodes(redis_server, store)
    yield nodes
    for node in nodes:
        await node.stop()
    await store.close()


async def test_alternating_changes_from_two_nodes_never_lose_one(
    pair: list[CtiService],
) -> None:
    x, y = pair
    await x.fire_call_begin("ag", "c1", "inbound", None)
    # Each node keeps the state it committed last; the other's commits make it stale, and
    # the version check must make it read again rather than overwrite.
    for i in range(20):
        node = (x, y)[i % 2]
        await node.attach_data("ag", "c1", {f"k{i}": i})
    for node in (x, y):
        call = await node.attached_data("ag", "c1")
        assert call.data == {f"k{i}": i for i in range(20)}
        assert (await node.snapshot("ag"))["seq"] == 21


async def test_concurrent_changes_to_one_agent_from_two_nodes(
    pair: list[CtiService],
) -> None:
    x, y = pair
    await x.fire_call_begin("ag", "c1", "inbound", None)
    await asyncio.gather(
        *(
            (x, y)[i % 2].attach_data("ag", "c1", {f"k{i}": i})
            for i in range(60)  # both nodes at once: commits collide and are redone
        )
    )
    call = await y.attached_data("ag", "c1")
    assert call.data == {f"k{i}": i for i in range(60)}
    seq = (await x.snapshot("ag"))["seq"]
    assert seq == 61
    assert isinstance(x.backend, RedisBackend)
    frames = await x.backend.state.frames_between("ag", 0, seq)
    assert frames is not None
    assert [json.loads(f)["seq"] for _, f in frames] == list(range(1, 62))
    # Read a page at a time (61 frames > one page), and given up once over a byte budget.
    size = sum(len(f) for _, f in frames)
    again = await x.backend.state.frames_between("ag", 0, seq, max_bytes=size)
    assert again == frames
    assert await x.backend.state.frames_between("ag", 0, seq, max_bytes=size - 1) is None


async def test_a_refused_change_leaves_no_trace(pair: list[CtiService]) -> None:
    x, y = pair
    await x.fire_call_begin("ag", "c1", "inbound", None)
    with pytest.raises(CtiRequestError):
        await x.fire_call_begin("ag", "c1", "inbound", None)  # already begun
    with pytest.raises(CtiRequestError):
        await x.attach_data("ag", "c1", {"bad": float("nan")})
    assert (await y.snapshot("ag"))["seq"] == 1
    await x.attach_data("ag", "c1", {"ok": True})  # the node's own next change still works
    assert (await y.attached_data("ag", "c1")).data == {"ok": True}


async def test_a_command_through_a_node_without_the_connector_replies_once_it_happened(
    pair: list[CtiService],
) -> None:
    x, y = pair
    assert x.health()["cluster"]["drivesConnector"] is True
    assert y.health()["cluster"]["drivesConnector"] is False
    cid = await y.place_call("ag", ani=None, dnis=None, data=None)  # forwarded to x
    await y.send_cti_message("ag", "/ANSWER")  # forwarded; the reply waits for the outcome
    assert (await y.get_call("ag", cid)).line_state is LineState.CONNECTED
    await y.send_cti_message("ag", "/HOLD")
    assert (await y.get_call("ag", cid)).line_state is LineState.HELD
    with pytest.raises(CommandRejectedError) as err:
        await y.send_cti_message("ag", "/TRANSFER?NUMBER=%2B14155550404")
    assert err.value.message == "/TRANSFER: not found (404 Not Found)"
    await y.send_cti_message("ag", "/HANGUP")
    assert await y.snapshot("ag") == {**await x.snapshot("ag"), "calls": []}


async def test_a_forwarded_command_not_confirmed_in_time_times_out(
    redis_server: Any, tmp_path: Path
) -> None:
    store = await CallLogStore.open(f"sqlite:///{tmp_path / 'logs.db'}")
    x, y = await _nodes(
        redis_server, store, timings=SimTimings(hold_delay=30.0), command_timeout=0.3
    )
    try:
        cid = await y.place_call("ag", ani=None, dnis=None, data=None)
        await y.send_cti_message("ag", "/ANSWER")
        with pytest.raises(CommandTimeoutError) as err:
            await y.send_cti_message("ag", "/HOLD")
        assert err.value.code == "timeout"
        assert err.value.message == (
            "/HOLD: the telephony did not confirm it in 0.3 s (the call is not held yet)"
        )
        assert (await y.get_call("ag", cid)).line_state is LineState.CONNECTED
    finally:
        for node in (x, y):
            await node.stop()
        await store.close()
