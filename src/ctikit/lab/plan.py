"""The SIP lab's layout: who has which extension and lines, and which ports.

A lab is a kamailio registrar/proxy plus one baresip process per agent *line* (each with
``call_max_calls 1``; the proxy hunts to an agent's next line when one answers ``486 Max
Calls``), plus optional *caller* phones (customers, for tests and demos). :func:`plan_lab` picks
loopback ports; :mod:`.kamailio` and :mod:`.phones` render the files, :class:`~.sip.SipLab`
writes them and runs the processes.

Facts that shaped it (baresip 1.0.0, kamailio 5.6, see docs/connectors.md):

- baresip binds SIP on ``sip_listen`` (UDP+TCP) and TLS on port+1, so each process gets a
  block of 4 ports: SIP, TLS, ``ctrl_tcp``, spare.
- ``accept``/``hangup`` act on baresip's *current* call, hence one call per process.

With WebRTC (``web_agents``, or ``LabOptions(webrtc=True)``), kamailio also speaks SIP over
WebSocket and rtpengine relays media between browsers and the phones (:class:`WebRtcPlan`).
"""

from __future__ import annotations

import random
import socket
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from ..connectors.directory import Directory
from ..core.commands import NUMBER_RE
from ..core.errors import CtiRequestError
from ..core.model import check_agent_id

HOST = "127.0.0.1"
PORTS_PER_PROCESS = 4
CODECS = ("opus", "g722", "g711", "gsm")  # baresip modules a caller may offer


def _check_agent(agent: str, numbers: Sequence[str]) -> None:
    try:
        check_agent_id(agent)
    except CtiRequestError as exc:  # a configuration mistake, not a CTI request
        raise ValueError(exc.message) from None
    for number in numbers:
        if not NUMBER_RE.match(number) or not number.isalnum():
            raise ValueError(f"{number!r} is not a usable extension (letters and digits)")


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSpec:
    """An agent's phone: extension, number of lines, queue numbers it answers."""

    agent: str
    extension: str
    lines: int = 2
    queues: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        _check_agent(self.agent, (self.extension, *self.queues))
        if not 1 <= self.lines <= 50:
            raise ValueError("an agent has 1 to 50 lines")


@dataclass(frozen=True, slots=True, kw_only=True)
class WebAgent:
    """An agent whose phone is a browser: it registers ``extension`` over WebSocket with
    digest credentials (user = the extension). The lab keeps only the password's HA1."""

    agent: str
    extension: str
    password: str = field(repr=False)

    def __post_init__(self) -> None:
        _check_agent(self.agent, (self.extension,))
        if not self.password or not self.password.isprintable():
            raise ValueError(f"{self.agent}: the SIP password must be printable and not empty")


@dataclass(frozen=True, slots=True, kw_only=True)
class WebRtcPlan:
    """kamailio's WebSocket listener, rtpengine's ports, and the browser agents."""

    ws_port: int  # SIP over WebSocket: ws://127.0.0.1:ws_port
    ng_port: int  # rtpengine's control socket (UDP, ng protocol)
    media_ports: tuple[int, int]  # rtpengine's RTP/SRTP ports, first and last
    agents: tuple[WebAgent, ...]
    record: bool = False  # rtpengine writes each call's decrypted RTP to recordings/pcaps

    @property
    def ws_url(self) -> str:
        return f"ws://{HOST}:{self.ws_port}"


@dataclass(frozen=True, slots=True)
class CallerAudio:
    """What the callers' phones send and understand."""

    tone_hz: float = 425.0  # the WAV they play (8 kHz mono)
    codecs: tuple[str, ...] = ("g711",)  # offered in this order
    record: bool = False  # baresip's sndfile writes each call's audio to the phone's recordings/

    def __post_init__(self) -> None:
        if not 50 <= self.tone_hz <= 3800 or not self.codecs:
            raise ValueError("a caller tone is 50-3800 Hz (8 kHz audio) and needs a codec")
        if unknown := set(self.codecs) - set(CODECS):
            raise ValueError(f"unknown codecs {sorted(unknown)} (known: {', '.join(CODECS)})")


