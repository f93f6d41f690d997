"""SimModel driven with explicit times: every command, failure number, timer and invariant."""

from __future__ import annotations

import pytest

from ctikit.connectors.base import ActionFailedError
from ctikit.connectors.sim import FAILURES, Directory, SimModel, SimTimings, TimerKind, failure_code
from ctikit.core.commands import Action
from ctikit.core.errors import CtiRequestError
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallDataAttached,
    CallHeld,
    CallMuted,
    CallOffered,
    CallReleased,
    CallRetrieved,
    ConnectorAction,
)

from .simkit import START, Driver, cid_of, names

T = SimTimings()
IVR = {"account": "ACME-1042", "reason": "billing", "language": "en", "verified": True}


def snapshot(d: Driver) -> object:
    return ([d.model.lines(a) for a in ("agent1", "agent2", "agent3")], d.model.timers())


def answered_call(d: Driver, agent: str = "agent1", **kw: object) -> str:
    cid = d.place(agent, **kw)  # type: ignore[arg-type]
    d.do(agent, Action.ANSWER, cid)
    d.advance(T.answer_delay)
    d.take()
    return cid


# ------------------------------------------------------------------ inbound


def test_inbound_call_is_offered_at_once_and_rings_out_after_ring_timeout() -> None:
    d = Driver()
    cid = d.place("agent1", data=IVR)
    assert cid == "sim-000000000001"
    assert d.take() == [
        CallOffered(
            agent="agent1",
            call_id=cid,
            call_type=CallType.INBOUND,
            ani="+14155550123",
            dnis="+18005550199",
            data=IVR,
        )
    ]
    assert [(t.kind, t.at) for t in d.model.timers()] == [
        (TimerKind.RING_TIMEOUT, START + T.ring_timeout)
    ]
    assert d.advance(T.ring_timeout - 0.001) == []
    assert d.advance(0.002) == [
        CallReleased(
            agent="agent1", call_id=cid, reason="caller abandoned", disposition="abandoned"
        )
    ]
    assert d.model.lines("agent1") == [] and d.pending == {}


def test_answer_takes_answer_delay_and_cancels_the_ring_timeout() -> None:
    d = Driver()
    cid = d.place()
    d.take()
    step = d.do("agent1", Action.ANSWER, cid)
    assert step.events == [] and len(step.cancel) == 1  # the ring timeout
    assert d.model.lines("agent1")[0].pending is Action.ANSWER
    assert d.advance(T.answer_delay - 0.001) == []
    assert d.advance(0.002) == [CallAnswered(agent="agent1", call_id=cid)]
    line = d.model.lines("agent1")[0]
    assert (line.state, line.pending) == (LineState.CONNECTED, None)
    assert d.advance(3600) == []  # answered: no ring timeout any more


def test_hold_retrieve_mute_dtmf_hangup() -> None:
    d = Driver()
    cid = answered_call(d)
    d.do("agent1", Action.HOLD, cid)
    assert d.advance(T.hold_delay) == [CallHeld(agent="agent1", call_id=cid)]
    d.do("agent1", Action.RETRIEVE, cid)
    assert d.advance(T.retrieve_delay) == [CallRetrieved(agent="agent1", call_id=cid)]
    # Mute is local to the phone: at once.
    assert d.do("agent1", Action.MUTE, cid).events == [
        CallMuted(agent="agent1", call_id=cid, muted=True)
    ]
    assert d.do("agent1", Action.UNMUTE, cid).events == [
        CallMuted(agent="agent1", call_id=cid, muted=False)
    ]
    assert d.do("agent1", Action.DTMF, cid, digits="12").events == []
    d.do("agent1", Action.DTMF, cid, digits="3#")
    assert d.model.digits(cid) == "123#" and d.take() == [
        CallMuted(agent="agent1", call_id=cid, muted=True),
        CallMuted(agent="agent1", call_id=cid, muted=False),
    ]
    d.do("agent1", Action.HANGUP, cid)
    assert d.advance(T.hangup_delay - 0.001) == []
    assert d.advance(0.002) == [CallReleased(agent="agent1", call_id=cid, reason="agent hung up")]
    assert d.model.lines("agent1") == [] and d.pending == {}


def test_hanging_up_a_ringing_call_rejects_it() -> None:
    d = Driver()
    cid = d.place()
    d.do("agent1", Action.HANGUP, cid)
    assert names(d.advance(T.hangup_delay)) == [
        ("CallOffered", "agent1", cid),
        ("CallReleased", "agent1", cid),
    ]
    assert d.pending == {}


