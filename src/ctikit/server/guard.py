"""Who is calling, and may they: the REST and WebSocket side of the access policy."""

from __future__ import annotations

from contextvars import ContextVar

from aiohttp import web

from ..core.access import Operation, Principal, Role, check, check_global
from .auth import SESSION_COOKIE, bearer, check_origin
from .keys import AUTH, CONFIG

_PRINCIPAL = web.RequestKey("principal", Principal)
#: Who the current request or console socket acts as (its principal's name): the audit
#: log's "actor". Set here for the request's task; tasks it starts inherit it.
ACTOR: ContextVar[str | None] = ContextVar("ctikit_actor", default=None)


def credentials(request: web.Request) -> str | None:
    """The token the request authenticates with: bearer, ``token`` query parameter (sockets)
    or the session cookie."""
    return bearer(request) or request.query.get("token") or request.cookies.get(SESSION_COOKIE)


async def principal(request: web.Request, *, agent_hint: str | None = None) -> Principal:
    """The authenticated caller (cached on the request); raises AuthError."""
    cached = request.get(_PRINCIPAL)
    if cached is not None:
        assert isinstance(cached, Principal)
        return cached
    token = bearer(request) or request.query.get("token")
    if token is None and SESSION_COOKIE in request.cookies:
        token = request.cookies[SESSION_COOKIE]
        if request.method not in ("GET", "HEAD", "OPTIONS"):
            # Cookies ride along on cross-site requests; SameSite=Strict stops that in
            # current browsers, and this check stops it everywhere (CSRF).
            check_origin(request, request.app[CONFIG].allowed_origins, require=True)
    found = await request.app[AUTH].principal_for(token, agent_hint=agent_hint)
    request[_PRINCIPAL] = found
    ACTOR.set(found.name)
    return found


async def require(request: web.Request, op: Operation, agent: str) -> Principal:
    """Raise AccessDeniedError unless the caller may do ``op`` on ``agent``."""
    who = await principal(request, agent_hint=agent)
    team = None
    if who.role is Role.SUPERVISOR and who.agent != agent:
        team = await request.app[AUTH].accounts.team_of_agent(agent)
    check(who, op, agent, team)
    return who


async def readable_agents(
    request: web.Request, asked: str | None, op: Operation = Operation.READ_LOGS
) -> list[str] | None:
    """For listings: the agents whose data (``op``) the caller may read, narrowed to
    ``asked``. None means every agent (a service with the scope and no filter).
    """
    who = await principal(request, agent_hint=asked)
    if asked is not None:
        await require(request, op, asked)
        return [asked]
    if who.role is Role.SERVICE:
        check_global(who, op)
        return None
    agents = {who.agent} if who.agent else set()
    if who.role is Role.SUPERVISOR and who.team:
        agents |= set(await request.app[AUTH].accounts.agents_of_team(who.team))
    return sorted(agents)
