"""The SIP connector behind the server's real CtiService (its in-memory state backend is
the sink the server uses)."""

from __future__ import annotations

from pathlib import Path

import pytest

from ctikit.core.errors import CommandRejectedError
from ctikit.core.model import LineState
from ctikit.lab import LabConnector
from ctikit.server.backend import InMemoryBackend
from ctikit.server.hub import Hub
from ctikit.server.service import CtiService
from ctikit.server.telephony import LocalTelephony
from ctikit.storage import CallLogStore

from .sipkit import eventually

pytestmark = pytest.mark.sip


async def test_commands_through_the_service_reach_real_phones(tmp_path: Path) -> None:
    conn = LabConnector.new({"agent1": "1001", "agent2": "1002"}, root=tmp_path)
    store = await CallLogStore.open(f"sqlite:///{tmp_path / 'calls.db'}")
    hub = Hub()
    backend = InMemoryBackend(hub)
    registry = backend.registry
    service = CtiService(backend, LocalTelephony(conn), store, hub)
    await service.start()
    try:
        assert service.can_place_calls
        cid = await service.place_call("agent1", ani="+14155550111", dnis=None, data={"k": "v"})
        await eventually(lambda: cid in registry.call_ids("agent1"))
        # The reply comes once the phone reported the call connected.
        await service.send_cti_message("agent1", "/ANSWER")
        assert registry.get_call("agent1", cid).line_state is LineState.CONNECTED
        assert registry.get_call("agent1", cid).data["k"] == "v"
        await service.send_cti_message("agent1", "/HOLD")
        assert registry.get_call("agent1", cid).line_state is LineState.HELD
        await service.send_cti_message("agent1", "/RETRIEVE")
        # A number nobody has: the dial starts (the reply says the call is dialing), then
        # fails with the SIP reason.
        await service.send_cti_message("agent2", "/DIAL?NUMBER=4040")
        await eventually(lambda: registry.recent_calls("agent2") != [])
        (failed,) = registry.recent_calls("agent2")
        assert failed.disposition == "not found"
        # The registry refuses what the state forbids before the connector is asked.
        with pytest.raises(CommandRejectedError):
            await service.send_cti_message("agent2", "/HOLD")
        await service.send_cti_message("agent1", "/HANGUP")
        assert registry.call_ids("agent1") == []
    finally:
        await service.stop()
        await store.close()


async def test_an_unavailable_agents_lines_reject_calls_with_486(tmp_path: Path) -> None:
    """Do-not-disturb on real phones: the core refuses the offer, the server hangs the
    ringing call up, baresip rejects it with 486 and the caller's side sees it fail busy."""
    conn = LabConnector.new({"agent1": "1001", "agent2": "1002"}, root=tmp_path)
    store = await CallLogStore.open(f"sqlite:///{tmp_path / 'calls.db'}")
    hub = Hub()
    backend = InMemoryBackend(hub)
    registry = backend.registry
    service = CtiService(backend, LocalTelephony(conn), store, hub)
    await service.start()
    try:
        await service.set_presence("agent1", "away", "Break")
        await service.send_cti_message("agent2", "/DIAL?NUMBER=1001")
        await eventually(lambda: registry.recent_calls("agent2") != [])
        (failed,) = registry.recent_calls("agent2")
        assert failed.disposition == "busy"
        assert registry.call_ids("agent1") == [] and registry.recent_calls("agent1") == []
        # Available again: the same call rings.
        await service.set_presence("agent1", "available", None)
        await service.send_cti_message("agent2", "/DIAL?NUMBER=1001")
        await eventually(lambda: registry.call_ids("agent1") != [])
    finally:
        await service.stop()
        await store.close()
