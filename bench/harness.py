"""The orchestrator's side of a run: one server under test plus its load-client processes.

The server is pinned to one core and the clients (and this process) to the other, so the
server's numbers are its own. A :class:`Session` starts them, opens the consoles, gathers
the clients' counters and stops everything on exit, even after an error.
"""

from __future__ import annotations

import asyncio
import math
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from . import sysinfo
from .control import Child
from .stats import merge_summaries

TARGETS = {
    "ctikit": "bench.ctikit_server",
    "aiohttp": "bench.baseline_aiohttp",
    "websockets": "bench.baseline_websockets",
}
#: Extra server flags of a target (a variant of the same server).
TARGET_ARGS = {
    "ctikit+uvloop": ["--loop", "uvloop"],
    "ctikit+freeze": ["--gc-freeze"],
    "ctikit-hb": ["--no-heartbeat"],
    "aiohttp-hb": ["--no-heartbeat"],
}
TARGETS["ctikit+uvloop"] = TARGETS["ctikit+freeze"] = TARGETS["ctikit-hb"] = TARGETS["ctikit"]
TARGETS["aiohttp-hb"] = TARGETS["aiohttp"]
BASELINES = ("aiohttp", "websockets")
#: Sockets one client process opens at most (RLIMIT_NOFILE is 20,000 here, hard).
SOCKETS_PER_CLIENT = 15_000


@dataclass
class Options:
    """How processes are placed, and where their logs go."""

    server_cpu: str = "0"
    client_cpu: str = "1"
    clients: int = 1
    logs: Path = field(default_factory=lambda: Path("/tmp/ctikit-bench"))
    log_level: str = "info"
    quiet: bool = False

    def say(self, text: str) -> None:
        if not self.quiet:
            print(f"  [{time.strftime('%H:%M:%S')}] {text}", flush=True)


