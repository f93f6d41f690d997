"""Fixtures of the SIP tests: a fresh lab (kamailio + baresips in tmp_path) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ctikit.connectors.sip import SipConnector
from ctikit.lab import AgentSpec, LabOptions, LabPlan, SipLab, connector_for, plan_lab

from .sipkit import RecordingSink

LabFactory = Callable[..., Awaitable[tuple[LabPlan, SipLab, SipConnector, RecordingSink]]]


@pytest.fixture
async def sip_lab(tmp_path: Path) -> AsyncIterator[LabFactory]:
    """``await sip_lab(agents, callers)`` -> (plan, started lab, started connector, sink).

    Default: agent1 (1001) and agent2 (1002) with two lines each, both in queue 8000;
    callers cust1 and cust2 (``placer`` names the one ``place_inbound_call`` uses). The lab
    runs the phones; the connector is given their endpoints, as it would be anyone's phones.
    Everything is stopped (SIGTERM, then SIGKILL) at teardown.
    """
    started: list[tuple[SipLab, SipConnector]] = []

    async def make(
        agents: list[AgentSpec] | None = None,
        callers: list[str] | None = None,
        options: LabOptions | None = None,
        placer: str | None = None,
    ) -> tuple[LabPlan, SipLab, SipConnector, RecordingSink]:
        agents = agents or [
            AgentSpec(agent="agent1", extension="1001", queues=("8000",)),
            AgentSpec(agent="agent2", extension="1002", queues=("8000",)),
        ]
        plan = plan_lab(
            tmp_path / f"lab{len(started)}",
            agents,
            ["cust1", "cust2"] if callers is None else callers,
            options,
        )
        lab = SipLab(plan)
        conn = connector_for(plan, caller=placer)
        sink = RecordingSink()
        started.append((lab, conn))
        await lab.start()
        await conn.start(sink)
        return plan, lab, conn, sink

    yield make
    for lab, conn in started:
        await conn.stop()
        await lab.stop()
