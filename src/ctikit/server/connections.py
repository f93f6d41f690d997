"""Connection budgets: no client may hold the server's descriptors (issue 13, F3).

aiohttp closes a connection that sits idle between requests (``keepalive_timeout``), but has
no timeout for a request head that arrives byte by byte (slowloris), none for a body that
never comes, and no cap on connections. This module adds them around aiohttp's own protocol:

- :class:`ConnectionGuard` is the protocol factory the listening socket uses. Each connection
  counts against the server's cap and its client address's cap (trusted reverse proxies are
  exempt: they carry everyone); over either, it is answered ``503`` at once and closed. A
  request head must be complete within ``header_timeout`` of its first byte (of the
  connection, for the first request), or the connection is closed (``408``).
- :func:`body_deadline` (a middleware) reads a request's body within ``body_timeout``.
- :func:`quiet_accept_errors`: when ``accept()`` fails for lack of descriptors, asyncio logs
  a traceback per try, thousands per second; this logs one line every 10 s instead.
- New connections take turns: what a connection sends before its first request head is in
  is handed to aiohttp for at most ``FRESH_PER_TURN`` connections per turn of the event loop,
  the others waiting (reading paused, their bytes in the kernel). Each new request costs the
  loop ~0.5 ms; 400 logins arriving at once were 200 ms of work ahead of what open
  connections (the agents' consoles) sent.

Defaults and what clients see: docs/security.md, "Connections".
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import resource
import socket
import ssl
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiohttp import web
from aiohttp.http_exceptions import HttpProcessingError
from aiohttp.web_protocol import RequestHandler

from ..config import Config
from ..core.errors import CtiRequestError
from .addresses import TrustedProxies, normalized
from .requestlog import why_malformed

log = logging.getLogger("ctikit.server")

#: Most descriptors kept for what is not a client connection (database, Redis, logs).
RESERVED_DESCRIPTORS = 1024
#: Refused connections lingering (their 503 on its way) at once; past it they are dropped.
MAX_LINGERING = 1000
LINGER_SECONDS = 1.0
ACCEPT_ERROR_LOG_EVERY = 10.0
#: accept() calls per wake-up of the listening socket: each new connection costs ~0.1 ms
#: there and more for its request, and what open connections sent waits for the batch; the
#: rest wait in the kernel's queue (listen_backlog) for the next turn of the loop.
ACCEPTS = 32
#: New connections whose first bytes are handed to aiohttp per turn of the event loop.
FRESH_PER_TURN = 8


@dataclass(slots=True)
class ConnectionStats:
    """What the guard did, for ``GET /api/health`` (``http``)."""

    open: int = 0
    peak: int = 0
    refused: int = 0
    timed_out: int = 0  # heads and bodies that did not arrive in time
    peak_from_one_address: int = 0  # the most one (untrusted) address held at once

    def to_dict(self) -> dict[str, int]:
        return {
            "open": self.open,
            "peak": self.peak,
            "refused": self.refused,
            "timedOut": self.timed_out,
            "peakFromOneAddress": self.peak_from_one_address,
        }


HTTP_STATS = web.AppKey("http_stats", ConnectionStats)


@dataclass(frozen=True, slots=True)
class ConnectionLimits:
    header_timeout: float = 10.0
    body_timeout: float = 30.0
    idle_timeout: float = 75.0
    max_connections: int = 10_000
    per_address: int = 1000  # 0: no cap

    @classmethod
    def of(cls, config: Config) -> ConnectionLimits:
        """The limits of ``config``; ``max_connections`` 0 means the descriptor limit
        (raised to its hard limit first) less a reserve."""
        for key in ("header_timeout", "body_timeout", "idle_timeout"):
            value = getattr(config, key)
            if not 0.1 <= value <= 86_400:
                raise ValueError(f"server.{key} must be 0.1 to 86400 seconds")
        if config.max_connections < 0 or config.max_connections_per_address < 0:
            raise ValueError("server.max_connections and _per_address must be >= 0")
        most = max(16, descriptor_limit() - reserve(descriptor_limit()))
        return cls(
            header_timeout=float(config.header_timeout),
            body_timeout=float(config.body_timeout),
            idle_timeout=float(config.idle_timeout),
            max_connections=min(config.max_connections or most, most),
            per_address=config.max_connections_per_address,
        )


def reserve(limit: int) -> int:
    """Descriptors kept back from client connections: an eighth of the limit, at least 64
    and at most 1024 (a database pool, the cluster's Redis pool of up to 512, log files)."""
    return min(RESERVED_DESCRIPTORS, max(64, limit // 8))


def descriptor_limit() -> int:
    """RLIMIT_NOFILE, its soft limit raised to the hard one (what a server wants)."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard != resource.RLIM_INFINITY and soft < hard:
        try:
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
            soft = hard
        except (ValueError, OSError):
            pass
    return int(soft if soft != resource.RLIM_INFINITY else 1 << 20)


def _raw_answer(status: str, message: str, code: str, extra: str = "") -> bytes:
    body = json.dumps({"success": False, "error": message, "code": code}).encode()
    head = (
        f"HTTP/1.1 {status}\r\nContent-Type: application/json\r\n{extra}"
        f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
    )
    return head.encode() + body


_TOO_MANY = _raw_answer(
    "503 Service Unavailable",
    "too many connections to this server: try again shortly",
    "unavailable",
    "Retry-After: 5\r\n",
)
_TOO_MANY_FROM = _raw_answer(
    "503 Service Unavailable",
    "too many connections from your address: close some first",
    "unavailable",
    "Retry-After: 5\r\n",
)


class ConnectionGuard:
    """The listening socket's protocol factory: see the module docstring. ``inner`` is
    aiohttp's (``runner.server``)."""

    def __init__(
        self,
        inner: Callable[[], asyncio.Protocol],
        limits: ConnectionLimits,
        trusted: TrustedProxies,
        stats: ConnectionStats | None = None,
    ) -> None:
        self.inner = inner
        self.limits = limits
        self.trusted = trusted
        self.stats = stats or ConnectionStats()
        self.by_address: dict[str, int] = {}
        self.lingering = 0
        self._turns: deque[_Guarded] = deque()  # new connections waiting for their turn
        self._pumping = False
        self._408 = _raw_answer(
            "408 Request Timeout",
            f"the request head did not arrive within {limits.header_timeout:g} s",
            "timeout",
        )

    def __call__(self) -> asyncio.Protocol:
        return _Guarded(self)

    def _admit(self, address: str) -> bytes | None:
        """None if the connection may open (and is counted), else the refusal to send."""
        stats = self.stats
        if stats.open >= self.limits.max_connections:
            return _TOO_MANY
        count = self.by_address.get(address, 0)
        if self.limits.per_address and count >= self.limits.per_address:
            if address not in self.trusted:
                return _TOO_MANY_FROM
        stats.open += 1
        stats.peak = max(stats.peak, stats.open)
        self.by_address[address] = count + 1
        if count + 1 > stats.peak_from_one_address and address not in self.trusted:
            stats.peak_from_one_address = count + 1
        return None

    def _wait_turn(self, conn: _Guarded) -> None:
        self._turns.append(conn)
        if not self._pumping:
            self._pumping = True
            asyncio.get_running_loop().call_soon(self._pump)

    def _pump(self) -> None:
        """Hand the bytes of up to FRESH_PER_TURN waiting connections to aiohttp; again at
        the next turn of the loop if more wait (open connections' events run between)."""
        turns = self._turns
        for _ in range(min(FRESH_PER_TURN, len(turns))):
            turns.popleft()._take_turn()
        if turns:
            asyncio.get_running_loop().call_soon(self._pump)
        else:
            self._pumping = False

    def _release(self, address: str) -> None:
        self.stats.open -= 1
        left = self.by_address[address] - 1
        if left:
            self.by_address[address] = left
        else:
            del self.by_address[address]


#: aiohttp's protocol of each guarded connection -> its guard (for the middleware).
_GUARDED: dict[Any, _Guarded] = {}
_HEAD, _REQUEST, _BETWEEN, _LINGER = 0, 1, 2, 3


class _Guarded(asyncio.Protocol):
    """One connection: forwards to aiohttp's protocol, times request heads."""

    __slots__ = (
        "_address",
        "_guard",
        "_inner",
        "_served",
        "_state",
        "_timer",
        "_transport",
        "_waiting",
    )

    def __init__(self, guard: ConnectionGuard) -> None:
        self._guard = guard
        self._inner: asyncio.Protocol | None = None
        self._transport: asyncio.Transport | None = None
        self._address = ""
        self._timer: asyncio.TimerHandle | None = None
        self._state = _HEAD
        self._served = False
        self._waiting: list[bytes] | None = None  # bytes held until the connection's turn

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        assert isinstance(transport, asyncio.Transport)
        guard = self._guard
        self._transport = transport
        peer = transport.get_extra_info("peername")
        self._address = normalized(str(peer[0])) if peer else "unknown"
        refusal = guard._admit(self._address)
        if refusal is not None:
            self._refuse(transport, refusal)
            return
        self._inner = guard.inner()
        _GUARDED[self._inner] = self
        self._arm()
        self._inner.connection_made(transport)

    def _refuse(self, transport: asyncio.Transport, answer: bytes) -> None:
        guard = self._guard
        guard.stats.refused += 1
        transport.write(answer)
        if guard.lingering >= MAX_LINGERING or not transport.can_write_eof():
            transport.abort()
            return
        # Half-close and read what the client still sends for a moment: closing with
        # unread data would reset the connection and could lose the answer on its way.
        transport.write_eof()
        guard.lingering += 1
        self._state = _LINGER
        self._timer = asyncio.get_running_loop().call_later(LINGER_SECONDS, transport.abort)

    def _arm(self) -> None:
        loop = asyncio.get_running_loop()
        self._timer = loop.call_later(self._guard.limits.header_timeout, self._head_too_slow)

    def _head_too_slow(self) -> None:
        self._timer = None
        if self._state == _REQUEST or self._transport is None:
            return
        self._guard.stats.timed_out += 1
        if not self._served:  # nothing else is being written on this connection
            self._transport.write(self._guard._408)
        self._transport.close()

    def head_received(self) -> None:
        """aiohttp parsed a request head (called by :func:`body_deadline`)."""
        self._state = _REQUEST
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def request_done(self) -> None:
        self._state = _BETWEEN
        self._served = True

    def data_received(self, data: bytes) -> None:
        if self._inner is None:
            return  # a refused connection: its answer is on the way
        if self._state == _BETWEEN:
            self._state = _HEAD  # the next request's first bytes: its head is timed
            self._arm()
        elif self._state == _HEAD and not self._served:  # new: it waits for its turn
            if self._waiting is None:
                self._waiting = [data]
                assert self._transport is not None
                self._transport.pause_reading()  # the rest stays in the kernel meanwhile
                self._guard._wait_turn(self)
            else:
                self._waiting.append(data)
            return
        self._inner.data_received(data)

    def _take_turn(self) -> None:
        waiting, self._waiting = self._waiting, None
        if self._inner is None or self._transport is None or not waiting:
            return  # closed meanwhile
        self._transport.resume_reading()
        self._inner.data_received(b"".join(waiting))

    def eof_received(self) -> bool | None:
        if self._inner is None:
            return None
        if self._waiting is not None:  # what came before the end goes first
            self._take_turn()
        return self._inner.eof_received()

    def connection_lost(self, exc: Exception | None) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        inner, self._inner = self._inner, None
        self._transport = None
        self._waiting = None
        if inner is None:
            if self._state == _LINGER:
                self._guard.lingering -= 1
            return
        self._guard._release(self._address)
        _GUARDED.pop(inner, None)
        inner.connection_lost(exc)

    def pause_writing(self) -> None:
        if self._inner is not None:
            self._inner.pause_writing()

    def resume_writing(self) -> None:
        if self._inner is not None:
            self._inner.resume_writing()


BODY_TIMEOUT = web.AppKey("body_timeout", float)


class BodyTimeoutError(CtiRequestError, TimeoutError):
    """A request body that did not arrive within ``body_timeout`` (REST: 408). A
    TimeoutError too, so that aiohttp, draining the rest of the body after the answer, stops
    and closes the connection instead of waiting on."""

    code = "timeout"


def _body_too_slow(request: web.Request, timeout: float) -> None:
    if not request.content.is_eof():
        if (stats := request.app.get(HTTP_STATS)) is not None:
            stats.timed_out += 1
        # Whoever reads the body (or aiohttp, draining it) gets this error: a 408 answer.
        request.content.set_exception(
            BodyTimeoutError(f"the request body did not arrive within {timeout:g} s")
        )


@web.middleware
async def body_deadline(
    request: web.Request, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
) -> web.StreamResponse:
    """Mark the request's head as received (the guard stops its clock), and give its body
    ``body_timeout`` to arrive: a body that trickles in would hold a connection and a
    handler. (Nothing is read here: a handler reads the body once it knows who is asking.)"""
    conn = _GUARDED.get(request.protocol)
    if conn is not None:
        conn.head_received()
    deadline = None
    if request.body_exists and not request.content.is_eof():
        timeout = request.app.get(BODY_TIMEOUT, 30.0)
        loop = asyncio.get_running_loop()
        deadline = loop.call_later(timeout, _body_too_slow, request, timeout)
    try:
        return await handler(request)
    finally:
        if deadline is not None:
            deadline.cancel()
        if conn is not None:
            conn.request_done()


class _ApiErrors(RequestHandler):
    """aiohttp's protocol, answering what aiohttp refuses before ctikit sees the request (a
    request it cannot parse: a 10 KB URL, a bad header) in the API's shape, not as text."""

    __slots__ = ()  # as small as aiohttp's own: there is one per open connection

    def handle_error(
        self,
        request: web.BaseRequest,
        status: int = 500,
        exc: BaseException | None = None,
        message: str | None = None,
    ) -> web.StreamResponse:
        super().handle_error(request, status, exc, message)  # logs; raises if too late
        if status == 500:
            reason, code = "internal error", "internal_error"
        else:
            what = exc.message if isinstance(exc, HttpProcessingError) else message or ""
            reason = "the request could not be read: " + why_malformed(what)
            code = "limit_exceeded" if status in (413, 431) else "bad_request"
        body = {"success": False, "error": reason, "code": code}
        resp = web.json_response(body, status=status)
        resp.force_close()
        return resp


def api_protocols(server: web.Server) -> Callable[[], asyncio.Protocol]:
    """Protocols like ``server()`` (aiohttp's) with the API's error answers (falls back to
    aiohttp's own should its ``Server`` stop keeping its handler arguments)."""
    kwargs = getattr(server, "_kwargs", None)
    if not isinstance(kwargs, dict):
        return server
    loop = asyncio.get_running_loop()
    return lambda: _ApiErrors(server, loop=loop, **kwargs)


class GuardedSite(web.BaseSite):
    """A TCP site whose connections go through a :class:`ConnectionGuard`."""

    def __init__(
        self,
        runner: web.AppRunner,
        host: str,
        port: int,
        *,
        guard: ConnectionGuard,
        backlog: int,
        sock: socket.socket | None = None,
        ssl_context: ssl.SSLContext | None = None,
        handshake_timeout: float = 60.0,
    ) -> None:
        super().__init__(runner, backlog=backlog, ssl_context=ssl_context)
        self._host, self._port, self._sock, self.guard = host, port, sock, guard
        self._handshake_timeout = handshake_timeout

    @property
    def name(self) -> str:
        scheme = "https" if self._ssl_context else "http"
        return f"{scheme}://{self._host}:{self._port}"

    async def start(self) -> None:
        await super().start()
        loop = asyncio.get_running_loop()
        # asyncio tries as many accept() calls per wake-up as the backlog it is given (and
        # logs each failure: with 4096 and no descriptors left, that stalled the loop for
        # half a second at a time). So asyncio gets a small number, and the kernel's queue
        # the configured one.
        # A TLS handshake is part of a request's head: it gets the same time (slowloris).
        tls: dict[str, Any] = (
            {"ssl": self._ssl_context, "ssl_handshake_timeout": self._handshake_timeout}
            if self._ssl_context
            else {}
        )
        if self._sock is not None:  # bound before start-up (the port was checked early)
            server = await loop.create_server(self.guard, sock=self._sock, backlog=ACCEPTS, **tls)
        else:
            server = await loop.create_server(
                self.guard, self._host, self._port, backlog=ACCEPTS, **tls
            )
        self._server = server
        for listening in server.sockets:
            with socket.socket(fileno=os.dup(listening.fileno())) as same:
                same.listen(self._backlog)


def runner_options(config: Config) -> dict[str, Any]:
    """aiohttp's own connection settings: the idle keep-alive time."""
    return {"keepalive_timeout": float(config.idle_timeout)}


async def listen(
    runner: web.AppRunner,
    config: Config,
    *,
    sock: socket.socket | None = None,
    ssl_context: ssl.SSLContext | None = None,
) -> GuardedSite:
    """Listen on ``config.host``/``port`` (or the already bound ``sock``) with the connection
    budgets of ``config``; HTTPS with ``ssl_context``."""
    limits = ConnectionLimits.of(config)
    trusted = TrustedProxies(config.trusted_proxies)
    assert runner.server is not None, "runner.setup() first"
    guard = ConnectionGuard(
        api_protocols(runner.server), limits, trusted, runner.app.get(HTTP_STATS)
    )
    quiet_accept_errors(asyncio.get_running_loop())
    site = GuardedSite(
        runner,
        config.host,
        config.port,
        guard=guard,
        backlog=config.listen_backlog,
        sock=sock,
        ssl_context=ssl_context,
        handshake_timeout=float(config.header_timeout),
    )
    await site.start()
    log.info(
        "connections: at most %d (%s per address), request head %g s, body %g s, idle %g s",
        limits.max_connections,
        limits.per_address or "no cap",
        limits.header_timeout,
        limits.body_timeout,
        limits.idle_timeout,
    )
    return site


def quiet_accept_errors(loop: asyncio.AbstractEventLoop) -> None:
    """Replace asyncio's traceback per failed ``accept()`` (EMFILE: out of descriptors) with
    one line every ``ACCEPT_ERROR_LOG_EVERY`` seconds, counting the ones not logged."""
    state = {"last": float("-inf"), "quiet": 0}
    previous = loop.get_exception_handler()

    def handler(loop: asyncio.AbstractEventLoop, context: dict[str, Any]) -> None:
        if context.get("message") == "socket.accept() out of system resource":
            now = time.monotonic()
            if now - state["last"] >= ACCEPT_ERROR_LOG_EVERY:
                exc = context.get("exception")
                log.error(
                    "cannot accept connections: %s (%d more since the last line); "
                    "lower server.max_connections or raise the descriptor limit (ulimit -n)",
                    getattr(exc, "strerror", None) or exc,
                    state["quiet"],
                )
                state["last"], state["quiet"] = now, 0
            else:
                state["quiet"] += 1
            return
        if previous is not None:
            previous(loop, context)
        else:
            loop.default_exception_handler(context)

    loop.set_exception_handler(handler)