class Session:
    """One server (``target``) and enough clients for ``sockets`` connections."""

    def __init__(
        self,
        opts: Options,
        target: str,
        *,
        sockets: int,
        probe: bool = False,
        server_args: list[str] | None = None,
    ):
        self.opts = opts
        self.server_args = server_args or []
        self.target = target
        self.probe = probe
        self.n_clients = max(opts.clients, math.ceil(max(1, sockets) / SOCKETS_PER_CLIENT))
        self.server: Child | None = None
        self.clients: list[Child] = []
        self.port = 0
        self.server_cpu0 = 0.0
        self.t_cpu0 = 0.0

    async def __aenter__(self) -> Session:
        self.opts.logs.mkdir(parents=True, exist_ok=True)
        stamp = time.strftime("%H%M%S")
        args = ["--cpu", self.opts.server_cpu, "--log-level", self.opts.log_level]
        if self.probe:
            args.append("--probe")
        args += TARGET_ARGS.get(self.target, []) + self.server_args
        try:
            self.server = await Child.start(
                self.target,
                TARGETS[self.target],
                args,
                self.opts.logs / f"{stamp}-{self.target}-server.log",
            )
            self.port = self.server.ready["port"]
            self.clients = list(
                await asyncio.gather(
                    *(
                        Child.start(
                            f"client{i}",
                            "bench.client",
                            ["--cpu", self.opts.client_cpu],
                            self.opts.logs / f"{stamp}-{self.target}-client{i}.log",
                        )
                        for i in range(self.n_clients)
                    )
                )
            )
        except BaseException:
            await self.__aexit__(None, None, None)
            raise
        return self

    async def __aexit__(self, *exc: object) -> None:
        await asyncio.gather(
            *(c.call("close", within=30) for c in self.clients), return_exceptions=True
        )
        await asyncio.gather(*(c.stop() for c in self.clients), return_exceptions=True)
        if self.server is not None:
            await self.server.stop(within=30)

    # ------------------------------------------------------------------ helpers

    async def srv(self, cmd: str, **args: Any) -> dict[str, Any]:
        assert self.server is not None
        return await self.server.call(cmd, **args)

    async def each_client(self, cmd: str, **args: Any) -> list[dict[str, Any]]:
        return list(await asyncio.gather(*(c.call(cmd, **args) for c in self.clients)))

    async def connect(
        self,
        agents: list[str],
        per_agent: int = 1,
        concurrency: int = 256,
        origin: str | None = None,
    ) -> dict[str, Any]:
        """Open ``per_agent`` consoles for each agent, spread over the clients."""
        k = len(self.clients)
        parts = [agents[i::k] for i in range(k)]
        t0 = time.perf_counter()
        answers = await asyncio.gather(
            *(
                c.call(
                    "connect",
                    port=self.port,
                    agents=part,
                    per_agent=per_agent,
                    concurrency=concurrency,
                    timeout=60,
                    sources=[f"127.0.{i + 1}.1", f"127.0.{i + 1}.2"],
                    origin=origin,
                )
                for i, (c, part) in enumerate(zip(self.clients, parts, strict=True))
            )
        )
        errors: dict[str, int] = {}
        for a in answers:
            for k2, v in a["errors"].items():
                errors[k2] = errors.get(k2, 0) + v
        return {
            "opened": sum(a["opened"] for a in answers),
            "wanted": sum(a["wanted"] for a in answers),
            "seconds": time.perf_counter() - t0,
            "errors": errors,
        }

    async def reset(self) -> None:
        """Zero the clients' counters and note the server's CPU time."""
        await self.each_client("reset")
        assert self.server is not None
        self.server_cpu0 = sysinfo.cpu_seconds(self.server.pid)
        self.t_cpu0 = time.perf_counter()

    def server_cpu(self) -> float:
        """Share of one core the server used since :meth:`reset`."""
        assert self.server is not None
        wall = time.perf_counter() - self.t_cpu0
        return (sysinfo.cpu_seconds(self.server.pid) - self.server_cpu0) / wall if wall else 0.0

    def server_cpu_s(self) -> float:
        """Server CPU seconds used since :meth:`reset`."""
        assert self.server is not None
        return sysinfo.cpu_seconds(self.server.pid) - self.server_cpu0

    def server_rss(self) -> int:
        assert self.server is not None
        return sysinfo.rss_kib(self.server.pid)

    async def stats(self) -> dict[str, Any]:
        """The clients' counters, summed; latencies merged; CPU per client."""
        parts = await self.each_client("stats")
        total: dict[str, Any] = {
            k: sum(p[k] for p in parts)
            for k in (
                "events",
                "lost",
                "dup",
                "bad",
                "responses",
                "failed_responses",
                "unanswered",
                "lost_sockets",
                "open_sockets",
            )
        }
        firsts = [p["t_first"] for p in parts if p["t_first"]]
        total["t_first"] = min(firsts) if firsts else 0.0
        total["t_last"] = max(p["t_last"] for p in parts)
        total["latency"] = merge_summaries([p["latency"] for p in parts])
        total["rtt"] = merge_summaries([p["rtt"] for p in parts])
        total["client_cpu"] = [
            round(p["cpu_s"] / p["wall_s"], 3) if p["wall_s"] else 0 for p in parts
        ]
        total["client_rss_kib"] = [p["rss_kib"] for p in parts]
        errors: dict[str, int] = {}
        for p in parts:
            for k, v in p["errors"].items():
                errors[k] = errors.get(k, 0) + v
        total["errors"] = errors
        return total

    async def wait_seqs(self, within: float = 30) -> dict[str, Any]:
        """Wait until every socket has the server's latest seq of its agent; count misses."""
        seqs = (await self.srv("seqs"))["seqs"]
        parts = await self.each_client("wait", seqs=seqs, timeout=within)
        return {
            "short_sockets": sum(p["short_sockets"] for p in parts),
            "missing": sum(p["missing"] for p in parts),
        }

    async def profile_start(self, enabled: bool) -> None:
        """Start pyinstrument in ctikit's process (if ``enabled`` and this is ctikit)."""
        if enabled and self.target.startswith("ctikit"):
            await self.srv("profile_start")

    async def profile_stop(self, enabled: bool, label: str) -> str | None:
        """Stop it; the report goes to the logs folder. Returns the text path."""
        if not (enabled and self.target.startswith("ctikit")):
            return None
        path = self.opts.logs / f"profile-{label}-{time.strftime('%H%M%S')}.txt"
        await self.srv("profile_stop", path=str(path))
        self.opts.say(f"profile: {path}")
        return str(path)

    async def mark(self) -> None:
        """Note each socket's seq: :meth:`wait_relative` counts from here."""
        await self.each_client("mark")

    async def wait_relative(self, more: int, within: float = 60) -> dict[str, Any]:
        parts = await self.each_client("wait", relative=more, timeout=within)
        return {
            "short_sockets": sum(p["short_sockets"] for p in parts),
            "missing": sum(p["missing"] for p in parts),
            "seconds": max(p["seconds"] for p in parts),
        }

    async def wait_connections(self, want: int, within: float = 30) -> int:
        """Wait until the server counts ``want`` sockets; return the last count."""
        deadline = time.perf_counter() + within
        n = -1
        while time.perf_counter() < deadline:
            n = (await self.srv("stats"))["connections"]
            if n == want:
                break
            await asyncio.sleep(0.05)
        return int(n)


def agent_ids(n: int, prefix: str = "agent") -> list[str]:
    return [f"{prefix}{i:05d}" for i in range(n)]