def test_hangup_while_answering_cancels_the_answer() -> None:
    d = Driver()
    cid = d.place()
    d.do("agent1", Action.ANSWER, cid)
    step = d.do("agent1", Action.HANGUP, cid)
    assert len(step.cancel) == 1 and [t.kind for t in step.timers] == [TimerKind.HANGUP]
    assert names(d.advance(10)) == [("CallOffered", "agent1", cid), ("CallReleased", "agent1", cid)]


@pytest.mark.parametrize(
    ("prepare", "action", "message"),
    [
        ("ringing", Action.HOLD, "/HOLD needs a connected call"),
        ("ringing", Action.DTMF, "/DTMF needs a connected call"),
        ("connected", Action.ANSWER, "/ANSWER needs a ringing call"),
        ("connected", Action.RETRIEVE, "/RETRIEVE needs a held call"),
        ("connected", Action.UNMUTE, "is not muted"),
        ("answering", Action.ANSWER, "/ANSWER is still in progress"),
        ("holding", Action.TRANSFER, "/HOLD is still in progress"),
        ("hanging up", Action.HANGUP, "already being hung up"),
        ("hanging up", Action.MUTE, "already being hung up"),
    ],
)
def test_a_command_the_line_cannot_take_fails_and_changes_nothing(
    prepare: str, action: Action, message: str
) -> None:
    d = Driver()
    cid = d.place() if prepare in ("ringing", "answering") else answered_call(d)
    extra = {
        "ringing": None,
        "connected": None,
        "answering": Action.ANSWER,
        "holding": Action.HOLD,
        "hanging up": Action.HANGUP,
    }[prepare]
    if extra is not None:
        d.do("agent1", extra, cid)
    before = snapshot(d)
    with pytest.raises(ActionFailedError, match=message):
        d.do("agent1", action, cid, number="+14155550100", digits="1")
    assert snapshot(d) == before


def test_unknown_call_and_another_agents_call_fail() -> None:
    d = Driver()
    cid = d.place("agent1")
    with pytest.raises(ActionFailedError, match="'nope' is not on agent1's phone"):
        d.do("agent1", Action.ANSWER, "nope")
    with pytest.raises(ActionFailedError, match="is not on agent2's phone"):
        d.do("agent2", Action.ANSWER, cid)  # agent2 cannot touch agent1's call
    with pytest.raises(ActionFailedError, match="needs a call"):
        d.do("agent1", Action.ANSWER, None)
    with pytest.raises(ActionFailedError, match="already muted"):
        c2 = answered_call(d, "agent2")
        d.do("agent2", Action.MUTE, c2)
        d.do("agent2", Action.MUTE, c2)


def test_place_inbound_call_checks_agent_lines_and_talk_time() -> None:
    d = Driver(max_lines=2)
    d.place("agent1")
    d.place("agent1")
    with pytest.raises(ActionFailedError, match="all 2 lines of agent1 are in use"):
        d.place("agent1")
    with pytest.raises(CtiRequestError):
        d.place("bad agent!")
    with pytest.raises(ValueError, match="talk_time"):
        d.place("agent2", talk_time=-1)
    assert len(d.model.lines("agent1")) == 2 and d.model.lines("agent2") == []


# ------------------------------------------------------------------ outbound


def test_dial_external_number_dials_then_far_end_answers() -> None:
    d = Driver()
    step = d.do("agent1", Action.DIAL, number="+14155550100")
    cid = cid_of(step.events[0])
    assert step.events == [
        CallOffered(
            agent="agent1",
            call_id=cid,
            call_type=CallType.OUTBOUND,
            ani="1001",
            dnis="+14155550100",
            outgoing=True,
        )
    ]
    assert d.model.lines("agent1")[0].state is LineState.DIALING
    d.take()
    assert d.advance(T.far_end_answer - 0.001) == []
    assert d.advance(0.002) == [CallAnswered(agent="agent1", call_id=cid)]


@pytest.mark.parametrize(
    ("number", "reason", "short", "after"),
    [
        ("+14155550486", "busy (486 Busy Here)", "busy", T.reject_delay),
        ("5550404", "not found (404 Not Found)", "not found", T.reject_delay),
        ("+442079460603", "declined (603 Decline)", "declined", T.reject_delay),
        ("0408", "no answer (408 Request Timeout)", "no answer", T.ring_timeout),
    ],
)
def test_failure_numbers(number: str, reason: str, short: str, after: float) -> None:
    d = Driver()
    cid = cid_of(d.do("agent1", Action.DIAL, number=number).events[0])
    d.take()
    assert d.advance(after - 0.001) == []
    assert d.advance(0.002) == [
        ActionFailed(agent="agent1", reason=reason, call_id=cid, number=number),
        CallReleased(agent="agent1", call_id=cid, reason=short, disposition=short),
    ]
    assert d.pending == {} and d.model.lines("agent1") == []


