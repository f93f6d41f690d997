"""The CTI service: one place where requests, connector events and storage meet the core.

Every operation validates through the core registry, publishes the resulting events to the
agent's consoles through the hub, and, for CTI commands, hands the resolved action to the
connector. Handlers (WebSocket, REST) only translate to and from this API.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping
from datetime import UTC, datetime
from typing import Any, TypeVar

from ..connectors.base import ActionFailedError, CallPlacer, Connector
from ..core import commands
from ..core.commands import Action
from ..core.errors import (
    CommandRejectedError,
    CtiRequestError,
    TelephonyError,
    TooLongError,
    UnknownCallError,
)
from ..core.events import CallBegan, CallEnded, CallsReplaced, CallUpdated, Event
from ..core.jsonvalue import check_text
from ..core.model import CallView, check_agent_list
from ..core.registry import CallRegistry
from ..core.telephony import CallOffered, CallReleased, ConnectorAction, TelephonyEvent
from ..storage import CallLog, CallLogStore, CallStateStore, NewCallLog
from . import wire
from .hub import Hub, Outbox

log = logging.getLogger("ctikit.service")

T = TypeVar("T")

MAX_SUBJECT = 255
MAX_COMMENTS = 32 * 1024
#: Agents one campaign request may name (a request body is capped at 1 MiB anyway).
MAX_CAMPAIGN_AGENTS = 50_000
#: Agents changed in one step of the event loop by a change to many (~10 ms of work).
BULK_CHUNK = 1000


class UnsupportedError(CtiRequestError):
    code = "unsupported"


class CtiService:
    """See the module docstring. ``clock`` returns seconds since the epoch."""

    def __init__(
        self,
        registry: CallRegistry,
        connector: Connector,
        store: CallLogStore,
        hub: Hub,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.registry = registry
        self.connector = connector
        self.store = store
        self.hub = hub
        self.clock = clock
        #: Names this server's event numbering: sequence numbers restart with the process,
        #: so a console's replay cursor is valid only with the same epoch.
        self.epoch = secrets.token_hex(8)
        self._tasks: set[asyncio.Task[None]] = set()
        #: Where active calls are saved for restarts (None: not saved).
        self.state_store: CallStateStore | None = None
        self._dirty: set[str] = set()
        self._persist: asyncio.Task[None] | None = None
        self._stop_persisting = asyncio.Event()
        #: Telephony events the core refused (impossible transitions, calls the agent does
        #: not have, bad offered data) since start: each is logged, dropped and counted here.
        self.dropped_events = 0

    # ------------------------------------------------------------ state hooks
    # Every operation goes through these two, so a subclass can keep the state elsewhere
    # (ctikit.cluster keeps it in Redis and publishes through it).

    async def _run(self, agent: str, change: Callable[[CallRegistry], list[Event]]) -> list[Event]:
        """Apply ``change`` to the agent's state; publish and return the events it caused."""
        events = change(self.registry)
        self._publish(events)
        return events

    async def _read(self, agent: str, look: Callable[[CallRegistry], T]) -> T:
        """Read the agent's state."""
        return look(self.registry)

    async def _run_many(
        self, agents: list[str], change: Callable[[CallRegistry, list[str]], list[Event]]
    ) -> int:
        """Apply ``change`` to many agents' states (a pass over the registry per chunk of
        agents); publish the events and return how many agents it reached."""
        for start in range(0, len(agents), BULK_CHUNK):
            if start:
                # Other consoles' requests and call events get the loop between chunks.
                await asyncio.sleep(0)
            self._publish(change(self.registry, agents[start : start + BULK_CHUNK]))
        return len(agents)

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the connector and put back the calls saved before a restart."""
        await self.connector.start(self)
        if self.state_store is not None:
            await self.restore_calls()
            self._stop_persisting = asyncio.Event()
            self._persist = asyncio.create_task(self.persist_forever(self._stop_persisting))

    async def stop(self) -> None:
        """Save what is on the lines now (for the restart) and stop the connector."""
        if self._persist is not None:
            self._stop_persisting.set()
            await self._persist
            self._persist = None
        await self.connector.stop()

    # ---------------------------------------------------------- connector side

    def report(self, event: TelephonyEvent) -> None:
        """:class:`~ctikit.connectors.base.EventSink`: a connector reports an event."""
        try:
            events = self.registry.apply(event, now=self.clock())
        except TelephonyError as exc:
            self._dropped(event, exc)
            return
        self._publish(events)

    def _dropped(self, event: TelephonyEvent, exc: TelephonyError) -> None:
        self.dropped_events += 1
        log.warning("dropped telephony event %s: %s", type(event).__name__, exc.message)
        if isinstance(event, CallOffered):
            # The phone has a call the agent cannot see (over a limit, bad data):
            # hang it up rather than leave a line nobody can reach.
            self._refuse_line_call(event.agent, event.call_id)

    def _refuse_line_call(self, agent: str, call_id: str) -> None:
        action = ConnectorAction(agent=agent, action=Action.HANGUP, call_id=call_id)

        async def hang_up() -> None:
            try:
                await self.connector.execute(action)
            except Exception as exc:  # logged: nothing else can be done with it here
                log.warning("could not hang up refused call %s of %s: %s", call_id, agent, exc)

        self._spawn(hang_up())

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def can_place_calls(self) -> bool:
        # Some connectors (SIP) can place test calls only when a caller phone is set up.
        return isinstance(self.connector, CallPlacer) and bool(
            getattr(self.connector, "can_place_calls", True)
        )

    # ----------------------------------------------------------- component ops

    async def call_ids(self, agent: str) -> list[str]:
        return await self._read(agent, lambda r: r.call_ids(agent))

    async def attached_data(self, agent: str, call_id: object) -> CallView:
        if not isinstance(call_id, str):
            raise CtiRequestError("callObjectId must be a string")
        return await self._read(agent, lambda r: r.get_call(agent, call_id))

    async def set_call_ids(self, agent: str, ids: object) -> None:
        await self._run(agent, lambda r: r.set_call_ids(agent, ids, now=self.clock()))

    async def set_attached_data(
        self, agent: str, call_id: object, data: object, ctype: object
    ) -> None:
        await self._run(
            agent, lambda r: r.set_attached_data(agent, call_id, data, ctype, now=self.clock())
        )

    async def attach_data(self, agent: str, call_id: object, data: object) -> CallView:
        """Merge data into a call (REST, IVR)."""
        events = await self._run(
            agent, lambda r: r.attach_data(agent, call_id, data, now=self.clock())
        )
        assert isinstance(events[-1], CallUpdated)
        return events[-1].call

    async def fire_call_begin(
        self, agent: str, call_id: object, ctype: object, label: object
    ) -> None:
        await self._run(
            agent, lambda r: r.begin_call(agent, call_id, ctype, label, now=self.clock())
        )

    async def fire_call_end(
        self, agent: str, call_id: object, duration: object, disposition: object
    ) -> None:
        await self._run(
            agent, lambda r: r.end_call(agent, call_id, duration, disposition, now=self.clock())
        )

    async def fire_call_log_saved(self, agent: str, log_id: object) -> None:
        await self._run(agent, lambda r: r.call_log_saved(agent, log_id, now=self.clock()))

    async def fire_custom_event(self, agent: str, event_type: object, message: object) -> None:
        await self._run(
            agent, lambda r: r.custom_event(agent, event_type, message, now=self.clock())
        )

    async def fire_custom_events(self, agents: object, event_type: object, message: object) -> int:
        """A campaign start: the same custom event to each of ``agents`` (IDs, duplicates
        fired once). All are checked before any is fired. Returns how many were reached."""
        targets = check_agent_list(agents, MAX_CAMPAIGN_AGENTS)
        now = self.clock()
        return await self._run_many(
            targets, lambda r, some: r.custom_events(some, event_type, message, now=now)
        )

    async def send_cti_message(self, agent: str, message: object) -> None:
        """``sendCTIMessage``: to the handlers, and to the connector if it is a command.

        A malformed command or one the call state forbids fails and reaches nobody. A command
        the connector then fails to start has already reached the handlers: it was sent.
        """
        if not isinstance(message, str):
            raise CtiRequestError("CTI message must be a string")
        cmd = commands.parse(message)
        resolved: list[ConnectorAction] = []

        def send(r: CallRegistry) -> list[Event]:
            resolved[:] = [r.resolve_command(agent, cmd)] if cmd is not None else []
            return r.cti_message(agent, message, now=self.clock())

        await self._run(agent, send)
        if not resolved:
            return
        try:
            await self.connector.execute(resolved[0])
        except ActionFailedError as exc:
            raise CommandRejectedError(f"/{resolved[0].action}: {exc}") from None

    async def place_call(self, agent: str, *, ani: object, dnis: object, data: object) -> str:
        """Make a test call ring at ``agent`` (connectors that can: the simulator)."""
        if not isinstance(self.connector, CallPlacer):
            raise UnsupportedError(f"the {self.connector.name} connector cannot place test calls")
        active = await self._read(agent, lambda r: len(r.call_ids(agent)))  # validates the ID
        if active >= self.registry.limits.max_active_calls:
            raise CommandRejectedError(f"{agent} already has {active} active calls (the limit)")
        for name, value in (("ani", ani), ("dnis", dnis)):
            if value is not None and (
                not isinstance(value, str) or not commands.NUMBER_RE.match(value)
            ):
                raise CtiRequestError(f"{name} must be a phone number")
        if data is not None and not isinstance(data, Mapping):
            raise CtiRequestError("data must be a JSON object")
        # Refuse here what the registry would drop when the call is offered: numbers the
        # connector makes up are at most as long as the longest allowed.
        self.registry.check_offered_data(
            ani if isinstance(ani, str) else "+" + "0" * 63,
            dnis if isinstance(dnis, str) else "0" * 64,
            data if isinstance(data, Mapping) else {},
        )
        # Missing values are made up by the connector (a realistic random caller).
        try:
            return await self.connector.place_inbound_call(
                agent,
                ani=ani if isinstance(ani, str) else None,
                dnis=dnis if isinstance(dnis, str) else None,
                data=data if isinstance(data, Mapping) else None,
            )
        except ActionFailedError as exc:
            raise CommandRejectedError(f"cannot place a test call: {exc}") from None

    async def save_call_log(
        self,
        agent: str,
        call_id: object,
        *,
        subject: object = None,
        comments: object = None,
        disposition: object = None,
    ) -> CallLog:
        """Store a call log durably, then fire ``onCallLogSaved`` with its ID."""
        if not isinstance(call_id, str):
            raise CtiRequestError("callId must be a string")
        call = await self._read(agent, lambda r: r.find_call(agent, call_id))
        if call is None:
            raise UnknownCallError(
                f"call {call_id!r} is neither active nor among this agent's recent calls"
            )
        subj = _text(subject, "subject", MAX_SUBJECT)
        notes = _text(comments, "comments", MAX_COMMENTS)
        disp = _text(disposition, "disposition", MAX_SUBJECT) or call.disposition
        try:
            record = await self._store_log(agent, call, subj, notes, disp)
        except ValueError as exc:  # a limit of the store (it names the field)
            raise CtiRequestError(f"cannot save the call log: {exc}") from None
        # Committed above: only now may components hear of it.
        await self._run(agent, lambda r: r.call_log_saved(agent, record.id, now=self.clock()))
        return record

    async def _store_log(
        self, agent: str, call: CallView, subj: str | None, notes: str | None, disp: str | None
    ) -> CallLog:
        return await self.store.save(
            NewCallLog(
                agent_id=agent,
                call_id=call.id,
                call_type=call.call_type.value,
                label=call.label,
                ani=call.ani or _str_or_none(call.data, "ANI"),
                dnis=call.dnis or _str_or_none(call.data, "DNIS"),
                attached_data=call.data,
                started_at=_dt(call.started_at),
                ended_at=_dt(call.ended_at),
                duration_seconds=None if call.duration is None else round(call.duration),
                disposition=disp or None,
                subject=subj,
                comments=notes,
            )
        )

    async def snapshot(self, agent: str) -> dict[str, Any]:
        return await self._read(agent, lambda r: snapshot_of(r, agent))

    async def get_call(self, agent: str, call_id: str) -> CallView:
        return await self._read(agent, lambda r: r.get_call(agent, call_id))

    def health(self) -> dict[str, Any]:
        """Extra fields for ``GET /api/health``."""
        return {}

    async def overview(self) -> list[tuple[str, int]]:
        """Every agent with state, and how many active calls each has."""
        return [(a, len(self.registry.call_ids(a))) for a in self.registry.agents()]

    async def connect_console(
        self, box: Outbox, hello: dict[str, Any], since: int | None, epoch: str | None
    ) -> None:
        """Send a new console its hello (with the events it missed, or a snapshot) and
        register it for live events, with no event lost or repeated in between."""
        # No await from here to hub.add: nothing can slip between replay and live events.
        missed = None
        if since is not None and epoch == self.epoch:
            missed = self.registry.events_after(box.agent, since)
        hello = {**hello, "epoch": self.epoch}
        if missed is not None:
            # The console keeps its state; it gets what it missed, in order, then live events.
            box.send(wire.frame({**hello, "resumed": "replay", "seq": since}))
            for event in missed:
                box.send(wire.encode_event(event))
        else:
            # First connection, or the gap is too old (or the server restarted): full state.
            resumed = "fresh" if since is None else "snapshot"
            box.send(
                wire.frame({**hello, "resumed": resumed, **snapshot_of(self.registry, box.agent)})
            )
        self.hub.add(box)

    def disconnect_console(self, box: Outbox) -> None:
        self.hub.remove(box)

    def _publish(self, events: list[Event]) -> None:
        if events:
            self.hub.publish(events)
            if self.state_store is not None:
                self._dirty.update(e.agent for e in events if isinstance(e, _CALL_CHANGES))

    # ------------------------------------------------------------ persistence

    async def restore_calls(self) -> None:
        """At start-up: put back the calls saved before a restart, hand the ones on lines
        back to the connector, and release those it cannot take."""
        assert self.state_store is not None
        saved = await self.state_store.load()
        on_lines: list[tuple[str, CallView]] = []
        for agent, snapshot in saved.items():
            try:
                views = self.registry.restore_agent(agent, snapshot)
            except CtiRequestError as exc:
                log.warning("not restoring the calls of %s: %s", agent, exc.message)
                continue
            on_lines += [(agent, v) for v in views if v.line_state is not None]
        refused = await self.hand_over_calls(
            self.connector, on_lines, "telephony restarted: the call was lost"
        )
        if saved:
            log.info(
                "restored the calls of %d agents (%d on lines, %d lost)",
                len(saved),
                len(on_lines),
                len(refused),
            )

    async def hand_over_calls(
        self, connector: Connector, on_lines: list[tuple[str, CallView]], reason: str
    ) -> set[str]:
        """Give a (re)started connector the calls the state has on its lines; end those it
        cannot take (connectors without ``adopt_calls`` take none) with ``reason``. Returns
        the IDs of the calls ended."""
        adopt = getattr(connector, "adopt_calls", None)
        refused = set(await adopt(on_lines)) if adopt is not None else {c.id for _, c in on_lines}
        for agent, call in on_lines:
            if call.id in refused:
                self.report(CallReleased(agent=agent, call_id=call.id, reason=reason))
        return refused

    async def flush_calls(self) -> None:
        """Save the call state of agents whose calls changed since the last flush."""
        if self.state_store is None or not self._dirty:
            return
        agents, self._dirty = self._dirty, set()
        try:
            await self.state_store.save({a: self.registry.snapshot_agent(a) for a in agents})
        except Exception:
            self._dirty |= agents  # try again next time
            raise

    async def persist_forever(self, stop: asyncio.Event, interval: float = 0.2) -> None:
        """Flush call state every ``interval`` seconds (a restart loses at most that) until
        ``stop`` is set. Stopping is cooperative: a save under way always completes (a
        cancelled database call would be left running in the driver's thread)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), interval)
            try:
                await self.flush_calls()
            except Exception:
                log.exception("could not save call state")


_CALL_CHANGES = (CallBegan, CallEnded, CallUpdated, CallsReplaced)


def snapshot_of(registry: CallRegistry, agent: str) -> dict[str, Any]:
    """What a console needs to draw the agent's state from scratch."""
    state = registry.agent(agent)
    return {
        "seq": state.seq,
        "calls": [c.to_dict() for c in registry.calls(agent)],
        "recent": [c.to_dict() for c in registry.recent_calls(agent)],
        "lineUp": state.line_up,
    }


def _text(value: object, what: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CtiRequestError(f"{what} must be a string")
    if len(value) > limit:
        raise TooLongError(f"{what} longer than {limit} characters")
    return check_text(value, what)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _str_or_none(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None
