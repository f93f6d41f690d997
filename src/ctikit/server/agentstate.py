"""The I/O around agent states: the after-call-work timers and the report rows.

The core decides every change (:mod:`ctikit.core.presence`); this module only makes time
pass and writes down what happened. It hears every change this node commits (the backend's
commit hook): each ``agentState`` event becomes a row of ``agent_states`` (written in
batches, off the request path) and an after-call work start arms a timer that, when it is
up, asks the core to end it (a no-op if the agent left it already). Timers are re-armed at
start from the state the backend restored; in a cluster the node that committed the start
owns the timer, and any later change of that agent on any node ends an after-call work that
ran out (the core checks on every line event and choice).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from ..core.events import AgentStateChanged, Event
from ..storage import AgentStateChange, AgentStateLog
from .backend import StateBackend

log = logging.getLogger("ctikit.agentstate")

#: Rows written at most per insert.
BATCH = 500


class AgentStateKeeper:
    """See the module docstring. ``clock`` gives seconds since the epoch."""

    def __init__(
        self, backend: StateBackend, states: AgentStateLog, clock: Callable[[], float]
    ) -> None:
        self.backend = backend
        self.states = states
        self.clock = clock
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._rows: list[AgentStateChange] = []
        self._wake = asyncio.Event()
        self._writer: asyncio.Task[None] | None = None
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False
        self._idle = asyncio.Event()  # nothing queued nor being written
        self._idle.set()
        backend.on_commit(self.committed)

    async def start(self) -> None:
        """After the backend started: arm the timers of restored after-call work."""
        self._stopping = False
        self._writer = asyncio.create_task(self._write_forever(), name="agent-state-rows")
        for agent, until in await self.backend.agents_in_acw():
            self._arm(agent, until)

    async def stop(self) -> None:
        """Disarm the timers and write the rows still queued."""
        self._stopping = True
        for handle in self._timers.values():
            handle.cancel()
        self._timers.clear()
        for task in list(self._tasks):
            task.cancel()
        if self._writer is not None:
            self._wake.set()
            await self._writer
            self._writer = None

    def committed(self, events: Sequence[Event]) -> None:
        for event in events:
            if not isinstance(event, AgentStateChanged):
                continue
            state = event.state
            self._rows.append(
                AgentStateChange(
                    agent_id=event.agent,
                    status=state.status.value,
                    reason=state.reason,
                    previous=event.previous,
                    started_at=datetime.fromtimestamp(state.since or event.at, UTC),
                )
            )
            self._wake.set()
            self._idle.clear()
            old = self._timers.pop(event.agent, None)
            if old is not None:
                old.cancel()
            if state.acw_until is not None:
                self._arm(event.agent, state.acw_until)

    def _arm(self, agent: str, until: float) -> None:
        if self._stopping:
            return
        delay = max(0.0, until - self.clock())
        loop = asyncio.get_running_loop()
        self._timers[agent] = loop.call_later(delay, self._expire, agent)

    def _expire(self, agent: str) -> None:
        self._timers.pop(agent, None)
        task = asyncio.get_running_loop().create_task(self._end_acw(agent))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _end_acw(self, agent: str) -> None:
        try:
            await self.backend.run(agent, lambda r: r.expire_acw(agent, now=self.clock()))
        except Exception as exc:  # Redis away: the next change of the agent ends it
            log.warning("could not end the after-call work of %s: %s", agent, exc)

    async def _write_forever(self) -> None:
        while True:
            await self._wake.wait()
            self._wake.clear()
            while self._rows:
                batch, self._rows = self._rows[:BATCH], self._rows[BATCH:]
                try:
                    await self.states.record(batch)
                except Exception:
                    log.exception("could not record %d agent-state changes", len(batch))
            self._idle.set()
            if self._stopping:
                return

    async def wait_written(self, within: float = 5.0) -> None:
        """Until the rows queued so far are written, at most ``within`` seconds (a report
        read right after a change sees it)."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._idle.wait(), within)
