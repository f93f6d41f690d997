"""The ``ctikit`` command. The only module that reads argv and the environment.

Every command runs in three steps, so that nothing is written or started before its input
is known to be good:

1. parse the arguments (a mistake is the subcommand's own one-line usage error);
2. check the configuration (config.py's schema) and what the command is about to touch
   (files that must exist, a scenario that must parse; ``serve`` binds its port before it
   opens the database);
3. act.

Every refusal is one line on stderr and a non-zero exit status: 2 for a mistake in the
command line or the configuration, 1 when the world is not as expected (database
unreachable, port in use, server refused). Never a traceback: an unexpected exception is
a bug, still reported in one line (``CTIKIT_TRACEBACK=1`` shows where).
"""

from __future__ import annotations

import argparse
import asyncio
import difflib
import json
import logging
import os
import sys
from typing import NoReturn

from . import __version__, accounts_cli, logs, ops_cli
from .accounts_cli import Refused
from .client import Client, CtikitError
from .config import (
    DEMO_AGENTS,
    ComponentConfig,
    Config,
    ConfigError,
    apply_flags,
    load_config,
)
from .core.errors import CtiRequestError
from .core.model import check_agent_id

LOG_LEVELS = ("debug", "info", "warning", "error")
# [server] key -> the flag that overrides it, to name the flag in errors.
FLAG_NAMES = {
    "host": "--host",
    "port": "--port",
    "database": "--database",
    "scenario": "--scenario",
    "log_level": "--log-level",
    "log_format": "--log-format",
    "cluster": "--cluster",
    "node_id": "--node-id",
    "cluster_nodes": "--node",
}
OPS_COMMANDS = ("backup", "restore", "keys")
DEMO_COMPONENTS = (
    ComponentConfig(name="Caller card", url="/examples/caller-card/index.html"),
    ComponentConfig(
        name="Custom softphone", url="/examples/custom-softphone/index.html", height=480
    ),
)


class _Parser(argparse.ArgumentParser):
    """argparse, with one-line errors that name the subcommand and a near miss."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message}; see '{self.prog} --help'\n")

    def unrecognized(self, extra: list[str]) -> NoReturn:
        options = [o for o in self._option_string_actions if o.startswith("--")]
        guesses = [
            match[0]
            for arg in extra
            if arg.startswith("--")
            and (match := difflib.get_close_matches(arg.split("=")[0], options, n=1))
        ]
        hint = f" (did you mean {' and '.join(guesses)}?)" if guesses else ""
        self.error(f"unrecognized arguments: {' '.join(extra)}{hint}")


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
    p.add_argument(
        "--log-format",
        choices=("text", "json"),
        help="default text; json: one object per line with agent, call and request IDs",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="ctikit",
        description="ctikit: a self-hosted CTI server with a Salesforce-compatible "
        "sforce.console.cti API for agent consoles.",
        epilog="Examples:\n  ctikit demo\n  ctikit serve --config ctikit.toml\n"
        "  ctikit user add alice --config ctikit.toml\n"
        "  ctikit simulate-call --agent agent1 --ani +14155550100 "
        '--data \'{"account":"ACME-1"}\'',
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.set_defaults(parser=parser)
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
    demo.add_argument(
        "--webrtc",
        action="store_true",
        help="each agent's console is its phone (WebRTC): starts kamailio, rtpengine and a "
        "customer phone on 127.0.0.1 (apt: kamailio kamailio-websocket-modules "
        "rtpengine-daemon baresip-core)",
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
    ops_cli.add_parsers(sub)
    for choice in sub.choices.values():
        _remember_parsers(choice)
    return parser


def _remember_parsers(parser: argparse.ArgumentParser) -> None:
    """Each (sub)parser records itself, so an unrecognized argument is reported by the
    innermost command's parser (``ctikit serve: error: ...``), not the top-level one."""
    parser.set_defaults(parser=parser)
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for child in action.choices.values():
                _remember_parsers(child)


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    args, extra = build_parser().parse_known_args(argv)
    if extra:
        parser = args.parser
        assert isinstance(parser, _Parser)
        parser.unrecognized(extra)
    return args


# ----------------------------------------------------------------- serve and demo


def _config_from(args: argparse.Namespace) -> Config:
    if args.command == "demo":
        from .server.app import default_examples_dir

        if args.sip and args.webrtc:
            raise ConfigError("--sip and --webrtc: choose one (--webrtc runs SIP too)")

        examples = default_examples_dir()  # None when installed without the checkout
        config = Config(
            connector="webrtc" if args.webrtc else "sip" if args.sip else "sim",
            demo=True,
            agents=DEMO_AGENTS,
            examples_dir=examples,
            components=DEMO_COMPONENTS if examples else (),
        )
        where = "the demo's defaults"
    else:
        config = load_config(args.config) if args.config else Config()
        where = args.config or "the defaults (no --config)"
    flags = {
        "host": args.host,
        "port": args.port,
        "database": args.database,  # a plain path is a SQLite file (the schema says so)
        "scenario": args.scenario,
        "log_level": args.log_level,
        "log_format": args.log_format,
        "cluster": getattr(args, "cluster", None),
        "node_id": getattr(args, "node_id", None),
        "cluster_nodes": getattr(args, "node", None) or None,
    }
    return apply_flags(config, flags, FLAG_NAMES, where=where, components=args.component)


