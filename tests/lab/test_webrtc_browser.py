"""Audio through the WebRTC lab, both ways, in a real chromium (issue 14, item 3).

A test page using the vendored SIP.js (served by a real ctikit server) registers to the lab's
kamailio over WebSocket with digest credentials; a caller's baresip, playing a tone at
CALLER_HZ, calls it; chromium's fake microphone plays MIC_HZ. What each side hears is
measured: in the browser by an AnalyserNode and RTP counters, at the far end by the caller's
own recording (baresip ``sndfile``) and by rtpengine's recording of the decrypted RTP it
relays (with capture times, so each phase of the call is checked on its own).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from typing import Any

import pytest

from ctikit.lab import CallerAudio, LabOptions, SipLab
from ctikit.lab.audio import levels, pcm_of, read_wav, tone_db
from ctikit.lab.phones import recordings_dir
from ctikit.testing import CtikitProcess

from .conftest import CALLER_HZ, MIC_HZ, PASSWORD, WebLabFactory
from .phonekit import (
    CallerPhone,
    Window,
    measure,
    open_phone,
    page_event,
    relayed,
    runs,
    until_tone,
)

pytestmark = [pytest.mark.sip, pytest.mark.browser]

HEARD = -60.0  # analyser dB above which the browser hears the caller's tone
QUIET = -90.0  # ... and below which it hears nothing of it (silence reads -200)
TONE_DB, SILENT_DB = -30.0, -60.0  # the same for the far end (Goertzel, dB below full scale)


@pytest.fixture(scope="module")
def ctikit_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A real ctikit server: the test page loads SIP.js from it."""
    tmp = tmp_path_factory.mktemp("ctikit")
    args = ["serve", "--host", "127.0.0.1", "--port", "0"]
    server = CtikitProcess(
        [*args, "--database", f"sqlite:///{tmp / 'ctikit.db'}"], tmp / "server.log"
    )
    yield server.url
    server.stop()


async def registered_phone(chromium: Any, origin: str, lab: SipLab, **kw: str) -> Any:
    web = lab.plan.webrtc
    assert web is not None
    page = await open_phone(chromium, origin)
    creds = {"server": web.ws_url, "user": "1001", "password": PASSWORD, "domain": "127.0.0.1"}
    result = await page.evaluate("(a) => phone.register(a)", {**creds, **kw})
    page.register_result = result
    return page


def far_end_recording(lab: SipLab) -> tuple[int, list[int]]:
    """What the caller's baresip received and decoded (its sndfile ``-dec`` WAV)."""
    (dec,) = recordings_dir(lab.plan, lab.plan.caller("cust1")).glob("*-dec.wav")
    return read_wav(dec)


def heard(w: Window) -> bool:
    # Most of the time, not always: on a loaded machine a phone may skip a packet or two.
    good = [lv["db"] > HEARD and abs(lv["peakHz"] - CALLER_HZ) < 24 for lv in w.levels]
    return sum(good) >= 0.8 * len(good)


def silent(w: Window) -> bool:
    return all(lv["db"] < QUIET for lv in w.levels)


async def test_audio_both_ways_with_dtmf_mute_and_hold(
    webrtc_lab: WebLabFactory, chromium: Any, ctikit_server: str
) -> None:
    lab = await webrtc_lab(
        LabOptions(record_media=True, caller_audio=CallerAudio(tone_hz=CALLER_HZ, record=True))
    )
    page = await registered_phone(chromium, ctikit_server, lab)
    assert page.register_result == {"ok": True, "status": 200}
    async with CallerPhone(lab, "cust1") as cust:
        invited = time.time()
        await cust.dial("1001")
        incoming = await page_event(page, "incoming")
        assert incoming["from"] == "cust1"
        answered = time.time()
        assert await page.evaluate("phone.answer()") == {"ok": True}
        first_audio = await until_tone(page, CALLER_HZ, above=HEARD)
        call_id = (await cust.wait(lambda e: e.type == "CALL_ESTABLISHED")).call_id
        assert call_id is not None

        windows = {"talk": await measure(page, "talk", CALLER_HZ)}
        assert (await page.evaluate("phone.rtp()"))["codec"] == "audio/PCMU"
        # DTMF (RFC 4733 events through rtpengine): the caller's phone reports each digit.
        assert await page.evaluate("phone.dtmf('1#')")
        for digit in "1#":
            await cust.wait(lambda e, d=digit: e.type == "CALL_DTMF_START" and e.param == d)
        await page.evaluate("phone.mute(true)")
        windows["muted"] = await measure(page, "muted", CALLER_HZ)
        await page.evaluate("phone.mute(false)")
        windows["unmuted"] = await measure(page, "unmuted", CALLER_HZ)
        assert (await page.evaluate("phone.hold(true)"))["ok"]
        windows["held"] = await measure(page, "held", CALLER_HZ)
        assert (await page.evaluate("phone.hold(false)"))["ok"]
        windows["retrieved"] = await measure(page, "retrieved", CALLER_HZ)
        await page.evaluate("phone.hangup()")
        await cust.wait(lambda e: e.type == "CALL_CLOSED")
    assert page.page_errors == []

    # The browser hears the caller's tone, except on hold, when the caller's phone stops
    # sending (the page keeps its receiver on: this silence is the far end's doing).
    for name in ("talk", "muted", "unmuted", "retrieved"):
        assert heard(windows[name]), (name, windows[name].levels)
        assert windows[name].received > 30, name
    assert silent(windows["held"]), windows["held"].levels
    assert windows["held"].received <= 1

    # The far end's own recording: the microphone's tone, then the mute's silence, then the
    # tone again. (baresip 1.0.0 stops writing it at the first re-INVITE: hold is checked on
    # rtpengine's recording below.)
    rate, samples = far_end_recording(lab)
    pieces = runs([db > TONE_DB for db in levels(samples, rate, MIC_HZ)])
    long_runs = [tone for tone, n in pieces if n >= 5]  # 0.5 s or more
    assert long_runs[:3] == [True, False, True], pieces

    # What rtpengine relayed, phase by phase: from the browser, the microphone's tone but
    # silence while muted or held; from the phone, nothing while held.
    packets = await relayed(lab, call_id)
    lo, hi = lab.plan.rtp_ports
    from_phone = [p for p in packets if lo <= p.src[1] <= hi]
    from_browser = [p for p in packets if not lo <= p.src[1] <= hi]
    for name, w in windows.items():
        mine = [p for p in from_browser if w.start <= p.at <= w.end]
        level = tone_db(pcm_of(mine), 8000, MIC_HZ)
        theirs = [p for p in from_phone if w.start <= p.at <= w.end]
        if name in ("muted", "held"):
            assert level < SILENT_DB, (name, level)
        else:
            assert level > TONE_DB, (name, level)
        assert (len(theirs) == 0) if name == "held" else (len(theirs) > 30), (name, len(theirs))

    print(
        f"\nINVITE -> ringing in the browser: {incoming['at'] - invited * 1000:.0f} ms; "
        f"answer -> first audio: {1000 * (first_audio - answered):.0f} ms"
    )