def test_failure_code() -> None:
    assert [failure_code(n) for n in ("1486", "404", "+1603", "9408", "4860", "1001")] == [
        "486",
        "404",
        "603",
        "408",
        None,
        None,
    ]


def test_dial_needs_a_number_and_not_your_own_extension() -> None:
    d = Driver()
    with pytest.raises(ActionFailedError, match="NUMBER"):
        d.do("agent1", Action.DIAL)
    for own in ("1001", "agent1"):
        with pytest.raises(ActionFailedError, match="own extension"):
            d.do("agent1", Action.DIAL, number=own)
    assert d.events == []


# ------------------------------------------------------------------ internal


def internal_call(d: Driver, number: str = "1002") -> tuple[str, str]:
    ev = d.do("agent1", Action.DIAL, number=number).events
    assert [(type(e).__name__, e.agent) for e in ev] == [
        ("CallOffered", "agent1"),
        ("CallOffered", "agent2"),
    ]
    d.take()
    return cid_of(ev[0]), cid_of(ev[1])


@pytest.mark.parametrize("number", ["1002", "agent2"])
def test_internal_call_rings_the_other_agent(number: str) -> None:
    d = Driver()
    ev = d.do("agent1", Action.DIAL, number=number).events
    caller, callee = cid_of(ev[0]), cid_of(ev[1])
    assert caller != callee
    assert ev == [
        CallOffered(
            agent="agent1",
            call_id=caller,
            call_type=CallType.INTERNAL,
            ani="1001",
            dnis="1002",
            outgoing=True,
        ),
        CallOffered(
            agent="agent2", call_id=callee, call_type=CallType.INTERNAL, ani="1001", dnis="1002"
        ),
    ]
    assert d.model.lines("agent1")[0].state is LineState.DIALING
    assert d.model.lines("agent1")[0].peer == ("agent2", callee)
    assert d.model.lines("agent2")[0].state is LineState.RINGING
    d.take()
    d.do("agent2", Action.ANSWER, callee)
    assert d.advance(T.answer_delay) == [
        CallAnswered(agent="agent2", call_id=callee),
        CallAnswered(agent="agent1", call_id=caller),
    ]


@pytest.mark.parametrize("who", ["agent1", "agent2"])
def test_either_side_hanging_up_releases_both(who: str) -> None:
    d = Driver()
    caller, callee = internal_call(d)
    d.do("agent2", Action.ANSWER, callee)
    d.advance(1)
    d.do(who, Action.HANGUP, caller if who == "agent1" else callee)
    other = "agent2" if who == "agent1" else "agent1"
    events = d.advance(T.hangup_delay)
    assert [(type(e).__name__, e.agent, getattr(e, "reason", None)) for e in events] == [
        ("CallReleased", who, "agent hung up"),
        ("CallReleased", other, "other party hung up"),
    ]
    assert d.pending == {} and d.model.agents() == []


def test_callee_rejecting_declines_the_caller_and_caller_giving_up_abandons() -> None:
    d = Driver()
    caller, callee = internal_call(d)
    d.do("agent2", Action.HANGUP, callee)
    assert d.advance(T.hangup_delay) == [
        CallReleased(agent="agent2", call_id=callee, reason="agent hung up"),
        ActionFailed(
            agent="agent1", reason="declined (603 Decline)", call_id=caller, number="1002"
        ),
        CallReleased(agent="agent1", call_id=caller, reason="declined", disposition="declined"),
    ]
    caller, callee = internal_call(d)
    d.do("agent1", Action.HANGUP, caller)
    assert d.advance(T.hangup_delay) == [
        CallReleased(agent="agent1", call_id=caller, reason="agent hung up"),
        CallReleased(
            agent="agent2", call_id=callee, reason="caller abandoned", disposition="abandoned"
        ),
    ]
    assert d.pending == {}


def test_unanswered_internal_call_times_out_on_both_sides() -> None:
    d = Driver()
    caller, callee = internal_call(d)
    assert d.advance(T.ring_timeout) == [
        CallReleased(
            agent="agent2", call_id=callee, reason="caller abandoned", disposition="abandoned"
        ),
        ActionFailed(
            agent="agent1", reason="no answer (408 Request Timeout)", call_id=caller, number="1002"
        ),
        CallReleased(agent="agent1", call_id=caller, reason="no answer", disposition="no answer"),
    ]