def _check_scenario(config: Config, args: argparse.Namespace) -> None:
    if config.scenario is None:
        return
    from .connectors.sim.scenario import ScenarioError, load_scenario

    try:
        load_scenario(config.scenario)
    except ScenarioError as exc:
        key = "--scenario" if args.scenario else f"{args.config}: [server].scenario"
        raise Refused(f"{key}: {exc}", 2) from None


def _serve(args: argparse.Namespace) -> int:
    try:
        config = _config_from(args)
    except ConfigError as exc:
        raise Refused(str(exc), 2) from None
    _check_scenario(config, args)
    logs.configure(config.log_level, config.log_format)
    if config.demo:
        logging.getLogger("ctikit").warning(
            "DEMO MODE: no authentication (every request acts as the agent it names), %s; "
            "do not expose this server",
            {
                "sip": "real SIP phones on 127.0.0.1",
                "webrtc": "consoles are phones registered to a SIP lab on 127.0.0.1",
            }.get(config.connector, "simulated telephony"),
        )
    from .server.app import serve, single_node_service
    from .storage import StorageError

    make_service = single_node_service
    if config.cluster:
        from .cluster import cluster_service

        make_service = cluster_service
    try:
        asyncio.run(serve(config, make_service=make_service))
    except KeyboardInterrupt:
        pass
    except StorageError as exc:
        logging.getLogger("ctikit").debug("start-up failed", exc_info=True)
        source = "--database" if args.database else "[server].database"
        raise Refused(f"{exc}; check the database ({source}) and that it is reachable") from None
    except Exception as exc:  # start-up failure: one clear line, details in the debug log
        logging.getLogger("ctikit").debug("start-up failed", exc_info=True)
        raise Refused(" ".join(str(exc).split()) or type(exc).__name__) from None
    return 0


# ----------------------------------------------------------------- simulate-call


def _simulate_call(args: argparse.Namespace) -> int:
    try:
        check_agent_id(args.agent)
    except CtiRequestError as exc:
        raise Refused(f"--agent: {exc}", 2) from None
    try:
        data = json.loads(args.data)
    except ValueError as exc:
        raise Refused(f"--data is not valid JSON: {exc}", 2) from None
    if not isinstance(data, dict):
        raise Refused('--data must be a JSON object, e.g. \'{"account":"ACME-1"}\'', 2)
    try:
        call_id = Client(args.server, token=args.token).simulate_call(
            args.agent, ani=args.ani, dnis=args.dnis, data=data
        )
    except CtikitError as exc:
        raise Refused(exc.message + _what_to_do(exc, args)) from None
    print(f"call {call_id} is ringing at {args.agent}")
    return 0


def _what_to_do(exc: CtikitError, args: argparse.Namespace) -> str:
    make = "`ctikit token create NAME --scope calls:attach`"
    if exc.status == 0:
        return (
            "; is ctikit running there? Start it (ctikit demo) or point --server "
            "(or $CTIKIT_URL) at it"
        )
    if exc.status == 401 and not args.token:
        return (
            "; this server needs a service token with the calls:attach scope: pass --token "
            f"TOKEN or set $CTIKIT_TOKEN (make one with {make})"
        )
    if exc.status == 401:
        return "; the token in --token (or $CTIKIT_TOKEN) was refused: mistyped or revoked?"
    if exc.status == 403:
        return f"; the token needs the calls:attach scope (make one with {make})"
    return ""


# ----------------------------------------------------------------- accounts


def _accounts(args: argparse.Namespace) -> int:
    if getattr(args, "action", None) == "hash-password":  # no database
        return accounts_cli.run(args, "", "")
    try:
        base = load_config(args.config) if args.config else Config()
        where = args.config or "the defaults"
        config = apply_flags(base, {"database": args.database}, FLAG_NAMES, where=where)
    except ConfigError as exc:
        raise Refused(str(exc), 2) from None
    if args.database:
        source = "--database"
    elif args.config:
        source = f"[server].database in {args.config}"
    else:
        source = "the default ./ctikit.db: no --config or --database given"
    if args.command in OPS_COMMANDS:
        return ops_cli.run(args, config, source)
    return accounts_cli.run(args, config.database, source)


# ----------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        if args.command == "simulate-call":
            return _simulate_call(args)
        if args.command in ("user", "token", *OPS_COMMANDS):
            return _accounts(args)
        return _serve(args)
    except Refused as exc:
        print(f"error: {exc}", file=sys.stderr)
        return exc.status
    except KeyboardInterrupt:
        return 130
    except Exception as exc:
        if os.environ.get("CTIKIT_TRACEBACK") == "1":
            raise
        print(
            f"error: unexpected {type(exc).__name__}: {exc} (a bug in ctikit; run again with "
            "CTIKIT_TRACEBACK=1 to see where, and report it)",
            file=sys.stderr,
        )
        return 70
