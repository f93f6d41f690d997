"""The supervisor's live board: ``GET /ws/supervisor`` pushes it (docs/supervisor.md).

:class:`SupervisorFeed` hears every change this node commits (the backend's commit hook):
calls that end feed each agent's day numbers, holds start and stop their clocks, and every
board whose agents changed is rebuilt and pushed at once. A tick (every second) re-checks
the alerts, which fire with time alone (a call ringing too long), and pushes a board whose
alerts changed. The board itself is :func:`ctikit.core.supervision.board`.

Who sees whom: a supervisor its team's agents (docs/security.md); a service with
``calls:control`` (and ``ctikit demo``, which has no sign-in) every agent the server knows.
In a cluster the hook hears the changes committed on this node; the tick rebuilds the board
from the shared state, so changes made on other nodes show within a second.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
from collections.abc import Callable, Sequence
from typing import Any

from aiohttp import WSMsgType, web

from ..core.access import AccessDeniedError, Role
from ..core.errors import CtiError
from ..core.events import CallEnded, CallLogSaved, CallUpdated, Event
from ..core.model import CallView, LineState
from ..core.presence import Presence
from ..core.registry import CallRegistry
from ..core.supervision import AgentLook, DayStats, Thresholds, board
from .auth import check_origin
from .guard import credentials, principal
from .keys import AUTH, CONFIG, SERVICE
from .service import CtiService
from .sessions import SESSIONS

log = logging.getLogger("ctikit.supervisor")

TICK_SECONDS = 1.0
#: How often the list of watched agents is read again (new agents, team changes).
AGENTS_EVERY = 10.0
#: Supervisor boards open at once on this node (each costs a read of its agents per push).
MAX_BOARDS = 200


class _Board:
    """One open supervisor socket and what it watches."""

    def __init__(self, ws: web.WebSocketResponse, agents: Callable[[], Any]) -> None:
        self.ws = ws
        self.find_agents = agents
        self.agents: dict[str, str | None] = {}  # agent -> team
        self.dirty = asyncio.Event()
        self.last_alerts = ""


class SupervisorFeed:
    """See the module docstring. ``names`` maps agent IDs to display names."""

    def __init__(
        self,
        svc: CtiService,
        thresholds: Thresholds,
        names: dict[str, str],
        clock: Callable[[], float],
    ) -> None:
        self.svc = svc
        self.thresholds = thresholds
        self.names = names
        self.clock = clock
        self.stats: dict[str, DayStats] = {}
        self.held: dict[str, dict[str, float]] = {}  # agent -> call -> on hold since
        # agent -> call logs saved since start: a board whose count moves reads the logs again
        # (most are saved in wrap-up, after the call ended).
        self.logs_saved: dict[str, int] = {}
        self.boards: set[_Board] = set()
        svc.backend.on_commit(self.committed)

    def committed(self, events: Sequence[Event]) -> None:
        touched = set()
        for e in events:
            touched.add(e.agent)
            if isinstance(e, CallEnded):
                stats = self.stats.setdefault(e.agent, DayStats())
                stats.record(e.call, e.at, self.thresholds)
                self._unhold(e.agent, e.call.id)
            elif isinstance(e, CallLogSaved):
                self.logs_saved[e.agent] = self.logs_saved.get(e.agent, 0) + 1
            elif isinstance(e, CallUpdated):
                if e.call.line_state is LineState.HELD:
                    self.held.setdefault(e.agent, {}).setdefault(e.call.id, e.at)
                else:
                    self._unhold(e.agent, e.call.id)
        for b in self.boards:
            if not touched.isdisjoint(b.agents):
                b.dirty.set()

    def _unhold(self, agent: str, call_id: str) -> None:
        calls = self.held.get(agent)
        if calls is not None:
            calls.pop(call_id, None)
            if not calls:
                del self.held[agent]

    async def build(self, agents: dict[str, str | None]) -> dict[str, Any]:
        """The board of ``agents`` (agent -> team) now."""
        now = self.clock()
        looks = []
        for agent, team in agents.items():
            presence, calls = await self.svc.backend.read(agent, _look(agent, now))
            held = self.held.get(agent, {})
            looks.append(
                AgentLook(
                    agent=agent,
                    name=self.names.get(agent, agent),
                    team=team,
                    presence=presence,
                    calls=calls,
                    held_since={c.id: held.get(c.id, now) for c in calls},
                    stats=self.stats.get(agent, DayStats()),
                )
            )
        data = board(looks, now, self.thresholds)
        data["logsSaved"] = sum(self.logs_saved.get(agent, 0) for agent in agents)
        return data

    async def serve(self, b: _Board) -> None:
        """Push ``b``'s board on every change and on alert changes, until it closes."""
        loop = asyncio.get_running_loop()
        next_agents = 0.0
        while not b.ws.closed:
            if loop.time() >= next_agents:
                b.agents = await b.find_agents()
                next_agents = loop.time() + AGENTS_EVERY
                b.dirty.set()
            changed = b.dirty.is_set()
            b.dirty.clear()
            try:
                data = await self.build(b.agents)
            except CtiError as exc:  # the cluster's Redis away: try again next tick
                log.warning("supervisor board not built: %s", exc.message)
                await asyncio.sleep(TICK_SECONDS)
                continue
            alerts = json.dumps(data["alerts"], sort_keys=True)
            # Without a change, a board is pushed again only when its alerts changed; or
            # every tick in a cluster, where other nodes' changes are not heard here.
            if changed or alerts != b.last_alerts or self.svc.backend.redis is not None:
                b.last_alerts = alerts
                await b.ws.send_str(json.dumps({"type": "board", **data}))
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(b.dirty.wait(), TICK_SECONDS)


