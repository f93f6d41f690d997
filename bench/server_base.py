"""What every server under test shares: process set-up, control commands, profiling.

A server module defines a :class:`BenchServer` subclass and calls :func:`run` in its
``main``. Commands every server answers: ``stats``, ``seqs``, ``burst``, ``publish``,
``calls``, ``day``, ``probe``, ``profile_start``, ``profile_stop``.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import inspect
import logging
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

from . import sysinfo
from .control import serve_control
from .day import DayActions, DayParams, run_day
from .probe import Probe, hook_send_str
from .stats import Samples

#: The payload of the campaign-start event of the burst scenario (about 100 bytes).
CAMPAIGN_MESSAGE = "campaign 'winter renewals' started: 412 leads in your queue; script v3"


class BenchServer:
    """Base of the servers under test. Subclasses implement the ``_`` methods."""

    name = "?"

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.port = 0
        self.probe = Probe() if args.probe else None
        self._unhook = hook_send_str(self.probe) if self.probe else None
        self._profiler: Any = None
        self._day_actions: DayActions | None = None
        self.gc_pauses = [Samples(), Samples(), Samples()]
        self._gc_t0 = 0.0
        self.full_gcs: list[tuple[float, float, int]] = []  # (time.time(), ms, collected)
        gc.callbacks.append(self._on_gc)

    def _on_gc(self, phase: str, info: dict[str, int]) -> None:
        """Time every garbage collection, per generation (pauses of the event loop)."""
        if phase == "start":
            self._gc_t0 = time.perf_counter()
        else:
            ms = (time.perf_counter() - self._gc_t0) * 1e3
            self.gc_pauses[info["generation"]].add(ms)
            if info["generation"] == 2:
                self.full_gcs.append((time.time(), ms, info.get("collected", 0)))

    # ------------------------------------------------------------- to implement

    async def start(self) -> None:
        raise NotImplementedError

    async def stop(self) -> None:
        raise NotImplementedError

    def connections(self) -> int:
        raise NotImplementedError

    def agents(self) -> list[str]:
        """Agents with at least one socket (or known state)."""
        raise NotImplementedError

    def seqs(self) -> dict[str, int]:
        """Each agent's latest event sequence number."""
        raise NotImplementedError

    def campaign_round(self, agents: list[str], message: str) -> int:
        """Publish one campaign event to every agent in ``agents``; return frames queued."""
        raise NotImplementedError

    async def place_calls(self, agents: list[str]) -> dict[str, str]:
        """Give each agent one ringing call (for the requests scenario): agent -> call ID."""
        raise NotImplementedError

    def day_actions(self) -> DayActions:
        raise NotImplementedError

    # ----------------------------------------------------------------- commands

    async def cmd_stats(self, a: dict[str, Any]) -> dict[str, Any]:
        return {
            "connections": self.connections(),
            "rss_kib": sysinfo.rss_kib(),
            "cpu_s": time.process_time(),
            "time": time.time(),
        }

    async def cmd_seqs(self, a: dict[str, Any]) -> dict[str, Any]:
        return {"seqs": self.seqs()}

    async def cmd_burst(self, a: dict[str, Any]) -> dict[str, Any]:
        """``rounds`` campaign events to every agent, yielding to the loop between rounds."""
        agents = self.agents()
        message = a.get("message", CAMPAIGN_MESSAGE)
        cpu0, t0 = time.process_time(), time.time()
        frames = 0
        for _ in range(int(a.get("rounds", 1))):
            frames += await _maybe_await(self.campaign_round(agents, message))
            await asyncio.sleep(0)
        t1 = time.time()
        return {
            "t0": t0,
            "publish_s": t1 - t0,
            "frames": frames,
            "agents": len(agents),
            "publish_cpu_s": time.process_time() - cpu0,
        }

    async def cmd_publish(self, a: dict[str, Any]) -> dict[str, Any]:
        """Like ``burst`` without yielding (used while consoles are away)."""
        agents = self.agents()
        for _ in range(int(a.get("count", 1))):
            await _maybe_await(self.campaign_round(agents, a.get("message", CAMPAIGN_MESSAGE)))
        return {"agents": len(agents)}

    async def cmd_calls(self, a: dict[str, Any]) -> dict[str, Any]:
        return {"calls": await self.place_calls(self.agents())}

    async def cmd_day(self, a: dict[str, Any]) -> dict[str, Any]:
        params = DayParams(**a.get("params", {}))
        agents = a.get("agents") or self.agents()
        cpu0 = time.process_time()
        result = await run_day(self.day_actions(), agents, params)
        result["cpu_s"] = time.process_time() - cpu0
        return result

    async def cmd_gc(self, a: dict[str, Any]) -> dict[str, Any]:
        """Garbage-collection pauses (ms) per generation since the last reset."""
        out = {f"gen{i}": s.summary() for i, s in enumerate(self.gc_pauses)}
        full = self.full_gcs
        if a.get("reset"):
            self.gc_pauses = [Samples(), Samples(), Samples()]
            self.full_gcs = []
        kinds = Counter(type(o).__qualname__ for o in gc.get_objects())
        return {
            "gc": out,
            "full": full,
            "tracked_kinds": kinds.most_common(25),
            "objects": len(gc.get_objects()),
            "frozen": gc.get_freeze_count(),
        }

    async def cmd_gc_full(self, a: dict[str, Any]) -> dict[str, Any]:
        """What ctikit's hourly housekeeping does: unfreeze, full collection, freeze (timed:
        the loop stands still meanwhile)."""
        t0 = time.perf_counter()
        gc.unfreeze()
        collected = gc.collect()
        gc.freeze()
        return {"ms": (time.perf_counter() - t0) * 1e3, "collected": collected}

    async def cmd_gc_freeze(self, a: dict[str, Any]) -> dict[str, Any]:
        """Collect, then move every object alive now out of the collector's reach."""
        t0 = time.perf_counter()
        gc.collect()
        gc.freeze()
        return {"seconds": time.perf_counter() - t0, "frozen": gc.get_freeze_count()}

    async def cmd_place(self, a: dict[str, Any]) -> dict[str, Any]:
        """One call rings at ``agent`` now; ``t`` is the server's time just before."""
        actions = self._actions()
        t = time.time()
        call_id = await actions.begin(a["agent"])
        return {"callId": call_id, "t": t}

    async def cmd_hangup(self, a: dict[str, Any]) -> dict[str, Any]:
        await self._actions().hangup(a["agent"], a["callId"])
        return {}

    def _actions(self) -> DayActions:
        if self._day_actions is None:
            self._day_actions = self.day_actions()
        return self._day_actions

    async def cmd_probe(self, a: dict[str, Any]) -> dict[str, Any]:
        if self.probe is None:
            return {"probe": None}
        summary = self.probe.summary()
        if a.get("reset"):
            self.probe.reset()
        return {"probe": summary}

    async def cmd_profile_start(self, a: dict[str, Any]) -> dict[str, Any]:
        from pyinstrument import Profiler

        self._profiler = Profiler(interval=a.get("interval", 0.001), async_mode="disabled")
        self._profiler.start()
        return {}

    async def cmd_profile_stop(self, a: dict[str, Any]) -> dict[str, Any]:
        if self._profiler is None:
            return {"text": ""}
        self._profiler.stop()
        text = self._profiler.output_text(unicode=False, color=False, show_all=False)
        path = a.get("path")
        if path:
            html = self._profiler.output_html()
            await asyncio.to_thread(_write, Path(path), text, html)
        self._profiler = None
        return {"text": text[:20000]}


