"""Fixtures of the SIP tests: a fresh lab (kamailio + baresips in tmp_path) per test."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ctikit.connectors.sip import SipConnector
from ctikit.connectors.sip.labconfig import AgentSpec, LabOptions, LabPlan, plan_lab

from .sipkit import RecordingSink

LabFactory = Callable[..., Awaitable[tuple[LabPlan, SipConnector, RecordingSink]]]


@pytest.fixture
async def sip_lab(tmp_path: Path) -> AsyncIterator[LabFactory]:
    """``await sip_lab(agents, callers)`` -> (plan, started connector owning the lab, sink).

    Default: agent1 (1001) and agent2 (1002) with two lines each, both in queue 8000;
    callers cust1 and cust2 (``placer`` names the one ``place_inbound_call`` uses).
    Everything is stopped (SIGTERM, then SIGKILL) at teardown.
    """
    started: list[SipConnector] = []

    async def make(
        agents: list[AgentSpec] | None = None,
        callers: list[str] | None = None,
        options: LabOptions | None = None,
        placer: str | None = None,
    ) -> tuple[LabPlan, SipConnector, RecordingSink]:
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
        conn = SipConnector.for_lab(plan, caller=placer)
        sink = RecordingSink()
        started.append(conn)
        await conn.start(sink)
        return plan, conn, sink

    yield make
    for conn in started:
        await conn.stop()