def _look(
    agent: str, now: float
) -> Callable[[CallRegistry], tuple[Presence, tuple[CallView, ...]]]:
    return lambda r: (r.presence(agent, now), tuple(r.calls(agent)))


FEED = web.AppKey("supervisor_feed", SupervisorFeed)


async def supervisor_socket(request: web.Request) -> web.StreamResponse:
    """``GET /ws/supervisor``: the live board (a supervisor's team, or every agent for a
    service with ``calls:control``). Agents get 403."""
    cfg = request.app[CONFIG]
    feed = request.app[FEED]
    try:
        check_origin(request, cfg.allowed_origins + cfg.cluster_nodes)
        who = await principal(request)
        if who.role is Role.AGENT:
            raise AccessDeniedError("the supervisor board is for supervisors")
        if who.role is Role.SERVICE and "calls:control" not in who.scopes:
            raise AccessDeniedError("a service needs the calls:control scope for the board")
    except CtiError as exc:
        status = {"unauthorized": 401, "forbidden": 403}.get(exc.code, 400)
        return web.json_response(
            {"success": False, "error": exc.message, "code": exc.code}, status=status
        )
    if len(feed.boards) >= MAX_BOARDS:
        return web.json_response(
            {"success": False, "code": "limit_exceeded", "error": "too many supervisor boards"},
            status=429,
            headers={"Retry-After": "5"},
        )
    accounts = request.app[AUTH].accounts
    svc = request.app[SERVICE]

    async def find_agents() -> dict[str, str | None]:
        if who.role is Role.SUPERVISOR:
            team = who.team
            return dict.fromkeys(await accounts.agents_of_team(team), team) if team else {}
        teams = {u.agent_id: u.team for u in await accounts.list_users() if u.agent_id}
        known = [a.id for a in cfg.agents] + [a for a, _ in await svc.overview()]
        known += list(teams)
        return {a: teams.get(a) for a in dict.fromkeys(known)}

    ws = web.WebSocketResponse(max_msg_size=4096, compress=False, heartbeat=30)
    await ws.prepare(request)
    session = request.app[AUTH].session_of(credentials(request))
    if session is not None:
        request.app[SESSIONS].add(session[0], session[1], ws)
    b = _Board(ws, find_agents)
    feed.boards.add(b)
    pusher = asyncio.create_task(feed.serve(b))
    try:
        async for msg in ws:  # the board only pushes; anything sent to it is ignored
            if msg.type is not WSMsgType.TEXT:
                break
    finally:
        feed.boards.discard(b)
        pusher.cancel()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await pusher
        if session is not None:
            request.app[SESSIONS].remove(session[0], ws)
    return ws
