"""The CTI service: one place where requests, connector events and storage meet the core.

The service is given its parts: a state backend (:mod:`.backend`: where the call state lives,
in this process or in Redis) and a telephony side (:mod:`.telephony`: where the connector
runs). Every operation validates through the core, on the agent's state as the backend holds
it; the backend publishes the resulting events to the agent's consoles; CTI commands then go
to the telephony side, and their reply waits until they happened. Handlers (WebSocket, REST)
only translate to and from this API.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from ..config import OpenCtiConfig
from ..connectors.base import COMMAND_NEEDS, ActionFailedError, Capability
from ..core import commands
from ..core.commands import Action
from ..core.errors import (
    CommandRejectedError,
    CtiError,
    CtiRequestError,
    RateLimitedError,
    TooLongError,
    UnknownCallError,
)
from ..core.events import CallUpdated, Event
from ..core.jsonvalue import check_text
from ..core.model import CallView, LineState, check_agent_list
from ..core.presence import Presence, Status
from ..core.ratelimit import TokenBucket
from ..core.registry import CallRegistry
from ..core.telephony import ConnectorAction
from ..storage import AgentStateLog, CallLog, CallLogStore, NewCallLog
from .agentstate import AgentStateKeeper
from .backend import BULK_CHUNK, StateBackend
from .console import snapshot_of
from .hub import Hub, Outbox
from .telephony import CommandTimeoutError, Telephony, UnsupportedError

__all__ = [
    "BULK_CHUNK",
    "MAX_CAMPAIGN_AGENTS",
    "CommandTimeoutError",
    "CtiService",
    "UnsupportedError",
]

MAX_SUBJECT = 255
MAX_COMMENTS = 32 * 1024
#: Agents one campaign request may name (a request body is capped at 1 MiB anyway).
MAX_CAMPAIGN_AGENTS = 50_000


class CtiService:
    """See the module docstring. ``clock`` returns seconds since the epoch.
    ``hold_on_answer``: ``/ANSWER`` and ``/RETRIEVE`` first hold the agent's connected calls
    (config)."""

    def __init__(
        self,
        backend: StateBackend,
        telephony: Telephony,
        store: CallLogStore,
        hub: Hub,
        clock: Callable[[], float] = time.time,
        *,
        hold_on_answer: bool = True,
    ) -> None:
        self.backend = backend
        self.telephony = telephony
        self.store = store
        self.hub = hub
        self.clock = clock
        # Call-log saves per agent (Limits.call_log_saves_per_minute), least recent first.
        self._save_quota: OrderedDict[str, TokenBucket] = OrderedDict()
        #: The Open CTI endpoints (search, runApex); set by the app from its config.
        self.open_cti: OpenCtiConfig | None = None
        #: Awaited before ``fireOnCallBegin`` / ``fireOnCallEnd`` answer: what the events
        #: caused must be durable first (the webhook outbox).
        self.before_ack: Callable[[], Awaitable[None]] | None = None
        #: The audit log's ``record`` (server/audit.py): CTI commands, with who sent them.
        self.record: Callable[..., None] | None = None
        self.agent_states = AgentStateKeeper(backend, AgentStateLog(store), clock)
        self.hold_on_answer = hold_on_answer

    # -------------------------------------------------------------- lifecycle

    async def start(self) -> None:
        """Start the state backend, then the connector on it (which takes over, or ends,
        the calls the state has on lines)."""
        await self.backend.start(self.telephony)
        await self.agent_states.start()
        await self.telephony.start(self.backend)

    async def stop(self) -> None:
        """Stop the connector, then the state backend (which saves what it must)."""
        await self.telephony.stop()
        await self.agent_states.stop()
        await self.backend.stop()

    @property
    def can_place_calls(self) -> bool:
        # Some connectors (SIP) can place test calls only when a caller phone is set up.
        return Capability.PLACE_CALLS in self.telephony.capabilities

    def supports(self, action: commands.Action) -> bool:
        """Whether the connector offers what ``action`` needs (:data:`COMMAND_NEEDS`)."""
        needed = COMMAND_NEEDS.get(action)
        return needed is None or needed in self.telephony.capabilities

    def connector_info(self) -> dict[str, Any]:
        """The ``connector`` object of the console's hello and ``/api/console/config``."""
        return {
            "name": self.telephony.name,
            "canPlaceCalls": self.can_place_calls,
            "canConsult": self.supports(commands.Action.CONSULT),
            "canConference": self.supports(commands.Action.CONFERENCE),
        }

    # ------------------------------------------------------------- agent state

    async def presence(self, agent: str) -> Presence:
        """The agent's state now (after-call work that ran out reads ``available``)."""
        return await self.backend.read(agent, lambda r: r.presence(agent, self.clock()))

    async def set_presence(self, agent: str, status: object, reason: object) -> Presence:
        """The agent chose a state (checked by the core); returns the state it is in."""
        await self.backend.run(
            agent, lambda r: r.set_presence(agent, status, reason, now=self.clock())
        )
        return await self.presence(agent)

    def away_reasons(self) -> list[str]:
        """The reasons an agent may give for ``away`` (the config's)."""
        return list(self.backend.policy.away_reasons)

    # ----------------------------------------------------------- component ops

    async def call_ids(self, agent: str) -> list[str]:
        return await self.backend.read(agent, lambda r: r.call_ids(agent))

    async def attached_data(self, agent: str, call_id: object) -> CallView:
        if not isinstance(call_id, str):
            raise CtiRequestError("callObjectId must be a string")
        return await self.backend.read(agent, lambda r: r.get_call(agent, call_id))

    async def set_call_ids(self, agent: str, ids: object) -> None:
        await self.backend.run(agent, lambda r: r.set_call_ids(agent, ids, now=self.clock()))

    async def set_attached_data(
        self, agent: str, call_id: object, data: object, ctype: object
    ) -> None:
        await self.backend.run(
            agent, lambda r: r.set_attached_data(agent, call_id, data, ctype, now=self.clock())
        )

    async def attach_data(self, agent: str, call_id: object, data: object) -> CallView:
        """Merge data into a call (REST, IVR)."""
        events = await self.backend.run(
            agent, lambda r: r.attach_data(agent, call_id, data, now=self.clock())
        )
        assert isinstance(events[-1], CallUpdated)
        return events[-1].call

    async def fire_call_begin(
        self, agent: str, call_id: object, ctype: object, label: object
    ) -> None:
        await self.backend.run(
            agent, lambda r: r.begin_call(agent, call_id, ctype, label, now=self.clock())
        )
        if self.before_ack is not None:
            await self.before_ack()

    async def fire_call_end(
        self, agent: str, call_id: object, duration: object, disposition: object
    ) -> None:
        await self.backend.run(
            agent, lambda r: r.end_call(agent, call_id, duration, disposition, now=self.clock())
        )
        if self.before_ack is not None:
            await self.before_ack()

    async def fire_call_log_saved(self, agent: str, log_id: object) -> None:
        await self.backend.run(agent, lambda r: r.call_log_saved(agent, log_id, now=self.clock()))

    async def fire_custom_event(self, agent: str, event_type: object, message: object) -> None:
        await self.backend.run(
            agent, lambda r: r.custom_event(agent, event_type, message, now=self.clock())
        )

    async def fire_custom_events(self, agents: object, event_type: object, message: object) -> int:
        """A campaign start: the same custom event to each of ``agents`` (IDs, duplicates
        fired once). All are checked before any is fired. Returns how many were reached."""
        targets = check_agent_list(agents, MAX_CAMPAIGN_AGENTS)
        now = self.clock()
        return await self.backend.run_many(
            targets, lambda r, some: r.custom_events(some, event_type, message, now=now)
        )

    async def send_cti_message(self, agent: str, message: object) -> None:
        """``sendCTIMessage``: to the handlers, and to the connector if it is a command.

        A malformed command or one the call state forbids fails and reaches nobody. A command
        the state allows reaches the handlers, then the connector; the reply waits until the
        connector reported the command's outcome (:mod:`ctikit.core.outcomes`), and fails
        with ``command_rejected`` if that is a failure, or ``timeout`` if it does not come
        in time (the command was sent: the call's events will tell what became of it).
        """
        if not isinstance(message, str):
            raise CtiRequestError("CTI message must be a string")
        cmd = commands.parse(message)
        resolved: list[ConnectorAction] = []
        holds: list[ConnectorAction] = []

        def send(r: CallRegistry) -> list[Event]:
            resolved[:] = [r.resolve_command(agent, cmd)] if cmd is not None else []
            if resolved and resolved[0].action in _TAKES_THE_LINE and self.hold_on_answer:
                holds[:] = _holds_before_answer(r, agent, resolved[0])
            return r.cti_message(agent, message, now=self.clock())

        try:
            if cmd is not None and not self.supports(cmd.action):
                # Said before anyone hears of the command: it cannot happen here.
                raise UnsupportedError(
                    f"/{cmd.action}: not supported by this connector ({self.telephony.name})"
                )
            await self.backend.run(agent, send)
            for hold in holds:
                # Here, not in the console: components and REST get one conversation at a
                # time too.
                try:
                    await self.telephony.execute(hold)
                except CommandRejectedError as exc:
                    raise CommandRejectedError(
                        f"/{resolved[0].action}: call {hold.call_id!r} could not be held "
                        f"first ({exc})"
                    ) from None
            if resolved:
                await self.telephony.execute(resolved[0])
        except CtiError as exc:
            if cmd is not None and self.record is not None:
                self.record("cti.command", agent, outcome="failed", command=message, code=exc.code)
            raise
        if cmd is not None and self.record is not None:
            self.record("cti.command", agent, command=message)

    async def place_call(self, agent: str, *, ani: object, dnis: object, data: object) -> str:
        """Make a test call ring at ``agent`` (connectors that can: the simulator)."""
        if not self.can_place_calls:
            raise UnsupportedError(f"the {self.telephony.name} connector cannot place test calls")
        limit = self.backend.limits.max_active_calls
        active = await self.backend.read(agent, lambda r: len(r.call_ids(agent)))  # checks ID
        state = await self.presence(agent)
        if state.status is not Status.AVAILABLE:
            # The simulator never rings an agent who may not take calls.
            raise CommandRejectedError(f"{agent} is {state.status.value}: not offered calls")
        if active >= limit:
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
        await self.backend.read(
            agent,
            lambda r: r.check_offered_data(
                ani if isinstance(ani, str) else "+" + "0" * 63,
                dnis if isinstance(dnis, str) else "0" * 64,
                data if isinstance(data, Mapping) else {},
            ),
        )
        # Missing values are made up by the connector (a realistic random caller).
        try:
            return await self.telephony.place_inbound_call(
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
        self.take_save_quota(agent)
        call = await self.backend.read(agent, lambda r: r.find_call(agent, call_id))
        if call is None:
            raise UnknownCallError(
                f"call {call_id!r} is neither active nor among this agent's recent calls"
            )
        subj = _text(subject, "subject", MAX_SUBJECT)
        notes = _text(comments, "comments", MAX_COMMENTS)
        given = _text(disposition, "disposition", MAX_SUBJECT)
        if subj is None and (notes is None or not notes.strip()) and given is None:
            # A second, empty log of a call only hides the real one in reports.
            if await self.store.count(agent_id=agent, call_id=call.id):
                raise CtiRequestError(
                    "this call already has a log; write a note or choose a disposition "
                    "to add another"
                )
        disp = given or call.disposition
        try:
            record = await self._store_log(agent, call, subj, notes, disp)
        except ValueError as exc:  # a limit of the store (it names the field)
            raise CtiRequestError(f"cannot save the call log: {exc}") from None
        # Committed above: only now may components hear of it.
        await self.backend.run(
            agent, lambda r: r.call_log_saved(agent, record.id, now=self.clock())
        )
        return record

    def take_save_quota(self, agent: str) -> None:
        """One call-log save of ``agent``'s quota, or RateLimitedError (issue 13, F2: an
        agent saved ~165 logs a second, ~100 MB in minutes). Per node."""
        per_minute = self.backend.limits.call_log_saves_per_minute
        bucket = self._save_quota.pop(agent, None) or TokenBucket(per_minute / 60, per_minute)
        self._save_quota[agent] = bucket
        if len(self._save_quota) > self.backend.limits.max_agents:
            self._save_quota.popitem(last=False)
        if not bucket.allow(self.clock()):
            raise RateLimitedError(
                f"{agent} saved {per_minute} call logs in the last minute "
                "(call_log_saves_per_minute): try again later"
            )

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
        return await self.backend.read(agent, lambda r: snapshot_of(r, agent))

    async def get_call(self, agent: str, call_id: str) -> CallView:
        return await self.backend.read(agent, lambda r: r.get_call(agent, call_id))

    def health(self) -> dict[str, Any]:
        """Extra fields for ``GET /api/health``: the backend's and the telephony side's
        (objects under one key are merged: a cluster node's ``cluster`` comes from both)."""
        out = self.backend.health()
        for key, value in self.telephony.health().items():
            mine = out.get(key)
            out[key] = {**mine, **value} if isinstance(mine, dict) else value
        return out

    async def overview(self) -> list[tuple[str, int]]:
        """Every agent with state, and how many active calls each has."""
        return await self.backend.overview()

    async def connect_console(
        self, box: Outbox, hello: dict[str, Any], since: int | None, epoch: str | None
    ) -> None:
        """Send a new console its hello (with the events it missed, or a snapshot) and
        register it for live events, with no event lost or repeated in between."""
        await self.backend.connect_console(box, hello, since, epoch)

    def disconnect_console(self, box: Outbox) -> None:
        self.backend.disconnect_console(box)


#: Commands that make a call the one the agent talks to: with ``hold_on_answer`` the other
#: connected calls are held first.
_TAKES_THE_LINE = frozenset({Action.ANSWER, Action.RETRIEVE})


def _holds_before_answer(
    r: CallRegistry, agent: str, answer: ConnectorAction
) -> list[ConnectorAction]:
    """A hold for each connected call of ``agent`` but the one ``answer`` (an ``/ANSWER`` or
    ``/RETRIEVE``) picks up, each
    checked as a ``/HOLD`` from the agent would be."""
    return [
        r.resolve_command(agent, commands.CtiCommand(action=Action.HOLD, call_id=call.id))
        for call in r.calls(agent)
        if call.line_state is LineState.CONNECTED and call.id != answer.call_id
    ]


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
