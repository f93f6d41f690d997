"""Scenario 5, requests: getCallObjectIds / getCallAttachedData round trips at a steady rate.

Every agent has one ringing call; the client sends requests open-loop (a fixed rate, not
waiting for answers) over random consoles and times each request to its response.
"""

from __future__ import annotations

import argparse

from ..harness import Options, Session, agent_ids
from ..report import Report, check
from ..sysinfo import loadavg

NAME = "requests"
HELP = "requests: getCallObjectIds/getCallAttachedData latency at a fixed rate vs baselines"

OPS = [{"op": "getCallObjectIds"}, {"op": "getCallAttachedData", "getCallType": True}]


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--consoles", type=int, default=1000)
    p.add_argument("--rate", type=float, default=2000.0, help="requests per second")
    p.add_argument("--duration", type=float, default=10.0, help="seconds")


async def run(args: argparse.Namespace, opts: Options) -> Report:
    rep = Report(
        NAME,
        "Requests: round trip at a fixed rate",
        [
            "consoles",
            "server",
            "req/s",
            "answered",
            "failed",
            "p50 ms",
            "p90 ms",
            "p99 ms",
            "max ms",
            "p99 vs aiohttp",
            "server CPU",
            "gc pauses (n, max ms)",
            "client CPU",
            "load avg",
        ],
    )
    p99: dict[str, float] = {}
    for target in args.targets:
        opts.say(f"requests: {target}, {args.consoles} consoles, {args.rate:.0f}/s")
        async with Session(opts, target, sockets=args.consoles) as s:
            agents = agent_ids(args.consoles)
            conn = await s.connect(agents)
            calls = (await s.srv("calls", within=120))["calls"]
            fields = {a: {"callId": c} for a, c in calls.items()}
            await s.wait_seqs(within=15)
            # warm-up, then the measured run
            await s.each_client("requests", rate=args.rate, duration=1.0, ops=OPS, fields=fields)
            await s.reset()
            await s.srv("gc", reset=True)
            await s.profile_start(args.profile)
            parts = await s.each_client(
                "requests",
                rate=args.rate / len(s.clients),
                duration=args.duration,
                ops=OPS,
                fields=fields,
            )
            cpu = s.server_cpu()
            await s.profile_stop(args.profile, "requests")
            st = await s.stats()
            gcs = (await s.srv("gc"))["gc"]
        sent = sum(p["sent"] for p in parts)
        secs = max(p["seconds"] for p in parts)
        rtt = st["rtt"]
        p99[target] = rtt["p99"]
        rep.add(
            {
                "consoles": conn["opened"],
                "server": target,
                "req/s": sent / secs,
                "answered": st["responses"],
                "failed": st["failed_responses"],
                "p50 ms": rtt["p50"],
                "p90 ms": rtt["p90"],
                "p99 ms": rtt["p99"],
                "max ms": rtt["max"],
                "server CPU": f"{cpu:.0%}",
                "gc pauses (n, max ms)": ", ".join(
                    f"g{g[-1]} {v['n']}/{v['max']}" for g, v in gcs.items() if v["n"]
                ),
                "client CPU": ", ".join(f"{c:.0%}" for c in st["client_cpu"]),
                "load avg": loadavg(),
            },
            {"target": target, "connect": conn, "parts": parts, "stats": st, "gc": gcs},
        )
    if "aiohttp" in p99:
        for row in rep.rows:
            row["p99 vs aiohttp"] = p99[row["server"]] / p99["aiohttp"]
        if "ctikit" in p99:
            r = p99["ctikit"] / p99["aiohttp"]
            rep.targets.append(
                f"request p99 <= 1.5 x aiohttp baseline: {r:.2f} — {check(r <= 1.5)}"
            )
    rep.notes.append(
        "failed counts answers with success false (expected 0: every call asked about is active)."
    )
    return rep
