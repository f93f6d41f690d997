"""Fixtures of the lab tests: a WebRTC lab (rtpengine + kamailio with WebSocket + phones)."""

from __future__ import annotations

import os
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import pytest

from ctikit.lab import AgentSpec, LabError, LabOptions, SipLab, plan_lab
from ctikit.lab.phones import write_wav
from ctikit.lab.plan import WebAgent
from ctikit.lab.sip import find_webrtc_parts

WebLabFactory = Callable[..., Awaitable[SipLab]]
PASSWORD = "lab-secret-1001"
CHROMIUM = os.environ.get("CTIKIT_CHROMIUM", "/usr/bin/chromium")
CALLER_HZ = 550.0  # the caller's tone (8 kHz WAV, -24 dBFS)
MIC_HZ = 1250.0  # chromium's fake microphone (48 kHz WAV, -12 dBFS)


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


@pytest.fixture
async def chromium(tmp_path: Path) -> AsyncIterator[Any]:
    """Debian's chromium with a fake microphone playing MIC_HZ (loops the file)."""
    from playwright.async_api import async_playwright

    mic = tmp_path / "mic.wav"
    write_wav(mic, seconds=10, rate=48000, freq=MIC_HZ, amplitude=8000)
    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--use-fake-ui-for-media-stream",
                f"--use-file-for-fake-audio-capture={mic}",
                "--autoplay-policy=no-user-gesture-required",
            ],
        )
        yield browser
        await browser.close()
