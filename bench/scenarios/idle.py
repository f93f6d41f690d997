"""Scenario 1, idle consoles: server memory per connected console (RSS delta / N)."""

from __future__ import annotations

import argparse
import asyncio

from ..harness import BASELINES, Options, Session, agent_ids
from ..report import Report, check
from ..sysinfo import loadavg

NAME = "idle"
HELP = "idle consoles: server RSS per connected console vs the baselines"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counts", default="1000,10000", help="console counts (default 1000,10000)")
    p.add_argument("--settle", type=float, default=2.0, help="seconds to wait before reading RSS")


async def run(args: argparse.Namespace, opts: Options) -> Report:
    counts = [int(c) for c in args.counts.split(",")]
    rep = Report(
        NAME,
        "Idle consoles: server memory per console",
        [
            "consoles",
            "server",
            "RSS before (KiB)",
            "RSS after (KiB)",
            "KiB / console",
            "vs best baseline",
            "connect s",
            "load avg",
        ],
    )
    for n in counts:
        per: dict[str, float] = {}
        for target in args.targets:
            opts.say(f"idle: {target} with {n} consoles")
            async with Session(opts, target, sockets=n) as s:
                await asyncio.sleep(0.5)
                before = s.server_rss()
                conn = await s.connect(agent_ids(n))
                await s.wait_connections(n, within=10)
                await asyncio.sleep(args.settle)
                after = s.server_rss()
                per[target] = (after - before) / max(1, conn["opened"])
                rep.add(
                    {
                        "consoles": conn["opened"],
                        "server": target,
                        "RSS before (KiB)": before,
                        "RSS after (KiB)": after,
                        "KiB / console": per[target],
                        "connect s": conn["seconds"],
                        "load avg": loadavg(),
                    },
                    {"target": target, "n": n, "connect": conn},
                )
        best = min((v for k, v in per.items() if k in BASELINES), default=None)
        for row in rep.rows[-len(args.targets) :]:
            if best:
                row["vs best baseline"] = per[row["server"]] / best
        if "ctikit" in per and n >= 10_000:
            rep.targets.append(
                f"<= 25 KiB per idle console at {n:,}: "
                f"{per['ctikit']:.1f} KiB — {check(per['ctikit'] <= 25)}"
            )
    return rep
