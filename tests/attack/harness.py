"""The attack suite's parts: a real ``ctikit serve``, a bystander agent, RSS sampling.

An attack test (see test_*.py here, and docs/security.md) does::

    async with measured(server, bystander) as m:
        ...  # the attack, from attacker_address(i) (never the bystander's address)
    ...      # assertions on what the attacker got
    m.check_bystander()  # the bystander's p99 stayed within budget; RSS within ceiling

and ``record(m)`` (a fixture) puts the numbers in the suite's summary table. Numbers of an
attack come from ``scale(quick, full)``: the small ones run in ``./run test``, the full ones
in ``./run attack`` (CTIKIT_ATTACK_SCALE=full).
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import subprocess
import sys
import threading
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp

from ctikit.server.auth import hash_password
from ctikit.testing import CtikitProcess

PASSWORD = "attack-suite-password"
_HASH: list[str] = []
FULL = os.environ.get("CTIKIT_ATTACK_SCALE") == "full"
#: What a bystander's requests may take at the 99th percentile during any attack.
LATENCY_BUDGET_MS = 50.0
#: In the quick run (``./run test``, on a machine busy with other tests) the budget checked is
#: looser: it catches a starved server (the attacks took seconds), not jitter.
QUICK_LATENCY_BUDGET_MS = 1000.0
BYSTANDER_ADDRESS = "127.0.0.1"
MIN_SECONDS = 0.5  # the shortest measurement
BYSTANDER = "bystander"


def scale(quick: int, full: int) -> int:
    """The size of an attack: ``quick`` in the normal test run, ``full`` in ./run attack."""
    return full if FULL else quick


def attacker_address(i: int) -> str:
    """The ``i``-th attacker's source address: 127.0.x.y, never the bystander's 127.0.0.1
    (Linux routes all of 127.0.0.0/8 to loopback)."""
    return f"127.0.{1 + i // 250}.{2 + i % 250}"


def password_hash() -> str:
    if not _HASH:
        _HASH.append(hash_password(PASSWORD))  # once per run: argon2 is slow on purpose
    return _HASH[0]


def _toml(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml(v) for v in value) + "]"
    raise TypeError(f"cannot write {value!r} as TOML")


def write_config(
    path: Path,
    *,
    database: str,
    server: dict[str, Any],
    users: dict[str, str],
    limits: dict[str, Any] | None = None,
) -> Path:
    """A ``ctikit serve`` config: ``users`` maps user name -> role (agents take calls as
    their own name); every password is :data:`PASSWORD`."""
    lines = ["[server]", f"database = {_toml(database)}"]
    lines += [f"{k} = {_toml(v)}" for k, v in server.items()]
    if limits:
        lines += ["", "[limits]", *(f"{k} = {_toml(v)}" for k, v in limits.items())]
    for name, role in users.items():
        lines += ["", "[[users]]", f"username = {_toml(name)}", f"role = {_toml(role)}"]
        lines += [f"password_hash = {_toml(password_hash())}", 'team = "attack"']
    path.write_text("\n".join(lines) + "\n")
    return path


class AttackServer:
    """``ctikit serve --config`` on 127.0.0.1 with SQLite, its users from the config file."""

    def __init__(
        self,
        root: Path,
        *,
        server: dict[str, Any] | None = None,
        users: dict[str, str] | None = None,
        limits: dict[str, Any] | None = None,
        database: str | None = None,
        name: str = "server",
        extra_args: tuple[str, ...] = (),
    ) -> None:
        self.root = root
        root.mkdir(parents=True, exist_ok=True)
        self.database = database or f"sqlite:///{root / 'ctikit.db'}"
        self.users = {BYSTANDER: "agent", **(users or {})}
        self.config = write_config(
            root / f"{name}.toml",
            database=self.database,
            server=server or {},
            users=self.users,
            limits=limits,
        )
        self.log_path = root / f"{name}.log"
        self.proc = CtikitProcess(
            ["serve", "--config", str(self.config), "--port", "0", *extra_args], self.log_path
        )
        self.url = self.proc.url
        self.host, port = self.url.removeprefix("http://").rsplit(":", 1)
        self.port = int(port)

    @property
    def pid(self) -> int:
        return self.proc.pid

    def rss_mb(self) -> float:
        with open(f"/proc/{self.pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
        return 0.0

    def cpu_seconds(self) -> float:
        """CPU time the server process used so far (user + system)."""
        with open(f"/proc/{self.pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def open_fds(self) -> int:
        return len(os.listdir(f"/proc/{self.pid}/fd"))

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def alive(self) -> bool:
        return self.proc.poll() is None

    def stop(self) -> None:
        self.proc.stop()


class Bystander:
    """The bystander agent's process (tests/attack/bystander.py), driven over its stdin."""

    def __init__(self, server: AttackServer, user: str = BYSTANDER) -> None:
        script = Path(__file__).with_name("bystander.py")
        self.proc = subprocess.Popen(
            [sys.executable, str(script), server.url, user, PASSWORD, BYSTANDER_ADDRESS],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        line = self._readline(30)
        if line != "ready":
            self.stop()
            raise RuntimeError(f"the bystander did not start: {line!r}")

    def _readline(self, within: float) -> str:
        assert self.proc.stdout is not None
        import selectors

        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            if not sel.select(within):
                return "(no answer)"
        return self.proc.stdout.readline().strip()

    def _ask(self, command: str) -> str:
        assert self.proc.stdin is not None
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._readline(30)

    async def reset(self) -> None:
        assert await asyncio.to_thread(self._ask, "reset") == "ok"

    async def report(self) -> dict[str, Any]:
        answer = await asyncio.to_thread(self._ask, "report")
        return dict(json.loads(answer))

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(BrokenPipeError, OSError):
                assert self.proc.stdin is not None
                self.proc.stdin.write("quit\n")
                self.proc.stdin.flush()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        for pipe in (self.proc.stdin, self.proc.stdout):
            if pipe is not None:
                pipe.close()


@dataclass
class Measurement:
    """What the bystander saw and what the server's RSS did during one attack."""

    rss_start: float = 0.0
    rss_peak: float = 0.0
    rss_end: float = 0.0
    bystander: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    server_cpu: float = 0.0  # seconds of CPU the server used during the attack
    notes: dict[str, Any] = field(default_factory=dict)

    def p99(self) -> float:
        return max(self.bystander["ws"]["p99"], self.bystander["rest"]["p99"])

    def check_bystander(self, *, rss_ceiling_mb: float | None = None) -> None:
        """The bystander kept working: answers for all its requests, p99 within budget; and
        the server's RSS stayed under ``rss_ceiling_mb`` (growth over the attack)."""
        budget = LATENCY_BUDGET_MS if FULL else QUICK_LATENCY_BUDGET_MS
        b = self.bystander
        assert b["ws"]["n"] > 0 and b["rest"]["n"] > 0, b
        assert b["error_count"] == 0, f"the bystander got errors: {b['errors']}"
        assert self.p99() < budget, f"bystander p99 {self.p99()} ms >= {budget} ms: {b}"
        if rss_ceiling_mb is not None:
            grown = self.rss_peak - self.rss_start
            assert grown < rss_ceiling_mb, f"RSS grew {grown:.0f} MB (ceiling {rss_ceiling_mb})"


async def _sample_rss(server: AttackServer, m: Measurement, stop: asyncio.Event) -> None:
    while not stop.is_set():
        with contextlib.suppress(OSError):
            m.rss_peak = max(m.rss_peak, server.rss_mb())
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.05)


