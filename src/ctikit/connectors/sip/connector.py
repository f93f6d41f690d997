"""The SIP connector: a thin asyncio pump between baresip phones and the core.

One :class:`CtrlConnection` per agent line (one baresip process each, see :mod:`.mapping`),
kept open with reconnects and back-off. Events go through :class:`~.mapping.SipModel` to the
sink in arrival order. Commands for a line are serialised by a per-line lock, because some
actions are several baresip commands that must not interleave (``uafind`` + ``dial`` +
``callstat``; ``callfind`` + ``hold`` when a line ever holds two calls).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from ...core import transitions
from ...core.commands import Action
from ...core.telephony import ConnectorAction, LineStatus, TelephonyEvent
from ..base import ActionFailedError, Capability, EventSink
from ..directory import Directory
from ..sim.callers import random_caller
from .baresip import (
    BaresipEvent,
    Response,
    parse_call_count,
    parse_callstat,
    parse_mute,
    parse_reginfo,
    sip_uri,
)
from .ctrl import CtrlConnection, CtrlError
from .mapping import PhoneLine, SipCall, SipModel

log = logging.getLogger(__name__)

# The baresip command for simple actions, and what it leaves pending until an event confirms.
_SIMPLE: dict[Action, tuple[str, Action | None]] = {
    Action.ANSWER: ("accept", Action.ANSWER),
    Action.HANGUP: ("hangup", Action.HANGUP),
    Action.HOLD: ("hold", Action.HOLD),
    Action.RETRIEVE: ("resume", Action.RETRIEVE),
}


@dataclass(frozen=True, slots=True, kw_only=True)
class LineEndpoint:
    """Where one agent line's baresip ``ctrl_tcp`` listens, and the AORs it registers
    (the agent's own extension first, then queue numbers)."""

    agent: str
    host: str
    port: int
    aors: tuple[str, ...]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallerEndpoint:
    """A baresip phone that plays the customer for :meth:`SipConnector.place_inbound_call`
    (it needs no registration: it only dials)."""

    host: str
    port: int


class _NotReady(Exception):
    """A line's baresip could not be reached or did not answer."""


class _Line:
    """Pump-side state of one line: its connection, lock and reconnect task."""

    def __init__(self, endpoint: LineEndpoint, state: PhoneLine) -> None:
        self.endpoint = endpoint
        self.state = state
        self.conn: CtrlConnection | None = None
        self.lock = asyncio.Lock()
        self.task: asyncio.Task[None] | None = None


class SipConnector:
    """SIP telephony through baresip phones and a proxy (implements ``Connector``).

    ``lines`` says where each agent line's baresip listens; ``directory`` maps extensions to
    agents (INTERNAL calls, transfers); ``proxy`` is the registrar/proxy that numbers are
    dialled through; ``caller``, a phone that places test calls (``place_inbound_call``).
    It starts no process: the phones may be anyone's (``ctikit.lab`` runs a lab of them).
    """

    name = "sip"

    def __init__(
        self,
        lines: Sequence[LineEndpoint],
        *,
        directory: Directory,
        proxy: tuple[str, int],
        caller: CallerEndpoint | None = None,
        clock: Callable[[], float] = time.time,
        request_timeout: float = 5.0,
        ready_timeout: float = 15.0,
        reconnect: tuple[float, float] = (0.05, 2.0),
        confirm_timeout: float = 10.0,
    ) -> None:
        self.model = SipModel(directory)
        self.proxy = proxy
        self._clock = clock
        self._request_timeout = request_timeout
        self._ready_timeout = ready_timeout
        self._reconnect = reconnect
        self._confirm_timeout = confirm_timeout
        self._watchers: set[asyncio.Task[None]] = set()
        self._lines = [_Line(ep, self.model.add_line(ep.agent, ep.aors)) for ep in lines]
        self._by_state = {id(ln.state): ln for ln in self._lines}
        self._dial_locks: dict[str, asyncio.Lock] = {}
        self._sink: EventSink | None = None
        self._all_up = asyncio.Event()  # set whenever every line is up
        self._caller = caller
        self._caller_conn: CtrlConnection | None = None
        self._caller_lock = asyncio.Lock()
        self._caller_uas: set[str] = set()  # ANIs the caller phone has a UA for
        self._rng = random.Random()

    @property
    def running(self) -> bool:
        return self._sink is not None

    @property
    def capabilities(self) -> frozenset[Capability]:
        """Test calls need a caller phone; calls on lines are not taken over (no adopt)."""
        return frozenset({Capability.PLACE_CALLS}) if self._caller is not None else frozenset()

    # ----------------------------------------------------------------- Connector

    async def start(self, sink: EventSink) -> None:
        """Connect every line and wait (up to ``ready_timeout``) until they are up. Lines
        that are not keep reconnecting in the background."""
        if self._sink is not None:
            raise RuntimeError("the SIP connector is already running")
        self._sink = sink
        try:
            loop = asyncio.get_running_loop()
            for line in self._lines:
                line.task = loop.create_task(self._run_line(line), name=f"sip {line.state.name}")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._all_up.wait(), self._ready_timeout)
        except BaseException:
            await self.stop()
            raise

    async def stop(self) -> None:
        """Disconnect, report every call released and every agent down."""
        if self._sink is None:
            return
        tasks = [ln.task for ln in self._lines if ln.task is not None] + list(self._watchers)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for line in self._lines:
            line.task = None
            if line.conn is not None:
                await line.conn.close()
                line.conn = None
        if self._caller_conn is not None:
            await self._caller_conn.close()
            self._caller_conn = None
        self._report_all(self.model.stopped("SIP connector stopped"))
        self._sink = None

    async def execute(self, action: ConnectorAction) -> None:
        """Send ``action`` to the agent's phone; raises :class:`ActionFailedError` if baresip
        refuses it or cannot be reached. Outcomes arrive later as events."""
        if self._sink is None:
            raise ActionFailedError("the SIP connector is not running")
        if action.action is Action.DIAL:
            await self._dial(action)
            return
        call = self.model.find_call(action.agent, action.call_id)
        line = self._by_state[id(call.line)]
        async with line.lock:
            self._check(call, action.action)
            act = action.action
            if act in _SIMPLE:
                command, pending = _SIMPLE[act]
                await self._call_command(line, call, command, None, pending)
                if pending is not None:
                    self._watch(call, pending)
            elif act in (Action.MUTE, Action.UNMUTE):
                await self._mute(line, call, act is Action.MUTE)
            elif act is Action.DTMF:
                if not action.digits:
                    raise ActionFailedError("/DTMF needs DIGITS")
                await self._call_command(line, call, "sndcode", action.digits, None)
            elif act is Action.TRANSFER:
                if not action.number:
                    raise ActionFailedError("/TRANSFER needs a NUMBER")
                target = self.model.directory.agent_for(action.number)
                if target == call.line.agent:
                    raise ActionFailedError("cannot transfer a call to yourself")
                data = action.data if isinstance(action.data, Mapping) else None
                before = (call.pending, call.transfer_to)
                self.model.transfer_started(call, action.number, data, self._clock())
                try:
                    await self._call_command(
                        line, call, "transfer", sip_uri(action.number, *self.proxy), Action.TRANSFER
                    )
                except ActionFailedError:
                    call.pending, call.transfer_to = before
                    raise
            else:  # consult and conference: baresip 1.0.0 cannot (no capability claimed)
                raise ActionFailedError(f"/{act}: not supported by this connector (sip)")

    # ----------------------------------------------------------------- CallPlacer

    async def place_inbound_call(
        self,
        agent: str,
        *,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> str:
        """Make the caller phone call ``agent``'s extension as ``ani``; returns the SIP
        Call-ID. The offer carries ``data`` and shows ``dnis`` (made up when missing)."""
        if self._sink is None:
            raise ActionFailedError("the SIP connector is not running")
        if self._caller is None:
            raise ActionFailedError("no caller phone configured: cannot place test calls")
        ext = self.model.directory.extension_of(agent)
        if ext is None:
            raise ActionFailedError(f"{agent} has no extension")
        if ani is None or dnis is None or data is None:
            made_up = random_caller(self._rng)
            ani = made_up.ani if ani is None else ani
            dnis = made_up.dnis if dnis is None else dnis
            data = made_up.data if data is None else data
        aor = sip_uri(ani, *self.proxy)
        async with self._caller_lock:
            conn = await self._caller_connection()
            try:
                if ani not in self._caller_uas:
                    # A UA per ANI, never registered, so the call's From is the ANI.
                    await self._ok(conn, "uanew", f"<{aor};transport=udp>;regint=0")
                    self._caller_uas.add(ani)
                self.model.expect_call(agent, ani, data, dnis=dnis, now=self._clock())
                await self._ok(conn, "uafind", aor)
                await self._ok(conn, "dial", sip_uri(ext, *self.proxy))
                found = parse_callstat((await self._ok(conn, "callstat")).data)
            except CtrlError as exc:
                raise ActionFailedError(f"caller phone: {exc}") from None
        if found is None:
            raise ActionFailedError("the caller phone did not start the call")
        return found[1]

    async def caller_hangup(self, call_id: str) -> None:
        """The caller phone hangs up its call ``call_id`` (the SIP Call-ID)."""
        async with self._caller_lock:
            conn = await self._caller_connection()
            try:
                await self._ok(conn, "callfind", call_id)
                await self._ok(conn, "hangup")
            except CtrlError as exc:
                raise ActionFailedError(f"caller phone: {exc}") from None

    async def _caller_connection(self) -> CtrlConnection:
        assert self._caller is not None
        conn = self._caller_conn
        if conn is None or conn.closed:
            if conn is not None:
                await conn.close()
            try:
                conn = await CtrlConnection.open(
                    self._caller.host,
                    self._caller.port,
                    name="caller",
                    reply_timeout=self._request_timeout,
                )
            except OSError as exc:
                raise ActionFailedError(f"caller phone not reachable: {exc}") from None
            self._caller_conn, self._caller_uas = conn, set()
        return conn

    @staticmethod
    async def _ok(conn: CtrlConnection, command: str, params: str | None = None) -> Response:
        resp = await conn.request(command, params)
        if not resp.ok:
            raise ActionFailedError(f"caller phone refused {command}: {resp.data.strip()}")
        return resp

    # ------------------------------------------------------------------ actions

    def _check(self, call: SipCall, act: Action) -> None:
        # The call may have ended while we waited for the line: never act on whatever call
        # baresip holds now instead.
        if call.sip_id is None or call.line.calls.get(call.sip_id) is not call:
            raise ActionFailedError(f"call {call.key!r} is over")
        if call.pending is Action.HANGUP:
            raise ActionFailedError(f"call {call.key!r} is already being hung up")
        if act is Action.HANGUP:
            return
        if call.pending is not None:
            raise ActionFailedError(f"call {call.key!r}: /{call.pending} is still in progress")
        # The core's table again, on our own view: the registry's lags behind it.
        if not transitions.allows(act, call.line_state) or (act is Action.ANSWER and call.outgoing):
            raise ActionFailedError(
                f"/{act} needs a {transitions.needs(act)} call; call {call.key!r} is {call.state}"
            )

    async def _call_command(
        self, line: _Line, call: SipCall, command: str, params: str | None, pending: Action | None
    ) -> Response:
        """Run a command on ``call`` (selecting it first if the line has several calls)."""
        before = call.pending
        if pending is not None:
            # Set before sending: the confirming event may arrive before the reply.
            self.model.set_pending(call, pending)
        try:
            if len(line.state.calls) > 1 and call.sip_id is not None:
                await self._request(line, "callfind", call.sip_id)
            return await self._request(line, command, params)
        except ActionFailedError:
            if call.pending is pending:
                self.model.set_pending(call, before)
            raise

    def _watch(self, call: SipCall, action: Action) -> None:
        """Report ActionFailed if no event confirms ``action`` within ``confirm_timeout``."""

        async def watch() -> None:
            await asyncio.sleep(self._confirm_timeout)
            self._report_all(self.model.pending_expired(call, action))

        task = asyncio.get_running_loop().create_task(watch(), name=f"confirm {action}")
        self._watchers.add(task)
        task.add_done_callback(self._watchers.discard)

    async def _mute(self, line: _Line, call: SipCall, want: bool) -> None:
        # baresip 1.0.0's "mute" toggles and says which way it went: toggle until it matches.
        for _ in range(2):
            resp = await self._call_command(line, call, "mute", None, None)
            state = parse_mute(resp.data)
            if state is None:
                raise ActionFailedError(f"baresip did not say whether it muted: {resp.data!r}")
            self._report_all(self.model.muted(call, state))
            if state is want:
                return
        raise ActionFailedError("baresip did not change the mute state")

    async def _dial(self, action: ConnectorAction) -> None:
        number = action.number
        if not number:
            raise ActionFailedError("/DIAL needs a NUMBER")
        # One dial at a time per agent, so two cannot pick the same free line.
        async with self._dial_locks.setdefault(action.agent, asyncio.Lock()):
            state = self.model.free_line(action.agent)
            line = self._by_state[id(state)]
            async with line.lock:
                call = self.model.begin_dial(state, number)
                try:
                    await self._request(line, "uafind", state.aors[0])
                    await self._request(line, "dial", sip_uri(number, *self.proxy))
                except ActionFailedError as exc:
                    self._report_all(self.model.dial_failed(call, str(exc)))
                    raise
                # The dial reply carries no Call-ID; callstat does (events may beat it).
                with contextlib.suppress(ActionFailedError):
                    found = parse_callstat((await self._request(line, "callstat")).data)
                    if found is not None:
                        self._report_all(self.model.dial_identified(call, found[1]))

    async def _request(self, line: _Line, command: str, params: str | None = None) -> Response:
        conn = line.conn
        if conn is None or conn.closed:
            raise ActionFailedError(f"{line.state.name} is down: {line.state.reason}")
        try:
            resp = await conn.request(command, params)
        except CtrlError as exc:
            raise ActionFailedError(str(exc)) from None
        if not resp.ok:
            raise ActionFailedError(
                f"baresip refused {command}: {resp.data.strip() or 'no reason given'}"
            )
        return resp

    # --------------------------------------------------------- the line pumps

    async def _run_line(self, line: _Line) -> None:
        """Keep ``line`` connected: connect, sync, pump events until closed, repeat; after
        ``ready_timeout`` without success, report the line down (once)."""
        loop = asyncio.get_running_loop()
        delay = self._reconnect[0]
        down_since = loop.time()
        reported = False
        while True:
            try:
                await self._serve_line(line)
                delay, down_since, reported = self._reconnect[0], loop.time(), False
                continue  # it was up and went down (reported): reconnect at once
            except _NotReady as exc:
                why = str(exc)
            except Exception as exc:  # a bug must not end the line's supervision
                log.exception("%s: unexpected error", line.state.name)
                why = f"internal error: {exc!r}"
            if not reported and loop.time() - down_since > self._ready_timeout:
                reported = True
                self._report_all(self.model.line_lost(line.state, why))
            await asyncio.sleep(delay)
            delay = min(delay * 2, self._reconnect[1])

    async def _serve_line(self, line: _Line) -> None:
        """One connection's life; raises :class:`_NotReady` if it never got going."""
        ep = line.endpoint
        try:
            conn = await CtrlConnection.open(
                ep.host,
                ep.port,
                lambda ev, line=line: self._on_event(line, ev),  # type: ignore[misc]
                name=line.state.name,
                reply_timeout=self._request_timeout,
            )
        except OSError as exc:
            raise _NotReady(f"baresip not reachable at {ep.host}:{ep.port} ({exc})") from None
        line.conn = conn
        try:
            try:
                registered = await self._sync(line, conn)
            except CtrlError as exc:
                raise _NotReady(f"baresip at {ep.host}:{ep.port} does not answer: {exc}") from None
            self._report_all(self.model.line_connected(line.state, registered))
            reason = await conn.wait_closed()
        finally:
            line.conn = None
            await conn.close()
        log.warning("%s: lost: %s", line.state.name, reason)
        self._report_all(self.model.line_lost(line.state, reason))

    async def _sync(self, line: _Line, conn: CtrlConnection) -> dict[str, bool]:
        """Read registrations; hang up calls we know nothing of (left from a lost link)."""
        count = parse_call_count((await conn.request("listcalls")).data) or 0
        if count:
            log.warning("%s: hanging up %d call(s) we know nothing of", line.state.name, count)
            for _ in range(count):
                await conn.request("hangup")
        return parse_reginfo((await conn.request("reginfo")).data)

    def _on_event(self, line: _Line, ev: BaresipEvent) -> None:
        if line.conn is None:
            return
        self._report_all(self.model.event(line.state, ev, self._clock()))

    def _report_all(self, events: list[TelephonyEvent]) -> None:
        # Scanning every line is O(lines) per event (1.1 of 6.7 s busy at 120 lines, 100
        # calls/s): do it only while start() waits, or when a line status changed.
        if not self._all_up.is_set() or any(isinstance(e, LineStatus) for e in events):
            if all(ln.state.up for ln in self._lines):
                self._all_up.set()
            else:
                self._all_up.clear()
        sink = self._sink
        if sink is None:
            return
        for event in events:
            try:
                sink.report(event)
            except Exception:
                # The sink promises not to raise; if it does, keep the lines running.
                log.exception("event sink raised on %r", event)
