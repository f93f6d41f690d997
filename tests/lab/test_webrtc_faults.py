"""Faults of the console-as-phone (issue 14, item 4), each on a real lab, server and
chromium: what the agent is told, and what becomes of the call."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest

from ctikit.lab import CallerAudio, LabOptions
from ctikit.testing import free_port

from .conftest import CALLER_HZ, CHROMIUM, WebLabFactory
from .consolekit import MEASURE, api, open_console, phone_state, webrtc_server
from .phonekit import CallerPhone, measure, until_tone
from .test_webrtc_console import HEARD, heard, line

pytestmark = [pytest.mark.sip, pytest.mark.browser]


async def ringing_then_answered(page: Any, cust: CallerPhone) -> str:
    await cust.dial("1001")
    row = await line(page, "Ringing")
    await row.get_by_test_id("btn-answer").click()
    await line(page, "Connected")
    call_id = (await cust.wait(lambda e: e.type == "CALL_ESTABLISHED")).call_id
    assert call_id is not None
    return call_id


async def test_tab_closed_mid_call_ends_the_call_on_both_sides(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab()
    # A long grace: the call ends because the page said so, not because the server waited.
    server = webrtc_server(tmp_path / "ctikit", lab, grace=60)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            call_id = await ringing_then_answered(page, cust)
            closed_at = time.monotonic()
            await page.close()
            await cust.wait(lambda e: e.type == "CALL_CLOSED")  # the page's BYE
        deadline = time.monotonic() + 10
        while api(server.url, "/api/agents/agent1/calls")["calls"]:
            assert time.monotonic() < deadline, "the server still has the call"
            await asyncio.sleep(0.1)
        (ended,) = api(server.url, "/api/agents/agent1/calls")["recent"]
        assert ended["id"] == call_id and time.monotonic() - closed_at < 30
    finally:
        server.stop()


async def test_a_dropped_console_socket_keeps_the_call_and_its_audio(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab(LabOptions(caller_audio=CallerAudio(tone_hz=CALLER_HZ)))
    server = webrtc_server(tmp_path / "ctikit", lab, grace=3)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            call_id = await ringing_then_answered(page, cust)
            await page.evaluate("CtikitConsole.conn._ws.close()")
            await page.locator(
                '[data-testid="connection-status"][data-state="connected"]'
            ).wait_for()
            await asyncio.sleep(4)  # longer than the grace: the phone came back in time
            (call,) = api(server.url, "/api/agents/agent1/calls")["calls"]
            assert call["id"] == call_id and call["lineState"] == "connected"
            await page.evaluate(MEASURE, call_id)
            await until_tone(page, CALLER_HZ, above=HEARD)
            assert heard((await measure(page, "after", CALLER_HZ)).levels)
            # And the phone still takes commands.
            await (await line(page, "Connected")).get_by_test_id("btn-hangup").click()
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
    finally:
        server.stop()


async def test_kamailio_restarted_the_console_registers_again_and_takes_calls(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab()
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        assert await page.evaluate("CtikitConsole.phone.registrations") == 1
        await lab.restart_kamailio(crash=True)  # its registrations are lost too
        await page.wait_for_function("CtikitConsole.phone.registrations >= 2", timeout=20_000)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            await ringing_then_answered(page, cust)
            await (await line(page, "Connected")).get_by_test_id("btn-hangup").click()
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
        assert page.page_errors == []
    finally:
        server.stop()


async def test_a_wrong_password_is_told_in_words_and_the_line_is_down(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab()
    server = webrtc_server(tmp_path / "ctikit", lab, password="not-the-password")
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "error")
        error = page.get_by_test_id("phone-error")
        await error.wait_for()
        assert "refused your phone password" in await error.inner_text()
        await page.get_by_test_id("line-down").wait_for()
        async with CallerPhone(lab, "cust1") as cust:  # nobody is registered at 1001
            await cust.dial("1001")
            closed = await cust.wait(lambda e: e.type == "CALL_CLOSED")
        assert closed.param is not None and "404" in closed.param
    finally:
        server.stop()


async def test_a_phone_with_no_audio_codec_in_common_is_hung_up_with_a_reason(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    # The phone offers GSM alone (and telephone-event): Chrome would "connect" with no audio.
    lab = await webrtc_lab(LabOptions(caller_audio=CallerAudio(codecs=("gsm",))))
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            await cust.dial("1001")
            row = await line(page, "Ringing")
            await row.get_by_test_id("btn-answer").click()
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
        error = page.get_by_test_id("phone-error")
        await error.wait_for()
        assert "no audio format in common" in await error.inner_text()
        deadline = time.monotonic() + 10
        while api(server.url, "/api/agents/agent1/calls")["calls"]:
            assert time.monotonic() < deadline, "the server still has the call"
            await asyncio.sleep(0.1)
    finally:
        server.stop()


@pytest.fixture
async def chromium_without_microphone() -> AsyncIterator[Any]:
    """Chromium that answers every microphone prompt "no" (no fake UI to say yes)."""
    from playwright.async_api import async_playwright

    async with async_playwright() as p:
        browser = await p.chromium.launch(
            executable_path=CHROMIUM,
            args=[
                "--no-sandbox",
                "--use-fake-device-for-media-stream",
                "--deny-permission-prompts",
            ],
        )
        yield browser
        await browser.close()


async def test_no_microphone_permission_is_told_and_answer_fails(
    webrtc_lab: WebLabFactory, chromium_without_microphone: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab()
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium_without_microphone, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            await cust.dial("1001")
            await line(page, "Ringing")
            reply = await page.evaluate(
                "CtikitConsole.conn.request('sendCTIMessage', {message: '/ANSWER'})"
            )
            assert not reply["success"] and "microphone" in reply["error"], reply
            error = page.get_by_test_id("phone-error")
            await error.first.wait_for()
            assert "allow it for this site" in await error.first.inner_text()
            # SIP.js turns the call down (the caller is told), and so does the server.
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
        deadline = time.monotonic() + 10
        while api(server.url, "/api/agents/agent1/calls")["calls"]:
            assert time.monotonic() < deadline, "the server still has the call"
            await asyncio.sleep(0.1)
    finally:
        server.stop()


async def test_rtpengine_killed_mid_call_the_agent_is_warned_and_the_call_ends(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    # rtpengine is supervised (restarted at once) but without Redis it forgets its calls:
    # the browser's audio stops; it says so, then ends the call once ICE gives up.
    lab = await webrtc_lab()
    server = webrtc_server(tmp_path / "ctikit", lab)
    rtpe = lab.rtpengine
    assert rtpe is not None
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            call_id = await ringing_then_answered(page, cust)
            rtpe.signal(9)
            await page.get_by_test_id("phone-media").wait_for(timeout=20_000)
            error = page.get_by_test_id("phone-error")
            await error.wait_for(timeout=60_000)
            assert "audio connection was lost" in await error.inner_text()
            await cust.wait(lambda e: e.type == "CALL_CLOSED", within=10)
        (ended,) = api(server.url, "/api/agents/agent1/calls")["recent"]
        assert ended["id"] == call_id and ended["endedAt"] is not None
    finally:
        server.stop()


async def test_the_sip_websocket_dropped_mid_call_re_registers_and_the_call_goes_on(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab(LabOptions(caller_audio=CallerAudio(tone_hz=CALLER_HZ)))
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            call_id = await ringing_then_answered(page, cust)
            # The SIP WebSocket closes under the phone (a network blip; kamailio stays up).
            await page.evaluate("CtikitConsole.phone.ua.transport.ws.close()")
            await page.wait_for_function("CtikitConsole.phone.registrations >= 2", timeout=20_000)
            await phone_state(page, "ready")
            # The media path never depended on the signalling: the call is still heard.
            await page.evaluate(MEASURE, call_id)
            await until_tone(page, CALLER_HZ, above=HEARD)
            (call,) = api(server.url, "/api/agents/agent1/calls")["calls"]
            assert call["lineState"] == "connected"
            # The agent's hang-up goes out on the new socket and reaches the caller.
            await (await line(page, "Connected")).get_by_test_id("btn-hangup").click()
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
        assert page.page_errors == []
    finally:
        server.stop()


async def test_the_callers_bye_reaches_the_console_after_its_sip_websocket_was_replaced(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    # The dialog's route to the browser names the socket it answered on; that socket is gone.
    # kamailio must find the browser's new socket (its registration, same Contact) for the
    # caller's BYE, and SIP.js must take the BYE there.
    lab = await webrtc_lab()
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            call_id = await ringing_then_answered(page, cust)
            await page.evaluate("CtikitConsole.phone.ua.transport.ws.close()")
            await page.wait_for_function("CtikitConsole.phone.registrations >= 2", timeout=20_000)
            await phone_state(page, "ready")
            assert (await cust.conn.request("hangup")).ok  # type: ignore[union-attr]
            # The caller's call ends on a 200 OK from the browser (a BYE nobody took would
            # be answered by kamailio or time out, and the console would keep the call).
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
            await page.wait_for_function("CtikitConsole.phone.sessions.size === 0", timeout=10_000)
        await page.get_by_test_id("no-calls").wait_for()
        (ended,) = api(server.url, "/api/agents/agent1/calls")["recent"]
        assert ended["id"] == call_id
        assert api(server.url, "/api/agents/agent1/calls")["calls"] == []
        assert page.page_errors == []
    finally:
        server.stop()


async def test_server_restarted_mid_call_the_console_follows_the_server_and_hangs_up(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    # The browser and the server disagree: after a restart the server has no call (this
    # connector adopts none), the browser still has one. The server's state wins: the
    # console is told to drop it and hangs it up, so the caller is not left talking to a
    # call no component knows.
    lab = await webrtc_lab()
    port = free_port()
    server = webrtc_server(tmp_path / "ctikit", lab, port=port)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            await ringing_then_answered(page, cust)
            server.stop()
            server = webrtc_server(tmp_path / "ctikit", lab, port=port)
            await cust.wait(lambda e: e.type == "CALL_CLOSED", within=30)
        await page.get_by_test_id("no-calls").wait_for()
        assert api(server.url, "/api/agents/agent1/calls")["calls"] == []
        assert await page.evaluate("CtikitConsole.phone.sessions.size") == 0
    finally:
        server.stop()
