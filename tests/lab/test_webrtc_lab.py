"""The WebRTC lab without a browser: its plan and files, and the real kamailio + rtpengine
seen through a SIP-over-WebSocket client (digest authentication, media relay up and down)."""

from __future__ import annotations

import asyncio
import secrets
import socket
import subprocess
from pathlib import Path

import aiohttp
import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.lab import AgentSpec, LabOptions, plan_lab
from ctikit.lab.kamailio import ha1
from ctikit.lab.plan import CallerAudio, WebAgent
from ctikit.lab.rtpengine import NgError, bdecode, bencode, ng_ping, ng_request
from ctikit.lab.sip import write_lab

from .conftest import PASSWORD, WebLabFactory
from .wsip import WsSip

WEB = [WebAgent(agent="agent1", extension="1001", password=PASSWORD)]


def test_plan_gives_webrtc_its_own_ports(tmp_path: Path) -> None:
    plan = plan_lab(tmp_path, [AgentSpec(agent="agent2", extension="1002")], ["c"], web_agents=WEB)
    web = plan.webrtc
    assert web is not None and web.ws_url == f"ws://127.0.0.1:{web.ws_port}"
    assert {web.ws_port, web.ng_port}.isdisjoint({plan.proxy_port})
    assert plan.proxy_port < web.ws_port < web.ng_port < plan.phones[0].sip_port
    lo, hi = web.media_ports
    assert hi - lo + 1 == 400 and (hi < plan.rtp_ports[0] or lo > plan.rtp_ports[1])
    assert plan.directory().agent_for("1001") == "agent1"
    assert plan.directory().agent_for("1002") == "agent2"
    assert "password" not in repr(web) and PASSWORD not in repr(web)
    assert plan_lab(tmp_path, [], []).webrtc is None
    assert plan_lab(tmp_path, [], [], LabOptions(webrtc=True)).webrtc is not None


