"""The connector interface: what a telephony backend implements to plug into ctikit.

A connector reports what happens on the phones as :data:`ctikit.core.telephony.TelephonyEvent`
values through the :class:`EventSink` it is given, and carries out
:class:`~ctikit.core.telephony.ConnectorAction` values (answer, hang up, dial...) that the core
has already validated against the call state. It never touches call state or consoles itself.
See docs/connectors.md.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol, runtime_checkable

from ..core.telephony import ConnectorAction, TelephonyEvent


class EventSink(Protocol):
    """Where a connector reports telephony events (the server implements it)."""

    def report(self, event: TelephonyEvent) -> None:
        """Apply ``event`` now. Never raises: bad events are logged and dropped."""


class ActionFailedError(Exception):
    """The connector could not carry out an action; the message is shown to the agent."""


@runtime_checkable
class Connector(Protocol):
    """A telephony backend."""

    name: str

    async def start(self, sink: EventSink) -> None:
        """Connect to the backend and begin reporting events to ``sink``."""

    async def stop(self) -> None:
        """Release the backend (idempotent)."""

    async def execute(self, action: ConnectorAction) -> None:
        """Carry out ``action``; raise :class:`ActionFailedError` if it cannot be started.

        Completion is reported later as telephony events (e.g. ``CallAnswered``); failures
        after the action started come as ``ActionFailed`` events.
        """


@runtime_checkable
class CallPlacer(Protocol):
    """Optional: a connector that can make a test call arrive (the softphone's button)."""

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
