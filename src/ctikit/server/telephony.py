"""The telephony side of a service: where the connector runs and how commands reach it.

A :class:`~ctikit.server.service.CtiService` is given a :class:`Telephony` beside its state
backend. :class:`LocalTelephony` (here) drives a connector in this process: a single node, or
the cluster node that holds the connector lease. :class:`ctikit.cluster.remote.ForwardingTelephony`
is what every cluster node uses: it runs commands on the lease holder, wherever that is.

A command's reply means it happened (docs/protocol.md, "Commands"): :meth:`Telephony.execute`
returns once the state backend has committed the outcome :mod:`ctikit.core.outcomes` names for
it, or raises with the failure, within ``command_timeout`` seconds.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Coroutine, Mapping, Sequence
from typing import Any, Protocol

from ..connectors.base import (
    ActionFailedError,
    Capability,
    Connector,
    EventSink,
    adopter_of,
    placer_of,
    scenario_runner_of,
)
from ..connectors.clock import Clock, LoopClock
from ..core.commands import Action
from ..core.errors import (
    CallAlreadyActiveError,
    CommandRejectedError,
    CtiError,
    CtiRequestError,
    TelephonyError,
)
from ..core.events import Event
from ..core.model import CallView
from ..core.outcomes import COMPLETES, Verdict, judge, needs_report
from ..core.telephony import CallOffered, CallReleased, ConnectorAction, TelephonyEvent
from .backend import ReportListener, StateBackend

log = logging.getLogger("ctikit.service")

#: Default of ``command_timeout`` (config): how long a command waits for its outcome.
COMMAND_TIMEOUT = 10.0
RESTARTED = "telephony restarted: the call was lost"


def check_command_timeout(seconds: float) -> float:
    """``command_timeout`` as given, if it is a sane time limit; else ValueError."""
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 < seconds <= 600:
        raise ValueError(
            f"command_timeout must be more than 0 and at most 600 seconds: {seconds!r}"
        )
    return float(seconds)


class UnsupportedError(CtiRequestError):
    """The connector does not offer what was asked (docs/connectors.md, optional parts)."""

    code = "unsupported"


class CommandTimeoutError(CtiError):
    """The connector accepted a command but did not report its outcome in time. The
    command may still complete (or fail) later: the console's events will say."""

    code = "timeout"


class Telephony(ReportListener, Protocol):
    """What the service asks of the telephony side (and hears from its state backend)."""

    @property
    def name(self) -> str:
        """The connector's name (``sim``, ``sip``...)."""

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The connector's optional parts this service can use now."""

    async def start(self, backend: StateBackend) -> None:
        """Start the connector reporting to ``backend`` and hand it the calls on lines."""

    async def stop(self) -> None:
        """Stop the connector (idempotent)."""

    async def execute(self, action: ConnectorAction) -> None:
        """Carry out a validated command and return once it happened. Raises
        :class:`CommandRejectedError` (the connector refused it, or reported it failed, or
        the call ended first) or :class:`CommandTimeoutError`."""

    async def place_inbound_call(
        self, agent: str, *, ani: str | None, dnis: str | None, data: Mapping[str, Any] | None
    ) -> str:
        """Make a test call ring at ``agent``; its call ID. Raises :class:`UnsupportedError`
        without :attr:`Capability.PLACE_CALLS`, ``ActionFailedError`` if it cannot."""

    def run_scenario(self, path: str) -> asyncio.Task[list[str | None]]:
        """Play a scenario file. Raises :class:`UnsupportedError` where it cannot."""

    def health(self) -> dict[str, Any]:
        """Extra fields for ``GET /api/health`` (merged with the backend's)."""

    async def not_ready(self) -> str | None:
        """Why commands cannot reach a connector now (``GET /api/ready``); None if they can."""


# ---------------------------------------------------------------- confirmations


class _Waiter:
    __slots__ = ("action", "verdict")

    def __init__(self, action: ConnectorAction) -> None:
        self.action = action
        self.verdict: asyncio.Future[Verdict | None] = asyncio.get_running_loop().create_future()

    def expire(self) -> None:
        if not self.verdict.done():
            self.verdict.set_result(None)  # None: no outcome in time


