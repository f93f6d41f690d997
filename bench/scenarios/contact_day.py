"""Scenario 2, contact-centre day: Poisson call arrivals, each call's full life cycle.

Latency is measured from each event's ``at`` (the server's clock when the connector reported
it, or when the service made it) to its arrival at a console socket; the server-side probe
measures ``at`` -> the frame's write to the socket. Every console's ``seq`` is checked: a gap
is a lost event, a repeat a duplicate, and at the end every socket must have its agent's
latest seq.
"""

from __future__ import annotations

import argparse
import resource
from dataclasses import asdict

from ..day import DayParams
from ..harness import Options, Session, agent_ids
from ..report import Report, check
from ..sysinfo import loadavg

NAME = "day"
HELP = "contact-centre day: Poisson calls, latency event -> console, lost/dup events"
#: File descriptors the server keeps for itself (listening socket, SQLite, pipes, epoll).
FD_RESERVE = 64


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--agents", default="1000,10000", help="agent counts (default 1000,10000)")
    p.add_argument("--per-agent", type=int, default=3, help="sockets per console (default 3)")
    p.add_argument(
        "--rate",
        type=float,
        default=None,
        help="calls per second (default: agents / 50, a call every 50 s per agent)",
    )
    p.add_argument("--duration", type=float, default=20.0, help="seconds of arrivals")
    p.add_argument("--ring", type=float, default=1.0, help="ringing before the answer, s")
    p.add_argument("--talk", type=float, default=3.0, help="talk time, seconds")
    p.add_argument("--wrap", type=float, default=1.0, help="wrap-up before the call log, s")
    p.add_argument("--seed", type=int, default=1)
    p.add_argument(
        "--freeze-after-connect",
        action="store_true",
        help="experiment: gc.freeze() in the server once the consoles are connected",
    )


async def run(args: argparse.Namespace, opts: Options) -> Report:
    rep = Report(
        NAME,
        "Contact-centre day: Poisson calls, connector event → console",
        [
            "agents",
            "sockets",
            "server",
            "calls/s",
            "events/s",
            "call logs/s",
            "event→write p50/p99/max ms",
            "event→client p50 ms",
            "p99 ms",
            "max ms",
            "lost",
            "dup",
            "full GCs (n / max ms)",
            "arrival lag p99 / max ms",
            "unfreeze + full GC ms",
            "server CPU",
            "client CPU",
            "load avg",
        ],
    )
    fd_budget = resource.getrlimit(resource.RLIMIT_NOFILE)[1] - FD_RESERVE
    for n in [int(a) for a in args.agents.split(",")]:
        agents = agent_ids(n)
        with_console = agents[: max(1, fd_budget // args.per_agent)]
        rate = args.rate or n / 50
        params = DayParams(
            rate=rate,
            duration=args.duration,
            ring=args.ring,
            attach_after=args.ring * 0.3,
            talk=args.talk,
            wrap=args.wrap,
            seed=args.seed,
        )
        for target in args.targets:
            sockets = len(with_console) * args.per_agent
            opts.say(f"day: {target}, {n} agents, {sockets} sockets, {rate:.0f} calls/s")
            async with Session(opts, target, sockets=sockets, probe=True) as s:
                conn = await s.connect(with_console, per_agent=args.per_agent)
                if args.freeze_after_connect:
                    await s.srv("gc_freeze")
                await s.reset()
                await s.srv("probe", reset=True)
                await s.srv("gc", reset=True)
                await s.profile_start(args.profile)
                day = await s.srv(
                    "day", agents=agents, params=asdict(params), within=args.duration + 120
                )
                tail = await s.wait_seqs(within=15)
                cpu = s.server_cpu()
                await s.profile_stop(args.profile, f"day-{n}")
                st = await s.stats()
                probe = (await s.srv("probe"))["probe"] or {}
                gcs = await s.srv("gc")
                hourly = await s.srv("gc_full")
            span = day["total_s"]
            full = gcs["gc"]["gen2"]
            lat = st["latency"]
            lost = st["lost"] + tail["missing"]
            rep.add(
                {
                    "agents": n,
                    "sockets": conn["opened"],
                    "server": target,
                    "calls/s": day["counts"].get("calls", 0) / day["arrivals_s"],
                    "events/s": st["events"] / span,
                    "call logs/s": day["call_logs_per_s"] if target.startswith("ctikit") else "n/a",
                    "event→write p50/p99/max ms": " / ".join(
                        str(probe.get(k, "n/a")) for k in ("p50", "p99", "max")
                    ),
                    "event→client p50 ms": lat["p50"],
                    "p99 ms": lat["p99"],
                    "max ms": lat["max"],
                    "lost": lost,
                    "dup": st["dup"],
                    "full GCs (n / max ms)": f"{full['n']} / {full['max']:.0f}",
                    "arrival lag p99 / max ms": "{p99} / {max}".format(**day["schedule_lag_ms"]),
                    "unfreeze + full GC ms": f"{hourly['ms']:.0f}",
                    "server CPU": f"{cpu:.0%}",
                    "client CPU": ", ".join(f"{c:.0%}" for c in st["client_cpu"]),
                    "load avg": loadavg(),
                },
                {
                    "target": target,
                    "n": n,
                    "connect": conn,
                    "day": day,
                    "tail": tail,
                    "gc": gcs,
                    "unfreeze_full_gc": hourly,
                    "stats": st,
                    "probe": probe,
                },
            )
            if target == "ctikit" and n >= 10_000:
                p99w = probe.get("p99", float("inf"))
                rep.targets.append(
                    f"day at {n:,} agents: event→socket p99 {p99w} ms < 5 — {check(p99w < 5)}; "
                    f"event→client p99 {lat['p99']} ms < 20 — {check(lat['p99'] < 20)}; "
                    f"lost {lost}, dup {st['dup']} — {check(lost == 0 and st['dup'] == 0)}"
                )
        if len(with_console) < n:
            rep.notes.append(
                f"{n:,} agents: only {len(with_console):,} had consoles connected "
                f"({args.per_agent} sockets each): the server's RLIMIT_NOFILE hard limit is "
                f"{fd_budget + FD_RESERVE:,} here and cannot be raised without "
                "CAP_SYS_RESOURCE; calls still go to all agents."
            )
    rep.notes.append(
        "events/s counts events received by consoles (each event once per "
        "socket); six events per call."
    )
    return rep
