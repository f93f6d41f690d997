"""REST API for back-office callers: inspect calls, attach data (IVR), read call logs.

Every answer is JSON of the protocol's own shape: ``{"success": true, ...}`` or
``{"success": false, "error": "...", "code": "..."}`` with a fitting HTTP status.
"""

from __future__ import annotations

import asyncio
import logging
import math
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from aiohttp import web

from ..core.access import AccessDeniedError, Operation, Role, check, check_global
from ..core.errors import (
    CommandRejectedError,
    CtiError,
    CtiRequestError,
    LimitExceededError,
    TooLongError,
    UnknownCallError,
)
from ..core.jsonvalue import parse_json_text
from ..core.model import check_agent_id, check_agent_list
from ..core.screenpops import console_workspace
from ..storage import AgentStateLog, export_csv, export_json
from ..storage.agentstates import MAX_HISTORY
from ..storage.records import check_filter_datetime
from ..storage.store import EXPORT_PAGE_SIZE
from . import numbers, opencti
from .addresses import client_address, is_https
from .audit import AUDIT
from .auth import (
    SESSION_COOKIE,
    AuthError,
    LoginLockedError,
    bearer,
    check_same_site,
)
from .connections import HTTP_STATS, BodyTimeoutError
from .console import console_desk
from .guard import principal, readable_agents, require
from .keys import AUTH, CONFIG, SERVICE, TRUSTED_PROXIES
from .service import MAX_CAMPAIGN_AGENTS, CtiService, UnsupportedError
from .sessions import SESSIONS

log = logging.getLogger("ctikit.rest")
routes = web.RouteTableDef()


class MediaTypeError(CtiRequestError):
    """A body of a type this endpoint does not take (HTTP 415)."""


#: Errors by code: the cluster's (ctikit.cluster, which builds on this module), and a
#: command the telephony did not confirm in time (a gateway that timed out).
_CODE_STATUS = {"unavailable": 503, "corrupt_state": 500, "timeout": 504, "rate_limited": 429}
_STATUS = {
    BodyTimeoutError: 408,
    MediaTypeError: 415,
    LoginLockedError: 429,
    AuthError: 401,
    AccessDeniedError: 403,
    UnknownCallError: 404,
    TooLongError: 400,  # a field, not the request: before its base class
    LimitExceededError: 413,
    CommandRejectedError: 409,
    UnsupportedError: 409,
}


def fail(status: int, message: str, code: str = "bad_request") -> web.Response:
    return web.json_response({"success": False, "error": message, "code": code}, status=status)


def ok(**fields: Any) -> web.Response:
    return web.json_response({"success": True, **fields}, dumps=_dumps)


def _dumps(obj: Any) -> str:
    from .wire import encode

    return encode(obj)


@web.middleware
async def json_errors(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Turn every failure under /api into the protocol's error shape."""
    try:
        return await handler(request)
    except CtiError as exc:
        # The class first: a slow request body (408) and a command the telephony did not
        # confirm (504) share the code "timeout".
        status = next(
            (s for cls, s in _STATUS.items() if isinstance(exc, cls)), None
        ) or _CODE_STATUS.get(exc.code, 400)
        resp = fail(status, exc.message, exc.code)
        if status == 401:
            resp.headers["WWW-Authenticate"] = 'Bearer realm="ctikit"'
        if isinstance(exc, LoginLockedError):
            resp.headers["Retry-After"] = str(max(1, math.ceil(exc.retry_after)))
        elif status in (429, 503):
            resp.headers["Retry-After"] = "1"
        return _close_if_body_left(request, resp)
    except web.HTTPException as exc:
        api = request.path.startswith("/api/") or request.path == "/metrics"
        if not api or exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed", 413: "limit_exceeded"}.get(
            exc.status, "bad_request"
        )
        resp = fail(exc.status, exc.reason or "error", code)
        if "Allow" in exc.headers:  # a 405 must say which methods are allowed (RFC 9110)
            resp.headers["Allow"] = exc.headers["Allow"]
        return _close_if_body_left(request, resp)
    except Exception:
        log.exception("%s %s failed", request.method, request.path)
        return fail(500, "internal error (logged on the server)", "internal_error")