@dataclass(frozen=True, slots=True, kw_only=True)
class PhoneSpec:
    """One baresip process of the lab and where to reach it."""

    name: str  # directory and log name: "agent1-1", "caller-cust1"
    agent: str | None  # None for a caller
    index: int  # line number (1-based) for agents
    user: str  # the main AOR's user part
    sip_port: int
    ctrl_port: int
    max_calls: int
    accounts: tuple[tuple[str, float | None], ...]  # (user, q) per AOR

    @property
    def ctrl(self) -> tuple[str, int]:
        return (HOST, self.ctrl_port)

    def aors(self, proxy_port: int) -> tuple[str, ...]:
        return tuple(f"sip:{user}@{HOST}:{proxy_port}" for user, _ in self.accounts)


@dataclass(frozen=True, slots=True, kw_only=True)
class LabPlan:
    """Ports and phones of one lab (see :func:`plan_lab`)."""

    root: Path
    proxy_port: int
    rtp_ports: tuple[int, int]
    agents: tuple[AgentSpec, ...]
    phones: tuple[PhoneSpec, ...]
    regint: int = 60
    ring_timeout: int = 30
    wav_seconds: int = 120
    caller_audio: CallerAudio = CallerAudio()
    webrtc: WebRtcPlan | None = None

    @property
    def proxy(self) -> tuple[str, int]:
        return (HOST, self.proxy_port)

    def agent_phones(self) -> list[PhoneSpec]:
        return [p for p in self.phones if p.agent is not None]

    def callers(self) -> list[PhoneSpec]:
        return [p for p in self.phones if p.agent is None]

    def caller(self, user: str) -> PhoneSpec:
        for p in self.callers():
            if p.user == user:
                return p
        raise KeyError(f"no caller {user!r} in this lab")

    def directory(self) -> Directory:
        extensions = {a.extension: a.agent for a in self.agents}
        for w in self.webrtc.agents if self.webrtc is not None else ():
            extensions[w.extension] = w.agent
        return Directory(extensions)

    def uri(self, user: str) -> str:
        return f"sip:{user}@{HOST}:{self.proxy_port}"


@dataclass(slots=True)
class LabOptions:
    regint: int = 60  # REGISTER refresh (s): how soon lines are back after a proxy crash
    ring_timeout: int = 30  # the proxy gives up on a ringing line after this (s)
    wav_seconds: int = 120  # callers' audio file length: baresip hangs up when it ends
    caller_max_calls: int = 16
    seed: int | None = None
    port_range: tuple[int, int] = (21000, 31000)  # below Linux's ephemeral ports
    rtp_range: tuple[int, int] = (11000, 20000)
    caller_audio: CallerAudio = CallerAudio()
    webrtc: bool = False  # WebSocket + rtpengine even without web agents
    media_ports: int = 400  # rtpengine's range (4 ports per browser call)
    record_media: bool = False  # rtpengine records every call's RTP (pcap)


