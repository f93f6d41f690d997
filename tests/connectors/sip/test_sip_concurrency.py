"""Two agents with two concurrent calls each (item 5): no event reaches the wrong agent, and
each call's events come in the order things happened."""

from __future__ import annotations

import asyncio

import pytest

from ctikit.core.model import LineState
from ctikit.core.telephony import (
    CallAnswered,
    CallHeld,
    CallOffered,
    CallReleased,
    CallRetrieved,
    TelephonyEvent,
)

from .conftest import LabFactory
from .sipkit import Phone, cti

pytestmark = pytest.mark.sip

ORDER = [CallOffered, CallAnswered, CallHeld, CallRetrieved, CallReleased]


def kinds(events: list[TelephonyEvent], call_id: str) -> list[type]:
    return [type(e) for e in events if getattr(e, "call_id", None) == call_id]


async def test_two_agents_two_calls_each(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust1, Phone(plan, "cust2") as cust2:
        ids: dict[str, list[str]] = {"agent1": [], "agent2": []}
        # Interleaved arrivals: agent1, agent2, agent1, agent2.
        for _ in range(2):
            for agent, phone, ext in (("agent1", cust1, "1001"), ("agent2", cust2, "1002")):
                cid = await phone.dial(ext)
                await sink.wait_for(CallOffered, agent=agent, call_id=cid)
                ids[agent].append(cid)

        for agent in ids:
            # Arrival order is the registry's order; each call rang on its own line.
            assert sink.registry.call_ids(agent) == ids[agent]
            lines = {conn.model.find_call(agent, c).line.index for c in ids[agent]}
            assert lines == {1, 2}

        # Both agents act at once; each answers its second call, then its first (which
        # leaves the second connected too: one call per line, nothing is held by accident).
        async def work(agent: str) -> None:
            first, second = ids[agent]
            await cti(conn, sink, agent, f"/ANSWER?CALL_ID={second}")
            await cti(conn, sink, agent, f"/ANSWER?CALL_ID={first}")
            await sink.wait_for(CallAnswered, agent=agent, call_id=first)
            await sink.wait_for(CallAnswered, agent=agent, call_id=second)
            await cti(conn, sink, agent, "/HOLD?LINE_NUMBER=1")
            await sink.wait_for(CallHeld, agent=agent, call_id=first)
            await cti(conn, sink, agent, f"/HOLD?CALL_ID={second}")
            await sink.wait_for(CallHeld, agent=agent, call_id=second)
            await cti(conn, sink, agent, "/RETRIEVE?LINE_NUMBER=2")
            await sink.wait_for(CallRetrieved, agent=agent, call_id=second)
            states = [c.line_state for c in sink.registry.calls(agent)]
            assert states == [LineState.HELD, LineState.CONNECTED]

        await asyncio.gather(work("agent1"), work("agent2"))

        # agent1 hangs up its calls; agent2's callers hang up theirs.
        for cid in ids["agent1"]:
            await cti(conn, sink, "agent1", f"/HANGUP?CALL_ID={cid}")
        for cid in ids["agent2"]:
            await cust2.hangup(cid)
        for agent, reason in (("agent1", "agent hung up"), ("agent2", "caller hung up")):
            for cid in ids[agent]:
                gone = await sink.wait_for(CallReleased, agent=agent, call_id=cid)
                assert gone.reason == reason

    for agent, mine in ids.items():
        others = set(ids["agent2" if agent == "agent1" else "agent1"])
        for e in sink.of(agent):
            assert getattr(e, "call_id", None) not in others, e
        for cid in mine:
            seq = kinds(sink.of(agent), cid)
            assert seq == [CallOffered, CallAnswered, CallHeld, *seq[3:]]
            assert seq[-1] is CallReleased
            assert [ORDER.index(k) for k in seq] == sorted(ORDER.index(k) for k in seq)
        assert sink.registry.calls(agent) == []
    assert not sink.errors
