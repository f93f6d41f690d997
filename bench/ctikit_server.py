"""ctikit under test: the real application, in process, driven over the control channel.

``python -m bench.ctikit_server --cpu 0`` builds the app exactly as ``ctikit serve`` does
(``build_app``, an ``AppRunner`` without access log, a ``TCPSite``, log level info) with a
SQLite file in a temporary directory, demo mode (no authentication: consoles connect with
``/ws?agent=ID`` alone) and the simulator connector. Calls are driven through the service
and the simulator, the same code paths a console, the REST API and a PBX take.
"""

from __future__ import annotations

import argparse
import shutil
import tempfile
from pathlib import Path

from aiohttp import web

from ctikit.config import Config, parse_component
from ctikit.connectors.sim import Directory, SimTimings, SimulatorConnector
from ctikit.server import hub as hub_module
from ctikit.server.app import build_app
from ctikit.server.keys import HUB, SERVICE

from .day import DayActions
from .server_base import BenchServer, backlog, run

#: Rings are answered by the bench, never given up: a ringing call stays for the requests
#: scenario. Every other delay is the simulator's default (a SIP PBX on a LAN).
TIMINGS = SimTimings(ring_timeout=3600.0)


class CtikitActions:
    """The day's call steps, through the service and the simulator connector."""

    def __init__(self, server: CtikitServer) -> None:
        self.svc = server.app[SERVICE]
        self.sim = server.connector

    async def begin(self, agent: str) -> str:
        return await self.svc.place_call(agent, ani=None, dnis=None, data=None)

    async def attach(self, agent: str, call_id: str) -> None:
        await self.sim.attach_data(call_id, {"queue": "US Support", "verified": True})

    async def answer(self, agent: str, call_id: str) -> None:
        await self.svc.send_cti_message(agent, f"/ANSWER?CALL_ID={call_id}")

    async def hangup(self, agent: str, call_id: str) -> None:
        await self.sim.caller_hangup(call_id)

    async def save_log(self, agent: str, call_id: str) -> None:
        await self.svc.save_call_log(
            agent,
            call_id,
            subject="Inbound call",
            comments="resolved on first call",
            disposition="resolved",
        )


class CtikitServer(BenchServer):
    name = "ctikit"
    hold_on_answer = True  # as shipped ([server] hold_on_answer)

    def __init__(self, args: argparse.Namespace) -> None:
        super().__init__(args)
        self.tmp = Path(args.workdir or tempfile.mkdtemp(prefix="ctikit-bench-"))
        self.tmp.mkdir(parents=True, exist_ok=True)
        self.connector = SimulatorConnector(timings=TIMINGS, directory=Directory())
        self.runner: web.AppRunner | None = None
        if self.probe is not None:
            probe, encode = self.probe, hub_module.encode_event

            def encode_event(event):  # type: ignore[no-untyped-def]
                frame = encode(event)
                probe.register(frame, event.at)
                return frame

            hub_module.encode_event = encode_event  # type: ignore[assignment]

            # Frames written straight to the transport skip send_frame (hooked by the
            # probe for the queued path): report those writes here.
            write_now = hub_module.Outbox._write_now

            def probed_write_now(box, frame):  # type: ignore[no-untyped-def]
                written = write_now(box, frame)
                if written:
                    probe.sent(frame)
                return written

            hub_module.Outbox._write_now = probed_write_now  # type: ignore[method-assign]

    async def start(self) -> None:
        config = Config(
            host=self.args.host,
            port=self.args.port,
            database=f"sqlite:///{self.tmp / 'bench.db'}",
            demo=True,
            hold_on_answer=self.hold_on_answer,
            log_level=self.args.log_level,
            components=tuple(parse_component(c) for c in self.args.component),
        )
        self.app = await build_app(config, connector=self.connector)
        self.runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self.runner.setup()
        site = web.TCPSite(
            self.runner,
            config.host,
            config.port,
            shutdown_timeout=5,
            # As shipped: serve() listens with config.listen_backlog unless --backlog says.
            **(backlog(self.args) or {"backlog": config.listen_backlog}),
        )
        await site.start()
        self.port = self.runner.addresses[0][1]

    async def stop(self) -> None:
        if self.runner is not None:
            await self.runner.cleanup()
        if not self.args.workdir:
            shutil.rmtree(self.tmp, ignore_errors=True)

    def connections(self) -> int:
        return self.app[HUB].total_connections()

    def agents(self) -> list[str]:
        return self.app[SERVICE].backend.registry.agents()

    def seqs(self) -> dict[str, int]:
        reg = self.app[SERVICE].backend.registry
        return {a: reg.last_seq(a) for a in reg.agents()}

    async def campaign_round(self, agents: list[str], message: str) -> int:  # type: ignore[override]
        svc = self.app[SERVICE]
        bulk = getattr(svc, "fire_custom_events", None)  # absent in A/B runs of older code
        if bulk is not None and not self.args.single_events:
            # What POST /api/events does after parsing: one campaign event to every agent.
            return int(await bulk(agents, "campaign", message))
        for agent in agents:
            await svc.fire_custom_event(agent, "campaign", message)  # never suspends here
        return len(agents)

    async def place_calls(self, agents: list[str]) -> dict[str, str]:
        svc = self.app[SERVICE]
        return {a: await svc.place_call(a, ani=None, dnis=None, data=None) for a in agents}

    def day_actions(self) -> DayActions:
        return CtikitActions(self)


def main() -> None:
    run(CtikitServer, "ctikit under test (started by python -m bench)")


if __name__ == "__main__":
    main()
