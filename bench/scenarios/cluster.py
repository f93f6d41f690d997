"""Scenario cluster (issue #7): 1, 2 and 3 ``ctikit serve --cluster`` nodes sharing one
Redis, against single-node mode (no ``--cluster``) in the same run.

Every server is a real ``python -m ctikit serve`` process (demo mode, simulator connector,
its own SQLite file, log level info) pinned to ``--server-cpu``; the private redis-server
(``--save "" --appendonly yes --appendfsync everysec``, a fresh one for every row) is pinned
there too, so every configuration gets the same CPU. The lean load clients
(bench/cluster_client.py) and this orchestrator are pinned to ``--client-cpu``.

Consoles: ``--two-frames`` of the agents have two console sockets, the rest one. Agent i's
first socket is on node i mod N, its second on node i+1 mod N: sockets are spread evenly
and those agents see their events through two nodes (single node: both on it).

Load: components' call life cycles sent as console requests over those sockets
(``fireOnCallBegin`` -> ``setCallAttachedData`` -> ``fireOnCallEnd``), one event each, an
agent's steps alternating between its sockets and never overlapping. In cluster mode each
one is the whole commit path: HMGET of the agent's state, the core registry on a copy,
EVALSHA of the commit script (HSET state, XADD to the agent's stream, PUBLISH), then every
node's fan-out subscriber hands it to its own sockets of that agent. Two phases per row:
open loop at ``--rate`` requests/s (latency at a given load), then ``--inflight`` requests
kept outstanding for ``--max-duration`` s (the most the configuration commits).

Measured: commits/s (requests answered with success), events/s delivered to consoles,
latency from the event's ``at`` (server clock when the change was applied) to its arrival
at the console (same machine, same clock), lost and duplicated events (each socket checks
its agent's seq; at the end every socket must hold its agent's latest seq, read back over
REST), CPU of every node, of Redis (INFO cpu before/after; per command from INFO
commandstats) and of the clients.

The servers run a copy of src/ taken when the run begins (``--live-code``: not), and each row
is measured after the servers' post-connection ``gc.freeze`` pass (``--no-settle``: not).
``--observer`` adds a cluster node with no console: its CPU is what every node pays for every
event. ``--targets`` is ignored: the reference is single-node mode, not a baseline server.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import ctypes
import math
import os
import re
import resource
import secrets
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import redis.asyncio as aioredis

from ctikit.testing import free_port, redis_server_command

from .. import sysinfo
from ..control import REPO_ROOT, Child
from ..harness import SOCKETS_PER_CLIENT, Options
from ..report import Report, ratio
from ..stats import merge_summaries
from ..sysinfo import loadavg

NAME = "cluster"
HELP = "cluster: events/s and console p99 with 1, 2, 3 nodes sharing Redis vs single node"

SINGLE = 0  # "nodes" of the single-node reference row (no --cluster)
#: The server's housekeeping (ctikit.server.app) freezes the objects of a wave of at least
#: this many new sockets, and logs a line with this in it when it did.
FREEZE_AFTER = 500
FREEZE_LOG = "long-lived objects after"
LOG_LEVEL_RE = re.compile(r"^\S+ \S+ (WARNING|ERROR|CRITICAL)\s+(\S+): (.*)$")


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consoles", default="1000,5000", help="console sockets per row")
    p.add_argument("--nodes", default="1,2,3", help="cluster sizes (single node always first)")
    p.add_argument("--rate", type=float, default=500.0, help="open-loop requests (events)/s")
    p.add_argument("--duration", type=float, default=6.0, help="seconds of the open-loop phase")
    p.add_argument(
        "--inflight",
        type=int,
        default=64,
        help="requests outstanding in the closed-loop (max) phase",
    )
    p.add_argument(
        "--max-duration", type=float, default=5.0, help="seconds of the max phase (0: none)"
    )
    p.add_argument(
        "--warmup",
        type=float,
        default=2.0,
        help="seconds of load before measuring (meanwhile, the housekeeping pass is awaited)",
    )
    p.add_argument(
        "--two-frames",
        type=float,
        default=0.2,
        help="share of agents with a second console socket (on another node)",
    )
    p.add_argument(
        "--redis-url",
        default=None,
        help="use this Redis (a key prefix of our own; its persistence is read and "
        "reported) instead of a private redis-server per row",
    )
    p.add_argument(
        "--fsync",
        default="everysec",
        choices=("everysec", "always", "no"),
        help="appendfsync of the private redis-server",
    )
    p.add_argument(
        "--fsync-always-row",
        default="1000x2",
        help="one more row CONSOLESxNODES with appendfsync always ('' for none)",
    )
    p.add_argument("--no-single", action="store_true", help="skip the single-node reference rows")
    p.add_argument(
        "--live-code",
        action="store_true",
        help="run the servers on src/ as it is at each start (default: on a copy of src/ "
        "taken when the run begins, so code changed meanwhile cannot mix into one table)",
    )
    p.add_argument(
        "--no-settle",
        action="store_true",
        help="measure right after connecting, without waiting for the servers' "
        "post-connection gc.freeze (a housekeeping pass every 15 s that pauses a node "
        "for up to a second after a wave of new sockets)",
    )
    p.add_argument(
        "--observer",
        action="store_true",
        help="one more cluster node with no console: its CPU is what every node pays for "
        "every event of the cluster (the fan-out subscription); not in 'node CPU'",
    )


# ---------------------------------------------------------------------------- processes


def _child_setup(cpus: str | None) -> None:
    """In a server child before exec: pin, raise the fd limit, die with the orchestrator.

    The orchestrator has pinned itself to the clients' core and a child inherits that, so
    the wanted cores are set outright, not intersected with the inherited set (which would
    leave every server on the clients' core)."""
    if cpus:
        with contextlib.suppress(OSError):
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft < hard:
        resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL(None, use_errno=True).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG


def snapshot_code(root: Path) -> tuple[dict[str, str], str, str]:
    """Copy src/ctikit to ``root``: the environment that makes ``python -m ctikit`` run that
    copy, its code version (commit + hash of uncommitted changes) and where it imports from."""
    src = root / "src"
    version = sysinfo.code_version()
    shutil.copytree(
        REPO_ROOT / "src" / "ctikit",
        src / "ctikit",
        ignore=shutil.ignore_patterns("__pycache__", "*.pyc"),
    )
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(src), env.get("PYTHONPATH")) if p)
    where = subprocess.run(
        [sys.executable, "-c", "import ctikit; print(ctikit.__file__)"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    ).stdout.strip()
    if not where.startswith(str(src)):
        raise RuntimeError(f"the snapshot of src/ is not what python imports ({where})")
    return env, version, where


def cpus_allowed(pid: int) -> str:
    """The cores ``pid`` may run on, as /proc shows them ("0", "0-1")."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("Cpus_allowed_list:"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "?"


class PrivateRedis:
    """A redis-server of this run: AOF on, no RDB snapshots, ``appendfsync`` as asked."""

    def __init__(self, root: Path, fsync: str, cpus: str | None) -> None:
        self.root = root
        self.fsync = fsync
        self.cpus = cpus
        self.port = free_port()
        self.url = f"redis://127.0.0.1:{self.port}/0"
        self.proc: asyncio.subprocess.Process | None = None

    async def start(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)
        exe = shutil.which("redis-server")
        if exe is None:
            raise RuntimeError("redis-server is not installed (apt-get install redis-server)")
        self.proc = await asyncio.create_subprocess_exec(
            *redis_server_command(exe, self.port, self.root, appendfsync=self.fsync),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
            preexec_fn=lambda: _child_setup(self.cpus),
        )
        r = aioredis.from_url(self.url)
        try:
            for _ in range(200):
                try:
                    if await r.ping():
                        return
                except (OSError, aioredis.ConnectionError):
                    await asyncio.sleep(0.05)
        finally:
            await r.aclose()
        raise RuntimeError(f"redis-server did not start (see {self.root / 'redis.log'})")

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            try:
                await asyncio.wait_for(self.proc.wait(), 10)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        self.proc = None


class Node:
    """One ``python -m ctikit serve`` process (``--cluster`` when a Redis URL is given)."""

    def __init__(self, name: str, proc: asyncio.subprocess.Process, url: str, log: Path):
        self.name = name
        self.proc = proc
        self.pid = proc.pid
        self.url = url
        self.port = int(url.rsplit(":", 1)[1])
        self.log = log
        #: Seconds a node has to exit after SIGTERM before it is killed (its exit code then
        #: is -9, reported as such); a node under pyinstrument needs longer to write.
        self.stop_within = 15.0

    @classmethod
    async def start(
        cls,
        name: str,
        *,
        config: Path,
        database: Path,
        log: Path,
        cpus: str | None,
        log_level: str,
        cluster: str | None,
        profile: Path | None = None,
        env: dict[str, str] | None = None,
    ) -> Node:
        # --profile: the node runs under pyinstrument (wall clock, the process's whole life),
        # which saves its session when the node exits (see render_profile).
        prof = ["-m", "pyinstrument", "-i", "0.001", "-r", "pyisession", "-o", str(profile)]
        args = [
            *(prof if profile else []),
            "-m",
            "ctikit",
            "serve",
            "--config",
            str(config),
            "--port",
            "0",
            "--database",
            f"sqlite:///{database}",
            "--log-level",
            log_level,
        ]
        if cluster:
            args += ["--cluster", cluster, "--node-id", name]
        with log.open("ab") as err:
            proc = await asyncio.create_subprocess_exec(
                sys.executable,
                *args,
                stdin=asyncio.subprocess.DEVNULL,
                stdout=asyncio.subprocess.PIPE,
                stderr=err,
                cwd=REPO_ROOT,
                env=env,
                start_new_session=True,
                preexec_fn=lambda: _child_setup(cpus),
            )
        assert proc.stdout is not None
        deadline = time.perf_counter() + 60
        while time.perf_counter() < deadline:
            try:
                line = await asyncio.wait_for(proc.stdout.readline(), 60)
            except TimeoutError:
                break
            if not line:
                break
            m = re.search(rb"listening on (http://\S+)", line)
            if m:
                node = cls(name, proc, m.group(1).decode(), log)
                if profile:
                    node.stop_within = 120.0
                return node
        with contextlib.suppress(ProcessLookupError):
            proc.kill()
        await proc.wait()
        raise RuntimeError(f"node {name} did not start: {_tail(log)}")

    def cpu_s(self) -> float:
        return sysinfo.cpu_seconds(self.pid)

    async def stop(self) -> int | None:
        if self.proc.returncode is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                await asyncio.wait_for(self.proc.wait(), self.stop_within)
            except TimeoutError:
                self.proc.kill()
                await self.proc.wait()
        return self.proc.returncode

    def log_text(self) -> str:
        try:
            return self.log.read_text(errors="replace")
        except OSError:
            return ""

    def log_problems(self) -> Counter[str]:
        """WARNING/ERROR lines of the node's log, by logger and message start."""
        out: Counter[str] = Counter()
        try:
            text = self.log.read_text(errors="replace")
        except OSError:
            return out
        for line in text.splitlines():
            m = LOG_LEVEL_RE.match(line)
            if m and "DEMO MODE" not in m.group(3):
                out[f"{m.group(1)} {m.group(2)}: {m.group(3)[:100]}"] += 1
            elif line.startswith("Traceback"):
                out["Traceback"] += 1
        return out


async def render_profile(session: Path) -> list[str]:
    """Text reports of a node's pyinstrument session: the call tree, and a flat list of
    functions by their own time (library frames included)."""
    out = []
    for suffix, extra in ((".txt", []), ("-flat.txt", ["-p", "flat=true", "--show-all"])):
        dest = session.with_name(session.stem + suffix)
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "pyinstrument",
            "--load",
            str(session),
            "-r",
            "text",
            *extra,
            "-o",
            str(dest),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await proc.wait()
        out.append(str(dest))
    return out


def _tail(path: Path, n: int = 2000) -> str:
    try:
        return path.read_text(errors="replace")[-n:]
    except OSError:
        return ""


# ------------------------------------------------------------------------------ layout


@dataclass
class Layout:
    """Which agent's console sockets go to which node."""

    agents: list[str]
    doubled: set[str]
    #: (agent, node index) per socket
    sockets: list[tuple[str, int]] = field(default_factory=list)


def layout(consoles: int, share: float, nodes: int) -> Layout:
    """``consoles`` sockets: ``share`` of the agents have two (on nodes i and i+1 mod N)."""
    m = max(1, round(consoles / (1 + share)))
    doubles = consoles - m
    agents = [f"agent{i:05d}" for i in range(m)]
    doubled = {agents[i] for i in range(m) if (i * doubles) // m != ((i + 1) * doubles) // m}
    out = Layout(agents, doubled)
    n = max(1, nodes)
    for i, a in enumerate(agents):
        out.sockets.append((a, i % n))
        if a in doubled:
            out.sockets.append((a, (i + 1) % n))
    return out


# ------------------------------------------------------------------------------- a row


@dataclass
class Row:
    consoles: int
    nodes: int  # 0: single node
    fsync: str | None  # Redis appendfsync of a private Redis (None: single node)

    @property
    def mode(self) -> str:
        if self.nodes == SINGLE:
            return "single node"
        return f"cluster, {self.nodes} node{'s' if self.nodes > 1 else ''}"


async def _redis_facts(r: aioredis.Redis) -> dict[str, Any]:
    cfg = await r.config_get("appendonly")
    cfg.update(await r.config_get("appendfsync"))
    cfg.update(await r.config_get("save"))
    info = await r.info("server")
    return {
        "appendonly": cfg.get("appendonly"),
        "appendfsync": cfg.get("appendfsync"),
        "save": cfg.get("save"),
        "redis_version": info.get("redis_version"),
        "process_id": info.get("process_id"),
    }


async def _redis_cpu(r: aioredis.Redis) -> dict[str, Any]:
    cpu = await r.info("cpu")
    stats = await r.info("commandstats")
    return {
        "total": float(cpu["used_cpu_sys"]) + float(cpu["used_cpu_user"]),
        "main": float(cpu.get("used_cpu_sys_main_thread", 0))
        + float(cpu.get("used_cpu_user_main_thread", 0)),
        "commands": {
            k.removeprefix("cmdstat_"): {"calls": int(v["calls"]), "usec": int(v["usec"])}
            for k, v in stats.items()
        },
    }


def _redis_delta(before: dict[str, Any], after: dict[str, Any]) -> dict[str, Any]:
    cmds = {}
    for name, a in after["commands"].items():
        b = before["commands"].get(name, {"calls": 0, "usec": 0})
        calls, usec = a["calls"] - b["calls"], a["usec"] - b["usec"]
        if calls:
            cmds[name] = {"calls": calls, "usec": usec, "usec_per_call": round(usec / calls, 2)}
    return {
        "cpu_s": after["total"] - before["total"],
        "main_cpu_s": after["main"] - before["main"],
        "commands": cmds,
    }


class Rig:
    """The processes of one row: Redis (cluster rows), the nodes, the load clients."""

    def __init__(
        self,
        opts: Options,
        args: argparse.Namespace,
        row: Row,
        lay: Layout,
        root: Path,
        env: dict[str, str] | None = None,
    ):
        self.opts, self.args, self.row, self.lay, self.root = opts, args, row, lay, root
        self.env = env
        self.redis: PrivateRedis | None = None
        self.redis_url: str | None = None
        self.r: aioredis.Redis | None = None
        self.prefix = f"bench{secrets.token_hex(4)}:"
        self.nodes: list[Node] = []
        self.observer: Node | None = None
        self.clients: list[Child] = []
        self.redis_facts: dict[str, Any] = {}
        self.exit_codes: list[int | None] = []
        self.tag = ""

    async def __aenter__(self) -> Rig:
        try:
            await self._start()
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def _start(self) -> None:
        opts, row = self.opts, self.row
        self.root.mkdir(parents=True, exist_ok=True)
        opts.logs.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%H%M%S")
        tag = f"{stamp}-c{row.consoles}-n{row.nodes}{'-' + row.fsync if row.fsync else ''}"
        self.tag = tag
        if row.nodes != SINGLE:
            if self.args.redis_url:
                self.redis_url = self.args.redis_url
            else:
                assert row.fsync is not None
                self.redis = PrivateRedis(self.root / "redis", row.fsync, opts.server_cpu)
                await self.redis.start()
                self.redis_url = self.redis.url
            self.r = aioredis.from_url(self.redis_url)
            self.redis_facts = await _redis_facts(self.r)
        config = self.root / "node.toml"
        config.write_text(
            "[server]\ndemo = true\n"
            f'cluster_prefix = "{self.prefix}"\ncluster_lease_seconds = 3.0\n'
        )
        count = max(1, row.nodes) + (1 if self.args.observer and row.nodes != SINGLE else 0)
        started = list(
            await asyncio.gather(
                *(
                    Node.start(
                        f"n{i + 1}",
                        config=config,
                        database=self.root / f"n{i + 1}.db",
                        log=opts.logs / f"{tag}-n{i + 1}.log",
                        cpus=opts.server_cpu,
                        log_level=opts.log_level,
                        cluster=self.redis_url,
                        profile=opts.logs / f"profile-cluster-{tag}-n{i + 1}.pyisession"
                        if self.args.profile and i == 0
                        else None,
                        env=self.env,
                    )
                    for i in range(count)
                )
            )
        )
        self.nodes = started[: max(1, row.nodes)]
        self.observer = started[-1] if len(started) > len(self.nodes) else None
        n_clients = max(opts.clients, math.ceil(len(self.lay.sockets) / SOCKETS_PER_CLIENT))
        self.clients = list(
            await asyncio.gather(
                *(
                    Child.start(
                        f"client{i}",
                        "bench.cluster_client",
                        ["--cpu", opts.client_cpu],
                        opts.logs / f"{tag}-client{i}.log",
                    )
                    for i in range(n_clients)
                )
            )
        )

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(
            *(c.call("close", within=30) for c in self.clients), return_exceptions=True
        )
        await asyncio.gather(*(c.stop() for c in self.clients), return_exceptions=True)
        every = self.nodes + ([self.observer] if self.observer else [])
        self.exit_codes = list(
            await asyncio.gather(*(n.stop() for n in every), return_exceptions=False)
        )
        if self.args.profile:
            for session in sorted(self.opts.logs.glob(f"profile-cluster-{self.tag}-*.pyisession")):
                self.opts.say(f"profile: {await render_profile(session)}")
        if self.r is not None:
            if self.args.redis_url:  # someone else's Redis: remove what we wrote
                with contextlib.suppress(Exception):
                    keys = [k async for k in self.r.scan_iter(match=f"{self.prefix}*")]
                    for i in range(0, len(keys), 500):
                        await self.r.delete(*keys[i : i + 500])
            await self.r.aclose()
        if self.redis is not None:
            await self.redis.stop()

    # ------------------------------------------------------------------ steps

    def placement(self) -> dict[str, str]:
        """Where each process may run (checked, not assumed)."""
        out = {n.name: cpus_allowed(n.pid) for n in self.nodes}
        if self.observer is not None:
            out["observer"] = cpus_allowed(self.observer.pid)
        if self.redis is not None and self.redis.proc is not None:
            out["redis"] = cpus_allowed(self.redis.proc.pid)
        out.update({c.name: cpus_allowed(c.pid) for c in self.clients})
        out["orchestrator"] = cpus_allowed(os.getpid())
        return out

    def client_of(self, agent_index: int) -> int:
        return agent_index % len(self.clients)

    async def connect(self) -> dict[str, Any]:
        """Open every socket on its node; each client holds whole agents."""
        index = {a: i for i, a in enumerate(self.lay.agents)}
        plan: list[list[list[str]]] = [[[] for _ in self.nodes] for _ in self.clients]
        for agent, node in self.lay.sockets:
            plan[self.client_of(index[agent])][node].append(agent)

        async def one(ci: int) -> list[dict[str, Any]]:
            out = []
            for ni, agents in enumerate(plan[ci]):
                if agents:
                    out.append(
                        await self.clients[ci].call(
                            "connect",
                            port=self.nodes[ni].port,
                            agents=agents,
                            per_agent=1,
                            concurrency=256,
                            timeout=60,
                            sources=[f"127.0.{ci + 1}.1", f"127.0.{ci + 1}.2"],
                            within=300,
                        )
                    )
            return out

        t0 = time.perf_counter()
        parts = [
            a
            for answers in await asyncio.gather(*map(one, range(len(self.clients))))
            for a in answers
        ]
        errors: Counter[str] = Counter()
        for a in parts:
            errors.update(a["errors"])
        return {
            "opened": sum(a["opened"] for a in parts),
            "wanted": sum(a["wanted"] for a in parts),
            "seconds": time.perf_counter() - t0,
            "errors": dict(errors),
        }

    async def settle(self, within: float = 35.0) -> dict[str, Any]:
        """Wait until every node holding at least ``FREEZE_AFTER`` sockets has had its
        housekeeping pass with all of them open (ctikit.server.app: every 2 s it logs the
        count and, after a wave of new sockets, runs gc.collect(1) + gc.freeze()), so that
        pause falls before the measurement in every row."""
        per_node = Counter(n for _, n in self.lay.sockets)
        pending = {i for i in range(len(self.nodes)) if per_node[i] >= FREEZE_AFTER}
        seen: dict[int, float] = {}
        t0 = time.perf_counter()
        while pending and time.perf_counter() - t0 < within:
            for i in sorted(pending):
                text = self.nodes[i].log_text()
                k = text.find(f" {per_node[i]} console sockets open")
                if k < 0:
                    continue
                if FREEZE_LOG in text[k:]:
                    pending.discard(i)
                elif time.perf_counter() - seen.setdefault(i, time.perf_counter()) > 3.0:
                    pending.discard(i)  # that pass froze nothing: no wave left to freeze
            if pending:
                await asyncio.sleep(0.2)
        return {
            "seconds": time.perf_counter() - t0,
            "not_settled": [self.nodes[i].name for i in sorted(pending)],
        }

    async def seqs(self) -> dict[str, int]:
        """Every agent's latest seq, read over REST from the first node."""
        base = self.nodes[0].url
        out: dict[str, int] = {}
        gate = asyncio.Semaphore(32)
        async with aiohttp.ClientSession() as s:

            async def one(agent: str) -> None:
                async with gate, s.get(f"{base}/api/agents/{agent}/calls") as resp:
                    body = await resp.json()
                    out[agent] = int(body["seq"])

            await asyncio.gather(*map(one, self.lay.agents))
        return out

    async def phase(
        self, tag: int, *, rate: float | None, inflight: int | None, duration: float
    ) -> dict[str, Any]:
        """Drive one phase; return its numbers (stats, CPU, Redis commands, lost/dup)."""
        await asyncio.gather(*(c.call("reset") for c in self.clients))
        cpu0 = [n.cpu_s() for n in self.nodes]
        obs0 = self.observer.cpu_s() if self.observer else 0.0
        red0 = await _redis_cpu(self.r) if self.r is not None else None
        t0 = time.perf_counter()
        drives = await asyncio.gather(
            *(
                c.call(
                    "cycles",
                    rate=None if rate is None else rate / len(self.clients),
                    inflight=None if inflight is None else max(1, inflight // len(self.clients)),
                    duration=duration,
                    tag=tag,
                    seed=tag,
                    within=duration + 120,
                )
                for c in self.clients
            )
        )
        wall = time.perf_counter() - t0
        cpu = [n.cpu_s() - c0 for n, c0 in zip(self.nodes, cpu0, strict=True)]
        obs = self.observer.cpu_s() - obs0 if self.observer else None
        red = (
            _redis_delta(red0, await _redis_cpu(self.r))
            if self.r is not None and red0 is not None
            else None
        )
        seqs = await self.seqs()
        waits = await asyncio.gather(
            *(c.call("wait", seqs=seqs, timeout=30, within=60) for c in self.clients)
        )
        parts = await asyncio.gather(*(c.call("stats") for c in self.clients))
        out = _phase_numbers(drives, parts, waits, cpu, wall, red)
        out["observer_cpu_s"] = obs
        out["observer_us_per_commit"] = (
            obs / out["ok"] * 1e6 if obs is not None and out["ok"] else None
        )
        return out

    async def state_bytes(self, sample: int = 50) -> float | None:
        """Mean size of an agent's state hash field in Redis (a sample of agents)."""
        if self.r is None:
            return None
        sizes = [
            await self.r.hstrlen(f"{self.prefix}agent:{a}", "state")
            for a in self.lay.agents[:sample]
        ]
        return sum(sizes) / len(sizes) if sizes else None


def _phase_numbers(
    drives: list[dict[str, Any]],
    parts: list[dict[str, Any]],
    waits: list[dict[str, Any]],
    cpu: list[float],
    wall: float,
    red: dict[str, Any] | None,
) -> dict[str, Any]:
    sums = {
        k: sum(p[k] for p in parts)
        for k in ("events", "lost", "dup", "bad", "responses", "failed_responses", "unanswered")
    }
    errors: Counter[str] = Counter()
    req_errors: Counter[str] = Counter()
    for p in parts:
        errors.update(p["errors"])
        req_errors.update(p.get("request_errors", {}))
    t_start = min(d["t_start"] for d in drives)
    t_answered = max(d["t_answered"] for d in drives)
    t_last = max(p["t_last"] for p in parts)
    ok = sums["responses"] - sums["failed_responses"]
    span_commit = t_answered - t_start
    span_events = (t_last - t_start) if t_last > t_start else float("nan")
    missing = sum(w["missing"] for w in waits)
    return {
        "sent": sum(d["sent"] for d in drives),
        "dropped": sum(d["dropped"] for d in drives),
        "busy_skips": sum(d["busy_skips"] for d in drives),
        "unanswered": sum(d["unanswered"] for d in drives),
        "ok": ok,
        "failed": sums["failed_responses"],
        "request_errors": dict(req_errors),
        "socket_errors": dict(errors),
        "events": sums["events"],
        "lost": sums["lost"] + missing,
        "lost_in_stream": sums["lost"],
        "missing_at_end": missing,
        "short_sockets": sum(w["short_sockets"] for w in waits),
        "dup": sums["dup"],
        "bad_frames": sums["bad"],
        "commits_per_s": ok / span_commit if span_commit > 0 else float("nan"),
        "events_per_s": sums["events"] / span_events,
        "latency": merge_summaries([p["latency"] for p in parts]),
        "rtt": merge_summaries([p["rtt"] for p in parts]),
        "node_cpu_s": cpu,
        "node_cpu_share": [c / wall for c in cpu],
        "wall_s": wall,
        "server_us_per_commit": sum(cpu) / ok * 1e6 if ok else float("nan"),
        "redis": red,
        "redis_cpu_share": red["cpu_s"] / wall if red else None,
        "redis_us_per_commit": red["cpu_s"] / ok * 1e6 if red and ok else None,
        "client_cpu": [round(p["cpu_s"] / p["wall_s"], 3) if p["wall_s"] else 0 for p in parts],
    }


# ---------------------------------------------------------------------------- the run

COLUMNS = [
    "consoles",
    "agents (2 sockets)",
    "mode",
    "load",
    "persistence",
    "commits/s",
    "events/s delivered",
    "vs single",
    "p50 ms",
    "p99 ms",
    "max ms",
    "p99 vs single",
    "lost",
    "dup",
    "failed req",
    "node CPU",
    "server µs/commit",
    "Redis CPU",
    "Redis µs/commit",
    "client CPU",
    "closed before hello (retried)",
    "node log W/E",
    "load avg",
]


def _rows(args: argparse.Namespace) -> list[Row]:
    counts = [int(c) for c in args.consoles.split(",") if c]
    sizes = [int(n) for n in args.nodes.split(",") if n]
    extra: tuple[int, int] | None = None
    if args.fsync_always_row:
        c, _, n = args.fsync_always_row.partition("x")
        extra = (int(c), int(n))
    rows: list[Row] = []
    for c in counts:
        if not args.no_single:
            rows.append(Row(c, SINGLE, None))
        rows += [Row(c, n, args.fsync) for n in sizes]
        if extra is not None and extra[0] == c and not args.redis_url and args.fsync != "always":
            rows.append(Row(c, extra[1], "always"))
    return rows


async def _none() -> None:
    return None


def _persistence(row: Row, facts: dict[str, Any]) -> str:
    if row.nodes == SINGLE:
        return "SQLite call state (200 ms flush)"
    if facts.get("appendonly") == "yes":
        return f"AOF {facts.get('appendfsync')}"
    return f"no AOF (save '{facts.get('save')}')"


async def run(args: argparse.Namespace, opts: Options) -> Report:
    rep = Report(NAME, "Cluster: nodes sharing Redis vs single node", COLUMNS)
    rows = _rows(args)
    base_root = Path(tempfile.mkdtemp(prefix="ctikit-bench-cluster-"))
    opts.logs.mkdir(parents=True, exist_ok=True)
    phases: list[tuple[str, dict[str, Any]]] = [
        (f"{args.rate:g}/s", {"rate": args.rate, "inflight": None, "duration": args.duration})
    ]
    if args.max_duration > 0:
        phases.append(
            (
                f"max ({args.inflight} in flight)",
                {"rate": None, "inflight": args.inflight, "duration": args.max_duration},
            )
        )
    reference: dict[tuple[int, str], dict[str, Any]] = {}
    env: dict[str, str] | None = None
    src = REPO_ROOT / "src"
    try:
        if not args.live_code:
            env, version, where = snapshot_code(base_root / "code")
            src = base_root / "code" / "src"
            rep.facts["code"] = version
            rep.notes.append(f"Servers ran a copy of src/ taken at the start ({version}; {where}).")
        app_py = src / "ctikit" / "server" / "app.py"
        settle = (
            not args.no_settle
            and opts.log_level.lower() in ("debug", "info")  # it logs at info
            and "gc.freeze()" in app_py.read_text()
        )
        if settle:
            rep.notes.append(
                "Measured after each node holding at least 500 sockets had had its "
                "housekeeping pass (every 15 s) with all of them open: the post-connection "
                "gc.collect() + gc.freeze() pauses a node for up to a second."
            )
        for k, row in enumerate(rows):
            lay = layout(row.consoles, args.two_frames, row.nodes)
            opts.say(
                f"cluster: {row.consoles} consoles ({len(lay.agents)} agents, "
                f"{len(lay.doubled)} with 2 sockets), {row.mode}"
                + (f", appendfsync {row.fsync}" if row.fsync else "")
            )
            load0 = loadavg()
            async with Rig(opts, args, row, lay, base_root / f"row{k}", env) as rig:
                conn = await rig.connect()
                placement = rig.placement()
                if conn["opened"] != conn["wanted"]:
                    opts.say(f"only {conn['opened']} of {conn['wanted']} sockets opened")
                # The warm-up load runs while the servers' housekeeping pass is awaited.
                settled, warm = await asyncio.gather(
                    rig.settle() if settle else _none(),
                    rig.phase(1, rate=args.rate, inflight=None, duration=args.warmup)
                    if args.warmup > 0
                    else _none(),
                )
                if settled and settled["not_settled"]:
                    opts.say(f"housekeeping not seen on {settled['not_settled']}")
                results = []
                for j, (label, ph) in enumerate(phases):
                    opts.say(f"  phase {label}")
                    results.append((label, await rig.phase(10 + j, **ph)))
                state_bytes = await rig.state_bytes()
            problems: Counter[str] = Counter()
            for n in rig.nodes + ([rig.observer] if rig.observer else []):
                problems.update(n.log_problems())
            warnings = sum(v for k2, v in problems.items() if k2.startswith("WARNING"))
            errors = sum(v for k2, v in problems.items() if not k2.startswith("WARNING"))
            for j, (label, res) in enumerate(results):
                lost = res["lost"] + (warm["lost"] if warm and j == 0 else 0)
                dup = res["dup"] + (warm["dup"] if warm and j == 0 else 0)
                key = (row.consoles, label)
                if row.nodes == SINGLE:
                    reference[key] = res
                ref = reference.get(key)
                red_share = res["redis_cpu_share"]
                rep.add(
                    {
                        "consoles": conn["opened"],
                        "agents (2 sockets)": f"{len(lay.agents):,} ({len(lay.doubled):,})",
                        "mode": row.mode,
                        "load": label,
                        "persistence": _persistence(row, rig.redis_facts),
                        "commits/s": res["commits_per_s"],
                        "events/s delivered": res["events_per_s"],
                        "vs single": ratio(res["events_per_s"], ref["events_per_s"])
                        if ref
                        else float("nan"),
                        "p50 ms": res["latency"]["p50"],
                        "p99 ms": res["latency"]["p99"],
                        "max ms": res["latency"]["max"],
                        "p99 vs single": ratio(res["latency"]["p99"], ref["latency"]["p99"])
                        if ref
                        else float("nan"),
                        "lost": lost,
                        "dup": dup,
                        "failed req": res["failed"] + res["unanswered"],
                        "node CPU": ", ".join(f"{c:.0%}" for c in res["node_cpu_share"]),
                        "server µs/commit": res["server_us_per_commit"],
                        "Redis CPU": "n/a" if red_share is None else f"{red_share:.0%}",
                        "Redis µs/commit": "n/a"
                        if res["redis_us_per_commit"] is None
                        else res["redis_us_per_commit"],
                        "client CPU": ", ".join(f"{c:.0%}" for c in res["client_cpu"]),
                        "closed before hello (retried)": sum(
                            v for k2, v in conn["errors"].items() if "before hello" in k2
                        ),
                        "node log W/E": f"{warnings} / {errors}",
                        "load avg": loadavg(),
                    },
                    {
                        "consoles": row.consoles,
                        "nodes": row.nodes,
                        "mode": row.mode,
                        "fsync": row.fsync,
                        "phase": label,
                        "layout": {
                            "agents": len(lay.agents),
                            "two_sockets": len(lay.doubled),
                            "sockets_per_node": Counter(n for _, n in lay.sockets),
                        },
                        "connect": conn,
                        "cpus_allowed": placement,
                        "settle": settled,
                        "warmup": warm if j == 0 else None,
                        "result": res,
                        "redis_facts": rig.redis_facts,
                        "redis_url": rig.redis_url,
                        "state_bytes_mean": state_bytes,
                        "node_log_problems": dict(problems),
                        "node_exit_codes": rig.exit_codes,
                        "load_avg_start": load0,
                        "code": rep.facts["code"] if env else sysinfo.code_version(),
                    },
                )
                if res["observer_us_per_commit"] is not None:
                    rep.notes.append(
                        f"{row.consoles:,} consoles, {row.mode}, {label}: the observer node "
                        f"(no console) used {res['observer_us_per_commit']:.1f} µs of CPU "
                        f"per committed event ({res['observer_cpu_s'] / res['wall_s']:.0%} "
                        "of a core)"
                    )
    finally:
        shutil.rmtree(base_root, ignore_errors=True)
    rep.notes += [
        "Every server is a real `ctikit serve` process (demo mode, simulator, log level "
        f"{opts.log_level}) pinned to core(s) {opts.server_cpu or 'any'}, with the private "
        "redis-server; load clients and orchestrator on core(s) "
        f"{opts.client_cpu or 'any'}: every configuration gets the same CPU.",
        f"Load: call cycles (fireOnCallBegin, setCallAttachedData, fireOnCallEnd) sent as "
        f"console requests, one event each; {args.two_frames:.0%} of agents have a second "
        "socket on the next node. 'commits/s' = requests answered with success per second; "
        "'events/s delivered' = event frames received by consoles per second.",
        "Latency: event's `at` (server clock when the change was applied) to arrival at the "
        "console; lost/dup: per-socket seq check, and every socket must end at its agent's "
        "latest seq (read over REST); the open-loop row includes the warm-up's lost/dup.",
        "'server µs/commit' = CPU of all nodes / commits; 'Redis µs/commit' = Redis CPU "
        "(INFO cpu, all threads) / commits; a client CPU near 100% would make a row "
        "client-bound.",
    ]
    return rep
