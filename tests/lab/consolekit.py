"""Helpers of the console-as-phone tests: a ctikit server with the ``webrtc`` connector
pointed at a lab, and an agent's console in chromium, signed in."""

from __future__ import annotations

import json
import urllib.request
from pathlib import Path
from typing import Any

from ctikit.lab import SipLab
from ctikit.server.auth import hash_password
from ctikit.testing import CtikitProcess

from .conftest import PASSWORD

USER_PASSWORD = "console-user-password"
_HASH = hash_password(USER_PASSWORD)

# What the tests measure in the console: an analyser on the call's remote audio, and its
# RTP counters (the same window.phone API as tests/lab/pages/phone.html, for phonekit).
MEASURE = """(callId) => {
  const stream = CtikitConsole.phone.remoteStream(callId);
  const ctx = new AudioContext();
  const analyser = ctx.createAnalyser();
  analyser.fftSize = 4096;
  analyser.smoothingTimeConstant = 0;
  ctx.createMediaStreamSource(stream).connect(analyser);
  const pc = () =>
    CtikitConsole.phone.sessions.get(callId).session.sessionDescriptionHandler.peerConnection;
  window.phone = {
    level(freq) {
      const bins = new Float32Array(analyser.frequencyBinCount);
      analyser.getFloatFrequencyData(bins);
      const hz = ctx.sampleRate / analyser.fftSize;
      let peak = 1;
      for (let i = 1; i < bins.length; i++) if (bins[i] > bins[peak]) peak = i;
      const at = Math.round(freq / hz);
      const db = Math.max(bins[at - 1], bins[at], bins[at + 1]);
      return { db: Number.isFinite(db) ? db : -200, peakHz: peak * hz };
    },
    async rtp() {
      const stats = await pc().getStats();
      const out = { received: 0, sent: 0, codec: null };
      let codecId = null;
      stats.forEach((r) => {
        if (r.type === "inbound-rtp" && r.kind === "audio") {
          out.received = r.packetsReceived;
          codecId = r.codecId;
        }
        if (r.type === "outbound-rtp" && r.kind === "audio") out.sent = r.packetsSent;
      });
      stats.forEach((r) => { if (r.id === codecId) out.codec = r.mimeType; });
      return out;
    },
  };
}"""


def webrtc_server(
    tmp: Path,
    lab: SipLab,
    *,
    password: str = PASSWORD,
    grace: float = 10.0,
    extra_agents: str = "",
    port: int = 0,
) -> CtikitProcess:
    """``ctikit serve`` with the webrtc connector pointed at ``lab``'s kamailio (ctikit
    starts nothing of it); agent ``agent1`` at 1001 with ``password``, user ``agent1``."""
    web = lab.plan.webrtc
    assert web is not None
    tmp.mkdir(parents=True, exist_ok=True)
    cfg = tmp / "ctikit.toml"
    cfg.write_text(
        f"""
[server]
host = "127.0.0.1"
port = {port}
database = "sqlite:///{tmp / "ctikit.db"}"
connector = "webrtc"
webrtc_ws_url = "{web.ws_url}"
webrtc_domain = "127.0.0.1:{lab.plan.proxy_port}"
webrtc_grace_seconds = {grace}

[[agents]]
id = "agent1"
extension = "1001"
sip_password = {json.dumps(password)}
{extra_agents}
[[users]]
username = "agent1"
agent = "agent1"
password_hash = "{_HASH}"
"""
    )
    return CtikitProcess(["serve", "--config", str(cfg), "--log-level", "debug"], tmp / "log")


def token(url: str, user: str = "agent1") -> str:
    body = json.dumps({"username": user, "password": USER_PASSWORD}).encode()
    req = urllib.request.Request(
        url + "/api/login", data=body, headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return str(json.loads(resp.read())["token"])


async def open_console(chromium: Any, url: str, agent: str = "agent1") -> Any:
    """``agent``'s console, signed in, in a new context (raw microphone audio: a test tone
    is noise to Chrome's voice processing, see docs/webrtc.md)."""
    context = await chromium.new_context()
    await context.add_cookies(
        [{"name": "ctikit_session", "value": token(url, agent), "url": url, "httpOnly": True,
          "sameSite": "Strict"}]
    )  # fmt: skip
    await context.add_init_script("window.CtikitPhoneOptions = {rawAudio: true};")
    page = await context.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda exc: errors.append(str(exc)))
    page.page_errors = errors
    await page.goto(f"{url}/console?agent={agent}")
    return page


async def phone_state(page: Any, state: str, *, within: float = 15.0) -> None:
    await page.locator(f'[data-testid="phone-status"][data-state="{state}"]').wait_for(
        timeout=within * 1000
    )


def api(url: str, path: str, user: str = "agent1") -> Any:
    req = urllib.request.Request(
        url + path, headers={"Authorization": f"Bearer {token(url, user)}"}
    )
    with urllib.request.urlopen(req, timeout=10) as resp:
        return json.loads(resp.read())