#: The attacking client's niceness while it attacks (see _attacker_priority).
ATTACKER_NICE = 10


def _attacker_priority() -> Callable[[], None]:
    """Run the attack's client (this thread: the test's event loop) below the server and the
    bystander; returns what restores it. On the network the attacker's CPU is its own: on
    this machine its client (hundreds of HTTP sessions at once) would otherwise take a core
    from the server and the bystander, and the table would measure the machine, not the
    server. The server's own work for the attack is not niced."""
    thread = threading.get_native_id()
    before = os.getpriority(os.PRIO_PROCESS, thread)
    os.setpriority(os.PRIO_PROCESS, thread, max(before, ATTACKER_NICE))

    def restore() -> None:
        with contextlib.suppress(PermissionError):  # lowering needs root: stays niced
            os.setpriority(os.PRIO_PROCESS, thread, before)

    return restore


@contextlib.asynccontextmanager
async def measured(server: AttackServer, bystander: Bystander) -> AsyncIterator[Measurement]:
    """Measure the bystander's latency and the server's RSS for the duration of the block."""
    m = Measurement()
    m.rss_start = m.rss_peak = server.rss_mb()
    cpu_start = server.cpu_seconds()
    await bystander.reset()
    stop = asyncio.Event()
    sampler = asyncio.create_task(_sample_rss(server, m, stop))
    started = time.perf_counter()
    calm = _attacker_priority()
    try:
        yield m
    finally:
        calm()
        # A short attack still gets the bystander's samples (REST every 20 ms), which then
        # show the moments right after it.
        await asyncio.sleep(max(0.0, MIN_SECONDS - (time.perf_counter() - started)))
        m.seconds = time.perf_counter() - started
        m.bystander = await bystander.report()
        stop.set()
        await sampler
        if server.alive():
            m.rss_end = server.rss_mb()
            m.server_cpu = server.cpu_seconds() - cpu_start