def _heartbeat_off() -> None:
    """Make every aiohttp WebSocketResponse ignore ``heartbeat`` (a diagnostic variant)."""
    from aiohttp import web

    original = web.WebSocketResponse.__init__

    def init(self: Any, *a: Any, **kw: Any) -> None:
        kw["heartbeat"] = None
        original(self, *a, **kw)

    web.WebSocketResponse.__init__ = init  # type: ignore[method-assign]


def backlog(args: argparse.Namespace) -> dict[str, int]:
    """``{"backlog": N}`` when ``--backlog`` was given, else nothing (library default)."""
    return {} if args.backlog is None else {"backlog": args.backlog}


def _write(path: Path, text: str, html: str) -> None:
    path.write_text(text)
    path.with_suffix(".html").write_text(html)


def parse_args(description: str, argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=description)
    p.add_argument("--cpu", help="CPU(s) to pin to, e.g. 0")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--probe", action="store_true", help="measure event -> socket write")
    p.add_argument("--log-level", default="info", help="ctikit's default is info")
    p.add_argument("--workdir", default=None, help="where the SQLite file goes (a temp dir)")
    p.add_argument(
        "--backlog",
        type=int,
        default=None,
        help="listen backlog (default: the library's: aiohttp 128, asyncio 100)",
    )
    p.add_argument(
        "--no-heartbeat",
        action="store_true",
        help="diagnostic: aiohttp sockets without the 30 s heartbeat (ping)",
    )
    p.add_argument(
        "--loop",
        choices=("asyncio", "uvloop"),
        default="asyncio",
        help="event loop (uvloop: the proposal in bench/PROPOSALS.md)",
    )
    p.add_argument(
        "--gc-freeze",
        action="store_true",
        help="gc.freeze() once started (a proposal in bench/PROPOSALS.md)",
    )
    p.add_argument(
        "--single-events",
        action="store_true",
        help="ctikit: a campaign as one fire_custom_event per agent (what components' "
        "fireEvent does) instead of one fire_custom_events (POST /api/events)",
    )
    p.add_argument(
        "--component",
        action="append",
        default=[],
        metavar="NAME=URL",
        help="a component the ctikit console loads (browser scenario)",
    )
    return p.parse_args(argv)


def run(cls: type[BenchServer], description: str) -> None:
    """Entry point of a server process: pin, raise the fd limit, serve control commands."""
    args = parse_args(description)
    sysinfo.pin(args.cpu)
    if args.no_heartbeat:
        _heartbeat_off()
    nofile = sysinfo.raise_nofile()
    logging.basicConfig(
        level=args.log_level.upper(),
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )

    async def amain() -> None:
        server = cls(args)
        await server.start()
        if args.gc_freeze:
            gc.collect()
            gc.freeze()
        handlers = {
            name[4:]: getattr(server, name) for name in dir(server) if name.startswith("cmd_")
        }
        try:
            await serve_control(
                handlers, {"port": server.port, "nofile": nofile, "name": server.name}
            )
        finally:
            await server.stop()

    if args.loop == "uvloop":
        import uvloop

        uvloop.run(amain())
    else:
        asyncio.run(amain())


async def _maybe_await(value: Any) -> Any:
    """ctikit's service operations are coroutines; the baselines' are plain calls."""
    return await value if inspect.isawaitable(value) else value
