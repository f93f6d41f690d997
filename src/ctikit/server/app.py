"""Assemble the aiohttp application and run it."""

from __future__ import annotations

import asyncio
import errno
import gc
import logging
import signal
import socket
import time
from collections.abc import Callable
from pathlib import Path

from aiohttp import web

from ..config import Config
from ..connectors.base import Connector
from ..connectors.webrtc import WebrtcConnector
from ..core.ratelimit import SharedBuckets
from ..storage import AccountStore, CallLogStore, CallStateStore
from . import audit_api, metrics, probes, rest, static, webhooks_api
from .addresses import TrustedProxies
from .audit import AUDIT, AuditLog
from .auth import Authenticator
from .backend import InMemoryBackend
from .connections import (
    BODY_TIMEOUT,
    HTTP_STATS,
    ConnectionStats,
    body_deadline,
    listen,
    runner_options,
)
from .hub import Hub
from .keys import AUTH, CONFIG, HUB, PHONES, SCENARIO, SERVICE, TRUSTED_PROXIES
from .measures import CALL_LOG_COMMIT_SECONDS
from .openapi import openapi_routes
from .requestlog import quiet_malformed_requests, request_context
from .service import CtiService
from .sessions import SESSIONS, SessionSockets, sweep_seconds
from .supervisor import FEED, SupervisorFeed, supervisor_socket
from .telephony import LocalTelephony, UnsupportedError
from .tls import tls_context
from .webhooks import Webhooks
from .ws import REQUEST_BYTES, SOCKETS, SocketBudget, websocket_handler

log = logging.getLogger("ctikit.server")


def make_connector(config: Config) -> Connector:
    if config.connector == "sim":
        from ..connectors.sim import Directory, SimTimings, SimulatorConnector

        directory = Directory({a.extension: a.id for a in config.agents if a.extension})
        timings = SimTimings(ring_timeout=config.sim_ring_timeout)
        return SimulatorConnector(directory=directory, timings=timings)
    if config.connector == "sip":
        # The only SIP server ctikit can use so far is the lab it runs itself.
        from ..lab import LabConnector

        extensions = {a.id: a.extension for a in config.agents if a.extension}
        if not extensions:
            raise ValueError("the sip connector needs [[agents]] with extensions")
        return LabConnector.new(
            extensions,
            lines=config.sip_lines,
            queue=config.sip_queue,
            root=Path(config.sip_root) if config.sip_root else None,
        )
    if config.connector == "webrtc" and config.demo and config.webrtc_ws_url is None:
        # ctikit demo --webrtc: the SIP server is a lab started here (docs/webrtc.md).
        from ..lab.webdemo import WebrtcLabConnector

        extensions = {a.id: a.extension for a in config.agents if a.extension}
        return WebrtcLabConnector.new(extensions, grace=config.webrtc_grace_seconds)
    if config.connector == "webrtc":
        from ..connectors.webrtc import SipAccount

        if config.webrtc_ws_url is None or config.webrtc_domain is None:
            raise ValueError("the webrtc connector needs webrtc_ws_url and webrtc_domain")
        accounts = {
            a.id: SipAccount(extension=a.extension, password=a.sip_password)
            for a in config.agents
            if a.extension and a.sip_password
        }
        return WebrtcConnector(
            accounts,
            ws_url=config.webrtc_ws_url,
            domain=config.webrtc_domain,
            grace=config.webrtc_grace_seconds,
        )
    raise ValueError(f"unknown connector {config.connector!r} (known: sim, sip, webrtc)")


@web.middleware
async def security_headers(request: web.Request, handler):  # type: ignore[no-untyped-def]
    resp = await handler(request)
    resp.headers.setdefault("X-Content-Type-Options", "nosniff")
    resp.headers.setdefault("Referrer-Policy", "no-referrer")
    return resp


#: Builds the service of an app from its parts: the config, the connector it was given (or
#: made), the call log store and the hub of console sockets.
ServiceFactory = Callable[[Config, Connector, CallLogStore, Hub], CtiService]


def single_node_service(
    config: Config, connector: Connector, store: CallLogStore, hub: Hub
) -> CtiService:
    """The default: call state in this process (saved to the database for restarts), the
    connector driven here."""
    backend = InMemoryBackend(
        hub, config.limits, state_store=CallStateStore(store), policy=config.agent_state.policy()
    )
    telephony = LocalTelephony(connector, command_timeout=config.command_timeout)
    return CtiService(backend, telephony, store, hub, hold_on_answer=config.hold_on_answer)


