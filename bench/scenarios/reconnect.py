"""Scenario 4, reconnect storm: every console drops at once and reconnects with
``since=<last seq>&epoch=<epoch>``, replaying the events it missed.

Sequence: consoles connect and receive a few events; the client aborts every TCP connection
(as a network failure would); once the server has seen them all go, it publishes ``missed``
events per agent; then every console reconnects at the same moment. "All live" is when the
last console has its hello and every event it missed. A last event checks they are live.
"""

from __future__ import annotations

import argparse

from ..harness import BASELINES, Options, Session, agent_ids
from ..report import Report, check
from ..sysinfo import loadavg

NAME = "reconnect"
HELP = "reconnect storm: all consoles drop and resume with since/epoch; time to all live"


def add_arguments(p: argparse.ArgumentParser) -> None:
    p.add_argument("--counts", default="1000,10000", help="consoles (one per agent)")
    p.add_argument("--missed", type=int, default=10, help="events each agent misses")
    p.add_argument(
        "--concurrency", type=int, default=0, help="reconnects in flight at once (0: all at once)"
    )
    p.add_argument(
        "--spread",
        action="store_true",
        help="first attempt after the console's first back-off (250 ms +-25 %%) "
        "instead of all in the same instant",
    )
    p.add_argument(
        "--attempt-timeout",
        type=float,
        default=60.0,
        help="an attempt without hello after this long is aborted and retried "
        "(the console has no connect timeout: the browser waits, TCP retransmits)",
    )
    p.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="servers' listen backlog (default: each library's, 128 / 100)",
    )


async def run(args: argparse.Namespace, opts: Options) -> Report:
    rep = Report(
        NAME,
        "Reconnect storm: all consoles drop and resume",
        [
            "consoles",
            "server",
            "all hellos (s)",
            "all live (s)",
            "vs best baseline",
            "resumed",
            "lost",
            "dup",
            "failed attempts (retried)",
            "load avg",
        ],
    )
    for n in [int(c) for c in args.counts.split(",")]:
        live: dict[str, float] = {}
        for target in args.targets:
            opts.say(f"reconnect: {target}, {n} consoles, {args.missed} missed events each")
            extra = [] if args.backlog is None else ["--backlog", str(args.backlog)]
            async with Session(opts, target, sockets=n, server_args=extra) as s:
                conn = await s.connect(agent_ids(n))
                await s.mark()
                await s.srv("publish", count=3)
                await s.wait_relative(3, within=60)
                await s.reset()
                await s.each_client("drop")
                gone = await s.wait_connections(0, within=60)
                await s.srv("publish", count=args.missed)
                target_seq = max((await s.srv("seqs"))["seqs"].values())
                parts = await s.each_client(
                    "reconnect",
                    target=target_seq,
                    concurrency=args.concurrency,
                    timeout=90,
                    attempt_timeout=args.attempt_timeout,
                    spread=args.spread,
                )
                await s.mark()
                after = await s.srv("publish", count=1)
                check_live = await s.wait_relative(1, within=30)
                st = await s.stats()
            hello = max((p["all_hello_s"] or float("inf")) for p in parts)
            all_live = max((p["all_live_s"] or float("inf")) for p in parts)
            live[target] = all_live
            resumed: dict[str, int] = {}
            for p in parts:
                for k, v in p["resumed"].items():
                    resumed[k] = resumed.get(k, 0) + v
            short = sum(p["short_sockets"] for p in parts)
            lost = st["lost"] + check_live["missing"]
            errors = sum(st["errors"].values())
            rep.add(
                {
                    "consoles": conn["opened"],
                    "server": target,
                    "all hellos (s)": hello,
                    "all live (s)": all_live,
                    "resumed": ", ".join(f"{k} {v}" for k, v in sorted(resumed.items())),
                    "lost": lost,
                    "dup": st["dup"],
                    "failed attempts (retried)": f"{errors} ({sum(p['retries'] for p in parts)})",
                    "load avg": loadavg(),
                },
                {
                    "target": target,
                    "n": n,
                    "connect": conn,
                    "gone": gone,
                    "parts": parts,
                    "short": short,
                    "after": after,
                    "check_live": check_live,
                    "stats": st,
                },
            )
        best = min((v for k, v in live.items() if k in BASELINES), default=None)
        for row in rep.rows[-len(args.targets) :]:
            if best:
                row["vs best baseline"] = live[row["server"]] / best
        if "ctikit" in live and n >= 10_000:
            rep.targets.append(
                f"reconnect storm of {n:,} in < 10 s: {live['ctikit']:.2f} s — "
                f"{check(live['ctikit'] < 10)}"
            )
    rep.notes.append(
        "Baselines replay from an in-memory log of the frames they broadcast; "
        "ctikit from each agent's event log (resumed = replay)."
    )
    return rep
