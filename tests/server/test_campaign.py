"""A campaign to many agents on a single node: chunked so other work gets the loop."""

from __future__ import annotations

import asyncio
from typing import Any

from ctikit.server.keys import SERVICE
from ctikit.server.service import BULK_CHUNK


async def test_a_large_campaign_lets_other_work_run_between_chunks(server: Any) -> None:
    svc = server.app[SERVICE]
    agents = [f"camp{i}" for i in range(BULK_CHUNK * 2 + 500)]
    fired_when_other_ran: list[int] = []
    for a in agents:  # connected (a campaign reaches only agents with state)
        svc.backend.registry.pin(a)

    async def other() -> None:
        fired_when_other_ran.append(sum(svc.backend.registry.last_seq(a) for a in agents))

    campaign = asyncio.create_task(svc.fire_custom_events(agents, "campaign", "go"))
    await asyncio.sleep(0)  # the campaign's first chunk runs
    await other()
    assert await campaign == len(agents)
    assert 0 < fired_when_other_ran[0] < len(agents)
    assert all(svc.backend.registry.last_seq(a) == 1 for a in agents)


async def test_a_campaign_to_unknown_agents_creates_no_state(server: Any) -> None:
    """Issue 13, F4: made-up IDs are not reached, and nothing is kept for them."""
    svc = server.app[SERVICE]
    before = set(svc.backend.registry.agents())
    svc.backend.registry.pin("known")
    reached = await svc.fire_custom_events(["known", "nobody1", "nobody2"], "campaign", "go")
    assert reached == 1
    assert set(svc.backend.registry.agents()) == before | {"known"}
