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
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..connectors.base import ActionFailedError, CallPlacer, Connector
from ..core import commands
from ..core.commands import Action
from ..core.errors import (
    CommandRejectedError,
    CtiRequestError,
    TelephonyError,
    UnknownCallError,
)
from ..core.events import CallBegan, CallEnded, CallsReplaced, CallUpdated, Event
from ..core.jsonvalue import check_text
from ..core.model import CallType, CallView
from ..core.registry import CallRegistry
from ..core.telephony import CallOffered, CallReleased, ConnectorAction, TelephonyEvent
from ..storage import CallLog, CallLogStore, CallStateStore, NewCallLog
from .hub import Hub

log = logging.getLogger("ctikit.service")

MAX_SUBJECT = 255
MAX_COMMENTS = 32 * 1024


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

    # ---------------------------------------------------------- connector side

    def report(self, event: TelephonyEvent) -> None:
        """:class:`~ctikit.connectors.base.EventSink`: a connector reports an event."""
        try:
            events = self.registry.apply(event, now=self.clock())
        except TelephonyError as exc:
            log.warning("dropped telephony event %s: %s", type(event).__name__, exc.message)
            if isinstance(event, CallOffered):
                # The phone has a call the agent cannot see (over a limit, bad data):
                # hang it up rather than leave a line nobody can reach.
                self._refuse_line_call(event.agent, event.call_id)
            return
        self._publish(events)

    def _refuse_line_call(self, agent: str, call_id: str) -> None:
        action = ConnectorAction(agent=agent, action=Action.HANGUP, call_id=call_id)

        async def hang_up() -> None:
            try:
                await self.connector.execute(action)
            except Exception as exc:  # logged: nothing else can be done with it here
                log.warning("could not hang up refused call %s of %s: %s", call_id, agent, exc)

        task = asyncio.get_running_loop().create_task(hang_up())
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    @property
    def can_place_calls(self) -> bool:
        # Some connectors (SIP) can place test calls only when a caller phone is set up.
        return isinstance(self.connector, CallPlacer) and bool(
            getattr(self.connector, "can_place_calls", True)
        )

    # ----------------------------------------------------------- component ops

    def call_ids(self, agent: str) -> list[str]:
        return self.registry.call_ids(agent)

    def attached_data(self, agent: str, call_id: object) -> CallView:
        if not isinstance(call_id, str):
            raise CtiRequestError("callObjectId must be a string")
        return self.registry.get_call(agent, call_id)

    def set_call_ids(self, agent: str, ids: object) -> None:
        self._publish(self.registry.set_call_ids(agent, ids, now=self.clock()))

    def set_attached_data(self, agent: str, call_id: object, data: object, ctype: object) -> None:
        self._publish(
            self.registry.set_attached_data(agent, call_id, data, ctype, now=self.clock())
        )

    def attach_data(self, agent: str, call_id: object, data: object) -> CallView:
        """Merge data into a call (REST, IVR)."""
        self._publish(self.registry.attach_data(agent, call_id, data, now=self.clock()))
        assert isinstance(call_id, str)
        return self.registry.get_call(agent, call_id)

    def fire_call_begin(self, agent: str, call_id: object, ctype: object, label: object) -> None:
        self._publish(self.registry.begin_call(agent, call_id, ctype, label, now=self.clock()))

    def fire_call_end(
        self, agent: str, call_id: object, duration: object, disposition: object
    ) -> None:
        self._publish(
            self.registry.end_call(agent, call_id, duration, disposition, now=self.clock())
        )

    def fire_call_log_saved(self, agent: str, log_id: object) -> None:
        self._publish(self.registry.call_log_saved(agent, log_id, now=self.clock()))

    def fire_custom_event(self, agent: str, event_type: object, message: object) -> None:
        self._publish(self.registry.custom_event(agent, event_type, message, now=self.clock()))

    async def send_cti_message(self, agent: str, message: object) -> None:
        """``sendCTIMessage``: to the handlers, and to the connector if it is a command.

        A malformed command or one the call state forbids fails and reaches nobody. A command
        the connector then fails to start has already reached the handlers: it was sent.
        """
        if not isinstance(message, str):
            raise CtiRequestError("CTI message must be a string")
        cmd = commands.parse(message)
        action = self.registry.resolve_command(agent, cmd) if cmd is not None else None
        self._publish(self.registry.cti_message(agent, message, now=self.clock()))
        if action is None:
            return
        try:
            await self.connector.execute(action)
        except ActionFailedError as exc:
            raise CommandRejectedError(f"/{action.action}: {exc}") from None

    async def place_call(self, agent: str, *, ani: object, dnis: object, data: object) -> str:
        """Make a test call ring at ``agent`` (connectors that can: the simulator)."""
        if not isinstance(self.connector, CallPlacer):
            raise UnsupportedError(f"the {self.connector.name} connector cannot place test calls")
        state = self.registry.agent(agent)  # validates the agent ID
        if len(state.calls) >= self.registry.limits.max_active_calls:
            raise CommandRejectedError(
                f"{agent} already has {len(state.calls)} active calls (the limit)"
            )
        for name, value in (("ani", ani), ("dnis", dnis)):
            if value is not None and (
                not isinstance(value, str) or not commands.NUMBER_RE.match(value)
            ):
                raise CtiRequestError(f"{name} must be a phone number")
        if data is not None and not isinstance(data, Mapping):
            raise CtiRequestError("data must be a JSON object")
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
        call = self.registry.find_call(agent, call_id)
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
        self._publish(self.registry.call_log_saved(agent, record.id, now=self.clock()))
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

    def snapshot(self, agent: str) -> dict[str, Any]:
        state = self.registry.agent(agent)
        return {
            "seq": state.seq,
            "calls": [c.to_dict() for c in self.registry.calls(agent)],
            "recent": [c.to_dict() for c in self.registry.recent_calls(agent)],
            "lineUp": state.line_up,
        }

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
        adopt = getattr(self.connector, "adopt_calls", None)
        refused = set(await adopt(on_lines)) if adopt is not None else {c.id for _, c in on_lines}
        for agent, call in on_lines:
            if call.id in refused:
                self.report(
                    CallReleased(
                        agent=agent,
                        call_id=call.id,
                        reason="telephony restarted: the call was lost",
                    )
                )
        if saved:
            log.info(
                "restored the calls of %d agents (%d on lines, %d lost)",
                len(saved),
                len(on_lines),
                len(refused),
            )

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


def _text(value: object, what: str, limit: int) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise CtiRequestError(f"{what} must be a string")
    if len(value) > limit:
        raise CtiRequestError(f"{what} longer than {limit} characters", code="limit_exceeded")
    return check_text(value, what)


def _dt(ts: float | None) -> datetime | None:
    return None if ts is None else datetime.fromtimestamp(ts, UTC)


def _str_or_none(data: Any, key: str) -> str | None:
    value = data.get(key) if isinstance(data, dict) else None
    return value if isinstance(value, str) else None


def parse_call_type(value: object) -> CallType:
    return CallType.parse(value)
