"""``python -m bench SCENARIO [flags]``: ctikit's benchmarks, side by side with baselines.

Every scenario starts the server under test in its own process pinned to one core
(``--server-cpu``) and lean load clients pinned to the other (``--client-cpu``), runs ctikit
and then each baseline with the same parameters, prints a markdown table and saves every raw
number as JSON under bench/results/. See bench/RESULTS.md for the latest recorded numbers.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from . import sysinfo
from .harness import TARGETS, Options
from .report import RESULTS_DIR, Report
from .scenarios import SCENARIOS, cluster, sip_load, webrtc

SCENARIOS.setdefault(sip_load.NAME, sip_load)
SCENARIOS.setdefault(cluster.NAME, cluster)
SCENARIOS.setdefault(webrtc.NAME, webrtc)
ORDER = ["idle", "day", "burst", "reconnect", "requests", "browser"]
#: Run only when asked for, not by "all": they need more than Python (sip: kamailio, baresip
#: and sipp, and 100+ processes; cluster: redis-server, several server processes, ~5 min;
#: webrtc: kamailio, rtpengine, baresip and a chromium with a console per agent;
#: scrape: one feature's cost, not the whole server's).
ON_REQUEST = ["sip", "cluster", "webrtc", "scrape"]


def _common(p: argparse.ArgumentParser) -> None:
    p.add_argument(
        "--targets",
        default="ctikit,aiohttp,websockets",
        help="servers to run, in order (default ctikit,aiohttp,websockets)",
    )
    p.add_argument("--server-cpu", default="0", help="core for the server (default 0)")
    p.add_argument("--client-cpu", default="1", help="core for the load clients (default 1)")
    p.add_argument(
        "--clients",
        type=int,
        default=1,
        help="load-client processes (at least one per 15,000 sockets)",
    )
    p.add_argument("--logs", default="/tmp/ctikit-bench", help="child process logs")
    p.add_argument("--log-level", default="info", help="servers' log level (ctikit: info)")
    p.add_argument("--no-save", action="store_true", help="do not write bench/results/")
    p.add_argument("--quiet", action="store_true")
    p.add_argument(
        "--profile",
        action="store_true",
        help="profile ctikit's measured phase with pyinstrument (slows it down; "
        "text and HTML go to --logs)",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="Scenarios:\n"
        + "\n".join(f"  {name:<10} {SCENARIOS[name].HELP}" for name in ORDER + ON_REQUEST)
        + "\n  all        every scenario but sip, cluster and scrape, with its defaults "
        "(browser last)\n\n"
        "Each scenario has its own flags: python -m bench SCENARIO --help",
    )
    sub = parser.add_subparsers(dest="scenario", required=True, metavar="SCENARIO")
    for name in ORDER + ON_REQUEST:
        mod = SCENARIOS[name]
        p = sub.add_parser(
            name,
            help=mod.HELP,
            description=mod.__doc__,
            formatter_class=argparse.ArgumentDefaultsHelpFormatter,
        )
        _common(p)
        mod.add_arguments(p)
    p = sub.add_parser("all", help="every scenario with its defaults")
    _common(p)
    p.add_argument("--skip", default="", help="scenarios to leave out, comma-separated")
    return parser


def _options(args: argparse.Namespace) -> Options:
    return Options(
        server_cpu=args.server_cpu,
        client_cpu=args.client_cpu,
        clients=args.clients,
        logs=Path(args.logs),
        log_level=args.log_level,
        quiet=args.quiet,
    )


async def _run_one(name: str, args: argparse.Namespace, opts: Options) -> Report:
    rep: Report = await SCENARIOS[name].run(args, opts)
    if not args.quiet:
        print(rep.markdown(), flush=True)
    if not args.no_save:
        path = rep.save()
        (RESULTS_DIR / f"latest-{name}.md").write_text(rep.markdown())
        print(f"(raw numbers: {path})", flush=True)
    return rep


async def run_cli(argv: list[str] | None = None) -> list[Report]:
    """Run what ``argv`` asks for; return the reports (the smoke test uses this)."""
    args = build_parser().parse_args(argv)
    args.targets = [t for t in args.targets.split(",") if t]
    unknown = [t for t in args.targets if t not in TARGETS]
    if unknown:
        raise SystemExit(f"unknown target(s) {unknown}; known: {', '.join(TARGETS)}")
    sysinfo.pin(args.client_cpu)
    sysinfo.raise_nofile()
    opts = _options(args)
    if not args.quiet:
        print(f"machine: {sysinfo.machine_facts()}", flush=True)
    if args.scenario != "all":
        return [await _run_one(args.scenario, args, opts)]
    skip = set(args.skip.split(","))
    reports = []
    for name in ORDER:
        if name in skip:
            continue
        sub = build_parser().parse_args([name, *_passthrough(args)])
        sub.targets = args.targets
        reports.append(await _run_one(name, sub, opts))
    return reports


def _passthrough(args: argparse.Namespace) -> list[str]:
    out = [
        "--server-cpu",
        args.server_cpu,
        "--client-cpu",
        args.client_cpu,
        "--clients",
        str(args.clients),
        "--logs",
        args.logs,
        "--log-level",
        args.log_level,
    ]
    if args.no_save:
        out.append("--no-save")
    if args.quiet:
        out.append("--quiet")
    if args.profile:
        out.append("--profile")
    return out


def main() -> None:
    asyncio.run(run_cli(sys.argv[1:]))


if __name__ == "__main__":
    main()