# ------------------------------------------------------------------------- HTTP helpers


def session_from(address: str, **connector: Any) -> aiohttp.ClientSession:
    """A client session whose connections come from ``address`` (no connection limit)."""
    return aiohttp.ClientSession(
        connector=aiohttp.TCPConnector(local_addr=(address, 0), limit=0, **connector)
    )


async def login(
    url: str,
    username: str,
    password: str,
    *,
    address: str,
    headers: dict[str, str] | None = None,
    within: float = 60.0,
) -> tuple[int, dict[str, Any], float, aiohttp.ClientResponse]:
    """One login from ``address``: (status, body, seconds, response)."""
    async with session_from(address) as s:
        started = time.perf_counter()
        async with s.post(
            f"{url}/api/login",
            json={"username": username, "password": password},
            headers=headers or {},
            timeout=aiohttp.ClientTimeout(total=within),
        ) as r:
            body = await r.json(content_type=None)
            return r.status, body, time.perf_counter() - started, r


async def http_stats(server: AttackServer) -> dict[str, int]:
    """The server's own count of its HTTP connections (``/api/health``, ``http``)."""
    async with (
        session_from(BYSTANDER_ADDRESS) as s,
        s.get(f"{server.url}/api/health", timeout=aiohttp.ClientTimeout(total=10)) as r,
    ):
        return dict((await r.json())["http"])


class RawConnection(asyncio.Protocol):
    """A client socket that sends what it is told and notes when the server closes it."""

    def __init__(self, address: str = "") -> None:
        self.address = address
        self.transport: asyncio.Transport | None = None
        self.received = bytearray()
        self.opened_at = time.monotonic()
        self.closed_at: float | None = None
        self.closed = asyncio.Event()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        self.transport = transport

    def data_received(self, data: bytes) -> None:
        self.received += data

    def connection_lost(self, exc: Exception | None) -> None:
        self.closed_at = time.monotonic()
        self.closed.set()

    def send(self, data: bytes) -> None:
        assert self.transport is not None
        self.transport.write(data)

    def close(self) -> None:
        if self.transport is not None:
            self.transport.abort()

    def status(self) -> int | None:
        """The HTTP status the server answered with, if it did."""
        head = bytes(self.received[:64])
        if head.startswith(b"HTTP/1.1 "):
            return int(head[9:12])
        return None


async def open_raw(host: str, port: int, address: str) -> RawConnection:
    loop = asyncio.get_running_loop()
    _, proto = await loop.create_connection(
        lambda: RawConnection(address), host, port, local_addr=(address, 0)
    )
    return proto


class Connections(list[RawConnection]):
    """What :func:`open_many` opened; ``failed`` counts connects that failed, by error."""

    def __init__(self) -> None:
        super().__init__()
        self.failed: Counter[str] = Counter()


async def open_many(
    host: str, port: int, addresses: list[str], per_address: int, first: bytes
) -> Connections:
    """``per_address`` connections from each address, each sending ``first`` (say, half a
    request head). Connections the server refuses at once are in the list, closed."""
    out = Connections()
    sem = asyncio.Semaphore(256)  # connects in flight

    async def one(address: str) -> None:
        async with sem:
            try:
                conn = await open_raw(host, port, address)
            except OSError as exc:
                out.failed[exc.strerror or type(exc).__name__] += 1
                return
            out.append(conn)
            if first:
                conn.send(first)

    await asyncio.gather(*(one(a) for a in addresses for _ in range(per_address)))
    return out
