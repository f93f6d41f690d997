"""The SIP lab's layout: who has which extension and lines, which ports, and the files for it.

A lab is a kamailio registrar/proxy plus one baresip process per agent *line* (each with
``call_max_calls 1``; the proxy hunts to an agent's next line when one answers ``486 Max
Calls``), plus optional *caller* phones (customers, for tests and demos). :func:`plan_lab` picks
loopback ports; :func:`write_lab` writes ``kamailio.cfg``, one baresip config directory per
process and a WAV file for callers. Nothing here starts a process: see :mod:`.lab`.

Facts that shaped it (baresip 1.0.0, kamailio 5.6, see docs/connectors.md):

- baresip binds SIP on ``sip_listen`` (UDP+TCP) and TLS on port+1, so each process gets a
  block of 4 ports: SIP, TLS, ``ctrl_tcp``, spare.
- ``net_interface 127.0.0.1`` keeps SDP (and so RTP) on loopback.
- ``aufile`` ends the call when the WAV runs out ("end of file"), so agents' phones use the
  endless ``ausine`` source (48 kHz stereo only); callers play the generated WAV.
- ``accept``/``hangup`` act on baresip's *current* call, hence one call per process.
- A killed baresip leaves its registration behind; the ``uuid`` module gives each phone a
  stable ``+sip.instance`` so that its next REGISTER replaces the stale binding.
"""

from __future__ import annotations

import math
import random
import socket
import struct
import wave
from dataclasses import dataclass, field
from pathlib import Path

from ...core.commands import NUMBER_RE
from ...core.errors import CtiRequestError
from ...core.model import check_agent_id
from ..directory import Directory

HOST = "127.0.0.1"
PORTS_PER_PROCESS = 4
KAMAILIO_MODULES = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
BARESIP_MODULES = "/usr/lib/baresip/modules"


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
    extra: dict[str, str] = field(default_factory=dict)


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


# --------------------------------------------------------------------------- files


def write_lab(plan: LabPlan) -> None:
    """Write kamailio's config and database, every phone's config directory and the WAV."""
    root = plan.root
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    db = root / "kamailio-db"
    db.mkdir(exist_ok=True)
    # db_text keeps registrations across a graceful kamailio restart (written on shutdown).
    (db / "version").write_text("table_name(string) table_version(int) \nlocation:9\n")
    location = db / "location"
    if not location.exists():
        location.write_text(_LOCATION_TABLE)
    (root / "kamailio.cfg").write_text(render_kamailio(plan))
    wav = root / "caller.wav"
    if not wav.exists():
        write_wav(wav, seconds=plan.wav_seconds)
    for phone in plan.phones:
        d = root / "phones" / phone.name
        d.mkdir(parents=True, exist_ok=True)
        (d / "config").write_text(render_baresip_config(plan, phone, wav))
        (d / "accounts").write_text(render_accounts(plan, phone))
        (d / "contacts").write_text("")


def phone_dir(plan: LabPlan, phone: PhoneSpec) -> Path:
    return plan.root / "phones" / phone.name


