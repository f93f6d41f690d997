"""Scenario 3, burst: one event to every agent at once (a campaign starts), then sustained.

ctikit publishes one ``customEvent`` per agent through its service (registry, event log,
encoding per agent, outbox per socket); the baselines send the same bytes to every socket.
Rates are measured at the clients: messages received / (last arrival - publish start).
"""

from __future__ import annotations

import argparse
from typing import Any

from ..harness import BASELINES, Options, Session, agent_ids
from ..report import Report, check
from ..sysinfo import loadavg

NAME = "burst"
HELP = "burst: an event to every agent at once, and sustained fan-out, vs the baselines"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counts", default="1000,10000", help="agents (one console each)")
    p.add_argument(
        "--messages",
        type=int,
        default=200_000,
        help="messages in the sustained run (rounds = messages / consoles)",
    )
    p.add_argument("--per-agent", type=int, default=1, help="consoles per agent")
    p.add_argument(
        "--single-events",
        action="store_true",
        help="ctikit fires the campaign agent by agent (fire_custom_event, as a component's "
        "fireEvent) instead of in one call (fire_custom_events, POST /api/events)",
    )


async def _round(s: Session, rounds: int, profile: bool = False) -> dict[str, Any]:
    await s.reset()
    await s.profile_start(profile)
    pub = await s.srv("burst", rounds=rounds)
    wait = await s.wait_relative(rounds, within=120)
    cpu_s, share = s.server_cpu_s(), s.server_cpu()
    await s.profile_stop(profile, f"burst-{rounds}")
    st = await s.stats()
    span = st["t_last"] - pub["t0"]
    return {
        "pub": pub,
        "wait": wait,
        "stats": st,
        "span": span,
        "rate": st["events"] / span if span > 0 else float("nan"),
        "server_cpu": share,
        "server_cpu_s": cpu_s,
        "us_per_msg": cpu_s / st["events"] * 1e6 if st["events"] and cpu_s else float("nan"),
    }


async def run(args: argparse.Namespace, opts: Options) -> Report:
    rep = Report(
        NAME,
        "Burst: campaign start to every console",
        [
            "consoles",
            "server",
            "burst: all delivered (ms)",
            "burst msgs/s",
            "sustained msgs/s",
            "vs best baseline",
            "server CPU µs/msg",
            "msgs per server CPU-s",
            "CPU-s ratio",
            "p50 ms",
            "p99 ms",
            "lost",
            "dup",
            "server CPU",
            "client CPU",
            "load avg",
        ],
    )
    for n in [int(c) for c in args.counts.split(",")]:
        rates: dict[str, float] = {}
        cost: dict[str, float] = {}
        sockets = n * args.per_agent
        rounds = max(1, args.messages // sockets)
        for target in args.targets:
            opts.say(f"burst: {target}, {sockets} consoles, 1 round then {rounds}")
            extra = ["--single-events"] if args.single_events and target == "ctikit" else []
            async with Session(opts, target, sockets=sockets, server_args=extra) as s:
                conn = await s.connect(agent_ids(n), per_agent=args.per_agent)
                await _round(s, 1)  # warm-up
                one = await _round(s, 1)
                many = await _round(s, rounds, args.profile)
            st = many["stats"]
            rates[target] = many["rate"]
            cost[target] = many["us_per_msg"]
            rep.add(
                {
                    "consoles": conn["opened"],
                    "server": target,
                    "burst: all delivered (ms)": one["span"] * 1000,
                    "burst msgs/s": one["rate"],
                    "sustained msgs/s": many["rate"],
                    "p50 ms": st["latency"]["p50"],
                    "server CPU µs/msg": many["us_per_msg"],
                    "msgs per server CPU-s": 1e6 / many["us_per_msg"]
                    if many["us_per_msg"] > 0
                    else float("nan"),
                    "p99 ms": st["latency"]["p99"],
                    "lost": st["lost"] + many["wait"]["missing"] + one["wait"]["missing"],
                    "dup": st["dup"],
                    "server CPU": f"{many['server_cpu']:.0%}",
                    "client CPU": ", ".join(f"{c:.0%}" for c in st["client_cpu"]),
                    "load avg": loadavg(),
                },
                {
                    "target": target,
                    "n": n,
                    "rounds": rounds,
                    "connect": conn,
                    "one": one,
                    "many": many,
                },
            )
        best = max((v for k, v in rates.items() if k in BASELINES), default=None)
        cheapest = min((v for k, v in cost.items() if k in BASELINES), default=None)
        for row in rep.rows[-len(args.targets) :]:
            if best:
                row["vs best baseline"] = rates[row["server"]] / best
            if cheapest and cost[row["server"]] > 0:
                row["CPU-s ratio"] = cheapest / cost[row["server"]]
        if "ctikit" in rates and best and cheapest and cost["ctikit"] > 0:
            r = rates["ctikit"] / best
            c = cheapest / cost["ctikit"]
            rep.targets.append(
                f"burst fan-out >= 0.7 x best baseline at {n:,} consoles: wall-clock "
                f"{r:.2f} — {check(r >= 0.7)}; per server CPU-second {c:.2f} — "
                f"{check(c >= 0.7)}"
            )
    rep.notes.append(
        "A client CPU near 100% means the number is client-bound, not the "
        "server's ceiling. 'msgs per server CPU-s' (messages / server CPU time "
        "in the sustained run) is what one dedicated core would carry; it "
        "depends far less on other load on the machine than msgs/s does."
    )
    return rep
