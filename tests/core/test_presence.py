"""Agent state (presence): the table, after-call work on an injected clock, persistence."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core import CallRegistry, CallType, CtiRequestError, TelephonyError
from ctikit.core import telephony as tel
from ctikit.core.events import AgentStateChanged
from ctikit.core.presence import (
    AgentUnavailableError,
    Presence,
    PresencePolicy,
    Status,
    from_saved,
    to_saved,
)

ACW = PresencePolicy(acw_seconds=30.0)


def offer(reg: CallRegistry, cid: str, now: float, agent: str = "a1") -> None:
    reg.apply(tel.CallOffered(agent=agent, call_id=cid, call_type=CallType.INBOUND), now=now)


def answered_call(reg: CallRegistry, cid: str, now: float) -> list[object]:
    offer(reg, cid, now)
    reg.apply(tel.CallAnswered(agent="a1", call_id=cid), now=now + 1)
    return list(reg.apply(tel.CallReleased(agent="a1", call_id=cid, reason="hangup"), now=now + 5))


def test_initial_state_comes_from_the_policy() -> None:
    assert CallRegistry().presence("a1", 0).status is Status.AVAILABLE
    reg = CallRegistry(policy=PresencePolicy(initial=Status.OFFLINE))
    assert reg.presence("a1", 0) == Presence(status=Status.OFFLINE)
    with pytest.raises(ValueError):
        PresencePolicy(initial=Status.ACW)


def test_choose_away_with_a_configured_reason_and_back() -> None:
    reg = CallRegistry()
    (ev,) = reg.set_presence("a1", "away", "Lunch", now=10)
    assert isinstance(ev, AgentStateChanged)
    assert ev.payload() == {
        "status": "away",
        "reason": "Lunch",
        "since": 10,
        "acwUntil": None,
        "previous": "available",
    }
    assert reg.set_presence("a1", "away", "Lunch", now=11) == []  # the same: no event
    (ev,) = reg.set_presence("a1", "away", "Break", now=12)  # another reason is a change
    assert ev.payload()["previous"] == "away"
    assert reg.presence("a1", 13).since == 12


@pytest.mark.parametrize(
    ("status", "reason", "message"),
    [
        ("busy", None, "status must be one of available, away, offline"),
        ("acw", None, "status must be one of"),
        (7, None, "status must be one of"),
        ("away", None, "away needs a reason, one of: Break, Lunch"),
        ("away", "Nap", "away needs a reason"),
        ("available", "Lunch", "only away takes a reason"),
    ],
)
def test_bad_choices_change_nothing(status: object, reason: object, message: str) -> None:
    reg = CallRegistry()
    with pytest.raises(CtiRequestError, match=message):
        reg.set_presence("a1", status, reason, now=1)
    assert reg.last_seq("a1") == 0
    assert reg.presence("a1", 1).since is None


def test_an_unavailable_agent_is_not_offered_calls_but_may_dial() -> None:
    reg = CallRegistry()
    reg.set_presence("a1", "offline", None, now=1)
    with pytest.raises(AgentUnavailableError, match="'a1' is offline"):
        offer(reg, "c1", 2)
    assert reg.call_ids("a1") == []
    assert reg.last_seq("a1") == 1
    reg.apply(
        tel.CallOffered(agent="a1", call_id="out", call_type=CallType.OUTBOUND, outgoing=True),
        now=3,
    )
    assert reg.call_ids("a1") == ["out"]


def test_after_call_work_follows_an_answered_call_and_runs_out() -> None:
    reg = CallRegistry(policy=ACW)
    events = answered_call(reg, "c1", 100)
    assert [type(e).__name__ for e in events] == ["CallEnded", "AgentStateChanged"]
    acw = reg.presence("a1", 105)
    assert acw == Presence(status=Status.ACW, since=105, acw_until=135)
    with pytest.raises(AgentUnavailableError, match="is acw"):
        offer(reg, "c2", 120)
    assert reg.expire_acw("a1", now=134.9) == []
    # Read as available once the time is up, before the timer makes the change.
    assert reg.presence("a1", 135).status is Status.AVAILABLE
    (ev,) = reg.expire_acw("a1", now=136)
    assert ev.payload()["status"] == "available" and ev.payload()["since"] == 135
    offer(reg, "c2", 137)  # rings
    assert reg.call_ids("a1") == ["c2"]


def test_the_next_line_event_ends_after_call_work_that_ran_out() -> None:
    reg = CallRegistry(policy=ACW)
    answered_call(reg, "c1", 100)
    events = reg.apply(
        tel.CallOffered(agent="a1", call_id="c2", call_type=CallType.INBOUND), now=140
    )
    assert [type(e).__name__ for e in events] == ["CallBegan", "AgentStateChanged"]
    assert reg.expire_acw("a1", now=141) == []


def test_no_after_call_work_for_a_missed_call_or_with_another_call_left() -> None:
    reg = CallRegistry(policy=ACW)
    offer(reg, "c1", 1)
    events = reg.apply(tel.CallReleased(agent="a1", call_id="c1", reason="abandoned"), now=2)
    assert [type(e).__name__ for e in events] == ["CallEnded"]
    offer(reg, "c2", 3)
    offer(reg, "c3", 3)
    reg.apply(tel.CallAnswered(agent="a1", call_id="c2"), now=4)
    events = reg.apply(tel.CallReleased(agent="a1", call_id="c2", reason="hangup"), now=5)
    assert [type(e).__name__ for e in events] == ["CallEnded"]  # c3 still rings


def test_away_is_kept_after_a_call_and_acw_can_be_left_early() -> None:
    reg = CallRegistry(policy=ACW)
    offer(reg, "c1", 1)
    reg.apply(tel.CallAnswered(agent="a1", call_id="c1"), now=2)
    reg.set_presence("a1", "away", "Break", now=3)  # during the call
    events = reg.apply(tel.CallReleased(agent="a1", call_id="c1", reason="hangup"), now=4)
    assert reg.presence("a1", 4).status is Status.AWAY
    assert len(events) == 1
    reg.set_presence("a1", "available", None, now=5)
    answered_call(reg, "c2", 10)
    assert reg.presence("a1", 16).status is Status.ACW
    (ev,) = reg.set_presence("a1", "available", None, now=17)
    assert ev.payload()["previous"] == "acw"


def test_state_survives_snapshot_and_dump() -> None:
    reg = CallRegistry(policy=ACW)
    answered_call(reg, "c1", 100)
    again = CallRegistry(policy=ACW)
    again.restore_agent("a1", reg.snapshot_agent("a1"))
    assert again.presence("a1", 106) == reg.presence("a1", 106)
    shared = CallRegistry(policy=ACW)
    shared.load_agent("a1", reg.dump_agent("a1"))
    assert shared.presence("a1", 106).acw_until == 135
    bad = reg.snapshot_agent("a1") | {"presence": {"status": "asleep"}}
    with pytest.raises(CtiRequestError, match="malformed"):
        CallRegistry().restore_agent("a1", bad)


@given(
    st.sampled_from(list(Status)),
    st.none() | st.text(max_size=64),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
    st.none() | st.floats(allow_nan=False, allow_infinity=False),
)
def test_saved_states_round_trip_or_are_refused(
    status: Status, reason: str | None, since: float | None, until: float | None
) -> None:
    raw = {"status": status.value, "reason": reason, "since": since, "until": until}
    try:
        p = from_saved(raw)
    except ValueError:
        assert (status is Status.ACW) != (until is not None)
        return
    assert to_saved(p) == raw


@given(
    st.lists(
        st.tuples(
            st.sampled_from(["choose", "offer", "answer", "release", "tick"]),
            st.sampled_from(["available", "away", "offline", "acw", "bogus"]),
            st.floats(min_value=0, max_value=40),
        ),
        max_size=40,
    )
)
def test_any_sequence_keeps_the_table(steps: list[tuple[str, str, float]]) -> None:
    """Whatever happens in whatever order: a call rings only at an available agent, only
    after-call work has an end time, and the events are numbered without gaps."""
    reg = CallRegistry(policy=PresencePolicy(acw_seconds=10))
    now, n = 0.0, 0
    for op, status, dt in steps:
        now += dt
        try:
            if op == "choose":
                reg.set_presence("a1", status, "Lunch" if status == "away" else None, now=now)
            elif op == "offer":
                n += 1
                before = reg.presence("a1", now).status
                try:
                    offer(reg, f"c{n}", now)
                except AgentUnavailableError:
                    assert before is not Status.AVAILABLE
                else:
                    assert before is Status.AVAILABLE
            elif op in ("answer", "release") and reg.call_ids("a1"):
                cid = reg.call_ids("a1")[0]
                event: tel.TelephonyEvent = (
                    tel.CallAnswered(agent="a1", call_id=cid)
                    if op == "answer"
                    else tel.CallReleased(agent="a1", call_id=cid, reason="hangup")
                )
                reg.apply(event, now=now)
            elif op == "tick":
                reg.expire_acw("a1", now=now)
        except (CtiRequestError, AgentUnavailableError):
            pass
        except TelephonyError:
            pass  # an answer of a call already connected
        stored = reg.stored_presence("a1")
        assert (stored.status is Status.ACW) == (stored.acw_until is not None)
        seqs = [e.seq for e in reg.agent("a1").log]
        assert seqs == list(range(1, len(seqs) + 1))
