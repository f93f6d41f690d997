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
"""

from __future__ import annotations

import random
import socket
from dataclasses import dataclass
from pathlib import Path

from ..connectors.directory import Directory
from ..core.commands import NUMBER_RE
from ..core.errors import CtiRequestError
from ..core.model import check_agent_id

HOST = "127.0.0.1"
PORTS_PER_PROCESS = 4


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentSpec:
    """An agent's phone: extension, number of lines, queue numbers it answers."""

    agent: str
    extension: str
    lines: int = 2
    queues: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        try:
            check_agent_id(self.agent)
        except CtiRequestError as exc:  # a configuration mistake, not a CTI request
            raise ValueError(exc.message) from None
        for number in (self.extension, *self.queues):
            if not NUMBER_RE.match(number) or not number.isalnum():
                raise ValueError(f"{number!r} is not a usable extension (letters and digits)")
        if not 1 <= self.lines <= 50:
            raise ValueError("an agent has 1 to 50 lines")


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
        return Directory({a.extension: a.agent for a in self.agents})

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


def plan_lab(
    root: Path,
    agents: list[AgentSpec],
    callers: list[str] = [],  # noqa: B006 - read only
    options: LabOptions | None = None,
) -> LabPlan:
    """Choose free loopback ports for a lab of ``agents`` (and caller phones ``callers``)."""
    opts = options or LabOptions()
    exts = [a.extension for a in agents]
    if len(set(exts)) != len(exts) or len({a.agent for a in agents}) != len(agents):
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
    lo, hi = opts.rtp_range
    rtp_lo = rng.randrange(lo, hi - 2000) & ~1
    return LabPlan(
        root=root,
        proxy_port=base,
        rtp_ports=(rtp_lo, rtp_lo + 1999),
        agents=tuple(agents),
        phones=tuple(phones),
        regint=opts.regint,
        ring_timeout=opts.ring_timeout,
        wav_seconds=opts.wav_seconds,
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
