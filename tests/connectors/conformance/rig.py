"""What the conformance suite needs of a connector: a :class:`Rig`, and the sink it reports to.

A rig is one connector under test, started, together with the telephone network around it:
two agents with two lines each, a caller who can ring them and hang up, and a far end that
answers the number :attr:`Numbers.answers`. The suite drives the connector only through the
``Connector`` interface (``execute``, and ``place_inbound_call`` where it offers
``PLACE_CALLS``); what is not the connector's business (the caller hanging up, the far end
hearing DTMF) it asks of the rig. docs/connectors.md ("Conformance") says how to add a rig.
"""

from __future__ import annotations

import abc
import asyncio
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ctikit.connectors.base import Connector, placer_of
from ctikit.core import CallRegistry
from ctikit.core.events import Event
from ctikit.core.telephony import TelephonyEvent

AGENTS = ("agent1", "agent2")


@dataclass(frozen=True, slots=True, kw_only=True)
class Numbers:
    """Numbers of the rig's network, by what they do. The suite's expectations are written
    with :data:`REFERENCE`; a rig whose network uses other numbers maps them back."""

    extensions: Mapping[str, str]  # agent -> extension
    answers: str  # a far end that answers at once, hears DTMF and can hang up
    busy: str  # answers 486 Busy Here
    not_found: str  # answers 404 Not Found
    declines: str  # answers 603 Decline


REFERENCE = Numbers(
    extensions={"agent1": "1001", "agent2": "1002"},
    answers="5550100",
    busy="5550486",
    not_found="5550404",
    declines="5550603",
)


class Recorder:
    """The connector's ``EventSink``: records every event in order and applies it to a real
    :class:`CallRegistry` (what the registry refuses is kept in :attr:`errors`)."""

    def __init__(self, now: Callable[[], float]) -> None:
        self._now = now
        self.events: list[TelephonyEvent] = []
        self.core: list[Event] = []  # what the registry made of them, in order
        self.errors: list[Exception] = []
        self.registry = CallRegistry()
        self.changed = asyncio.Event()

    def report(self, event: TelephonyEvent) -> None:
        self.events.append(event)
        try:
            self.core += self.registry.apply(event, now=self._now())
        except Exception as exc:
            self.errors.append(exc)
        self.changed.set()

    def active_calls(self) -> int:
        return sum(len(self.registry.calls(agent)) for agent in AGENTS)


class Rig(abc.ABC):
    """A started connector and its network (see the module docstring)."""

    #: The connector's name: what the table of known differences calls it.
    name: str
    numbers: Numbers = REFERENCE

    def __init__(self, connector: Connector, recorder: Recorder) -> None:
        self.connector = connector
        self.recorder = recorder

    @abc.abstractmethod
    def now(self) -> float:
        """The rig's time (the registry's ``now``)."""

    @abc.abstractmethod
    async def wait_until(self, cond: Callable[[], bool], *, what: str) -> None:
        """Let time pass until ``cond()`` holds; fail naming ``what`` after a bounded wait."""

    @abc.abstractmethod
    async def settle(self) -> None:
        """Let time pass long enough for any stray event to show."""

    async def ring(self, agent: str, *, ani: str, dnis: str, data: Mapping[str, Any]) -> str:
        """Make a caller ring ``agent``; returns the call ID the connector gave it. By default
        through the connector's ``CallPlacer``; a rig without one rings another way."""
        placer = placer_of(self.connector)
        if placer is None:
            raise NotImplementedError(f"the {self.name} rig has no way to ring an agent")
        return await placer.place_inbound_call(agent, ani=ani, dnis=dnis, data=data)

    @abc.abstractmethod
    async def caller_hangup(self, call_id: str) -> None:
        """The caller of a call :meth:`ring` made hangs up."""

    @abc.abstractmethod
    async def far_end_hangup(self, call_id: str) -> None:
        """The far end (:attr:`Numbers.answers`) of a call an agent dialled hangs up."""

    @abc.abstractmethod
    def digits_heard(self, call_id: str) -> str:
        """The DTMF digits the far end of an agent's call ``call_id`` has received so far."""
