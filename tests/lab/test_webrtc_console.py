"""The agent's console is the phone (connector ``webrtc``, issue 14 phase B).

A real ctikit server with ``connector = "webrtc"`` is pointed at a lab's kamailio (which it
did not start); the agent's console in a real chromium gets its SIP account, registers over
WebSocket with digest auth, a lab caller rings it, the agent presses Answer in the console
and the two talk: the caller's tone is heard in the console, the console's microphone tone
at the caller. The CTI side sees the same events as with any connector.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from ctikit.lab import CallerAudio, LabOptions
from ctikit.lab.audio import levels, pcm_of, read_wav, tone_db
from ctikit.lab.phones import recordings_dir

from .conftest import CALLER_HZ, MIC_HZ, WebLabFactory
from .consolekit import MEASURE, api, open_console, phone_state, webrtc_server
from .phonekit import CallerPhone, measure, relayed, runs, until_tone

pytestmark = [pytest.mark.sip, pytest.mark.browser]

HEARD = -60.0
TONE_DB = -30.0


def heard(levels_: list[dict[str, float]]) -> bool:
    good = [lv["db"] > HEARD and abs(lv["peakHz"] - CALLER_HZ) < 24 for lv in levels_]
    return sum(good) >= 0.8 * len(good)


async def line(page: Any, state: str, *, within: float = 10.0) -> Any:
    row = page.locator('[data-testid^="line-"][role="group"]').filter(
        has=page.locator(f'[data-testid="line-state"]:text-is("{state}")')
    )
    await row.first.wait_for(timeout=within * 1000)
    return row.first


async def test_the_console_answers_a_call_and_audio_flows_both_ways(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab(LabOptions(caller_audio=CallerAudio(tone_hz=CALLER_HZ, record=True)))
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with CallerPhone(lab, "cust1") as cust:
            await cust.dial("1001")
            ringing = await line(page, "Ringing")
            (call,) = api(server.url, "/api/agents/agent1/calls")["calls"]
            assert (call["type"], call["ani"], call["dnis"]) == ("INBOUND", "cust1", "1001")
            answered = time.time()
            await ringing.locator('[data-testid="btn-answer"]').click()
            await line(page, "Connected")
            await cust.wait(lambda e: e.type == "CALL_ESTABLISHED")
            await page.evaluate(MEASURE, call["id"])
            first_audio = await until_tone(page, CALLER_HZ, above=HEARD)
            talk = await measure(page, "talk", CALLER_HZ)
            await (await line(page, "Connected")).locator('[data-testid="btn-hangup"]').click()
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
        assert heard(talk.levels), talk.levels
        assert talk.received > 30
        (dec,) = recordings_dir(lab.plan, lab.plan.caller("cust1")).glob("*-dec.wav")
        rate, samples = read_wav(dec)
        tone = [n for t, n in runs([db > TONE_DB for db in levels(samples, rate, MIC_HZ)]) if t]
        assert max(tone, default=0) >= 5, tone  # the console's microphone, 0.5 s or more
        assert page.page_errors == []
        print(f"\nanswer -> first audio in the console: {1000 * (first_audio - answered):.0f} ms")
    finally:
        server.stop()


async def cti(page: Any, message: str) -> dict[str, Any]:
    """``sendCTIMessage`` from a console (what a component's call reaches)."""
    resp: dict[str, Any] = await page.evaluate(
        "(m) => CtikitConsole.conn.request('sendCTIMessage', {message: m})", message
    )
    return resp


async def test_a_second_console_follows_and_every_control_reaches_the_phone(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    # Console A is the phone; console B (the same agent, another tab) follows: it gets no
    # SIP account, and what it sends is carried out by A. Audio is measured phase by phase
    # in A and in what rtpengine relayed from A.
    audio = CallerAudio(tone_hz=CALLER_HZ, record=True)
    lab = await webrtc_lab(LabOptions(record_media=True, caller_audio=audio))
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        phone = await open_console(chromium, server.url)
        await phone_state(phone, "ready")
        other = await open_console(chromium, server.url)
        await phone_state(other, "follower")
        assert await other.evaluate("CtikitConsole.phone.sip") is None
        async with CallerPhone(lab, "cust1") as cust:
            await cust.dial("1001")
            await line(phone, "Ringing")
            ringing = await line(other, "Ringing")
            await ringing.locator('[data-testid="btn-answer"]').click()
            await line(phone, "Connected")
            call_id = (await cust.wait(lambda e: e.type == "CALL_ESTABLISHED")).call_id
            assert call_id is not None
            await phone.evaluate(MEASURE, call_id)
            await until_tone(phone, CALLER_HZ, above=HEARD)
            windows = {"talk": await measure(phone, "talk", CALLER_HZ)}
            assert (await cti(other, "/MUTE"))["success"]
            await phone.locator('[data-testid="line-muted"]:visible').wait_for()
            windows["muted"] = await measure(phone, "muted", CALLER_HZ)
            assert (await cti(other, "/UNMUTE"))["success"]
            windows["unmuted"] = await measure(phone, "unmuted", CALLER_HZ)
            assert (await cti(other, "/DTMF?DIGITS=1%23"))["success"]
            for digit in "1#":
                await cust.wait(lambda e, d=digit: e.type == "CALL_DTMF_START" and e.param == d)
            await (await line(phone, "Connected")).locator('[data-testid="btn-hold"]').click()
            await line(other, "On hold")
            windows["held"] = await measure(phone, "held", CALLER_HZ)
            assert (await cti(other, "/RETRIEVE"))["success"]
            await line(phone, "Connected")
            windows["retrieved"] = await measure(phone, "retrieved", CALLER_HZ)
            reply = await cti(other, "/HANGUP")
            assert reply["success"], reply
            await cust.wait(lambda e: e.type == "CALL_CLOSED")
        for name in ("talk", "muted", "unmuted", "retrieved"):
            assert heard(windows[name].levels), (name, windows[name].levels)
        assert all(lv["db"] < -90 for lv in windows["held"].levels), windows["held"].levels
        packets = await relayed(lab, call_id)
        lo, hi = lab.plan.rtp_ports
        from_browser = [p for p in packets if not lo <= p.src[1] <= hi]
        for name, w in windows.items():
            level = tone_db(
                pcm_of([p for p in from_browser if w.start <= p.at <= w.end]), 8000, MIC_HZ
            )
            if name in ("muted", "held"):
                assert level < -60, (name, level)
            else:
                assert level > TONE_DB, (name, level)
        (ended,) = api(server.url, "/api/agents/agent1/calls")["recent"]
        assert ended["id"] == call_id and ended["endedAt"] is not None, ended
        assert phone.page_errors == [] and other.page_errors == []
    finally:
        server.stop()


async def test_dial_out_blind_transfer_and_a_busy_number(
    webrtc_lab: WebLabFactory, chromium: Any, tmp_path: Path
) -> None:
    lab = await webrtc_lab()
    server = webrtc_server(tmp_path / "ctikit", lab)
    try:
        page = await open_console(chromium, server.url)
        await phone_state(page, "ready")
        async with (
            CallerPhone(lab, "cust1") as cust,
            CallerPhone(lab, "1002", agent_line=True) as agent2,
        ):
            # Dial out from the console's dial pad; the customer answers.
            await page.get_by_test_id("dial-input").fill("cust1")
            await page.get_by_test_id("dial-button").click()
            await line(page, "Dialing")
            incoming = await cust.wait(lambda e: e.type == "CALL_INCOMING")
            assert incoming.peer_uri is not None and "1001@" in incoming.peer_uri
            assert cust.conn is not None and (await cust.conn.request("accept")).ok
            await line(page, "Connected")
            (call,) = api(server.url, "/api/agents/agent1/calls")["calls"]
            assert (call["type"], call["dnis"]) == ("OUTBOUND", "cust1"), call
            # Audio on a call the browser placed (its offer; rtpengine is its DTLS server).
            await page.evaluate(MEASURE, call["id"])
            await until_tone(page, 425.0, above=HEARD)  # the customer's phone's tone
            # Blind transfer to agent2's phone: the customer's phone is referred there,
            # and the reply comes once the agent's call ended as transferred.
            reply = await cti(page, "/TRANSFER?NUMBER=1002")
            assert reply["success"], reply
            await agent2.wait(lambda e: e.type == "CALL_INCOMING" and "cust1" in str(e.peer_uri))
            (done,) = api(server.url, "/api/agents/agent1/calls")["recent"]
            assert done["disposition"] == "transferred", done
            # A number the carrier answers busy: the dial is done (dialing), then it fails.
            reply = await cti(page, "/DIAL?NUMBER=5550486")
            assert reply["success"], reply
            # Said in the agent's words (the console's words.js), not the SIP reason phrase.
            await page.get_by_text("the line is busy").first.wait_for()
        assert page.page_errors == []
    finally:
        server.stop()