def test_internal_call_to_an_agent_with_every_line_in_use_is_busy() -> None:
    d = Driver(max_lines=1)
    d.place("agent2")
    d.take()
    cid = cid_of(d.do("agent1", Action.DIAL, number="1002").events[0])
    assert d.advance(T.reject_delay) == [
        CallOffered(
            agent="agent1",
            call_id=cid,
            call_type=CallType.INTERNAL,
            ani="1001",
            dnis="1002",
            outgoing=True,
        ),
        ActionFailed(agent="agent1", reason="busy (486 Busy Here)", call_id=cid, number="1002"),
        CallReleased(agent="agent1", call_id=cid, reason="busy", disposition="busy"),
    ]


# ------------------------------------------------------------------ transfer


@pytest.mark.parametrize("number", ["1002", "agent2"])
def test_blind_transfer_to_an_agent_carries_ani_dnis_and_data(number: str) -> None:
    d = Driver()
    cid = answered_call(d, data=IVR)
    # The agent edited the data in the console: the server tells the simulator.
    assert d.model.note_data("agent1", cid, {**IVR, "note": "wants a refund"})
    assert not d.model.note_data("agent2", cid, {})  # not agent2's call
    d.do("agent1", Action.TRANSFER, cid, number=number)
    assert d.advance(T.transfer_delay - 0.001) == []
    events = d.advance(0.002)
    new = cid_of(events[1])
    assert new != cid
    assert events == [
        CallReleased(agent="agent1", call_id=cid, reason="transferred", disposition="transferred"),
        CallOffered(
            agent="agent2",
            call_id=new,
            call_type=CallType.INBOUND,
            ani="+14155550123",
            dnis="+18005550199",
            data={**IVR, "note": "wants a refund"},
        ),
    ]
    assert d.model.line(new).origin == cid  # type: ignore[union-attr]
    d.do("agent2", Action.ANSWER, new)
    assert d.advance(T.answer_delay) == [CallAnswered(agent="agent2", call_id=new)]
    # The scenario still knows the call by its first ID: the caller hangs up on agent2.
    assert d.model.caller_hangup(cid, d.now).events == [
        CallReleased(agent="agent2", call_id=new, reason="caller hung up")
    ]


def test_transfer_to_an_external_number_releases_the_call() -> None:
    d = Driver()
    cid = answered_call(d)
    d.do("agent1", Action.HOLD, cid)
    d.advance(1)
    d.do("agent1", Action.TRANSFER, cid, number="+442079460100")
    assert d.advance(T.transfer_delay) == [
        CallReleased(
            agent="agent1",
            call_id=cid,
            reason="transferred to +442079460100",
            disposition="transferred",
        )
    ]


@pytest.mark.parametrize(
    ("code", "after"),
    [
        ("486", T.reject_delay),
        ("404", T.reject_delay),
        ("603", T.reject_delay),
        ("408", T.ring_timeout),
    ],
)
def test_failed_transfer_leaves_the_call_up(code: str, after: float) -> None:
    d = Driver()
    cid = answered_call(d)
    number = "+1415555" + code
    d.do("agent1", Action.TRANSFER, cid, number=number)
    assert d.advance(after - 0.001) == []
    [failed] = d.advance(0.002)
    assert failed == ActionFailed(
        agent="agent1", reason=FAILURES[code][0], call_id=cid, number=number
    )
    line = d.model.line(cid)
    assert line is not None and (line.state, line.pending) == (LineState.CONNECTED, None)
    d.do("agent1", Action.HANGUP, cid)
    assert names(d.advance(1)) == [("CallReleased", "agent1", cid)]


def test_transfer_to_a_busy_agent_fails_and_to_yourself_is_refused() -> None:
    d = Driver(max_lines=1)
    cid = answered_call(d)
    d.place("agent2")
    d.take()
    d.do("agent1", Action.TRANSFER, cid, number="1002")
    assert d.advance(T.transfer_delay) == [
        ActionFailed(agent="agent1", reason="busy (486 Busy Here)", call_id=cid, number="1002")
    ]
    for me in ("1001", "agent1"):
        with pytest.raises(ActionFailedError, match="to yourself"):
            d.do("agent1", Action.TRANSFER, cid, number=me)
    with pytest.raises(ActionFailedError, match="NUMBER"):
        d.do("agent1", Action.TRANSFER, cid)