#: A refused request's unread body up to this size is read and dropped (the connection
#: stays open); past it the connection is closed after the answer.
DRAIN_LIMIT = 64 * 1024


def _close_if_body_left(request: web.Request, resp: web.Response) -> web.Response:
    """A refused request whose large body was not read: close after the answer. aiohttp
    would otherwise read the rest (up to 10 s) to keep the connection: 200 refused 500 KB
    logins made the event loop read and drop 100 MB."""
    size = request.content_length
    if not request.content.is_eof() and (size is None or size > DRAIN_LIMIT):
        resp.force_close()
    return resp


def _svc(request: web.Request) -> CtiService:
    svc: CtiService = request.app[SERVICE]
    return svc


def _agent(request: web.Request) -> str:
    return check_agent_id(request.match_info["agent"])


async def _json_body(request: web.Request, limit: int | None = None) -> dict[str, Any]:
    """The body, a JSON object; ``limit``: at most that many bytes (else 413), for bodies
    read before the caller is known."""
    raw = await (request.read() if limit is None else _read_at_most(request, limit))
    body = parse_json_text(raw, "request body")
    if not isinstance(body, dict):
        raise CtiRequestError("request body must be a JSON object")
    return body


async def _read_at_most(request: web.Request, limit: int) -> bytes:
    if request.content_length is not None and request.content_length > limit:
        raise LimitExceededError(f"the request body is over {limit} bytes")
    chunks, size = [], 0
    while chunk := await request.content.readany():
        size += len(chunk)
        if size > limit:
            raise LimitExceededError(f"the request body is over {limit} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


#: Login and logout bodies are read from anyone: small (a name, a password).
SESSION_BODY_LIMIT = 16 * 1024


def _session_request(request: web.Request) -> None:
    """Login and logout: from this server's pages or non-browser clients only, with a JSON
    body. (A cross-site ``<form>`` can post text/plain, urlencoded or multipart bodies
    without the browser asking first: that logged victims into an attacker's account.)"""
    check_same_site(request, request.app[CONFIG].allowed_origins)
    ctype = request.headers.get("Content-Type")
    empty = request.content_length == 0 or not request.body_exists
    if ctype is not None and not empty and request.content_type != "application/json":
        raise MediaTypeError(f"send JSON (Content-Type: application/json), not {ctype[:60]}")


@routes.post("/api/login")
async def login(request: web.Request) -> web.Response:
    """Password login: a signed token for API clients, and a session cookie for consoles."""
    _session_request(request)
    body = await _json_body(request, SESSION_BODY_LIMIT)
    authn = request.app[AUTH]
    address = client_address(request, request.app[TRUSTED_PROXIES])
    name = body.get("username")
    shown = name[:64] if isinstance(name, str) else "?"
    audit = request.app[AUDIT]
    try:
        token, who, expires = await authn.login(name, body.get("password"), address=address)
    except CtiError as exc:  # never the password: the user name tried, and why it failed
        audit.record("login", shown, outcome="failed", actor=shown, address=address, code=exc.code)
        raise
    audit.record("login", who.name, actor=who.name, address=address)
    resp = ok(
        token=token,
        expiresAt=expires,
        user=who.name,
        role=who.role.value,
        agent=who.agent,
        team=who.team,
    )
    # HttpOnly: scripts (and so an XSS) cannot read the console's session. Secure over
    # HTTPS, also when a reverse proxy ends TLS and says so (X-Forwarded-Proto).
    resp.set_cookie(
        SESSION_COOKIE,
        token,
        max_age=int(authn.token_ttl),
        httponly=True,
        samesite="Strict",
        secure=is_https(request),
        path="/",
    )
    return resp


@routes.post("/api/logout")
async def logout(request: web.Request) -> web.Response:
    """End the caller's sessions (the cookie's or the bearer token's user, everywhere) and
    clear the cookie. Answers success also when there was no live session."""
    _session_request(request)  # a browser's page of another site is refused here
    token = bearer(request) or request.cookies.get(SESSION_COOKIE)
    user = await request.app[AUTH].logout(token)
    if user is not None:  # its console sockets on this node close now (others: sessions.py)
        await request.app[SESSIONS].end(user)
        request.app[AUDIT].record(
            "logout",
            user,
            actor=user,
            address=client_address(request, request.app[TRUSTED_PROXIES]),
        )
    resp = ok()
    resp.del_cookie(SESSION_COOKIE, path="/", secure=is_https(request), samesite="Strict")
    return resp


@routes.get("/api/whoami")
async def whoami(request: web.Request) -> web.Response:
    who = await principal(request)
    return ok(
        user=who.name,
        role=who.role.value,
        agent=who.agent,
        team=who.team,
        scopes=sorted(who.scopes),
        demo=request.app[AUTH].demo,
    )


@routes.get("/api/phone-numbers")
async def phone_numbers(request: web.Request) -> web.Response:
    """Numbers formatted for people (numbers.py); any signed-in caller."""
    await principal(request)
    values = numbers.check_numbers(request.query.getall("number", []))
    return ok(numbers=[numbers.formatted(n) for n in values])


@routes.get("/api/health")
async def health(request: web.Request) -> web.Response:
    svc = _svc(request)
    return ok(
        status="ok",
        connector=svc.telephony.name,
        connections=svc.hub.total_connections(),
        http=request.app[HTTP_STATS].to_dict(),
        **svc.health(),
    )


@routes.get("/api/console/config")
async def console_config(request: web.Request) -> web.Response:
    svc, cfg = _svc(request), request.app[CONFIG]
    agent = check_agent_id(request.query.get("agent"))
    who = await require(request, Operation.READ_CALLS, agent)
    return ok(
        agent=agent,
        user={"name": who.name, "role": who.role.value, "readOnly": who.agent != agent},
        components=[{"name": c.name, "url": c.url, "height": c.height} for c in cfg.components],
        connector=svc.connector_info(),
        demo=cfg.demo,
        agents=[{"id": a.id, "extension": a.extension, "name": a.name} for a in cfg.agents],
        nodes=list(cfg.cluster_nodes),  # cluster mode: where the console may fail over
        workspace=console_workspace(
            cfg.workspace.allowed_origins, cfg.screen_pops
        ),  # tabs: allowed origins, screen-pop rules
        openCti=opencti.console_settings(cfg.open_cti),  # the softphone panel, or None
        console=console_desk(cfg.console),  # dispositions, ringing, shortcuts
    )


@routes.get("/api/agents")
async def list_agents(request: web.Request) -> web.Response:
    """Agents with state: all of them for a service; oneself and one's team otherwise."""
    svc = _svc(request)
    visible = await readable_agents(request, None, Operation.READ_CALLS)
    agents = [
        {"id": a, "activeCalls": active, "connections": svc.hub.connections(a)}
        for a, active in sorted(await svc.overview())
        if visible is None or a in visible
    ]
    return ok(agents=agents)


@routes.get("/api/agents/{agent}/calls")
async def agent_calls(request: web.Request) -> web.Response:
    agent = _agent(request)
    await require(request, Operation.READ_CALLS, agent)
    snap = await _svc(request).snapshot(agent)
    return ok(calls=snap["calls"], recent=snap["recent"], seq=snap["seq"])


@routes.get("/api/agents/{agent}/calls/{call_id}")
async def agent_call(request: web.Request) -> web.Response:
    agent = _agent(request)
    await require(request, Operation.READ_CALLS, agent)
    call = await _svc(request).get_call(agent, request.match_info["call_id"])
    return ok(call=call.to_dict())


@routes.post("/api/agents/{agent}/calls/{call_id}/data")
async def attach_data(request: web.Request) -> web.Response:
    """Merge the body's keys into the call's attached data (what an IVR does)."""
    agent = _agent(request)
    await require(request, Operation.ATTACH_DATA, agent)
    body = await _json_body(request)
    call = await _svc(request).attach_data(agent, request.match_info["call_id"], body)
    return ok(call=call.to_dict())


@routes.get("/api/agents/{agent}/state")
async def get_agent_state(request: web.Request) -> web.Response:
    """The agent's state (available, away, offline, acw) and the away reasons to choose from."""
    agent = _agent(request)
    await require(request, Operation.READ_CALLS, agent)
    svc = _svc(request)
    return ok(agent=agent, **(await svc.presence(agent)).to_dict(), awayReasons=svc.away_reasons())


@routes.put("/api/agents/{agent}/state")
async def put_agent_state(request: web.Request) -> web.Response:
    """Choose the agent's state: ``{"status": "away", "reason": "Lunch"}``."""
    agent = _agent(request)
    await require(request, Operation.CHANGE_CALLS, agent)
    body = await _json_body(request)
    svc = _svc(request)
    state = await svc.set_presence(agent, body.get("status"), body.get("reason"))
    return ok(agent=agent, **state.to_dict(), awayReasons=svc.away_reasons())


@routes.get("/api/agents/{agent}/state/history")
async def agent_state_history(request: web.Request) -> web.Response:
    """The agent's stored state changes (oldest first), for reports: ``since`` (a time),
    ``limit`` (1-1000). Readable by whoever may read the agent's call logs."""
    agent = _agent(request)
    await require(request, Operation.READ_LOGS, agent)
    since = _time_param(request, "since")
    limit = _int(request, "limit", 1000, 1, MAX_HISTORY)
    await _svc(request).agent_states.wait_written()
    rows = await AgentStateLog(_svc(request).store).history(agent, since=since, limit=limit)
    return ok(
        changes=[
            {
                "agent": r.agent_id,
                "status": r.status,
                "reason": r.reason,
                "previous": r.previous,
                "startedAt": r.started_at.isoformat(),
            }
            for r in rows
        ]
    )


def _time_param(request: web.Request, key: str) -> datetime | None:
    raw = request.query.get(key)
    if raw is None:
        return None
    try:
        # RFC 3339 allows "t" and "z" in lower case.
        value = datetime.fromisoformat(raw.upper().replace("Z", "+00:00"))
    except ValueError:
        raise CtiRequestError(f"{key} must be an ISO 8601 time") from None
    if value.tzinfo is None:
        raise CtiRequestError(f"{key} needs a time zone (e.g. Z)")
    try:
        return check_filter_datetime(key, value)
    except ValueError as exc:  # past the last UTC date
        raise CtiRequestError(str(exc)) from None


@routes.post("/api/agents/{agent}/simulate-call")
async def simulate_call(request: web.Request) -> web.Response:
    agent = _agent(request)
    await require(request, Operation.PLACE_CALL, agent)
    body = await _json_body(request) if request.can_read_body else {}
    call_id = await _svc(request).place_call(
        agent, ani=body.get("ani"), dnis=body.get("dnis"), data=body.get("data")
    )
    return ok(callId=call_id)


@routes.post("/api/agents/{agent}/cti-message")
async def cti_message(request: web.Request) -> web.Response:
    agent = _agent(request)
    await require(request, Operation.CHANGE_CALLS, agent)
    body = await _json_body(request)
    await _svc(request).send_cti_message(agent, body.get("message"))
    return ok()


@routes.post("/api/events")
async def fire_events(request: web.Request) -> web.Response:
    """A custom event to many agents' consoles at once (a campaign start): what
    ``sforce.console.fireEvent`` does within one console, for every agent named."""
    who = await principal(request)
    body = await _json_body(request)
    agents = body.get("agents")
    if who.role is Role.SERVICE:
        check_global(who, Operation.CHANGE_CALLS)  # the service checks the list
    else:
        agents = check_agent_list(agents, MAX_CAMPAIGN_AGENTS)
        for agent in agents:  # an agent or supervisor: its own console only
            check(who, Operation.CHANGE_CALLS, agent, None)
    try:
        reached = await _svc(request).fire_custom_events(
            agents, body.get("type"), body.get("message")
        )
    except CtiError as exc:
        request.app[AUDIT].record(
            "campaign.event", str(body.get("type"))[:255], outcome="failed", code=exc.code,
            agents=len(agents) if isinstance(agents, list) else 0,
        )  # fmt: skip
        raise
    request.app[AUDIT].record("campaign.event", str(body.get("type"))[:255], agents=reached)
    return ok(agents=reached)


@routes.post("/api/agents/{agent}/call-logs")
async def save_call_log(request: web.Request) -> web.Response:
    agent = _agent(request)
    await require(request, Operation.SAVE_LOG, agent)
    body = await _json_body(request)
    record = await _svc(request).save_call_log(
        agent,
        body.get("callId"),
        subject=body.get("subject"),
        comments=body.get("comments"),
        disposition=body.get("disposition"),
    )
    return web.json_response({"success": True, "log": record.to_dict()}, status=201, dumps=_dumps)


async def _filters(request: web.Request) -> dict[str, Any]:
    q = request.query
    out: dict[str, Any] = {}
    asked = check_agent_id(q["agent"]) if "agent" in q else None
    agents = await readable_agents(request, asked)
    if agents is not None:
        out["agent_id"] = agents[0] if len(agents) == 1 else agents
    if "callId" in q:
        out["call_id"] = q["callId"]
    for key in ("since", "until"):
        value = _time_param(request, key)
        if value is not None:
            out[key] = value
    return out


def _int(request: web.Request, key: str, default: int, lo: int, hi: int) -> int:
    raw = request.query.get(key)
    if raw is None:
        return default
    if not raw.isascii() or not raw.isdigit() or not lo <= int(raw) <= hi:
        raise CtiRequestError(f"{key} must be a whole number from {lo} to {hi}")
    return int(raw)


@routes.get("/api/call-logs")
async def list_call_logs(request: web.Request) -> web.StreamResponse:
    store, filters = _svc(request).store, await _filters(request)
    limit = _int(request, "limit", 100, 1, 1000)
    offset = _int(request, "offset", 0, 0, 10**9)
    total = await store.count(**filters)
    page = min(limit, EXPORT_PAGE_SIZE)
    logs = await store.list(limit=page, offset=offset, raw_data=True, **filters)
    if len(logs) == limit or len(logs) < page:
        return ok(total=total, logs=[entry.to_dict() for entry in logs])
    # Streamed a page at a time, never all ``limit`` rows in memory at once (issue 13, F2).
    resp = web.StreamResponse(headers={"Content-Type": "application/json; charset=utf-8"})
    await resp.prepare(request)
    await resp.write(b'{"success":true,"total":' + str(total).encode() + b',"logs":[')
    sent = 0
    while logs:
        for entry in logs:
            await resp.write((b"," if sent else b"") + _dumps(entry.to_dict()).encode())
            sent += 1
            await asyncio.sleep(0)  # as in _stream: other requests between rows
        if sent >= limit or len(logs) < page:
            break
        logs = await store.list(
            limit=min(page, limit - sent), offset=offset + sent, raw_data=True, **filters
        )
    await resp.write(b"]}")
    await resp.write_eof()
    return resp


async def _stream(
    request: web.Request, chunks: Any, content_type: str, name: str
) -> web.StreamResponse:
    resp = web.StreamResponse(
        headers={
            "Content-Type": content_type,
            "Content-Disposition": f'attachment; filename="{name}"',
        }
    )
    # The first chunk before the headers: a refusal found while starting (a bad filter) is
    # still an error response in the API's shape, not a broken stream.
    chunks = aiter(chunks)
    first = await anext(chunks, None)
    await resp.prepare(request)
    if first is not None:
        await resp.write(first.encode())
    async for chunk in chunks:
        await resp.write(chunk.encode())
        # A turn for everyone else between rows: write() only waits when the client is
        # slow, and a page of large logs took 45 ms to format (2 ms a CSV row of 100 KB).
        await asyncio.sleep(0)
    await resp.write_eof()
    return resp


@routes.get("/api/call-logs/export.csv")
async def export_logs_csv(request: web.Request) -> web.StreamResponse:
    filters = await _filters(request)
    return await _stream(
        request,
        export_csv(_svc(request).store, **filters),
        "text/csv; charset=utf-8",
        "call-logs.csv",
    )


@routes.get("/api/call-logs/export.json")
async def export_logs_json(request: web.Request) -> web.StreamResponse:
    filters = await _filters(request)
    return await _stream(
        request, export_json(_svc(request).store, **filters), "application/json", "call-logs.json"
    )


@routes.get("/api/call-logs/{log_id}")
async def get_call_log(request: web.Request) -> web.Response:
    await principal(request)
    record = await _svc(request).store.get(request.match_info["log_id"])
    if record is None:
        return fail(404, f"no call log {request.match_info['log_id']!r}", "not_found")
    await require(request, Operation.READ_LOGS, record.agent_id)
    return ok(log=record.to_dict())
