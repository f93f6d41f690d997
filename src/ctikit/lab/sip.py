"""Running a SIP lab: kamailio and the baresip phones as supervised processes.

:class:`SipLab` writes the files of a :class:`~.plan.LabPlan`, starts kamailio and one
baresip per agent line (and per caller), restarts any that dies, and stops them all
(SIGTERM, then SIGKILL). :meth:`SipLab.wait_ready` waits until the proxy answers and every
phone is registered. The SIP connector never starts processes: :mod:`.connect` gives it the
lab's endpoints.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
import shutil
import socket
from collections.abc import Callable
from pathlib import Path

from ..connectors.sip.baresip import parse_reginfo
from ..connectors.sip.ctrl import CtrlConnection, CtrlError
from .kamailio import KAMAILIO_MODULES, write_kamailio
from .phones import caller_wav, phone_dir, write_phone, write_wav
from .plan import HOST, LabPlan, PhoneSpec
from .procs import ManagedProcess
from .rtpengine import ng_ping, rtpengine_argv

log = logging.getLogger(__name__)


class LabError(RuntimeError):
    """The lab could not be started (a binary is missing, a phone never registered...)."""


def find_binaries(kamailio: str = "kamailio", baresip: str = "baresip") -> tuple[str, str]:
    """Paths of the two programs; raises :class:`LabError` naming what is missing."""
    found = {name: shutil.which(name) for name in (kamailio, baresip)}
    missing = [name for name, path in found.items() if path is None]
    if missing:
        raise LabError(
            f"{' and '.join(missing)} not found on PATH: install the Debian packages kamailio "
            "and baresip-core (see docs/connectors.md)"
        )
    return found[kamailio] or kamailio, found[baresip] or baresip


def find_webrtc_parts(rtpengine: str = "rtpengine") -> str:
    """The rtpengine binary, once it and kamailio's websocket module are known to be
    installed; raises :class:`LabError` naming the missing Debian package."""
    missing = []
    path = shutil.which(rtpengine)
    if path is None:
        missing.append(f"{rtpengine} (Debian package rtpengine-daemon)")
    if not (Path(KAMAILIO_MODULES) / "websocket.so").is_file():
        missing.append("kamailio's websocket module (Debian package kamailio-websocket-modules)")
    if missing:
        raise LabError(f"the WebRTC lab needs {' and '.join(missing)}")
    return path or rtpengine


def write_lab(plan: LabPlan) -> None:
    """Write kamailio's config and database, every phone's config directory and the WAV."""
    root = plan.root
    root.mkdir(parents=True, exist_ok=True)
    (root / "logs").mkdir(exist_ok=True)
    write_kamailio(plan)
    wav = caller_wav(plan)
    if not wav.exists():
        write_wav(wav, seconds=plan.wav_seconds, freq=plan.caller_audio.tone_hz)
    for phone in plan.phones:
        write_phone(plan, phone, wav)


class SipLab:
    """The processes of a lab. See the module docstring."""

    def __init__(
        self,
        plan: LabPlan,
        *,
        kamailio: str = "kamailio",
        baresip: str = "baresip",
        rtpengine: str = "rtpengine",
        on_phone_exit: Callable[[PhoneSpec, int], None] | None = None,
    ) -> None:
        self.plan = plan
        self._kamailio_bin, self._baresip_bin = kamailio, baresip
        self._rtpengine_bin = rtpengine
        self.on_phone_exit = on_phone_exit
        self.kamailio: ManagedProcess | None = None
        self.rtpengine: ManagedProcess | None = None  # with plan.webrtc
        self.phones: dict[str, ManagedProcess] = {}
        self._started = False

    @property
    def started(self) -> bool:
        return self._started

    async def start(self, *, ready_timeout: float = 15.0) -> None:
        """Write the files, start every process and wait until all phones are registered."""
        if self._started:
            return
        kam, bare = find_binaries(self._kamailio_bin, self._baresip_bin)
        plan = self.plan
        rtpe = find_webrtc_parts(self._rtpengine_bin) if plan.webrtc is not None else None
        await asyncio.to_thread(write_lab, plan)
        logs = plan.root / "logs"
        if rtpe is not None:
            self.rtpengine = ManagedProcess(
                "rtpengine", rtpengine_argv(rtpe, plan), log_path=logs / "rtpengine.log"
            )
        self.kamailio = ManagedProcess(
            "kamailio",
            # -m 256: the default 64 MB of shared memory runs out near 400 calls/s (kamailio
            # then answers BYEs with 404 and calls hang until the phones time out).
            [
                kam,
                "-DD",
                "-E",
                "-m",
                "256",
                "-f",
                str(plan.root / "kamailio.cfg"),
                "-w",
                str(plan.root),
            ],
            log_path=logs / "kamailio.log",
            term_timeout=5.0,
        )
        for phone in plan.phones:
            self.phones[phone.name] = ManagedProcess(
                f"baresip {phone.name}",
                [bare, "-f", str(phone_dir(plan, phone))],
                log_path=logs / f"{phone.name}.log",
                cwd=phone_dir(plan, phone),
                term_timeout=3.0,
                on_exit=self._exit_handler(phone),
            )
        self._started = True
        try:
            if self.rtpengine is not None:
                # First: kamailio's rtpengine module disables an engine it cannot reach.
                await self.rtpengine.start()
                await self.wait_rtpengine(within=ready_timeout)
            await self.kamailio.start()
            await self.wait_proxy(within=ready_timeout)
            await asyncio.gather(*(p.start() for p in self.phones.values()))
            await self.wait_ready(within=ready_timeout)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Stop every process (phones first, so they can unregister). Idempotent."""
        procs = list(self.phones.values())
        await asyncio.gather(*(p.stop() for p in procs), return_exceptions=True)
        if self.kamailio is not None:
            await self.kamailio.stop()
        if self.rtpengine is not None:
            await self.rtpengine.stop()
        self._started = False

    def phone(self, name: str) -> ManagedProcess:
        return self.phones[name]

    def phone_of(self, agent: str, line: int = 1) -> ManagedProcess:
        return self.phones[f"{agent}-{line}"]

    async def restart_kamailio(self, *, crash: bool = False) -> None:
        """Restart the proxy: SIGTERM (registrations kept) or, with ``crash``, SIGKILL (lost:
        phones come back at their next REGISTER refresh, ``regint``)."""
        if self.kamailio is None:
            raise LabError("the lab is not started")
        before = self.kamailio.starts
        self.kamailio.signal(9 if crash else 15)
        async with asyncio.timeout(15.0):
            await self.kamailio.wait_restarted(before)
        await self.wait_proxy(within=10.0)

    # -------------------------------------------------------------- readiness

    async def wait_proxy(self, *, within: float) -> None:
        """Wait until kamailio answers a SIP OPTIONS on its port (up to ``within`` s)."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not await asyncio.to_thread(sip_ping, self.plan.proxy_port):
            if loop.time() > deadline:
                raise LabError(
                    f"kamailio did not answer on {HOST}:{self.plan.proxy_port} within "
                    f"{within} s; see {self.plan.root / 'logs' / 'kamailio.log'}"
                )
            if self.kamailio is not None and self.kamailio.starts > 2:
                raise LabError(f"kamailio keeps exiting; see {self.plan.root / 'logs'}")
            await asyncio.sleep(0.05)

    async def wait_rtpengine(self, *, within: float) -> None:
        """Wait until rtpengine answers a ``ping`` on its control port."""
        web = self.plan.webrtc
        if web is None:
            return
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not await asyncio.to_thread(ng_ping, web.ng_port):
            if loop.time() > deadline:
                raise LabError(
                    f"rtpengine did not answer on {HOST}:{web.ng_port} within {within} s; "
                    f"see {self.plan.root / 'logs' / 'rtpengine.log'}"
                )
            if self.rtpengine is not None and self.rtpengine.starts > 2:
                raise LabError(f"rtpengine keeps exiting; see {self.plan.root / 'logs'}")
            await asyncio.sleep(0.05)

    async def wait_ready(self, *, within: float) -> None:
        """Wait until every phone's ``ctrl_tcp`` answers and all its accounts are registered."""
        await asyncio.gather(*(self.wait_registered(p, within=within) for p in self.plan.phones))

    async def wait_registered(self, phone: PhoneSpec, *, within: float) -> None:
        """Wait until ``phone`` answers on ``ctrl_tcp`` and all its AORs are registered."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        last = "not reachable"
        aors = phone.aors(self.plan.proxy_port)
        while loop.time() < deadline:
            try:
                conn = await CtrlConnection.open(HOST, phone.ctrl_port, name=phone.name)
            except OSError as exc:
                last = f"ctrl_tcp {HOST}:{phone.ctrl_port}: {exc}"
                await asyncio.sleep(0.05)
                continue
            try:
                while loop.time() < deadline:
                    regs = parse_reginfo((await conn.request("reginfo")).data)
                    if all(regs.get(a) for a in aors):
                        return
                    last = f"registrations {regs}"
                    await asyncio.sleep(0.05)
            except CtrlError as exc:
                last = str(exc)
            finally:
                await conn.close()
        raise LabError(f"{phone.name} not ready within {within} s: {last}")

    def _exit_handler(self, phone: PhoneSpec) -> Callable[[int], None]:
        def handler(rc: int) -> None:
            if self.on_phone_exit is not None:
                self.on_phone_exit(phone, rc)

        return handler


def sip_ping(port: int, host: str = HOST, timeout: float = 0.3) -> bool:
    """True if something answers a SIP OPTIONS sent to ``host:port`` over UDP."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.bind((host, 0))
        s.settimeout(timeout)
        lport = s.getsockname()[1]
        tag = secrets.token_hex(4)
        msg = (
            f"OPTIONS sip:{host}:{port} SIP/2.0\r\n"
            f"Via: SIP/2.0/UDP {host}:{lport};branch=z9hG4bK{tag}\r\n"
            "Max-Forwards: 70\r\n"
            f"From: <sip:ping@{host}>;tag={tag}\r\n"
            f"To: <sip:{host}:{port}>\r\n"
            f"Call-ID: ping-{tag}@{host}\r\n"
            "CSeq: 1 OPTIONS\r\n"
            "Content-Length: 0\r\n\r\n"
        ).encode()
        try:
            s.sendto(msg, (host, port))
            data = s.recv(4096)
        except OSError:
            return False
        return data.startswith(b"SIP/2.0 ")
