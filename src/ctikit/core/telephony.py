"""What telephony connectors report to the core, and what the core asks of them.

A connector (simulator, SIP, a PBX) turns its backend's messages into these
:data:`TelephonyEvent` values; the registry maps them onto call state. The other way, a CTI
command a component sent becomes one :class:`ConnectorAction` for the connector to carry out.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from .commands import Action
from .model import CallType


@dataclass(frozen=True, slots=True, kw_only=True)
class CallOffered:
    """A call appeared on the agent's line: inbound ringing, or outbound being dialled."""

    agent: str
    call_id: str
    call_type: CallType
    ani: str | None = None
    dnis: str | None = None
    label: str | None = None
    data: dict[str, Any] = field(default_factory=dict)
    #: This agent's phone placed the call (outbound, or the caller's side of an internal
    #: call): its line starts "dialing", not "ringing".
    outgoing: bool = False


@dataclass(frozen=True, slots=True, kw_only=True)
class CallAnswered:
    agent: str
    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallHeld:
    agent: str
    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallRetrieved:
    agent: str
    call_id: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CallMuted:
    agent: str
    call_id: str
    muted: bool


@dataclass(frozen=True, slots=True, kw_only=True)
class CallDataAttached:
    """Data attached to a call by the telephony side (IVR answers, queue name...)."""

    agent: str
    call_id: str
    data: dict[str, Any]


@dataclass(frozen=True, slots=True, kw_only=True)
class CallReleased:
    """The call is over on the telephony side (either party hung up, transfer completed)."""

    agent: str
    call_id: str
    reason: str
    disposition: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class ActionFailed:
    """A command could not be carried out (busy, unreachable, declined...)."""

    agent: str
    reason: str
    call_id: str | None = None
    number: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class LineStatus:
    agent: str
    up: bool
    reason: str | None = None


TelephonyEvent = (
    CallOffered
    | CallAnswered
    | CallHeld
    | CallRetrieved
    | CallMuted
    | CallDataAttached
    | CallReleased
    | ActionFailed
    | LineStatus
)


@dataclass(frozen=True, slots=True, kw_only=True)
class ConnectorAction:
    """A validated command for the connector: ``call_id`` is resolved (None only for DIAL)."""

    agent: str
    action: Action
    call_id: str | None = None
    number: str | None = None
    digits: str | None = None
    #: For TRANSFER: the call's attached data, so the target agent receives it too.
    data: Any = None
    #: For COMPLETE_TRANSFER, CANCEL_CONSULT, CONFERENCE (``call_id`` is the consult call):
    #: the held call it consults about.
    held_call_id: str | None = None
