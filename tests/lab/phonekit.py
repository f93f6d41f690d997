"""Helpers of the WebRTC browser tests: a caller's baresip over ctrl_tcp, the test page in a
chromium with a fake microphone, and measuring what each side hears."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ctikit.connectors.sip import CtrlConnection
from ctikit.connectors.sip.baresip import BaresipEvent
from ctikit.lab import SipLab
from ctikit.lab.audio import read_rtp_pcap
from ctikit.lab.rtpengine import recordings_dir as rtp_recordings

PAGE = Path(__file__).with_name("pages") / "phone.html"
# A real response from ctikit first: chromium's Local Network Access lets only pages that came
# from a loopback (or private) address open ws://127.0.0.1 (a page.route-fulfilled document
# counts as public, and its WebSocket is closed before the handshake, code 1006).
LANDING = "/static/vendor/sip.js/LICENSE.md"


class CallerPhone:
    """A caller phone of the lab, driven over ``ctrl_tcp``, keeping its events."""

    def __init__(self, lab: SipLab, user: str, *, agent_line: bool = False) -> None:
        # agent_line: the baresip line of the lab agent whose extension is ``user``.
        self.spec = (
            next(p for p in lab.plan.agent_phones() if p.user == user)
            if agent_line
            else lab.plan.caller(user)
        )
        self.lab = lab
        self.events: list[tuple[float, BaresipEvent]] = []
        self._changed = asyncio.Event()
        self.conn: CtrlConnection | None = None

    async def __aenter__(self) -> CallerPhone:
        self.conn = await CtrlConnection.open(*self.spec.ctrl, self._on_event, name="caller")
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self.conn is not None:
            await self.conn.close()

    def _on_event(self, ev: BaresipEvent) -> None:
        self.events.append((time.time(), ev))
        self._changed.set()

    async def dial(self, user: str) -> None:
        assert self.conn is not None
        resp = await self.conn.request("dial", self.lab.plan.uri(user))
        assert resp.ok, resp

    async def wait(
        self, pred: Callable[[BaresipEvent], bool], *, within: float = 10.0
    ) -> BaresipEvent:
        async with asyncio.timeout(within):
            while True:
                for _, ev in self.events:
                    if pred(ev):
                        return ev
                self._changed.clear()
                await self._changed.wait()


@dataclass
class Window:
    """What the browser measured while the call was in one state."""

    name: str
    start: float  # seconds since the epoch
    end: float
    levels: list[dict[str, float]]  # phone.level(freq) samples
    received: int  # RTP packets the browser received in the window
    sent: int


async def open_phone(browser: Any, origin: str) -> Any:
    """The test page in a new context, on ``origin`` (ctikit, which serves SIP.js)."""
    context = await browser.new_context()
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors
    await page.goto(f"{origin}{LANDING}")
    await page.set_content(PAGE.read_text())
    await page.wait_for_function("window.phone !== undefined", timeout=10_000)
    return page


async def page_event(page: Any, kind: str, *, within: float = 10.0) -> dict[str, Any]:
    """The first entry of type ``kind`` in the page's log (waits for it)."""
    await page.wait_for_function(
        "(k) => phone.log.some((e) => e.type === k)", arg=kind, timeout=within * 1000
    )
    log: list[dict[str, Any]] = await page.evaluate("phone.log")
    return next(e for e in log if e["type"] == kind)


async def until_tone(page: Any, freq: float, *, above: float, within: float = 5.0) -> float:
    """Wall-clock time at which the browser first hears ``freq`` louder than ``above`` dB."""
    async with asyncio.timeout(within):
        while True:
            level = await page.evaluate("(f) => phone.level(f)", freq)
            if level is not None and level["db"] > above:
                return time.time()
            await asyncio.sleep(0.005)


async def measure(page: Any, name: str, freq: float, *, seconds: float = 1.0) -> Window:
    """Let the new state settle, then sample what the browser hears for ``seconds``."""
    await asyncio.sleep(0.3)
    before = await page.evaluate("phone.rtp()")
    start = time.time()
    levels = []
    while time.time() - start < seconds:
        levels.append(await page.evaluate("(f) => phone.level(f)", freq))
        await asyncio.sleep(0.1)
    after = await page.evaluate("phone.rtp()")
    return Window(
        name,
        start,
        time.time(),
        levels,
        after["received"] - before["received"],
        after["sent"] - before["sent"],
    )


def runs(flags: list[bool]) -> list[tuple[bool, int]]:
    """Consecutive runs: [(value, length)...]."""
    out: list[tuple[bool, int]] = []
    for f in flags:
        if out and out[-1][0] == f:
            out[-1] = (f, out[-1][1] + 1)
        else:
            out.append((f, 1))
    return out


async def relayed(lab: SipLab, call_id: str) -> list[Any]:
    """The RTP rtpengine received for ``call_id`` (its recording is complete once the call
    is deleted, at the BYE: ``--delete-delay=0``)."""
    root = rtp_recordings(lab.plan)
    deadline = time.monotonic() + 10
    while not any(call_id in p.name for p in (root / "metadata").glob("*")):
        assert time.monotonic() < deadline, f"no finished recording of {call_id} in {root}"
        await asyncio.sleep(0.05)
    (pcap,) = (root / "pcaps").glob(f"{call_id}*.pcap")
    return read_rtp_pcap(pcap)