def test_plan_refuses_clashes_and_bad_credentials(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unique"):
        plan_lab(tmp_path, [AgentSpec(agent="agent2", extension="1001")], [], web_agents=WEB)
    with pytest.raises(ValueError, match="unique"):
        plan_lab(tmp_path, [AgentSpec(agent="agent1", extension="1002")], [], web_agents=WEB)
    for bad in ("", "tab\there"):
        with pytest.raises(ValueError, match="password"):
            WebAgent(agent="a", extension="1001", password=bad)
    with pytest.raises(ValueError, match="extension"):
        WebAgent(agent="a", extension="10 01", password="x")
    with pytest.raises(ValueError, match="codecs"):
        CallerAudio(codecs=("g729",))


@pytest.mark.sip
def test_webrtc_config_is_valid_kamailio_and_keeps_no_password(tmp_path: Path) -> None:
    plan = plan_lab(tmp_path, [], ["cust1"], LabOptions(record_media=True), web_agents=WEB)
    write_lab(plan)
    cfg = (tmp_path / "kamailio.cfg").read_text()
    assert "#!define WITH_WEBRTC" in cfg and "record-call=on" in cfg
    checked = subprocess.run(
        ["kamailio", "-c", "-f", str(tmp_path / "kamailio.cfg")], capture_output=True, text=True
    )
    assert checked.returncode == 0, checked.stderr[-2000:]
    table = (tmp_path / "kamailio-db" / "subscriber").read_text()
    assert ha1("1001", PASSWORD) in table and PASSWORD not in table
    assert PASSWORD not in cfg


_bvalues = st.recursive(
    st.integers() | st.text() | st.binary().filter(lambda b: not _utf8(b)),
    lambda inner: st.lists(inner) | st.dictionaries(st.text(), inner),
    max_leaves=20,
)


def _utf8(b: bytes) -> bool:
    try:
        b.decode()
    except UnicodeDecodeError:
        return False
    return True


@given(_bvalues)
def test_bencode_round_trip(value: object) -> None:
    assert bdecode(bencode(value)) == value  # type: ignore[arg-type]


@pytest.mark.parametrize("bad", [b"", b"i12", b"5:abc", b"l", b"d3:keye", b"x", b"i1ei2e"])
def test_bdecode_refuses_garbage(bad: bytes) -> None:
    with pytest.raises(NgError):
        bdecode(bad)


@pytest.mark.sip
async def test_browser_agents_need_their_password(webrtc_lab: WebLabFactory) -> None:
    other = WebAgent(agent="agent3", extension="1003", password="other-secret")
    lab = await webrtc_lab(web_agents=[*WEB, other])
    web = lab.plan.webrtc
    assert web is not None
    async with WsSip(web.ws_url, "1001") as ua:
        assert ua.protocol == "sip"
        unauth = await ua.request("REGISTER", "sip:127.0.0.1")
        assert unauth.status == 401
        assert 'realm="127.0.0.1"' in (unauth.header("www-authenticate") or "")
        wrong = await ua.register("not-the-password")
        assert (wrong.status, wrong.reason) == (401, "Unauthorized")
        ok = await ua.register(PASSWORD)
        assert ok.status == 200, ok
        # A new call from a browser must authenticate too (407), whoever it calls.
        invite = await ua.request("INVITE", "sip:cust1@127.0.0.1", body=_SDP)
        assert invite.status == 407
    # Another agent's good credentials do not register 1001.
    async with WsSip(web.ws_url, "1001") as ua:
        resp = await ua.register("other-secret", auth_user="1003")
        assert resp.status == 401
    async with WsSip(web.ws_url, "1003") as ua:
        assert (await ua.register("other-secret")).status == 200


@pytest.mark.sip
async def test_extension_of_a_browser_agent_cannot_be_taken_over_udp(
    webrtc_lab: WebLabFactory,
) -> None:
    lab = await webrtc_lab()
    # The phones on UDP are trusted (loopback), but not for a browser agent's extension.
    assert await asyncio.to_thread(_udp_register, lab.plan.proxy_port, "1001") == 401
    assert await asyncio.to_thread(_udp_register, lab.plan.proxy_port, "5555") == 200


@pytest.mark.sip
async def test_websocket_port_speaks_only_sip_websocket(webrtc_lab: WebLabFactory) -> None:
    lab = await webrtc_lab()
    web = lab.plan.webrtc
    assert web is not None
    async with aiohttp.ClientSession() as http:
        async with http.get(f"http://127.0.0.1:{web.ws_port}/") as r:
            assert r.status == 404 and "WebSocket only" in await r.text()


@pytest.mark.sip
async def test_rtpengine_is_supervised_and_a_dead_one_fails_calls_clearly(
    webrtc_lab: WebLabFactory,
) -> None:
    lab = await webrtc_lab()
    web, rtpe = lab.plan.webrtc, lab.rtpengine
    assert web is not None and rtpe is not None
    assert ng_ping(web.ng_port)
    assert ng_request(web.ng_port, {"command": "list"})["result"] == "ok"
    rtpe.signal(9)
    async with asyncio.timeout(10):
        await rtpe.wait_restarted(1)
    await lab.wait_rtpengine(within=5)
    # Stopped for good: a call to a browser cannot get media and says so.
    await rtpe.stop()
    async with WsSip(web.ws_url, "1001") as ua:
        assert (await ua.register(PASSWORD)).status == 200
        status = await asyncio.to_thread(_udp_invite, lab.plan.proxy_port, "1001")
    assert status == (503, "Media relay unavailable")


# ------------------------------------------------------------------ helpers

_SDP = (
    "v=0\r\no=- 1 1 IN IP4 127.0.0.1\r\ns=-\r\nc=IN IP4 127.0.0.1\r\nt=0 0\r\n"
    "m=audio 9 UDP/TLS/RTP/SAVPF 0\r\na=rtpmap:0 PCMU/8000\r\n"
)


def _udp_request(port: int, method: str, user: str, extra: str = "", body: str = "") -> bytes:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind(("127.0.0.1", 0))
        s.settimeout(3)
        lport = s.getsockname()[1]
        tag = secrets.token_hex(4)
        target = "sip:127.0.0.1" if method == "REGISTER" else f"sip:{user}@127.0.0.1:{port}"
        msg = (
            f"{method} {target} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP 127.0.0.1:{lport};branch=z9hG4bK{tag}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:{'cust' if method == 'INVITE' else user}@127.0.0.1>;tag={tag}\r\n"
            f"To: <sip:{user}@127.0.0.1>\r\n"
            f"Call-ID: {tag}@127.0.0.1\r\nCSeq: 1 {method}\r\n"
            f"Contact: <sip:{user}@127.0.0.1:{lport}>\r\n{extra}"
            f"Content-Length: {len(body)}\r\n\r\n{body}"
        )
        s.sendto(msg.encode(), ("127.0.0.1", port))
        while True:
            data = s.recv(65535)
            if not data.startswith((b"SIP/2.0 100", b"SIP/2.0 18")):
                return data


def _udp_register(port: int, user: str) -> int:
    return int(_udp_request(port, "REGISTER", user, "Expires: 60\r\n").split()[1])


def _udp_invite(port: int, user: str) -> tuple[int, str]:
    sdp = _SDP.replace("UDP/TLS/RTP/SAVPF", "RTP/AVP").replace(" 9 ", " 40000 ")
    status = _udp_request(port, "INVITE", user, "Content-Type: application/sdp\r\n", sdp)
    first = status.split(b"\r\n", 1)[0].decode().split(" ", 2)
    return int(first[1]), first[2]
