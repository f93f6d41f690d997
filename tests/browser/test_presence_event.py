"""A component follows the agent's state with sforce.console's PRESENCE.STATUS_CHANGED."""

from __future__ import annotations

import sys
from typing import Any

lib = sys.modules["ctikit_browser_harness_lib"]  # conftest.py loads components/harness_lib.py
console = lib.console


def test_status_changed_listeners_hear_agent_state_changes(console: Any) -> None:
    h1 = console.h1
    key = h1.listen("addEventListener", before=("SFORCE_PRESENCE:STATUS_CHANGED",))
    server, agent = console.server, console.agent
    status, _ = server.api(
        "PUT", f"/api/agents/{agent}/state", {"status": "away", "reason": "Lunch"}, auth=agent
    )
    assert status == 200
    status, _ = server.api("PUT", f"/api/agents/{agent}/state", {"status": "available"}, auth=agent)
    assert status == 200
    first, second = h1.events(key, 2)
    assert first["statusId"] == "away:Lunch"
    assert first["statusName"] == "Away - Lunch"
    assert first["statusApiName"] == "away"
    assert first["channels"] is None
    assert second["statusApiName"] == "available"
