"""What a supervisor sees: the team board, the day's numbers and the alerts (sans-I/O).

Theory of operation
-------------------
The server hands in, for each watched agent, its state (:mod:`.presence`), its active calls
and when each held call went on hold, and ``now``; :func:`board` returns the JSON-ready board.
The day's numbers come from :class:`DayStats`, fed every call that ended (the server's
commit hook), and reset when the day (UTC) changes.

=======================  ====================================================================
alert                    fires while
=======================  ====================================================================
``ringing_too_long``     a call has rung for ``ring_alert_seconds`` or more
``held_too_long``        a call has been on hold for ``hold_alert_seconds`` or more
``offline_with_call``    an agent is ``offline`` and still has an active call
=======================  ====================================================================

Handled: answered calls that ended. Average handle time: their mean time from answer to
end. Service level: of the inbound calls that ended (answered or not), the share answered
within ``service_level_seconds`` of ringing; ``null`` before the first such call.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from .model import CallType, CallView, LineState
from .presence import Presence, Status

DAY = 86400.0


@dataclass(frozen=True, slots=True, kw_only=True)
class Thresholds:
    """The ``[supervisor]`` settings."""

    ring_alert_seconds: float = 30.0
    hold_alert_seconds: float = 120.0
    service_level_seconds: float = 20.0


@dataclass(slots=True)
class DayStats:
    """One agent's numbers for one UTC day (``day`` = days since the epoch)."""

    day: int = 0
    handled: int = 0
    handle_seconds: float = 0.0
    inbound: int = 0
    within: int = 0

    def record(self, call: CallView, ended_at: float, thresholds: Thresholds) -> None:
        """Count a call that ended at ``ended_at`` (a new day starts the numbers again)."""
        day = int(ended_at // DAY)
        if day != self.day:
            self.day, self.handled, self.handle_seconds, self.inbound, self.within = day, 0, 0, 0, 0
        answered = call.answered_at
        if answered is not None:
            self.handled += 1
            self.handle_seconds += max(0.0, ended_at - answered)
        # Inbound calls on a line (a component's own calls have no ringing to measure).
        if call.call_type is CallType.INBOUND and call.line_state is not None:
            self.inbound += 1
            if answered is not None and answered - call.started_at <= (
                thresholds.service_level_seconds
            ):
                self.within += 1

    def today(self, now: float) -> DayStats:
        """These numbers if they are ``now``'s day's, else zeros."""
        return self if self.day == int(now // DAY) else DayStats(day=int(now // DAY))


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentLook:
    """One watched agent as the server read it."""

    agent: str
    name: str
    team: str | None
    presence: Presence
    calls: tuple[CallView, ...]
    held_since: Mapping[str, float] = field(default_factory=dict)
    stats: DayStats = field(default_factory=DayStats)


def alerts(look: AgentLook, now: float, t: Thresholds) -> list[dict[str, Any]]:
    """The alerts firing for one agent now (see the table above)."""
    out: list[dict[str, Any]] = []
    for call in look.calls:
        if call.line_state is LineState.RINGING and now - call.started_at >= t.ring_alert_seconds:
            out.append(_alert("ringing_too_long", look, call.id, call.started_at))
        held = look.held_since.get(call.id)
        if call.line_state is LineState.HELD and held is not None:
            if now - held >= t.hold_alert_seconds:
                out.append(_alert("held_too_long", look, call.id, held))
    if look.presence.status is Status.OFFLINE and look.calls:
        since = look.presence.since or now
        out.append(_alert("offline_with_call", look, look.calls[0].id, since))
    return out


def _alert(kind: str, look: AgentLook, call_id: str, since: float) -> dict[str, Any]:
    return {"kind": kind, "agent": look.agent, "name": look.name, "callId": call_id, "since": since}


def board(looks: Iterable[AgentLook], now: float, t: Thresholds) -> dict[str, Any]:
    """The supervisor's board: teams of agents, the day's numbers, calls waiting, alerts."""
    teams: dict[str, list[dict[str, Any]]] = {}
    fired: list[dict[str, Any]] = []
    total = DayStats(day=int(now // DAY))
    ringing = 0
    for look in sorted(looks, key=lambda x: (x.team or "", x.name.lower(), x.agent)):
        state = look.presence
        teams.setdefault(look.team or "", []).append(
            {
                "id": look.agent,
                "name": look.name,
                "state": state.to_dict(),
                "calls": [_call(c, look.held_since.get(c.id)) for c in look.calls],
            }
        )
        ringing += sum(c.line_state is LineState.RINGING for c in look.calls)
        fired += alerts(look, now, t)
        day = look.stats.today(now)
        total.handled += day.handled
        total.handle_seconds += day.handle_seconds
        total.inbound += day.inbound
        total.within += day.within
    return {
        "at": now,
        "teams": [{"team": team or None, "agents": agents} for team, agents in teams.items()],
        "stats": {
            "ringing": ringing,
            "handledToday": total.handled,
            "averageHandleSeconds": (
                round(total.handle_seconds / total.handled, 1) if total.handled else None
            ),
            "serviceLevel": _share(total.within, total.inbound),
            "serviceLevelSeconds": t.service_level_seconds,
            "inboundToday": total.inbound,
        },
        "alerts": fired,
        "thresholds": {
            "ringAlertSeconds": t.ring_alert_seconds,
            "holdAlertSeconds": t.hold_alert_seconds,
        },
    }


def _share(part: int, whole: int) -> float | None:
    if not whole:
        return None
    value = part / whole
    return round(value, 4) if math.isfinite(value) else None


def _call(call: CallView, held_since: float | None) -> dict[str, Any]:
    return {
        "id": call.id,
        "type": call.call_type.value,
        "lineState": call.line_state.value if call.line_state else None,
        "ani": call.ani,
        "dnis": call.dnis,
        "label": call.label,
        "startedAt": call.started_at,
        "answeredAt": call.answered_at,
        "heldSince": held_since,
    }