class Confirmations:
    """Commands waiting for their outcome, fed with every committed connector event.
    ``clock`` runs their time limits (a ManualClock in tests)."""

    def __init__(self, clock: Clock | None = None) -> None:
        self.clock = clock or LoopClock()
        self._waiting: dict[str, list[_Waiter]] = {}

    def expect(self, action: ConnectorAction) -> _Waiter:
        waiter = _Waiter(action)
        self._waiting.setdefault(action.agent, []).append(waiter)
        return waiter

    def forget(self, waiter: _Waiter) -> None:
        waiters = self._waiting.get(waiter.action.agent)
        if waiters is not None and waiter in waiters:
            waiters.remove(waiter)
            if not waiters:
                del self._waiting[waiter.action.agent]

    def saw(self, events: Sequence[Event]) -> None:
        if not self._waiting:
            return
        for event in events:
            for waiter in self._waiting.get(event.agent, ()):
                if not waiter.verdict.done():
                    verdict = judge(waiter.action, event)
                    if verdict is not None:
                        waiter.verdict.set_result(verdict)

    async def carry_out(
        self, connector: Connector, action: ConnectorAction, *, within: float
    ) -> None:
        """Hand ``action`` to ``connector``; return once its outcome is committed, within
        ``within`` seconds (the connector's own request included)."""
        name = f"/{action.action.value}"
        if not needs_report(action.action):
            try:
                await connector.execute(action)
            except ActionFailedError as exc:
                raise CommandRejectedError(f"{name}: {exc}") from None
            return
        # Expected before it starts: a connector may report the outcome from within execute.
        waiter = self.expect(action)
        timer = self.clock.call_later(within, waiter.expire)
        try:
            try:
                await connector.execute(action)
            except ActionFailedError as exc:
                raise CommandRejectedError(f"{name}: {exc}") from None
            verdict = await waiter.verdict
        finally:
            timer.cancel()
            self.forget(waiter)
        if verdict is None:
            raise CommandTimeoutError(
                f"{name}: the telephony did not confirm it in {within:g} s "
                f"(the call is not {COMPLETES[action.action].shows} yet)"
            )
        if not verdict.ok:
            raise CommandRejectedError(f"{name}: {verdict.reason}")


# ---------------------------------------------------------------- this process


async def hand_over_calls(
    connector: Connector, sink: EventSink, on_lines: list[tuple[str, CallView]], reason: str
) -> set[str]:
    """Give a freshly started connector the calls the state has on its lines; end those it
    cannot take (all, without :attr:`Capability.ADOPT_CALLS`) with ``reason``. Returns the
    IDs of the calls ended."""
    if not on_lines:
        return set()
    adopter = adopter_of(connector)
    refused = set(await adopter.adopt_calls(on_lines)) if adopter else {c.id for _, c in on_lines}
    for agent, call in on_lines:
        if call.id in refused:
            sink.report(CallReleased(agent=agent, call_id=call.id, reason=reason))
    log.info(
        "the %s connector took over %d calls on lines, %d lost",
        connector.name,
        len(on_lines) - len(refused),
        len(refused),
    )
    return refused


class LocalTelephony:
    """Drives ``connector`` in this process (see the module docstring). Calls the state
    has on lines when it starts are handed to the connector, or ended with ``lost_reason``.
    Commands wait up to ``command_timeout`` seconds of ``clock`` for their outcome.
    """

    def __init__(
        self,
        connector: Connector,
        *,
        command_timeout: float = COMMAND_TIMEOUT,
        lost_reason: str = RESTARTED,
        clock: Clock | None = None,
    ) -> None:
        self.connector = connector
        self.command_timeout = check_command_timeout(command_timeout)
        self.lost_reason = lost_reason
        self.confirmations = Confirmations(clock)
        self._tasks: set[asyncio.Task[None]] = set()
        self.running = False  # between a successful start and stop

    @property
    def name(self) -> str:
        return self.connector.name

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.connector.capabilities

    async def start(self, backend: StateBackend) -> None:
        await self.connector.start(backend)
        await hand_over_calls(
            self.connector, backend, await backend.calls_on_lines(), self.lost_reason
        )
        self.running = True

    async def stop(self) -> None:
        self.running = False
        await self.connector.stop()

    async def execute(self, action: ConnectorAction) -> None:
        await self.confirmations.carry_out(self.connector, action, within=self.command_timeout)

    async def place_inbound_call(
        self, agent: str, *, ani: str | None, dnis: str | None, data: Mapping[str, Any] | None
    ) -> str:
        placer = placer_of(self.connector)
        if placer is None:
            raise UnsupportedError(f"the {self.name} connector cannot place test calls")
        return await placer.place_inbound_call(agent, ani=ani, dnis=dnis, data=data)

    def run_scenario(self, path: str) -> asyncio.Task[list[str | None]]:
        runner = scenario_runner_of(self.connector)
        if runner is None:
            raise UnsupportedError(f"the {self.name} connector cannot run scenarios")
        return runner.run_scenario(path)

    # ------------------------------------------------------- ReportListener

    def committed(self, events: Sequence[Event]) -> None:
        self.confirmations.saw(events)

    def dropped(self, event: TelephonyEvent, error: TelephonyError) -> None:
        if isinstance(event, CallOffered) and not isinstance(error, CallAlreadyActiveError):
            # The phone has a call the agent cannot see (over a limit, bad data): hang it
            # up rather than leave a line nobody can reach. No outcome to wait for: the
            # state never had the call.
            hangup = ConnectorAction(agent=event.agent, action=Action.HANGUP, call_id=event.call_id)
            self._spawn(self._refuse(hangup))

    def health(self) -> dict[str, Any]:
        return {}

    async def not_ready(self) -> str | None:
        return None if self.running else f"the {self.name} connector is not running"

    async def state_lost(self) -> None:
        """Nothing to do here: only a shared state (a cluster's) can be lost."""

    async def _refuse(self, action: ConnectorAction) -> None:
        try:
            await self.connector.execute(action)
        except Exception as exc:  # logged: nothing else can be done with it here
            log.warning(
                "could not hang up refused call %s of %s: %s", action.call_id, action.agent, exc
            )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
