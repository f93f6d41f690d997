"""State backends: where a :class:`~ctikit.server.service.CtiService` keeps the call state.

The service is given its backend (httpcore style) and reaches the state only through the
:class:`StateBackend` protocol: it has no registry of its own. A backend runs the sans-I/O core
(:class:`~ctikit.core.registry.CallRegistry`) on the agent's state, publishes the events a
change caused to the agent's consoles, and applies the connector's events in order.

- :class:`InMemoryBackend` (here): one node; the state in this process, saved to the database
  for restarts.
- :class:`ctikit.cluster.backend.RedisBackend`: several nodes sharing the state in Redis.

Both send a new console its hello with :mod:`.console`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time
from collections.abc import Callable, Sequence
from typing import Any, Protocol, TypeVar

import redis.asyncio as aioredis

from ..core.errors import CtiRequestError, TelephonyError
from ..core.events import (
    AgentStateChanged,
    CallBegan,
    CallEnded,
    CallsReplaced,
    CallUpdated,
    Event,
)
from ..core.model import CallView, Limits
from ..core.presence import AgentUnavailableError, PresencePolicy
from ..core.registry import CallRegistry
from ..core.telephony import TelephonyEvent
from ..storage import CallStateStore
from . import console
from .hub import Hub, Outbox
from .measures import count_events

log = logging.getLogger("ctikit.service")

T = TypeVar("T")
#: A pure change of one agent's state: the events it caused (raises CtiError to refuse).
Change = Callable[[CallRegistry], list[Event]]
#: A change of many agents' states at once (a campaign): ``(registry, agents) -> events``.
BulkChange = Callable[[CallRegistry, list[str]], list[Event]]
#: Hears every batch of events this node committed (each once, in any backend), right after
#: the commit (the webhook outbox, agent-state reports). Must not block; a failure is logged.
CommitHook = Callable[[Sequence[Event]], None]

#: Agents changed in one step of the event loop by a change to many (~10 ms of work).
BULK_CHUNK = 1000


class ReportListener(Protocol):
    """Who hears what became of the connector's events (the service's telephony side)."""

    def committed(self, events: Sequence[Event]) -> None:
        """``events`` were committed for one connector event (all of one agent, in order)."""

    def dropped(self, event: TelephonyEvent, error: TelephonyError) -> None:
        """The core refused ``event`` (already logged); nothing changed."""

    async def state_lost(self) -> None:
        """The shared state was lost (a cluster's Redis came back empty): what the
        connector's lines hold is no longer in the state."""


class StateBackend(Protocol):
    """Where the call state lives. Every method raises :class:`~ctikit.core.errors.CtiError`
    subclasses only (a cluster adds ``unavailable`` and ``corrupt_state``)."""

    @property
    def epoch(self) -> str:
        """Names the event numbering: a console's replay cursor is valid only with it."""

    @property
    def limits(self) -> Limits:
        """The core's limits the state is kept under."""

    @property
    def policy(self) -> PresencePolicy:
        """The agent-state rules the state is kept under (``[agent_state]``)."""

    @property
    def redis(self) -> aioredis.Redis | None:
        """The Redis the state lives in, when it is shared (a cluster). None on a single
        node."""

    @property
    def login_redis(self) -> aioredis.Redis | None:
        """The same Redis on connections of the login limits' own (what else the nodes must
        agree on): a flood of logins must not take the connections the consoles' reads use.
        None on a single node."""

    #: Connector events the core refused since start (impossible transitions, calls the
    #: agent does not have, bad offered data): each logged, dropped and counted.
    dropped_events: int

    async def start(self, listener: ReportListener) -> None:
        """Begin serving; tell ``listener`` what becomes of connector events."""

    def on_commit(self, hook: CommitHook) -> None:
        """Call ``hook`` with the events of every change this node commits (a change made
        on another node of a cluster is heard there). Set before :meth:`start`."""

    async def agents_in_acw(self) -> list[tuple[str, float]]:
        """``(agent, end time)`` of every agent in after-call work (timers after a start)."""

    async def stop(self) -> None:
        """Stop serving (after the telephony side stopped)."""

    async def run(self, agent: str, change: Change) -> list[Event]:
        """Apply ``change`` to ``agent``'s state, publish the events it caused to the agent's
        consoles, and return them. A change that raises changes nothing."""

    async def read(self, agent: str, look: Callable[[CallRegistry], T]) -> T:
        """What ``look`` reads from ``agent``'s state (it must not change it)."""

    async def run_many(self, agents: list[str], change: BulkChange) -> int:
        """Apply ``change`` to each of ``agents`` (all checked first), publish; returns how
        many agents it reached (a failure midway keeps those already reached)."""

    def report(self, event: TelephonyEvent) -> None:
        """The connector-event path (:class:`~ctikit.connectors.base.EventSink`): apply the
        connector's events in the order reported, per agent. Never raises."""

    async def calls_on_lines(self) -> list[tuple[str, CallView]]:
        """Every ``(agent, call)`` the state has on a telephone line (for a fresh
        connector to take over)."""

    async def connect_console(
        self, box: Outbox, hello: dict[str, Any], since: int | None, epoch: str | None
    ) -> None:
        """Send a new console its hello (:mod:`.console`: replay after ``since`` or a
        snapshot) and register it for live events, none lost or repeated in between."""

    async def sent_up_to_now(self, box: Outbox) -> None:
        """Return once ``box`` was sent every event of its agent committed so far: a
        command's reply must not overtake its events (docs/protocol.md, "Commands")."""

    def disconnect_console(self, box: Outbox) -> None:
        """Stop sending events to ``box``."""

    async def overview(self) -> list[tuple[str, int]]:
        """Every agent with state, and how many active calls each has."""

    def health(self) -> dict[str, Any]:
        """Extra fields for ``GET /api/health``."""


class InMemoryBackend:
    """One node: the state in this process's registry, events to this process's hub.

    With a ``state_store`` the agents' calls are saved every ``persist_every`` seconds (and
    at stop) and put back at start, so a restart keeps them. ``clock`` gives the time of
    connector events (seconds since the epoch).
    """

    def __init__(
        self,
        hub: Hub,
        limits: Limits | None = None,
        *,
        state_store: CallStateStore | None = None,
        clock: Callable[[], float] = time.time,
        persist_every: float = 0.2,
        policy: PresencePolicy | None = None,
    ) -> None:
        #: The state. Public for tests and benchmarks; the service never sees it.
        self.registry = CallRegistry(limits, policy)
        self._hooks: list[CommitHook] = []
        self.hub = hub
        self.state_store = state_store
        self.clock = clock
        self.persist_every = persist_every
        self.dropped_events = 0
        self.redis: aioredis.Redis | None = None
        self.login_redis: aioredis.Redis | None = None
        # Sequence numbers restart with the process: a new epoch says so to consoles.
        self._epoch = secrets.token_hex(8)
        self._listener: ReportListener | None = None
        self._dirty: set[str] = set()
        self._persist: asyncio.Task[None] | None = None
        self._stop_persisting = asyncio.Event()
        self.replay = console.ReplayFrames()

    @property
    def epoch(self) -> str:
        return self._epoch

    @property
    def limits(self) -> Limits:
        return self.registry.limits

    @property
    def policy(self) -> PresencePolicy:
        return self.registry.policy

    # -------------------------------------------------------------- lifecycle

    async def start(self, listener: ReportListener) -> None:
        self._listener = listener
        if self.state_store is not None:
            await self.restore_calls()
            self._stop_persisting = asyncio.Event()
            self._persist = asyncio.create_task(self.persist_forever(self._stop_persisting))

    def on_commit(self, hook: CommitHook) -> None:
        self._hooks.append(hook)

    async def agents_in_acw(self) -> list[tuple[str, float]]:
        return self.registry.agents_in_acw()

    async def stop(self) -> None:
        if self._persist is not None:
            self._stop_persisting.set()
            await self._persist  # saves once more on its way out
            self._persist = None

    # ------------------------------------------------------------------ state

    async def run(self, agent: str, change: Change) -> list[Event]:
        events = change(self.registry)
        self._publish(events)
        return events

    async def read(self, agent: str, look: Callable[[CallRegistry], T]) -> T:
        return look(self.registry)

    async def run_many(self, agents: list[str], change: BulkChange) -> int:
        reached = 0
        for start in range(0, len(agents), BULK_CHUNK):
            if start:
                # Other consoles' requests and call events get the loop between chunks.
                await asyncio.sleep(0)
            events = change(self.registry, agents[start : start + BULK_CHUNK])
            reached += len({e.agent for e in events})
            self._publish(events)
        return reached

    def report(self, event: TelephonyEvent) -> None:
        try:
            events = self.registry.apply(event, now=self.clock())
        except TelephonyError as exc:
            if isinstance(exc, AgentUnavailableError):
                log.info("%s", exc.message)  # the agent's choice, not the connector's fault
            else:
                self.dropped_events += 1
                log.warning(
                    "dropped telephony event %s: %s",
                    type(event).__name__,
                    exc.message,
                    extra={"agent_id": event.agent, "call_id": getattr(event, "call_id", None)},
                )
            if self._listener is not None:
                self._listener.dropped(event, exc)
            return
        self._publish(events)
        if self._listener is not None and events:
            self._listener.committed(events)

    async def calls_on_lines(self) -> list[tuple[str, CallView]]:
        r = self.registry
        return [(a, c) for a in r.agents() for c in r.calls(a) if c.line_state is not None]

    def _publish(self, events: list[Event]) -> None:
        if events:
            count_events(events)
            self.hub.publish(events)
            tell_hooks(self._hooks, events)
            if self.state_store is not None:
                self._dirty.update(e.agent for e in events if isinstance(e, _CALL_CHANGES))

    # --------------------------------------------------------------- consoles

    async def connect_console(
        self, box: Outbox, hello: dict[str, Any], since: int | None, epoch: str | None
    ) -> None:
        # No await from here to hub.add: nothing can slip between replay and live events.
        self.registry.pin(box.agent)  # may refuse (max_agents): then nothing was sent
        missed = None
        if console.wants_replay(since, epoch, self._epoch):
            assert since is not None
            events = self.registry.events_after(box.agent, since)
            missed = None if events is None else self.replay.frames(self._epoch, events)
        for frame in console.hello_frames(
            hello, self.registry, box.agent, epoch=self._epoch, since=since, missed=missed
        ):
            box.send(frame)
        self.hub.add(box)

    async def sent_up_to_now(self, box: Outbox) -> None:
        return  # the hub sends events as they are committed, before any reply

    def disconnect_console(self, box: Outbox) -> None:
        if self.hub.has(box):
            self.registry.unpin(box.agent)
        self.hub.remove(box)

    async def overview(self) -> list[tuple[str, int]]:
        return [(a, len(self.registry.call_ids(a))) for a in self.registry.agents()]

    def health(self) -> dict[str, Any]:
        return {}

    # ------------------------------------------------------------ persistence

    async def restore_calls(self) -> None:
        """At start-up: put back the calls saved before a restart (the telephony side then
        takes over those on lines, or ends them)."""
        assert self.state_store is not None
        saved = await self.state_store.load()
        for agent, snapshot in saved.items():
            try:
                self.registry.restore_agent(agent, snapshot)
            except CtiRequestError as exc:
                log.warning("not restoring the calls of %s: %s", agent, exc.message)
        if saved:
            log.info("restored the calls of %d agents", len(saved))

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

    async def persist_forever(self, stop: asyncio.Event) -> None:
        """Flush call state every ``persist_every`` seconds (a restart loses at most that)
        until ``stop`` is set. Stopping is cooperative: a save under way always completes (a
        cancelled database call would be left running in the driver's thread)."""
        while not stop.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(stop.wait(), self.persist_every)
            try:
                await self.flush_calls()
            except Exception:
                log.exception("could not save call state")


def tell_hooks(hooks: list[CommitHook], events: Sequence[Event]) -> None:
    """Give committed events to each hook; one that fails is logged (the change stands)."""
    for hook in hooks:
        try:
            hook(events)
        except Exception:
            log.exception("a commit hook failed")


_CALL_CHANGES = (CallBegan, CallEnded, CallUpdated, CallsReplaced, AgentStateChanged)