def write_wav(path: Path, *, seconds: int, rate: int = 8000, freq: float = 425.0) -> None:
    """A quiet tone, 16-bit mono at ``rate`` (must equal baresip's ``ausrc_srate``)."""
    period = [
        struct.pack("<h", int(2000 * math.sin(2 * math.pi * freq * i / rate))) for i in range(rate)
    ]
    second = b"".join(period)
    with wave.open(str(path), "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(rate)
        for _ in range(seconds):
            w.writeframes(second)


def render_baresip_config(plan: LabPlan, phone: PhoneSpec, wav: Path) -> str:
    if phone.agent is None:
        audio = (
            f"audio_source\t\taufile,{wav}\nausrc_srate\t\t8000\nausrc_channels\t\t1\n"
            "module\t\t\taufile.so\n"
        )
    else:
        audio = (
            "audio_source\t\tausine,440\nausrc_srate\t\t48000\nausrc_channels\t\t2\n"
            "module\t\t\tausine.so\n"
        )
    return (
        f"# Generated by ctikit for {phone.name}: loopback only.\n"
        "poll_method\t\tepoll\n"
        f"sip_listen\t\t{HOST}:{phone.sip_port}\n"
        f"net_interface\t\t{HOST}\n"
        "call_local_timeout\t120\n"
        f"call_max_calls\t\t{phone.max_calls}\n"
        f"rtp_ports\t\t{plan.rtp_ports[0]}-{plan.rtp_ports[1]}\n"
        f"audio_player\t\taubridge,{phone.name}\n"
        f"audio_alert\t\taubridge,{phone.name}\n"
        "auplay_srate\t\t8000\nauplay_channels\t\t1\n"
        f"module_path\t\t{BARESIP_MODULES}\n"
        "module\t\t\tg711.so\n"
        "module\t\t\taubridge.so\n"
        f"{audio}"
        # A stable +sip.instance (kept in the directory's "uuid" file): a restarted phone's
        # REGISTER replaces its old binding instead of adding a second, dead one.
        "module_tmp\t\tuuid.so\n"
        "module_tmp\t\taccount.so\n"
        "module_app\t\tmenu.so\n"
        "module_app\t\tctrl_tcp.so\n"
        f"ctrl_tcp_listen\t\t{HOST}:{phone.ctrl_port}\n"
    )


def render_accounts(plan: LabPlan, phone: PhoneSpec) -> str:
    lines = []
    for user, q in phone.accounts:
        extra = f";regq={q:.3f}" if q is not None else ""
        lines.append(
            f"<sip:{user}@{HOST}:{plan.proxy_port};transport=udp>"
            f";regint={plan.regint};answermode=manual{extra}\n"
        )
    return "".join(lines)


def render_kamailio(plan: LabPlan) -> str:
    return _KAMAILIO_CFG.format(
        host=HOST,
        port=plan.proxy_port,
        modules=KAMAILIO_MODULES,
        db=plan.root / "kamailio-db",
        fr_inv=plan.ring_timeout * 1000,
        min_expires=min(plan.regint, 60),
    )


_LOCATION_TABLE = (
    "id(int,auto) ruid(string) username(string) domain(string,null) contact(string) "
    "received(string,null) path(string,null) expires(int) q(double) callid(string) cseq(int) "
    "last_modified(int) flags(int) cflags(int) user_agent(string) socket(string,null) "
    "methods(int,null) instance(string,null) reg_id(int) server_id(int) connection_id(int) "
    "keepalive(int) partition(int) \n"
)

# Braces of kamailio's syntax are doubled for str.format.
_KAMAILIO_CFG = """\
#!KAMAILIO
# Generated by ctikit: the SIP lab's registrar and proxy, on loopback only.
debug=2
log_stderror=yes
fork=yes
children=4
auto_aliases=no
disable_tcp=yes
listen=udp:{host}:{port}
alias="{host}:{port}"
mpath="{modules}"

loadmodule "tm.so"
loadmodule "tmx.so"
loadmodule "sl.so"
loadmodule "rr.so"
loadmodule "pv.so"
loadmodule "maxfwd.so"
loadmodule "textops.so"
loadmodule "siputils.so"
loadmodule "xlog.so"
loadmodule "sanity.so"
loadmodule "db_text.so"
loadmodule "usrloc.so"
loadmodule "registrar.so"

modparam("usrloc", "db_mode", 1)
modparam("usrloc", "db_url", "text://{db}")
modparam("registrar", "min_expires", {min_expires})
modparam("rr", "enable_full_lr", 1)
# Serial forking by q value: an agent's line 1, then line 2...
modparam("tm", "contacts_avp", "tm_contacts")
modparam("tm", "contact_flows_avp", "tm_contact_flows")
modparam("tm", "fr_inv_timer", {fr_inv})

request_route {{
    if (!mf_process_maxfwd_header("10")) {{ sl_send_reply("483", "Too Many Hops"); exit; }}
    if (!sanity_check("17895", "7")) {{ exit; }}
    if (has_totag()) {{
        if (loose_route()) {{ t_relay(); exit; }}
        if (is_method("ACK")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
        # In-dialog request without our Route (sipp's built-in uac): relay by Request-URI.
        if (uri != myself) {{ t_relay(); exit; }}
        sl_send_reply("404", "Not here");
        exit;
    }}
    if (is_method("CANCEL")) {{ if (t_check_trans()) {{ t_relay(); }} exit; }}
    t_check_trans();
    if (is_method("REGISTER")) {{ save("location"); exit; }}
    if (uri != myself) {{ sl_send_reply("403", "Not relaying"); exit; }}
    if (is_method("INVITE|SUBSCRIBE|REFER")) {{ record_route(); }}
    if (!lookup("location")) {{ sl_send_reply("404", "Not Found"); exit; }}
    if (is_method("INVITE")) {{
        t_load_contacts();
        t_next_contacts();
        t_on_failure("HUNT");
    }}
    t_relay();
}}

failure_route[HUNT] {{
    if (t_is_canceled()) {{ exit; }}
    # A busy line (baresip's call_max_calls) or a dead one: try the next. An agent who
    # rejected the call ("486 Rejected") is not rung again on another line.
    if ((t_check_status("408|480|500|503") ||
         (t_check_status("486") && $T_reply_reason == "Max Calls")) && t_next_contacts()) {{
        t_on_failure("HUNT");
        t_relay();
        exit;
    }}
}}
"""
