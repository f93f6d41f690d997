"""Agent state (presence): whether the telephony may offer an agent a call.

Theory of operation
-------------------
Every agent has one :class:`Presence`: a :class:`Status`, the reason of an ``away``, since
when, and for after-call work the time it ends. The table below is the whole behaviour; the
functions here apply it to values and a ``now`` given by the caller (no clock is read).

===============  =================  ===========================================================
status           offered calls      how it is entered
===============  =================  ===========================================================
``available``    ring               chosen; or after-call work ran out (``acw_until`` reached)
``away``         refused            chosen, with a reason from :attr:`PresencePolicy.away_reasons`
``offline``      refused            chosen
``acw``          refused            an answered call ended and no other call is left, when
                                    :attr:`PresencePolicy.acw_seconds` > 0 and the agent was
                                    ``available`` (or already in after-call work)
===============  =================  ===========================================================

Calls the agent places (outbound, internal) go out whatever the status. After-call work may
be left early by choosing any status; when its time is up the next look at the agent (a
change, a read, or the server's timer) makes it ``available``. A never-set agent is in the
policy's initial status.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass
from typing import Any

from .errors import CtiRequestError, TelephonyError


class Status(enum.StrEnum):
    AVAILABLE = "available"
    AWAY = "away"
    OFFLINE = "offline"
    ACW = "acw"  # after-call work (wrap-up)


#: What an agent (or the REST API) may choose; after-call work only follows a call.
CHOOSABLE = frozenset({Status.AVAILABLE, Status.AWAY, Status.OFFLINE})
#: The statuses in which the telephony may offer the agent a call.
RINGS = frozenset({Status.AVAILABLE})

MAX_REASON = 64


class AgentUnavailableError(TelephonyError):
    """A call was offered to an agent whose status refuses calls: the telephony side rejects
    it at the phone (the simulator releases it, a SIP line answers 486)."""


@dataclass(frozen=True, slots=True, kw_only=True)
class PresencePolicy:
    """The configuration the table runs with (``[agent_state]`` in the config file)."""

    initial: Status = Status.AVAILABLE
    away_reasons: tuple[str, ...] = ("Break", "Lunch", "Meeting", "Training")
    acw_seconds: float = 0.0  # 0: no after-call work

    def __post_init__(self) -> None:
        if self.initial not in CHOOSABLE:
            raise ValueError(f"initial agent state must be one of {_names(CHOOSABLE)}")
        if not math.isfinite(self.acw_seconds) or self.acw_seconds < 0:
            raise ValueError("acw_seconds must be a non-negative number")


@dataclass(frozen=True, slots=True, kw_only=True)
class Presence:
    """One agent's state. ``since`` is None for an agent that never chose one."""

    status: Status
    reason: str | None = None
    since: float | None = None
    acw_until: float | None = None

    def to_dict(self) -> dict[str, Any]:
        """The wire form (docs/protocol.md, ``agentState``)."""
        return {
            "status": self.status.value,
            "reason": self.reason,
            "since": self.since,
            "acwUntil": self.acw_until,
        }


def initial(policy: PresencePolicy) -> Presence:
    return Presence(status=policy.initial)


def effective(current: Presence, now: float) -> Presence:
    """``current`` as it stands at ``now``: after-call work that ran out is ``available``."""
    if current.status is Status.ACW and current.acw_until is not None and now >= current.acw_until:
        return Presence(status=Status.AVAILABLE, since=current.acw_until)
    return current


def expired(current: Presence, now: float) -> Presence | None:
    """The new state if after-call work ran out by ``now``, else None (nothing to do)."""
    nxt = effective(current, now)
    return None if nxt is current else nxt


def choose(
    current: Presence, status: object, reason: object, policy: PresencePolicy, now: float
) -> Presence | None:
    """The state an agent chose, checked against the table and the policy; None if it is
    the state the agent is already in. Raises CtiRequestError naming what is wrong."""
    try:
        picked = Status(status) if isinstance(status, str) else None
    except ValueError:
        picked = None
    if picked is None or picked not in CHOOSABLE:
        raise CtiRequestError(f"status must be one of {_names(CHOOSABLE)} (got {status!r})")
    if picked is Status.AWAY:
        if not isinstance(reason, str) or reason not in policy.away_reasons:
            choices = ", ".join(policy.away_reasons) or "(none configured)"
            raise CtiRequestError(f"away needs a reason, one of: {choices} (got {reason!r})")
    elif reason is not None:
        raise CtiRequestError(f"only away takes a reason (got {reason!r} for {picked.value})")
    now_state = effective(current, now)
    if now_state.status is picked and now_state.reason == reason and now_state.since is not None:
        return None
    return Presence(status=picked, reason=reason if isinstance(reason, str) else None, since=now)


def after_call(
    current: Presence, policy: PresencePolicy, now: float, *, answered: bool, calls_left: int
) -> Presence | None:
    """After-call work once an answered call ended and none is left; None: no change."""
    if not answered or calls_left or policy.acw_seconds <= 0:
        return None
    if effective(current, now).status not in (Status.AVAILABLE, Status.ACW):
        return None
    return Presence(status=Status.ACW, since=now, acw_until=now + policy.acw_seconds)


def check_rings(current: Presence, now: float, agent: str) -> None:
    """Raise :class:`AgentUnavailableError` unless an offered call may ring at the agent."""
    status = effective(current, now).status
    if status not in RINGS:
        raise AgentUnavailableError(f"agent {agent!r} is {status.value}: the call is refused")


def to_saved(p: Presence) -> dict[str, Any]:
    return {"status": p.status.value, "reason": p.reason, "since": p.since, "until": p.acw_until}


def from_saved(raw: object) -> Presence:
    """Read :func:`to_saved`'s data back; raises ValueError if it is malformed."""
    if not isinstance(raw, dict):
        raise ValueError("agent state must be an object")
    status = Status(str(raw.get("status")))
    reason, since, until = raw.get("reason"), raw.get("since"), raw.get("until")
    if reason is not None and (not isinstance(reason, str) or len(reason) > MAX_REASON):
        raise ValueError("agent state reason must be a short string")
    for name, value in (("since", since), ("until", until)):
        if value is not None and (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise ValueError(f"agent state {name} must be a number")
    if (status is Status.ACW) != (until is not None):
        raise ValueError("agent state: only after-call work has an end time")
    return Presence(status=status, reason=reason, since=since, acw_until=until)


def _names(statuses: frozenset[Status]) -> str:
    return ", ".join(s.value for s in Status if s in statuses)
