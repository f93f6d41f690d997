"""Fixtures of the lab tests: a WebRTC lab (rtpengine + kamailio with WebSocket + phones)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path

import pytest

from ctikit.lab import AgentSpec, LabError, LabOptions, SipLab, plan_lab
from ctikit.lab.plan import WebAgent
from ctikit.lab.sip import find_webrtc_parts

WebLabFactory = Callable[..., Awaitable[SipLab]]
PASSWORD = "lab-secret-1001"


@pytest.fixture
def webrtc_parts() -> None:
    """rtpengine and kamailio's websocket module are installed (else fail, naming the
    packages; CTIKIT_SKIP_SIP=1 skips, as for the other SIP tests)."""
    if os.environ.get("CTIKIT_SKIP_SIP") == "1":
        pytest.skip("CTIKIT_SKIP_SIP=1")
    try:
        find_webrtc_parts()
    except LabError as exc:
        pytest.fail(f"{exc}: apt-get install rtpengine-daemon kamailio-websocket-modules")


@pytest.fixture
async def webrtc_lab(tmp_path: Path, webrtc_parts: None) -> AsyncIterator[WebLabFactory]:
    """``await webrtc_lab(...)`` -> a started lab: browser agent ``agent1`` (1001, password
    PASSWORD), baresip agent ``agent2`` (1002, one line), caller phone ``cust1``."""
    labs: list[SipLab] = []

    async def make(
        options: LabOptions | None = None,
        web_agents: list[WebAgent] | None = None,
        agents: list[AgentSpec] | None = None,
        callers: list[str] | None = None,
    ) -> SipLab:
        plan = plan_lab(
            tmp_path / f"lab{len(labs)}",
            [AgentSpec(agent="agent2", extension="1002", lines=1)] if agents is None else agents,
            ["cust1"] if callers is None else callers,
            options,
            web_agents=[WebAgent(agent="agent1", extension="1001", password=PASSWORD)]
            if web_agents is None
            else web_agents,
        )
        lab = SipLab(plan)
        labs.append(lab)
        await lab.start()
        return lab

    yield make
    for lab in labs:
        await lab.stop()
