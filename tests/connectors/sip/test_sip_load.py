"""Ten concurrent sipp calls across five agents, answered through the connector (item 6)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import pytest

from ctikit.core.telephony import CallAnswered, CallOffered, CallReleased
from ctikit.lab import AgentSpec, LabConnector, plan_lab
from ctikit.lab.load import AnsweringSink, run_sipp

pytestmark = pytest.mark.sip


async def test_ten_concurrent_sipp_calls(tmp_path: Path) -> None:
    agents = [AgentSpec(agent=f"agent{i}", extension=str(2000 + i)) for i in range(1, 6)]
    plan = plan_lab(tmp_path, agents, [])
    conn = LabConnector.for_plan(plan)
    sink = AnsweringSink(connector=conn)
    await conn.start(sink)
    try:
        start = time.monotonic()
        result = await run_sipp(
            plan, [a.extension for a in agents], calls=10, concurrency=10, rate=50, hold_ms=1500,
            max_seconds=30,
        )  # fmt: skip
        took = time.monotonic() - start
        # sipp exits once its BYEs are answered; each phone's CALL_CLOSED reaches us over
        # ctrl_tcp a moment later. Stopping before then would release calls as "stopped".
        deadline = time.monotonic() + 10
        while sink.count(CallReleased) < 10 and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.05)
    finally:
        await conn.stop()
    assert (result.returncode, result.successful, result.failed) == (0, 10, 0), (
        result.log_path.read_text()[-2000:]
    )
    assert sink.errors == []
    assert sink.peak_active == 10  # all ten were up at once
    assert sink.count(CallOffered) == sink.count(CallAnswered) == 10
    released = [e for e in sink.events if isinstance(e, CallReleased)]
    assert len(released) == 10 and {e.reason for e in released} == {"caller hung up"}
    for a in agents:  # two calls per agent, one per line
        offers = [e for e in sink.events if isinstance(e, CallOffered) and e.agent == a.agent]
        assert len(offers) == 2
        assert sink.registry.calls(a.agent) == []
    assert took < 10