def plan_lab(
    root: Path,
    agents: list[AgentSpec],
    callers: list[str] = [],  # noqa: B006 - read only
    options: LabOptions | None = None,
    *,
    web_agents: Sequence[WebAgent] = (),
) -> LabPlan:
    """Choose free loopback ports for a lab of ``agents`` (and caller phones ``callers``,
    and browser agents ``web_agents``)."""
    opts = options or LabOptions()
    exts = [a.extension for a in agents] + [w.extension for w in web_agents]
    ids = {a.agent for a in agents} | {w.agent for w in web_agents}
    if len(set(exts)) != len(exts) or len(ids) != len(agents) + len(web_agents):
        raise ValueError("agents and extensions must be unique")
    for user in callers:
        if not user.isalnum() or user in exts:
            raise ValueError(f"caller {user!r} must be letters/digits and not an extension")
    count = 1 + sum(a.lines for a in agents) + len(callers)
    rng = random.Random(opts.seed)
    base = _free_block(rng, count * PORTS_PER_PROCESS, opts.port_range)
    phones: list[PhoneSpec] = []
    port = base + PORTS_PER_PROCESS
    queue_members: dict[str, list[str]] = {}
    for a in agents:
        for q in a.queues:
            queue_members.setdefault(q, []).append(a.agent)
    for a in agents:
        for i in range(1, a.lines + 1):
            # Serial hunting: the proxy tries higher q first. Line 1 before line 2; in a queue,
            # every member's line 1 before anyone's line 2, members in the order given.
            accounts: list[tuple[str, float | None]] = [
                (a.extension, round(1.0 - (i - 1) * 0.01, 3))
            ]
            for q in a.queues:
                k = queue_members[q].index(a.agent)
                accounts.append((q, round(1.0 - (i - 1) * 0.05 - k * 0.001, 3)))
            phones.append(
                PhoneSpec(
                    name=f"{a.agent}-{i}",
                    agent=a.agent,
                    index=i,
                    user=a.extension,
                    sip_port=port,
                    ctrl_port=port + 2,
                    max_calls=1,
                    accounts=tuple(accounts),
                )
            )
            port += PORTS_PER_PROCESS
    for user in callers:
        phones.append(
            PhoneSpec(
                name=f"caller-{user}",
                agent=None,
                index=1,
                user=user,
                sip_port=port,
                ctrl_port=port + 2,
                max_calls=opts.caller_max_calls,
                accounts=((user, None),),
            )
        )
        port += PORTS_PER_PROCESS
    # The phones' RTP ports, then rtpengine's: one random run per lab, so labs running side
    # by side rarely share ports (each program skips a port it cannot bind anyway).
    with_webrtc = bool(web_agents) or opts.webrtc
    media = opts.media_ports if with_webrtc else 0
    lo, hi = opts.rtp_range
    rtp_lo = rng.randrange(lo, hi - 2000 - media) & ~1
    webrtc = None
    if with_webrtc:
        webrtc = WebRtcPlan(
            ws_port=base + 1,  # the proxy's block: base is kamailio's UDP port
            ng_port=base + 2,
            media_ports=(rtp_lo + 2000, rtp_lo + 2000 + media - 1),
            agents=tuple(web_agents),
            record=opts.record_media,
        )
    return LabPlan(
        root=root,
        proxy_port=base,
        rtp_ports=(rtp_lo, rtp_lo + 1999),
        agents=tuple(agents),
        phones=tuple(phones),
        regint=opts.regint,
        ring_timeout=opts.ring_timeout,
        wav_seconds=opts.wav_seconds,
        caller_audio=opts.caller_audio,
        webrtc=webrtc,
    )


def free_ports(count: int, span: tuple[int, int] = (31000, 32700)) -> int:
    """The first of ``count`` consecutive free loopback ports (UDP and TCP) in ``span``."""
    return _free_block(random.Random(), count, span)


def _free_block(rng: random.Random, size: int, span: tuple[int, int], tries: int = 50) -> int:
    lo, hi = span
    if hi - lo < size:
        raise ValueError(f"port range {lo}-{hi} is smaller than the {size} ports needed")
    for _ in range(tries):
        base = rng.randrange(lo, hi - size) // PORTS_PER_PROCESS * PORTS_PER_PROCESS
        if all(_port_free(p) for p in range(base, base + size)):
            return base
    raise RuntimeError(f"no block of {size} free ports in {lo}-{hi} after {tries} tries")


def _port_free(port: int) -> bool:
    for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
        with socket.socket(socket.AF_INET, kind) as s:
            try:
                s.bind((HOST, port))
            except OSError:
                return False
    return True
