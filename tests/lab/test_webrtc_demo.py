"""``ctikit demo --webrtc``: the whole lab on loopback, a console that is a phone, and a
test call from the console's own button (issue 14, item 5)."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path
from typing import Any

import pytest

from ctikit.testing import CtikitProcess

from .conftest import MIC_HZ
from .consolekit import MEASURE, phone_state
from .phonekit import until_tone
from .test_webrtc_console import line

pytestmark = [pytest.mark.sip, pytest.mark.browser]


async def test_demo_webrtc_rings_the_console_and_the_call_has_audio(
    webrtc_parts: None, chromium: Any, tmp_path: Path
) -> None:
    db = f"sqlite:///{tmp_path / 'demo.db'}"
    demo = CtikitProcess(["demo", "--webrtc", "--port", "0", "--database", db], tmp_path / "log")
    try:
        page = await (await chromium.new_context()).new_page()
        await page.goto(f"{demo.url}/console?agent=agent1")
        await phone_state(page, "ready")
        await page.get_by_test_id("simulate-call").click()
        row = await line(page, "Ringing")
        await row.get_by_test_id("btn-answer").click()
        await line(page, "Connected")
        call_id = await page.evaluate("Array.from(CtikitConsole.phone.sessions.keys())[0]")
        await page.evaluate(MEASURE, call_id)
        deadline = time.monotonic() + 10
        while (await page.evaluate("phone.rtp()"))["received"] <= 50:
            assert time.monotonic() < deadline, "no audio reached the console"
            await asyncio.sleep(0.1)
        await (await line(page, "Connected")).get_by_test_id("btn-hangup").click()
        await page.get_by_test_id("no-calls").wait_for()
        # Two consoles talk to each other: agent2 dials agent1's extension.
        other = await (await chromium.new_context()).new_page()
        await other.goto(f"{demo.url}/console?agent=agent2")
        await phone_state(other, "ready")
        await other.get_by_test_id("dial-input").fill("1001")
        await other.get_by_test_id("dial-button").click()
        row = await line(page, "Ringing")
        await row.get_by_test_id("btn-answer").click()
        await line(other, "Connected")
        call_id = await page.evaluate("Array.from(CtikitConsole.phone.sessions.keys())[0]")
        await page.evaluate(MEASURE, call_id)
        await until_tone(page, MIC_HZ, above=-60)  # agent2's microphone, heard by agent1
        await (await line(other, "Connected")).get_by_test_id("btn-hangup").click()
        await page.get_by_test_id("no-calls").wait_for()
    finally:
        demo.stop()
    log = (tmp_path / "log").read_text()
    assert "Traceback" not in log, log[-3000:]
