"""Prometheus scrape: what ``GET /metrics`` costs with N consoles connected.

ctikit's ``/metrics`` (prometheus-client: its histograms and counters, plus gauges read at
scrape time by walking every console socket's send queue) against the bare aiohttp baseline
with a ``/metrics`` of its own: prometheus-client's default registry (process and GC
collectors) and a socket-count gauge summed over its agents, as a minimal exporter would.
Scrapes run one after another from the orchestrator; the server's CPU time over them is read
from /proc.
"""

from __future__ import annotations

import argparse
import asyncio
import time

import aiohttp

from ..harness import Options, Session, agent_ids
from ..report import Report, check
from ..stats import summarize
from ..sysinfo import loadavg

NAME = "scrape"
HELP = "Prometheus scrape: GET /metrics latency and server CPU with N consoles, vs aiohttp"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counts", default="0,10000", help="console counts (default 0,10000)")
    p.add_argument("--scrapes", type=int, default=50, help="scrapes per count (default 50)")


async def _scrape(port: int, n: int) -> tuple[list[float], int]:
    times: list[float] = []
    size = 0
    async with aiohttp.ClientSession() as http:
        for _ in range(n):
            started = time.perf_counter()
            async with http.get(f"http://127.0.0.1:{port}/metrics") as r:
                body = await r.read()
                if r.status != 200:
                    raise RuntimeError(f"/metrics answered {r.status}: {body[:200]!r}")
            times.append((time.perf_counter() - started) * 1000)
            size = len(body)
    return times, size


async def run(args: argparse.Namespace, opts: Options) -> Report:
    counts = [int(c) for c in args.counts.split(",")]
    targets = [t for t in args.targets if t != "websockets"]  # it serves no HTTP routes
    rep = Report(
        NAME,
        "Prometheus scrape: GET /metrics with N consoles",
        [
            "consoles",
            "server",
            "scrapes",
            "bytes",
            "p50 ms",
            "p99 ms",
            "max ms",
            "server CPU ms / scrape",
            "idle CPU ms (same time)",
            "net ms / scrape",
            "load avg",
        ],
    )
    cost: dict[tuple[str, int], float] = {}
    for n in counts:
        for target in targets:
            opts.say(f"scrape: {target} with {n} consoles")
            async with Session(opts, target, sockets=n) as s:
                conn = {"opened": 0}
                if n:
                    conn = await s.connect(agent_ids(n))
                    await s.wait_connections(n, within=30)
                await _scrape(s.port, 3)  # warm-up
                await s.reset()
                began = time.perf_counter()
                times, size = await _scrape(s.port, args.scrapes)
                wall = time.perf_counter() - began
                cpu_ms = s.server_cpu_s() * 1000 / args.scrapes
                # The same time without scrapes: what the server spends anyway (its sockets,
                # timers, collections), to subtract.
                await s.reset()
                await asyncio.sleep(wall)
                idle_ms = s.server_cpu_s() * 1000 / args.scrapes
            cost[target, n] = cpu_ms - idle_ms
            pct = summarize(times)
            rep.add(
                {
                    "consoles": conn["opened"],
                    "server": target,
                    "scrapes": args.scrapes,
                    "bytes": size,
                    "p50 ms": pct["p50"],
                    "p99 ms": pct["p99"],
                    "max ms": pct["max"],
                    "server CPU ms / scrape": cpu_ms,
                    "idle CPU ms (same time)": idle_ms,
                    "net ms / scrape": cpu_ms - idle_ms,
                    "load avg": loadavg(),
                },
                {"target": target, "n": n, "times_ms": times, "connect": conn},
            )
    top = max(counts)
    if ("ctikit", top) in cost and top >= 10_000:
        ms = cost["ctikit", top]
        rep.targets.append(
            f"a scrape at {top:,} consoles costs <= 50 ms of server CPU (net): {ms:.1f} ms — "
            f"{check(ms <= 50)}"
        )
    rep.notes.append(
        "server CPU includes the HTTP request itself; idle CPU is the same wall time without "
        "scrapes, per scrape; net is the difference. At 15 s scrape intervals, 50 ms is 0.3 % "
        "of one core."
    )
    return rep