def test_transferring_an_internal_call_hands_the_other_agent_over() -> None:
    d = Driver()
    caller, callee = internal_call(d)
    d.do("agent2", Action.ANSWER, callee)
    d.advance(1)
    with pytest.raises(ActionFailedError, match="agent1 is already on this call"):
        d.do("agent2", Action.TRANSFER, callee, number="1001")
    d.do("agent2", Action.TRANSFER, callee, number="1003")
    events = d.advance(T.transfer_delay)
    third = cid_of(events[1])
    assert events == [
        CallReleased(
            agent="agent2", call_id=callee, reason="transferred", disposition="transferred"
        ),
        CallOffered(
            agent="agent3", call_id=third, call_type=CallType.INTERNAL, ani="1001", dnis="1003"
        ),
    ]
    assert d.model.line(caller).peer == ("agent3", third)  # type: ignore[union-attr]
    d.do("agent3", Action.ANSWER, third)
    assert d.advance(T.answer_delay) == [CallAnswered(agent="agent3", call_id=third)]
    d.do("agent1", Action.HANGUP, caller)
    assert names(d.advance(T.hangup_delay)) == [
        ("CallReleased", "agent1", caller),
        ("CallReleased", "agent3", third),
    ]


def test_internal_call_transferred_and_not_answered_ends_for_the_other_agent_too() -> None:
    d = Driver()
    _caller, callee = internal_call(d)
    d.do("agent2", Action.ANSWER, callee)
    d.advance(1)
    d.do("agent2", Action.TRANSFER, callee, number="agent3")
    third = cid_of(d.advance(T.transfer_delay)[1])
    assert [
        (type(e).__name__, e.agent, getattr(e, "reason", "")) for e in d.advance(T.ring_timeout)
    ] == [("CallReleased", "agent3", "caller abandoned"), ("CallReleased", "agent1", "no answer")]
    assert third not in [t.call_id for t in d.pending.values()] and d.model.agents() == []


# ------------------------------------------------------------------ scripted caller


def test_talk_time_caller_hangs_up_after_answer() -> None:
    d = Driver()
    cid = d.place(talk_time=42)
    d.take()
    d.advance(5)  # ringing time does not count
    d.do("agent1", Action.ANSWER, cid)
    d.advance(T.answer_delay)
    d.take()
    assert d.advance(42 - 0.001) == []
    assert d.advance(0.002) == [CallReleased(agent="agent1", call_id=cid, reason="caller hung up")]


def test_talk_time_does_not_stop_an_unanswered_call_ringing_out() -> None:
    d = Driver()
    cid = d.place(talk_time=1)
    d.take()
    assert d.advance(T.ring_timeout) == [
        CallReleased(
            agent="agent1", call_id=cid, reason="caller abandoned", disposition="abandoned"
        )
    ]


def test_caller_hangup_and_attach_data() -> None:
    d = Driver()
    cid = d.place(data={"account": "ACME-1042"})
    d.take()
    step = d.feed(d.model.attach_data(cid, {"verified": True}, d.now))
    assert step.events == [CallDataAttached(agent="agent1", call_id=cid, data={"verified": True})]
    assert d.model.line(cid).data == {"account": "ACME-1042", "verified": True}  # type: ignore[union-attr]
    assert d.feed(d.model.caller_hangup(cid, d.now)).events == [
        CallReleased(
            agent="agent1", call_id=cid, reason="caller abandoned", disposition="abandoned"
        )
    ]
    # The call is over: scripted steps for it do nothing.
    assert d.model.caller_hangup(cid, d.now).events == []
    assert d.model.attach_data(cid, {"x": 1}, d.now).events == []
    assert d.pending == {}


# ------------------------------------------------------------------ timers and IDs


def test_timers_of_released_calls_are_cancelled_and_stale_timers_ignored() -> None:
    d = Driver()
    cid = answered_call(d, talk_time=100)
    d.do("agent1", Action.HOLD, cid)
    timers = list(d.pending)
    assert len(timers) == 2  # talk time, hold
    step = d.do("agent1", Action.HANGUP, cid)
    assert sorted(step.cancel) == sorted(timers)
    d.advance(T.hangup_delay)
    assert d.pending == {} and d.model.timers() == []
    for tid in timers:  # a pump that lost the race fires a cancelled timer: nothing happens
        assert d.model.timer_fired(tid, d.now).events == []