async def build_app(
    config: Config,
    *,
    connector: Connector | None = None,
    store: CallLogStore | None = None,
    make_service: ServiceFactory = single_node_service,
) -> web.Application:
    """A ready application: storage opened and migrated, connector started."""
    quiet_malformed_requests()
    app = web.Application(
        middlewares=[request_context, rest.json_errors, security_headers, body_deadline],
        client_max_size=1024 * 1024,
    )
    app[CONFIG] = config
    app[TRUSTED_PROXIES] = TrustedProxies(config.trusted_proxies)
    app[BODY_TIMEOUT] = float(config.body_timeout)
    app[HTTP_STATS] = ConnectionStats()
    app[SOCKETS] = SocketBudget(config.max_sockets_per_agent)
    app[REQUEST_BYTES] = SharedBuckets(
        config.max_request_bytes_per_second,
        max(config.max_request_bytes_burst, config.max_frame_bytes),
    )
    app[SESSIONS] = SessionSockets()
    hub = Hub()
    owned_store = store is None
    store = store or await CallLogStore.open(config.database)
    store.observe_commit = CALL_LOG_COMMIT_SECONDS.observe
    connector = connector or make_connector(config)
    service = make_service(config, connector, store, hub)
    service.open_cti = config.open_cti
    app[HUB], app[SERVICE] = hub, service
    phones = getattr(connector, "connector", connector)  # the demo's lab wraps it
    if isinstance(phones, WebrtcConnector):
        app[PHONES] = phones
    hooks = app[webhooks_api.WEBHOOKS] = Webhooks(store, config)
    store.log_outbox, store.outbox_written = hooks.log_rows, hooks.wake
    service.backend.on_commit(hooks.tap)
    service.before_ack = hooks.flushed
    audit = app[AUDIT] = AuditLog(store, config.audit_retention_days)
    service.record = audit.record
    accounts = AccountStore(store, actor="config")  # adds the config file's users
    app[AUTH] = await Authenticator.for_config(config, accounts, service.backend.login_redis)
    await _add_config_users(accounts, config)
    app.router.add_get("/ws", websocket_handler)
    app.router.add_routes(probes.routes)
    app.router.add_routes(webhooks_api.routes)
    app.router.add_routes(audit_api.routes)
    app[FEED] = SupervisorFeed(
        service,
        config.supervisor.thresholds(),
        {a.id: a.name for a in config.agents if a.name},
        time.time,
    )
    app.router.add_get("/ws/supervisor", supervisor_socket)
    app.router.add_routes(rest.routes)
    app.router.add_routes(openapi_routes)
    metrics.setup(app)
    app.router.add_routes(static.routes)
    static.add_static(app, config.examples_dir)

    async def lifecycle(app: web.Application):  # type: ignore[no-untyped-def]
        await hooks.refresh(force=True)  # events from the start on find their endpoints
        await service.start()
        sender = asyncio.create_task(hooks.run())
        retention = asyncio.create_task(audit.run())
        housekeeping = asyncio.create_task(_housekeeping(hub))
        sweeper = asyncio.create_task(
            app[SESSIONS].run(accounts, every=sweep_seconds(config.session_cache_seconds))
        )
        if config.scenario:
            try:
                app[SCENARIO] = service.telephony.run_scenario(config.scenario)  # running
            except UnsupportedError as exc:
                raise ValueError(exc.message) from None
        yield
        task = app.get(SCENARIO)
        if task is not None:
            task.cancel()
        housekeeping.cancel()
        sweeper.cancel()
        sender.cancel()
        retention.cancel()
        # Awaited: a task cancelled inside a transaction must give its connection back
        # before the store closes (else the driver's thread outlives the loop).
        await asyncio.gather(sender, retention, return_exceptions=True)
        app[AUTH].close()
        gc.unfreeze()  # an embedding process (tests) gets its heap back to collect
        await service.stop()
        await audit.flushed()
        try:  # the last events' outbox rows (the connector has stopped: no more come)
            await asyncio.wait_for(hooks.flushed(), 5)
        except Exception as exc:
            log.error("webhook outbox rows not written at shutdown: %s", exc)
        if owned_store:
            await store.close()

    app.cleanup_ctx.append(lifecycle)
    app.on_shutdown.append(_close_consoles)
    return app


async def _close_consoles(app: web.Application) -> None:
    """On shutdown (new connections already refused): send what is queued, then close each
    console socket with 1001 "going away", so consoles reconnect (to another node) at once."""
    boxes = list(app[HUB].all_outboxes())
    await asyncio.gather(*(box.drain(within=2.0) for box in boxes))
    await asyncio.gather(
        *(box.ws.close(code=1001, message=b"server shutting down") for box in boxes),
        return_exceptions=True,
    )


