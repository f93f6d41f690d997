"""The console WebSocket: hello, then requests in and responses/events out (docs/protocol.md)."""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

import msgspec
from aiohttp import WSMsgType, web

from ..connectors.webrtc import PhoneLink, ReportError, WebrtcConnector
from ..core.access import AccessDeniedError, Operation, Role
from ..core.errors import CtiError
from ..core.model import check_agent_id
from ..core.ratelimit import SharedBuckets, TokenBucket
from ..logs import bound
from . import opencti, wire
from .auth import check_origin
from .guard import credentials, principal, require
from .hub import CLOSE_TRY_AGAIN, Outbox
from .keys import AUTH, CONFIG, HUB, PHONES, SERVICE
from .measures import COMMAND_SECONDS
from .service import CtiService
from .sessions import SESSIONS

log = logging.getLogger("ctikit.ws")

Handler = Callable[[CtiService, str, dict[str, Any]], Awaitable[dict[str, Any]]]
_OPS: dict[str, Handler] = {}


def op(name: str) -> Callable[[Handler], Handler]:
    def register(fn: Handler) -> Handler:
        _OPS[name] = fn
        return fn

    return register


@op("getCallObjectIds")
async def _get_ids(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    return {"ids": await svc.call_ids(agent)}


@op("getCallAttachedData")
async def _get_data(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    call = await svc.attached_data(agent, req.get("callId"))
    result: dict[str, Any] = {"data": wire.encode(call.data)}
    if req.get("getCallType"):
        result["callType"] = call.call_type.value
    return result


@op("setCallObjectIds")
async def _set_ids(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.set_call_ids(agent, req.get("ids"))
    return {}


@op("setCallAttachedData")
async def _set_data(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.set_attached_data(agent, req.get("callId"), req.get("data"), req.get("callType"))
    return {}


@op("fireOnCallBegin")
async def _begin(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.fire_call_begin(agent, req.get("callId"), req.get("callType"), req.get("label"))
    return {}


@op("fireOnCallEnd")
async def _end(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.fire_call_end(agent, req.get("callId"), req.get("duration"), req.get("disposition"))
    return {}


@op("fireOnCallLogSaved")
async def _log_saved(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.fire_call_log_saved(agent, req.get("logId"))
    return {}


@op("sendCTIMessage")
async def _cti(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.send_cti_message(agent, req.get("message"))
    return {}


@op("fireEvent")
async def _custom(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    await svc.fire_custom_event(agent, req.get("eventType"), req.get("message"))
    return {}


@op("saveCallLog")
async def _save(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    record = await svc.save_call_log(
        agent,
        req.get("callId"),
        subject=req.get("subject"),
        comments=req.get("comments"),
        disposition=req.get("disposition"),
    )
    return {"logId": record.id}


@op("saveOpenCtiLog")
async def _save_open_cti(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    record = await opencti.save_log(
        svc, agent, req.get("entity"), req.get("fields"), req.get("logId")
    )
    return {"logId": record.id}


@op("openCtiSearch")
async def _open_cti_search(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    return {"matches": await opencti.search(svc.open_cti, agent, req)}


@op("openCtiApex")
async def _open_cti_apex(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    return {"returnValue": await opencti.run_apex(svc.open_cti, agent, req)}


@op("simulateCall")
async def _simulate(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    call_id = await svc.place_call(
        agent, ani=req.get("ani"), dnis=req.get("dnis"), data=req.get("data")
    )
    return {"callId": call_id}


@op("getState")
async def _state(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    return await svc.snapshot(agent)


@op("setAgentState")
async def _set_state(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    state = await svc.set_presence(agent, req.get("status"), req.get("reason"))
    return {"agentState": state.to_dict()}


@op("ping")
async def _ping(svc: CtiService, agent: str, req: dict[str, Any]) -> dict[str, Any]:
    return {}


PHONE_OPS = frozenset({"phoneSetup", "phoneReport", "phoneDone"})


def _phone_op(
    rid: object, name: str, req: dict[str, Any], phone: tuple[WebrtcConnector, PhoneLink] | None
) -> bytes:
    """The browser phone's ops (docs/webrtc.md): only on an agent's own console."""
    if phone is None:
        return wire.error_response(
            rid, f"{name}: this console is not a phone (connector is not webrtc)", "unsupported"
        )
    phones, link = phone
    try:
        if name == "phoneSetup":
            return wire.response(rid, **phones.setup(link, req.get("calls")))
        if name == "phoneReport":
            phones.report(link, req.get("report"))
        else:
            phones.done(link, req.get("ref"), req.get("error"))
    except ReportError as exc:
        return wire.error_response(rid, f"{name}: {exc}", "bad_request")
    return wire.response(rid)


class SocketBudget:
    """Console sockets per agent ID on this node (``max_sockets_per_agent``): one agent's
    thousands of sockets would each cost the fan-out of every event (issue 13, F3)."""

    def __init__(self, per_agent: int) -> None:
        if per_agent < 1:
            raise ValueError("server.max_sockets_per_agent must be >= 1")
        self.per_agent = per_agent
        self.open: dict[str, int] = {}

    def take(self, agent: str) -> bool:
        count = self.open.get(agent, 0)
        if count >= self.per_agent:
            return False
        self.open[agent] = count + 1
        return True

    def give_back(self, agent: str) -> None:
        left = self.open[agent] - 1
        if left:
            self.open[agent] = left
        else:
            del self.open[agent]


SOCKETS = web.AppKey("console_sockets", SocketBudget)
#: Bytes of requests per user (all its sockets on this node): ``max_request_bytes_*``.
REQUEST_BYTES = web.AppKey("request_bytes", SharedBuckets)
CLOSE_POLICY_VIOLATION = 1008
READ_ONLY_OPS = frozenset({"getCallObjectIds", "getCallAttachedData", "getState", "ping"})


async def handle_request(
    svc: CtiService,
    agent: str,
    text: str,
    *,
    read_only: bool = False,
    phone: tuple[WebrtcConnector, PhoneLink] | None = None,
) -> bytes:
    """One request frame in, one response frame out. Never raises. ``phone``: this socket's
    link to the browser phones (the ``webrtc`` connector, an agent's own console)."""
    try:
        rid, name, req = wire.decode_request(text)
    except wire.FrameError as exc:
        return wire.error_response(exc.request_id, exc.message, "bad_request")
    if name in PHONE_OPS:
        return _phone_op(rid, name, req, phone)
    handler = _OPS.get(name)
    if handler is None:
        return wire.error_response(
            rid, f"unknown op {name[:64]!r}; see docs/protocol.md", "bad_request"
        )
    if read_only and name not in READ_ONLY_OPS:
        # A supervisor watching an agent's console reads; it never changes a call.
        return wire.error_response(
            rid, f"{name} is not allowed on a read-only console", "forbidden"
        )
    call = req.get("callId")
    started, outcome = time.perf_counter(), "ok"
    try:
        with bound(call=call if isinstance(call, str) else None):
            return wire.response(rid, **await handler(svc, agent, req))
    except CtiError as exc:
        outcome = exc.code
        extra = {"data": None} if name == "getCallAttachedData" else {}
        return wire.error_from(rid, exc, **extra)
    except Exception:
        outcome = "internal_error"
        log.exception("op %s for agent %s failed", name, agent, extra={"call_id": call})
        return wire.error_response(rid, "internal error (logged on the server)", "internal_error")
    finally:
        # Labels: op is one of _OPS, outcome one of the error codes (bounded sets).
        COMMAND_SECONDS.labels(name, outcome).observe(time.perf_counter() - started)


# Requests that wait for a database commit or an operator's endpoint: each in a task of its
# own, at most MAX_SLOW_IN_FLIGHT per socket.
_SLOW_OPS = ('"saveCallLog"', '"saveOpenCtiLog"', '"openCtiSearch"', '"openCtiApex"')
MAX_SLOW_IN_FLIGHT = 32
_COMMAND_OP = '"sendCTIMessage"'
#: sendCTIMessage requests of one socket waiting for their outcome; more are refused.
MAX_COMMANDS_IN_FLIGHT = 16


async def _respond(box: Outbox, svc: CtiService, agent: str, text: str, read_only: bool) -> None:
    box.send(await handle_request(svc, agent, text, read_only=read_only))


async def _respond_in_turn(
    lane: asyncio.Lock, box: Outbox, svc: CtiService, agent: str, text: str, read_only: bool
) -> None:
    async with lane:  # FIFO: a socket's commands run in the order they came
        reply = await handle_request(svc, agent, text, read_only=read_only)
        # The command's events go out first (in a cluster they come by Redis's fan-out).
        await svc.backend.sent_up_to_now(box)
        box.send(reply)


class _IdOnly(msgspec.Struct):
    id: Any = None


def _cheap_id(text: str) -> int | str | None:
    """The id of a frame that will not be handled (rate limited): read without building the
    rest of it, so refusing stays cheap. None if there is no usable id."""
    try:
        rid = msgspec.json.decode(text, type=_IdOnly).id
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    if isinstance(rid, bool) or not isinstance(rid, (int, str)):
        return None
    return rid if isinstance(rid, int) or 0 < len(rid) <= wire.MAX_REQUEST_ID_LENGTH else None


def _request_id(text: str) -> object:
    try:
        return wire.decode_request(text)[0]
    except wire.FrameError as exc:
        return exc.request_id


async def websocket_handler(request: web.Request) -> web.StreamResponse:
    svc: CtiService = request.app[SERVICE]
    cfg = request.app[CONFIG]
    try:
        agent = check_agent_id(request.query.get("agent"))
        # A console page served by any node of the cluster may fail over to this one.
        check_origin(request, cfg.allowed_origins + cfg.cluster_nodes)
        who = await principal(request, agent_hint=agent)
        if who.role is Role.SERVICE:
            raise AccessDeniedError("service tokens cannot open console sockets")
        await require(request, Operation.READ_CALLS, agent)
    except CtiError as exc:
        status = {"unauthorized": 401, "forbidden": 403}.get(exc.code, 400)
        refused = web.json_response(
            {"success": False, "error": exc.message, "code": exc.code}, status=status
        )
        if status == 401:  # RFC 9110: a 401 names its scheme
            refused.headers["WWW-Authenticate"] = 'Bearer realm="ctikit"'
        return refused
    since = request.query.get("since")
    if since is not None and (not since.isascii() or not since.isdigit() or len(since) > 15):
        return web.json_response(
            {"success": False, "code": "bad_request", "error": "since must be a sequence number"},
            status=400,
        )
    budget = request.app[SOCKETS]
    if not budget.take(agent):  # counted before any await: concurrent handshakes see it
        return web.json_response(
            {
                "success": False,
                "code": "limit_exceeded",
                "error": f"{budget.per_agent} console sockets of this agent are open on this "
                "server already: close one first",
            },
            status=429,
            headers={"Retry-After": "5"},
        )
    spent = request.app[REQUEST_BYTES]
    user_bytes = spent.hold(who.name)  # one byte budget for all the user's sockets
    try:
        # A supervisor watching an agent's console reads; it never changes a call.
        return await _console(request, svc, agent, user_bytes, read_only=who.agent != agent)
    finally:
        spent.release(who.name)
        budget.give_back(agent)


async def _console(
    request: web.Request,
    svc: CtiService,
    agent: str,
    user_bytes: TokenBucket,
    *,
    read_only: bool,
) -> web.StreamResponse:
    """The socket of an authorized console (read-only: a supervisor watching an agent's);
    its requests spend ``user_bytes``, the byte budget of the user who opened it."""
    cfg = request.app[CONFIG]
    ws = web.WebSocketResponse(max_msg_size=cfg.max_frame_bytes, compress=False, heartbeat=30)
    await ws.prepare(request)
    # Closed when its session ends (logout, new password, user disabled or removed).
    session = request.app[AUTH].session_of(credentials(request))
    sessions = request.app[SESSIONS]
    if session is not None:
        sessions.add(session[0], session[1], ws)
    try:
        return await _serve(request, svc, agent, user_bytes, ws, read_only=read_only)
    finally:
        if session is not None:
            sessions.remove(session[0], ws)


async def _serve(
    request: web.Request,
    svc: CtiService,
    agent: str,
    user_bytes: TokenBucket,
    ws: web.WebSocketResponse,
    *,
    read_only: bool,
) -> web.WebSocketResponse:
    """Hello, then requests in and responses and events out, until the socket closes."""
    cfg = request.app[CONFIG]
    since, epoch = request.query.get("since"), request.query.get("epoch")
    box = Outbox(ws, agent, cfg.send_queue_frames, request.transport)
    hub = request.app[HUB]
    hello = {
        "type": "hello",
        "protocol": wire.PROTOCOL_VERSION,
        "agent": agent,
        "connector": svc.connector_info(),
        "awayReasons": svc.away_reasons(),
        "limits": {
            "maxFrameBytes": cfg.max_frame_bytes,
            "maxDataBytes": cfg.limits.max_data_bytes,
            "maxActiveCalls": cfg.limits.max_active_calls,
            "commandTimeout": cfg.command_timeout,
        },
    }
    try:
        await svc.connect_console(box, hello, None if since is None else int(since), epoch)
    except CtiError as exc:  # the shared state store is unreachable (cluster mode)
        await box.aclose()
        await ws.close(code=CLOSE_TRY_AGAIN, message=exc.message.encode()[:120])
        return ws
    # DEBUG: a reconnect storm of 10,000 consoles would write 20,000 INFO lines; the
    # housekeeping task logs the count instead.
    log.debug("console connected: agent=%s (%d sockets)", agent, hub.connections(agent))
    phones = request.app.get(PHONES)
    phone = None
    if phones is not None and not read_only:  # a supervisor watching is never the phone
        phone = (phones, phones.attach(agent, lambda obj: box.send(wire.frame(obj))))
    bucket = TokenBucket(cfg.max_requests_per_second, cfg.max_request_burst)
    slow: set[asyncio.Task[None]] = set()  # saves under way (they finish even if we close)
    # Commands wait for the telephony (docs/protocol.md, "Commands"): in a lane of their
    # own, in order, so the console's other requests are not held up meanwhile.
    lane, commands = asyncio.Lock(), set[asyncio.Task[None]]()
    try:
        async for msg in ws:
            now = time.monotonic()
            if msg.type is WSMsgType.TEXT and not bucket.allow(now):
                if bucket.refused_lately >= cfg.abuse_close_after:
                    log.warning("closing the socket of %s: request flood", agent)
                    await ws.close(code=CLOSE_POLICY_VIOLATION, message=b"request flood")
                    break
                # With the request's id: a client waits for its answer by id.
                box.send(
                    wire.error_response(
                        _cheap_id(msg.data),
                        "rate limit: too many requests, slow down",
                        "rate_limited",
                    )
                )
            elif msg.type is WSMsgType.TEXT and not user_bytes.allow(now, len(msg.data)):
                box.send(
                    wire.error_response(
                        _cheap_id(msg.data),
                        f"rate limit: more than {cfg.max_request_bytes_per_second} bytes of "
                        "requests per second from this user: slow down",
                        "rate_limited",
                    )
                )
            elif msg.type is WSMsgType.TEXT and any(o in msg.data for o in _SLOW_OPS):
                if len(slow) >= MAX_SLOW_IN_FLIGHT:
                    box.send(
                        wire.error_response(
                            _request_id(msg.data),
                            f"{MAX_SLOW_IN_FLIGHT} requests are still under way: wait for them",
                            "rate_limited",
                        )
                    )
                    continue
                # A call log waits for a database commit: the console's next request (an
                # /ANSWER) must not wait behind it. Its response comes when it is stored.
                task = asyncio.create_task(_respond(box, svc, agent, msg.data, read_only))
                slow.add(task)
                task.add_done_callback(slow.discard)
            elif msg.type is WSMsgType.TEXT and _COMMAND_OP in msg.data:
                if len(commands) >= MAX_COMMANDS_IN_FLIGHT:
                    box.send(
                        wire.error_response(
                            _request_id(msg.data),
                            f"{MAX_COMMANDS_IN_FLIGHT} CTI messages are still waiting for the "
                            "telephony: wait for their replies",
                            "rate_limited",
                        )
                    )
                    continue
                task = asyncio.create_task(
                    _respond_in_turn(lane, box, svc, agent, msg.data, read_only)
                )
                commands.add(task)
                task.add_done_callback(commands.discard)
            elif msg.type is WSMsgType.TEXT:
                box.send(
                    await handle_request(svc, agent, msg.data, read_only=read_only, phone=phone)
                )
            elif msg.type is WSMsgType.BINARY:
                box.send(
                    wire.error_response(
                        None, "binary frames are not accepted: send JSON text", "bad_request"
                    )
                )
            elif msg.type is WSMsgType.ERROR:
                log.info("socket of %s closed with error: %s", agent, ws.exception())
    finally:
        if phone is not None:
            phone[0].detach(phone[1])
        svc.disconnect_console(box)
        await box.aclose()
        log.debug("console disconnected: agent=%s", agent)
    return ws
