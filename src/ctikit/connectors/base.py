"""The connector interface: what a telephony backend implements to plug into ctikit.

A connector reports what happens on the phones as :data:`ctikit.core.telephony.TelephonyEvent`
values through the :class:`EventSink` it is given, and carries out
:class:`~ctikit.core.telephony.ConnectorAction` values (answer, hang up, dial...) that the core
has already validated against the call state. It never touches call state or consoles itself.

Every connector implements :class:`Connector`. The rest is optional: a connector lists in
``capabilities`` the :class:`Capability` values it offers, and implements the matching
protocol (:class:`CallPlacer`, :class:`CallAdopter`, :class:`ScenarioRunner`). The server asks
for an optional part only through :func:`placer_of`, :func:`adopter_of` and
:func:`scenario_runner_of`, here; docs/connectors.md says what it does without each.
"""

from __future__ import annotations

import asyncio
import enum
from collections.abc import Iterable, Mapping
from typing import Any, Protocol, runtime_checkable

from ..core.commands import Action
from ..core.model import CallView
from ..core.telephony import ConnectorAction, TelephonyEvent
from .errors import ActionFailedError as ActionFailedError  # part of this interface


class EventSink(Protocol):
    """Where a connector reports telephony events (the server implements it)."""

    def report(self, event: TelephonyEvent) -> None:
        """Apply ``event`` now. Never raises: bad events are logged and dropped."""


class Capability(enum.StrEnum):
    """An optional part of the interface a connector may offer."""

    #: :class:`CallPlacer`: make a test call ring (the console's "Simulate call", ``POST
    #: /api/agents/{agent}/calls``). Without it the server answers ``unsupported``.
    PLACE_CALLS = "place_calls"
    #: :class:`CallAdopter`: take over calls already on lines (after a restart, or when
    #: another cluster node takes the connector over). Without it those calls are ended.
    ADOPT_CALLS = "adopt_calls"
    #: :class:`ScenarioRunner`: play scripted calls (``--scenario``). Without it a
    #: configured scenario stops the server at start with a clear error.
    SCENARIOS = "scenarios"
    #: ``/CONSULT``, ``/COMPLETE_TRANSFER``, ``/CANCEL_CONSULT``: hold a call, talk to a
    #: target on a consult call, then hand the held call over or go back to it. Without it
    #: the server answers those commands ``unsupported`` ("not supported by this connector").
    CONSULT = "consult"
    #: ``/CONFERENCE``: join a held call and its consult call (three-way). Without it, as
    #: above.
    CONFERENCE = "conference"


#: The capability each optional CTI command needs (commands not listed need none).
COMMAND_NEEDS: Mapping[Action, Capability] = {
    Action.CONSULT: Capability.CONSULT,
    Action.COMPLETE_TRANSFER: Capability.CONSULT,
    Action.CANCEL_CONSULT: Capability.CONSULT,
    Action.CONFERENCE: Capability.CONFERENCE,
}


@runtime_checkable
class Connector(Protocol):
    """A telephony backend."""

    name: str

    @property
    def capabilities(self) -> frozenset[Capability]:
        """The optional parts this connector offers now (may change, e.g. with its setup)."""

    async def start(self, sink: EventSink) -> None:
        """Connect to the backend and begin reporting events to ``sink``."""

    async def stop(self) -> None:
        """Release the backend (idempotent)."""

    async def execute(self, action: ConnectorAction) -> None:
        """Carry out ``action``; raise :class:`ActionFailedError` if it cannot be started.

        Completion is reported later as telephony events (e.g. ``CallAnswered``); failures
        after the action started come as ``ActionFailed`` events. The server replies to the
        command once those are in (:mod:`ctikit.core.outcomes`).
        """


@runtime_checkable
class CallPlacer(Protocol):
    """Optional (:attr:`Capability.PLACE_CALLS`): make a test call arrive."""

    async def place_inbound_call(
        self,
        agent: str,
        *,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> str:
        """Make a call ring at ``agent``'s phone; return its call ID. Missing values are
        made up (a plausible caller)."""


@runtime_checkable
class CallAdopter(Protocol):
    """Optional (:attr:`Capability.ADOPT_CALLS`): take over calls already on lines."""

    async def adopt_calls(self, calls: Iterable[tuple[str, CallView]]) -> list[str]:
        """Put ``(agent, call)`` on the lines of a freshly started connector, reporting
        nothing (the state already has them). Returns the IDs of the calls it could not
        take; the server ends those."""


@runtime_checkable
class ScenarioRunner(Protocol):
    """Optional (:attr:`Capability.SCENARIOS`): play scripted calls."""

    def run_scenario(self, scenario: Any, *, speed: float = 1.0) -> asyncio.Task[list[str | None]]:
        """Play a scenario (an object of the connector's own, or a file path) as a task
        that returns the IDs of its calls. A file that cannot be read raises here."""


def placer_of(connector: Connector) -> CallPlacer | None:
    """``connector`` as a :class:`CallPlacer` if it offers :attr:`Capability.PLACE_CALLS`."""
    if Capability.PLACE_CALLS not in connector.capabilities:
        return None
    if isinstance(connector, CallPlacer):
        return connector
    raise _lacks(connector, Capability.PLACE_CALLS, "CallPlacer")


def adopter_of(connector: Connector) -> CallAdopter | None:
    """``connector`` as a :class:`CallAdopter` if it offers :attr:`Capability.ADOPT_CALLS`."""
    if Capability.ADOPT_CALLS not in connector.capabilities:
        return None
    if isinstance(connector, CallAdopter):
        return connector
    raise _lacks(connector, Capability.ADOPT_CALLS, "CallAdopter")


def scenario_runner_of(connector: Connector) -> ScenarioRunner | None:
    """``connector`` as a :class:`ScenarioRunner` if it offers :attr:`Capability.SCENARIOS`."""
    if Capability.SCENARIOS not in connector.capabilities:
        return None
    if isinstance(connector, ScenarioRunner):
        return connector
    raise _lacks(connector, Capability.SCENARIOS, "ScenarioRunner")


def _lacks(connector: Connector, capability: Capability, protocol: str) -> TypeError:
    # A connector that claims a part it lacks is a bug in it: say so at once.
    return TypeError(
        f"the {connector.name} connector declares {capability.value} but does not "
        f"implement {protocol}"
    )
