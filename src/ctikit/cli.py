"""The ``ctikit`` command. The only module that reads argv and the environment."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import sys

from . import accounts_cli
from .client import Client, CtikitError
from .config import DEMO_AGENTS, ComponentConfig, Config, ConfigError, load_config, parse_component

LOG_LEVELS = ("debug", "info", "warning", "error")


def _server_flags(p: argparse.ArgumentParser, *, default_port: int) -> None:
    p.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=int, help=f"port (default {default_port}; 0 picks a free one)")
    p.add_argument(
        "--database",
        metavar="URL",
        help="call-log database: a SQLite file path or sqlite:///FILE (default "
        "ctikit.db), or postgresql+asyncpg://USER@HOST/DB",
    )
    p.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="add a custom component to the console (repeatable)",
    )
    p.add_argument(
        "--scenario",
        metavar="FILE",
        help="run a simulator scenario file (TOML or JSON) at start-up",
    )
    p.add_argument("--log-level", choices=LOG_LEVELS, help="default info")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="ctikit",
        description="ctikit: a self-hosted CTI server with a Salesforce-compatible "
        "sforce.console.cti API for agent consoles.",
        epilog="Examples:\n  ctikit demo\n  ctikit serve --config ctikit.toml\n"
        "  ctikit simulate-call --agent agent1 --ani +14155550100 "
        '--data \'{"account":"ACME-1"}\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser(
        "demo", help="run server + simulator + console with example components (SQLite ctikit.db)"
    )
    _server_flags(demo, default_port=8080)
    demo.add_argument(
        "--sip",
        action="store_true",
        help="real SIP instead of the simulator: starts kamailio and a baresip phone per "
        "agent line on 127.0.0.1 (apt: kamailio baresip-core)",
    )

    serve = sub.add_parser("serve", help="run the CTI server")
    serve.add_argument("--config", metavar="FILE", help="TOML config file (docs/configuration.md)")
    serve.add_argument(
        "--cluster",
        metavar="REDIS_URL",
        help="join a cluster of nodes sharing state through Redis, e.g. "
        "redis://127.0.0.1:6379/0 (docs/deploy.md)",
    )
    serve.add_argument("--node-id", help="this node's name in a cluster (default: random)")
    serve.add_argument(
        "--node",
        action="append",
        default=[],
        metavar="URL",
        help="public URL of a cluster node, for console failover (repeatable; include this one)",
    )
    _server_flags(serve, default_port=8080)

    sim = sub.add_parser(
        "simulate-call", help="make a test call ring at an agent, on a running server"
    )
    sim.add_argument(
        "--server",
        default=os.environ.get("CTIKIT_URL", "http://127.0.0.1:8080"),
        help="server URL (default $CTIKIT_URL or http://127.0.0.1:8080)",
    )
    sim.add_argument("--agent", required=True)
    sim.add_argument("--ani", help="caller number (random if omitted)")
    sim.add_argument("--dnis", help="dialled number")
    sim.add_argument("--data", default="{}", help="attached data, a JSON object")
    sim.add_argument(
        "--token",
        default=os.environ.get("CTIKIT_TOKEN"),
        help="service token with calls:attach (default $CTIKIT_TOKEN; not needed for the demo)",
    )
    accounts_cli.add_parsers(sub)
    return parser


def _config_from(args: argparse.Namespace) -> Config:
    config = load_config(args.config) if getattr(args, "config", None) else Config()
    if args.command == "demo":
        from .server.app import default_examples_dir

        config = config.with_overrides(
            connector="sip" if args.sip else None,
            demo=True,
            agents=config.agents or DEMO_AGENTS,
            examples_dir=config.examples_dir or default_examples_dir(),
            components=config.components
            or (
                ComponentConfig(name="Caller card", url="/examples/caller-card/index.html"),
                ComponentConfig(
                    name="Custom softphone", url="/examples/custom-softphone/index.html", height=480
                ),
            ),
        )
    database = args.database
    if database and "://" not in database:
        database = f"sqlite:///{database}"
    extra = tuple(parse_component(c) for c in args.component)
    nodes = tuple(n.rstrip("/") for n in getattr(args, "node", []))
    if any(not n.startswith(("http://", "https://")) for n in nodes):
        raise ConfigError("--node wants the http(s) URL of a node")
    return config.with_overrides(
        cluster=getattr(args, "cluster", None),
        node_id=getattr(args, "node_id", None),
        cluster_nodes=nodes or None,
        host=args.host,
        port=args.port,
        database=database,
        scenario=args.scenario,
        log_level=args.log_level,
        components=(config.components + extra) if extra else None,
    )


def _simulate_call(args: argparse.Namespace) -> int:
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        print(f"error: --data is not valid JSON: {exc}", file=sys.stderr)
        return 2
    if not isinstance(data, dict):
        print("error: --data must be a JSON object", file=sys.stderr)
        return 2
    try:
        call_id = Client(args.server, token=args.token).simulate_call(
            args.agent, ani=args.ani, dnis=args.dnis, data=data
        )
    except CtikitError as exc:
        print(f"error: {exc.message}", file=sys.stderr)
        return 1
    print(f"call {call_id} is ringing at {args.agent}")
    return 0


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "simulate-call":
        return _simulate_call(args)
    if args.command in ("user", "token"):
        try:
            base = load_config(args.config) if args.config else Config()
        except ConfigError as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        database = args.database or base.database
        if "://" not in database:
            database = f"sqlite:///{database}"
        return accounts_cli.run(args, database)
    try:
        config = _config_from(args)
    except ConfigError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    logging.basicConfig(
        level=config.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    if config.demo:
        logging.getLogger("ctikit").warning(
            "DEMO MODE: no authentication (every request acts as the agent it names), %s; "
            "do not expose this server",
            "real SIP phones on 127.0.0.1" if config.connector == "sip" else "simulated telephony",
        )
    from .server.app import serve, single_node_service

    make_service = single_node_service
    if config.cluster:
        from .cluster import cluster_service

        make_service = cluster_service
    try:
        asyncio.run(serve(config, make_service=make_service))
    except KeyboardInterrupt:
        pass
    except Exception as exc:  # start-up failure: one clear line, details in debug log
        logging.getLogger("ctikit").debug("start-up failed", exc_info=True)
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0