def test_every_call_is_released_exactly_once() -> None:
    d = Driver()
    for agent in ("agent1", "agent2", "agent3"):
        d.place(agent, talk_time=3)
    d.do("agent1", Action.DIAL, number="1003")
    d.do("agent2", Action.DIAL, number="+14155550486")
    d.do("agent3", Action.ANSWER, d.model.lines("agent3")[0].call_id)
    d.run_all()
    offered = [e.call_id for e in d.events if isinstance(e, CallOffered)]
    released = [e.call_id for e in d.events if isinstance(e, CallReleased)]
    assert sorted(offered) == sorted(released) and len(set(offered)) == len(offered)


def test_id_factory_duplicates_are_skipped_and_an_endless_clash_changes_nothing() -> None:
    ids = iter(["sim-a", "sim-a", "sim-b"])
    m = SimModel(SimTimings(), Directory(), lambda: next(ids))
    assert m.place_inbound_call("agent1", None, None, None, 0).call_id == "sim-a"
    assert m.place_inbound_call("agent1", None, None, None, 0).call_id == "sim-b"
    stuck = SimModel(SimTimings(), Directory(), lambda: "same")
    stuck.place_inbound_call("agent1", None, None, None, 0)
    with pytest.raises(RuntimeError, match="already in use"):
        stuck.execute(ConnectorAction(agent="agent1", action=Action.DIAL, number="+1555"), 0)
    assert len(stuck.lines("agent1")) == 1


def test_default_call_ids_are_sim_and_12_hex() -> None:
    m = SimModel()
    cid = m.place_inbound_call("agent1", None, None, None, 0).call_id
    assert cid is not None and cid.startswith("sim-") and len(cid) == 16
    int(cid[4:], 16)


# ------------------------------------------------------------------ settings


def test_timings_are_checked_and_scale() -> None:
    fast = SimTimings().scaled(0.01)
    assert fast.ring_timeout == pytest.approx(0.3) and fast.answer_delay == pytest.approx(0.0015)
    with pytest.raises(ValueError, match="hold_delay"):
        SimTimings(hold_delay=-1)
    with pytest.raises(ValueError, match="ring_timeout"):
        SimTimings(ring_timeout=float("inf"))
    with pytest.raises(ValueError, match="number"):
        SimTimings(answer_delay=True)
    with pytest.raises(ValueError, match="max_lines"):
        SimModel(max_lines=0)


def test_directory() -> None:
    d = Directory.numbered(["agent1", "agent2"])
    assert (d.agent_for("1002"), d.agent_for("agent1"), d.agent_for("+1555")) == (
        "agent2",
        "agent1",
        None,
    )
    assert d.extension_of("agent1") == "1001" and d.agents() == ["agent1", "agent2"]
    with pytest.raises(ValueError, match="already belongs"):
        d.add("agent3", "1001")
    with pytest.raises(ValueError, match="already has"):
        d.add("agent1", "1009")
    with pytest.raises(ValueError, match="dialable"):
        d.add("agent3", "10 01")
    with pytest.raises(CtiRequestError):
        d.add("bad agent", "1003")


def test_a_call_whose_other_side_is_still_ringing_cannot_be_transferred() -> None:
    d = Driver()
    caller, callee = internal_call(d)
    d.do("agent2", Action.ANSWER, callee)
    d.advance(1)
    d.do("agent2", Action.TRANSFER, callee, number="1003")  # agent3 now rings, agent1 waits
    d.advance(T.transfer_delay)
    with pytest.raises(ActionFailedError, match="agent3 has not answered this call yet"):
        d.do("agent1", Action.TRANSFER, caller, number="+14155550100")


def test_adopt_puts_a_call_back_on_a_line_without_events() -> None:
    model = SimModel(SimTimings(), Directory(), None)
    step = model.adopt(
        "agent1",
        "old-1",
        CallType.INBOUND,
        LineState.CONNECTED,
        100.0,
        ani="+1",
        data={"k": 1},
        muted=True,
    )
    assert step.events == [] and step.timers == []
    (line,) = model.lines("agent1")
    assert (line.state, line.muted, line.data) == (LineState.CONNECTED, True, {"k": 1})
    ringing = model.adopt("agent1", "old-2", CallType.INBOUND, LineState.RINGING, 100.0)
    assert [t.kind for t in ringing.timers] == [TimerKind.RING_TIMEOUT]
    with pytest.raises(ActionFailedError, match="already on a line"):
        model.adopt("agent1", "old-1", CallType.INBOUND, LineState.CONNECTED, 100.0)