async def test_opus_end_to_end(
    webrtc_lab: WebLabFactory, chromium: Any, ctikit_server: str
) -> None:
    # A phone that offers Opus first: rtpengine relays it as is (no transcoding).
    audio = CallerAudio(tone_hz=CALLER_HZ, codecs=("opus", "g711"), record=True)
    lab = await webrtc_lab(LabOptions(caller_audio=audio))
    page = await registered_phone(chromium, ctikit_server, lab)
    assert page.register_result["ok"]
    async with CallerPhone(lab, "cust1") as cust:
        await cust.dial("1001")
        await page_event(page, "incoming")
        assert (await page.evaluate("phone.answer()"))["ok"]
        await until_tone(page, CALLER_HZ, above=HEARD)
        talk = await measure(page, "talk", CALLER_HZ)
        assert (await page.evaluate("phone.rtp()"))["codec"] == "audio/opus"
        await page.evaluate("phone.hangup()")
        await cust.wait(lambda e: e.type == "CALL_CLOSED")
    assert heard(talk), talk.levels
    rate, samples = far_end_recording(lab)
    assert rate == 48000
    assert max((n for tone, n in runs([db > TONE_DB for db in levels(samples, rate, MIC_HZ)])
                if tone), default=0) >= 5  # fmt: skip


async def test_offer_with_no_common_codec_is_refused(
    webrtc_lab: WebLabFactory, chromium: Any, ctikit_server: str
) -> None:
    # The browser offers Opus alone; the phone has G.711 alone. (Not the other way round:
    # a phone's offer always carries telephone-event, which Chrome accepts, and the call is
    # then set up with no audio codec at all: see docs/webrtc.md.)
    lab = await webrtc_lab()
    page = await registered_phone(chromium, ctikit_server, lab)
    assert page.register_result["ok"]
    target = f"sip:cust1@127.0.0.1:{lab.plan.proxy_port}"
    result = await page.evaluate("(t) => phone.call(t, { onlyCodec: 'opus' })", target)
    assert result == {"ok": False, "status": 488, "reason": "Not Acceptable Here"}, result
    assert await page.evaluate("phone.sessionState()") == "Terminated"
    # The same call with the browser's usual offer goes through (the 407 challenge of the
    # browser's INVITE is answered by SIP.js with the agent's credentials).
    async with CallerPhone(lab, "cust1") as cust:
        call = asyncio.ensure_future(page.evaluate("(t) => phone.call(t)", target))
        incoming = await cust.wait(lambda e: e.type == "CALL_INCOMING")
        assert cust.conn is not None and (await cust.conn.request("accept")).ok
        assert await call == {"ok": True, "status": 200}
        assert incoming.peer_uri is not None and "1001@" in incoming.peer_uri
        await page.evaluate("phone.hangup()")
        await cust.wait(lambda e: e.type == "CALL_CLOSED")


async def test_wrong_password_is_a_clear_failure(
    webrtc_lab: WebLabFactory, chromium: Any, ctikit_server: str
) -> None:
    lab = await webrtc_lab()
    page = await registered_phone(chromium, ctikit_server, lab, password="not-the-password")
    assert page.register_result == {"ok": False, "status": 401, "reason": "Unauthorized"}
    await asyncio.sleep(1.0)  # SIP.js answers one challenge, then gives up: no retry loop
    log = await page.evaluate("phone.log")
    assert [e["type"] for e in log if e["type"].startswith("register")] == ["register-failed"]
    assert await page.evaluate("phone.registererState()") == "Unregistered"
    # The caller cannot reach the agent: nobody is registered at 1001.
    async with CallerPhone(lab, "cust1") as cust:
        await cust.dial("1001")
        closed = await cust.wait(lambda e: e.type == "CALL_CLOSED")
    assert closed.param is not None and "404" in closed.param, closed