async def serve(
    config: Config, *, announce: bool = True, make_service: ServiceFactory = single_node_service
) -> None:
    """Run until SIGINT/SIGTERM. Prints ``ctikit listening on URL`` once ready."""
    # The certificate, then the port: if either is wrong, nothing else (migrations, saved
    # calls) has happened.
    ssl_context = tls_context(config)
    sockets = listen_sockets(config.host, config.port, config.listen_backlog)
    try:
        app = await build_app(config, make_service=make_service)
        runner = web.AppRunner(
            app, access_log=None, handle_signals=False, shutdown_timeout=5, **runner_options(config)
        )
        await runner.setup()
    except BaseException:
        for sock in sockets:
            sock.close()
        raise
    # A large backlog: after a network blip thousands of consoles reconnect at once, and
    # with the default 128 the kernel drops their SYNs (SYN cookies, retries after 1-3 s).
    # Connection budgets (caps, header/body timeouts): connections.py.
    for sock in sockets:
        await listen(runner, config, sock=sock, ssl_context=ssl_context)
    port = runner.addresses[0][1] if runner.addresses else config.port
    host = config.host if ":" not in config.host else f"[{config.host}]"
    url = f"{'https' if ssl_context else 'http'}://{host}:{port}"
    if announce:
        print(f"ctikit listening on {url}", flush=True)
        agent = config.agents[0].id if config.agents else "agent1"
        print(f"  agent console:  {url}/console?agent={agent}", flush=True)
        print(f"  supervisor:     {url}/supervisor", flush=True)
        print(f"  REST API:       {url}/api/openapi.json", flush=True)
    log.info(
        "listening on %s (connector %s, database %s)",
        url,
        config.connector,
        _redact(config.database),
    )
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("shutting down")
        await runner.cleanup()


class ListenError(OSError):
    """The server cannot listen where the configuration says; the message says why."""


def listen_sockets(host: str, port: int, backlog: int) -> list[socket.socket]:
    """Listening sockets for every address ``host`` resolves to, as asyncio's create_server
    makes them (SO_REUSEADDR; IPv6 sockets IPv6-only). Listening at once holds the port:
    consoles that connect before the app is ready wait in the backlog."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise ListenError(
            f"cannot listen on host {host!r}: {exc.strerror}; set --host or [server].host "
            "to an address of this machine"
        ) from None
    sockets: list[socket.socket] = []
    try:
        for family, kind, proto, _, address in dict.fromkeys(infos):
            sock = socket.socket(family, kind, proto)
            sockets.append(sock)
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            if family == socket.AF_INET6:
                sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
            sock.bind(address)
            sock.listen(backlog)
            sock.setblocking(False)
    except OSError as exc:
        for sock in sockets:
            sock.close()
        raise ListenError(_listen_failure(host, port, exc)) from None
    return sockets


def _listen_failure(host: str, port: int, exc: OSError) -> str:
    where = f"{host} port {port}"
    if exc.errno == errno.EADDRINUSE:
        return (
            f"{where} is already in use (another ctikit?); stop that server or choose another "
            "port with --port or [server].port"
        )
    if exc.errno == errno.EACCES:
        return (
            f"no permission to listen on {where} (ports below 1024 need privileges); choose "
            "--port 1024 or above"
        )
    if exc.errno == errno.EADDRNOTAVAIL:
        return f"{host} is not an address of this machine; set --host or [server].host"
    return f"cannot listen on {where}: {exc.strerror or exc}"


async def _housekeeping(hub: Hub, every: float = 2.0, full_every: float = 3600.0) -> None:
    """Keep the garbage collector's full collections short, and log connection counts.

    CPython runs a full collection whenever objects that reached the oldest generation have
    grown by a quarter, and it walks every tracked object that is not frozen: with 10,000 to
    20,000 consoles that was 0.1-0.5 s during which no event was sent (bench/RESULTS.md,
    day). What survives two young collections here has mostly come to stay (sockets,
    outboxes, a console's pending read, timers, agents' state), so every pass collects the
    young generations (milliseconds) and freezes what survived: a full collection then walks
    only what arrived since the last pass. Frozen objects are still freed by reference
    counting, as most are; garbage in reference cycles among them waits for the hourly
    unfreeze, full collection and freeze.
    """
    # (Not gc.get_freeze_count() here: it walks the whole frozen list, ~1.7 million objects
    # with 20,000 consoles.)
    last_full, last_logged = time.monotonic(), -1
    while True:
        await asyncio.sleep(every)
        now, count = time.monotonic(), hub.total_connections()
        if count != last_logged:
            log.info("%d console sockets open", count)
            last_logged = count
        if now - last_full > full_every:
            started = time.perf_counter()
            gc.unfreeze()
            gc.collect()
            last_full = now
            log.info("hourly full collection: %.0f ms", (time.perf_counter() - started) * 1e3)
        else:
            gc.collect(1)
        gc.freeze()


async def _add_config_users(accounts: AccountStore, config: Config) -> None:
    for user in config.users:
        if await accounts.get_user(user.username) is None:
            await accounts.add_user(
                user.username,
                role=user.role,
                password_hash=user.password_hash,
                agent_id=user.agent or (user.username if user.role == "agent" else None),
                team=user.team,
            )
            log.info("added user %s from the config file", user.username)


def _redact(url: str) -> str:
    if "@" in url and "://" in url:
        scheme, rest = url.split("://", 1)
        return f"{scheme}://***@{rest.split('@', 1)[1]}"
    return url


def default_examples_dir() -> str | None:
    """The repository's examples/ folder, when running from a checkout."""
    candidate = Path(__file__).resolve().parents[3] / "examples"
    return str(candidate) if candidate.is_dir() else None
