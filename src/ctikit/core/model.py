"""Value types of the call state: call types, line states, a call's view, limits."""

from __future__ import annotations

import enum
import json
import re
from dataclasses import dataclass, field
from typing import Any

from .errors import CtiRequestError, LimitExceededError, TooLongError
from .jsonvalue import check_text


class CallType(enum.StrEnum):
    INBOUND = "INBOUND"
    OUTBOUND = "OUTBOUND"
    INTERNAL = "INTERNAL"

    @classmethod
    def parse(cls, value: object) -> CallType:
        """Accept any case (``inbound``, ``Inbound``...), as the original does."""
        if isinstance(value, str):
            try:
                return cls(value.strip().upper())
            except ValueError:
                pass
        raise CtiRequestError(
            f"call type must be one of inbound, outbound, internal (got {value!r})"
        )


class LineState(enum.StrEnum):
    """State of a call the telephony connector controls.

    Calls begun by a component (``fireOnCallBegin``) have no line state: ctikit does not know
    what the component's own softphone is doing with them.
    """

    RINGING = "ringing"  # inbound, offered to the agent's phone
    DIALING = "dialing"  # outbound, far end not answered yet
    CONNECTED = "connected"
    HELD = "held"


@dataclass(frozen=True, slots=True, kw_only=True)
class Limits:
    """Bounds on what one agent's state may hold. Each is documented in docs/protocol.md."""

    max_active_calls: int = 20
    max_data_bytes: int = 64 * 1024
    max_id_length: int = 255
    max_label_length: int = 255
    max_disposition_length: int = 255
    max_pending_data: int = 32  # data set for calls that have not begun yet
    max_recent_ended: int = 50  # ended calls kept for wrap-up (saving the call log)
    event_log_size: int = 1000  # events kept per agent for replay after a reconnect
    # Budgets, in bytes of memory (core/budget.py prices the state): see docs/security.md.
    event_log_bytes: int = 2 * 1024 * 1024  # one agent's event log
    agent_memory_bytes: int = 16 * 1024 * 1024  # one agent's whole state (log included)
    server_memory_bytes: int = 1024 * 1024 * 1024  # every agent's state together
    max_agents: int = 20_000  # agents with state (idle ones not connected are evicted)
    call_log_saves_per_minute: int = 120  # call logs one agent may save


AGENT_ID_RE = re.compile(r"^[A-Za-z0-9._@+-]{1,64}\Z")


def check_agent_id(agent: object) -> str:
    if not isinstance(agent, str) or not AGENT_ID_RE.match(agent):
        raise CtiRequestError(
            "agent ID must be 1 to 64 characters of letters, digits and . _ @ + -"
        )
    return agent


#: Deletes the characters an agent ID may hold: what is left of valid IDs is empty.
_AGENT_ID_CHARS = str.maketrans(
    "", "", "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789._@+-"
)


def check_agent_list(agents: object, limit: int) -> list[str]:
    """A non-empty list of at most ``limit`` agent IDs: the valid IDs in order, each once
    (a repeat is dropped); raises CtiRequestError naming the first bad entry."""
    if not isinstance(agents, list) or not agents:
        raise CtiRequestError("agents must be a non-empty list of agent IDs")
    if len(agents) > limit:
        raise LimitExceededError(f"more than {limit} agents in one request")
    # The common case at C speed (a loop cost a campaign ~25 ms of the event loop); the
    # loop below only names the first bad entry.
    if set(map(type, agents)) == {str}:
        lengths = set(map(len, agents))
        joined = "".join(agents)
        if min(lengths) >= 1 and max(lengths) <= 64 and not joined.translate(_AGENT_ID_CHARS):
            return list(dict.fromkeys(agents))
    for i, agent in enumerate(agents):
        if not isinstance(agent, str) or not AGENT_ID_RE.match(agent):
            raise CtiRequestError(
                f"agents[{i}]: agent ID must be 1 to 64 characters of letters, digits and . _ @ + -"
            )
    raise AssertionError("unreachable: every agent ID was valid")  # pragma: no cover


def check_call_id(value: object, limits: Limits, *, what: str = "call ID") -> str:
    """A call (or call log) ID as components and connectors may give it: a number becomes
    its text, as in the original, which stringifies everything it is given."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise CtiRequestError(f"{what} must be a non-empty string")
    if len(value) > limits.max_id_length:
        raise TooLongError(f"{what} longer than {limits.max_id_length} characters")
    if any(ord(ch) < 32 or ord(ch) == 127 for ch in value):
        raise CtiRequestError(f"{what} has control characters")
    return check_text(value, what)


def check_short_text(value: object, what: str, limit: int) -> str | None:
    """An optional string of at most ``limit`` characters (a label, a disposition)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise CtiRequestError(f"{what} must be a string")
    if len(value) > limit:
        raise TooLongError(f"{what} longer than {limit} characters")
    return check_text(value, what)


def check_data_size(data: Any, limits: Limits) -> None:
    """Refuse attached data whose JSON is over ``limits.max_data_bytes``."""
    if len(json.dumps(data, separators=(",", ":")).encode()) > limits.max_data_bytes:
        raise LimitExceededError(f"attached data larger than {limits.max_data_bytes} bytes")


@dataclass(slots=True, kw_only=True)
class Call:
    """One call of one agent. Mutable, owned by the registry; callers get :class:`CallView`."""

    id: str
    call_type: CallType
    label: str | None = None
    data: Any = field(default_factory=dict)
    started_at: float
    begun: bool = True  # False: only named by setCallObjectIds, no onCallBegin yet
    line_state: LineState | None = None
    muted: bool = False
    answered_at: float | None = None
    ended_at: float | None = None
    duration: float | None = None
    disposition: str | None = None
    ani: str | None = None
    dnis: str | None = None
    held_at: float | None = None  # since when the call is held (None: not held)

    def view(self) -> CallView:
        return CallView(
            id=self.id,
            call_type=self.call_type,
            label=self.label,
            data=self.data,
            started_at=self.started_at,
            line_state=self.line_state,
            muted=self.muted,
            answered_at=self.answered_at,
            ended_at=self.ended_at,
            duration=self.duration,
            disposition=self.disposition,
            ani=self.ani,
            dnis=self.dnis,
            held_at=self.held_at,
        )


@dataclass(frozen=True, slots=True, kw_only=True)
class CallView:
    """A read-only snapshot of a call."""

    id: str
    call_type: CallType
    label: str | None
    data: Any
    started_at: float
    line_state: LineState | None
    muted: bool
    answered_at: float | None
    ended_at: float | None
    duration: float | None
    disposition: str | None
    ani: str | None
    dnis: str | None
    held_at: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "type": self.call_type.value,
            "label": self.label,
            "data": self.data,
            "startedAt": self.started_at,
            "lineState": self.line_state.value if self.line_state else None,
            "muted": self.muted,
            "answeredAt": self.answered_at,
            "endedAt": self.ended_at,
            "duration": self.duration,
            "disposition": self.disposition,
            "ani": self.ani,
            "dnis": self.dnis,
            "heldAt": self.held_at,
        }
