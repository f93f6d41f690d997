"""The supervisor's board on an injected clock: alerts, the day's numbers, service level."""

from __future__ import annotations

from ctikit.core.model import CallType, CallView, LineState
from ctikit.core.presence import Presence, Status
from ctikit.core.supervision import AgentLook, DayStats, Thresholds, board

T = Thresholds(ring_alert_seconds=30, hold_alert_seconds=60, service_level_seconds=20)
DAY = 86400.0


def call(
    cid: str, state: LineState | None, started: float, answered: float | None = None
) -> CallView:
    return CallView(
        id=cid,
        call_type=CallType.INBOUND,
        label=None,
        data={},
        started_at=started,
        line_state=state,
        muted=False,
        answered_at=answered,
        ended_at=None,
        duration=None,
        disposition=None,
        ani="+1415",
        dnis=None,
    )


def look(*calls: CallView, status: Status = Status.AVAILABLE, **kw: object) -> AgentLook:
    return AgentLook(
        agent="a1",
        name="Alice",
        team="blue",
        presence=Presence(status=status, since=5.0),
        calls=calls,
        **kw,  # type: ignore[arg-type]
    )


def test_ringing_alert_fires_at_the_threshold() -> None:
    ringing = look(call("c1", LineState.RINGING, 100))
    assert board([ringing], 129.9, T)["alerts"] == []
    (alert,) = board([ringing], 130, T)["alerts"]
    assert alert == {
        "kind": "ringing_too_long",
        "agent": "a1",
        "name": "Alice",
        "callId": "c1",
        "since": 100,
    }
    assert board([ringing], 130, T)["stats"]["ringing"] == 1


def test_hold_alert_counts_from_the_hold_not_the_answer() -> None:
    held = look(call("c1", LineState.HELD, 0, answered=10), held_since={"c1": 100.0})
    assert board([held], 159, T)["alerts"] == []
    assert [a["kind"] for a in board([held], 160, T)["alerts"]] == ["held_too_long"]


def test_offline_with_a_call_alerts_and_teams_group_agents() -> None:
    out = board([look(call("c1", LineState.CONNECTED, 0, 1), status=Status.OFFLINE)], 10, T)
    assert [a["kind"] for a in out["alerts"]] == ["offline_with_call"]
    assert out["teams"][0]["team"] == "blue"
    assert out["teams"][0]["agents"][0]["state"]["status"] == "offline"


def test_day_numbers_service_level_and_a_new_day() -> None:
    stats = DayStats()
    day = 20000 * DAY
    stats.record(call("c1", LineState.CONNECTED, day + 0, answered=day + 10), day + 70, T)
    stats.record(call("c2", LineState.CONNECTED, day + 0, answered=day + 25), day + 55, T)
    stats.record(call("c3", LineState.RINGING, day + 0), day + 30, T)  # abandoned
    out = board([look(stats=stats)], day + 100, T)["stats"]
    assert out["handledToday"] == 2
    assert out["averageHandleSeconds"] == 45.0
    assert out["serviceLevel"] == round(1 / 3, 4)
    assert board([look(stats=stats)], day + DAY, T)["stats"]["handledToday"] == 0
    stats.record(call("c4", LineState.CONNECTED, day + DAY, day + DAY + 1), day + DAY + 2, T)
    assert (stats.handled, stats.inbound, stats.within) == (1, 1, 1)
    assert board([look()], 0, T)["stats"]["serviceLevel"] is None
