"""The simulator's consult transfer and conference (sim/consult.py), on a manual clock."""

from __future__ import annotations

import pytest

from ctikit.connectors.errors import ActionFailedError
from ctikit.connectors.sim import SimTimings
from ctikit.core.commands import Action
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallDataAttached,
    CallHeld,
    CallOffered,
    CallReleased,
    CallRetrieved,
    ConnectorAction,
)

from .simkit import Driver, cid_of

T = SimTimings()
IVR = {"account": "ACME-1042"}


def answered_call(d: Driver, agent: str = "agent1") -> str:
    cid = d.place(agent, data=dict(IVR))
    d.do(agent, Action.ANSWER, cid)
    d.advance(T.answer_delay)
    d.take()
    return cid


def consult_agent2(d: Driver) -> tuple[str, str, str]:
    """agent1 answers a call and consults agent2, who answers: (held, consult, agent2's)."""
    cid = answered_call(d)
    d.do("agent1", Action.CONSULT, cid, number="1002")
    events = d.advance(T.hold_delay)
    consult, target = cid_of(events[1]), cid_of(events[2])
    assert events == [
        CallHeld(agent="agent1", call_id=cid),
        CallOffered(
            agent="agent1",
            call_id=consult,
            call_type=CallType.INTERNAL,
            ani="1001",
            dnis="1002",
            data={"consultOf": cid},
            outgoing=True,
        ),
        CallOffered(
            agent="agent2",
            call_id=target,
            call_type=CallType.INTERNAL,
            ani="1001",
            dnis="1002",
            data=IVR,
        ),
    ]
    d.do("agent2", Action.ANSWER, target)
    assert d.advance(T.answer_delay) == [
        CallAnswered(agent="agent2", call_id=target),
        CallAnswered(agent="agent1", call_id=consult),
    ]
    view = d.model.line(consult)
    assert view is not None and view.consult_for == cid
    return cid, consult, target


def test_consult_then_complete_hands_the_caller_to_the_target() -> None:
    d = Driver()
    cid, consult, target = consult_agent2(d)
    d.do("agent1", Action.COMPLETE_TRANSFER, consult)
    assert d.advance(T.transfer_delay - 0.001) == []
    assert d.advance(0.002) == [
        CallReleased(
            agent="agent1", call_id=cid, reason="transferred to 1002", disposition="transferred"
        ),
        CallReleased(
            agent="agent1",
            call_id=consult,
            reason="transfer to 1002 completed",
            disposition="transferred",
        ),
        CallDataAttached(agent="agent2", call_id=target, data=IVR),
    ]
    assert d.model.lines("agent1") == []
    # The caller is now agent2's: the scenario's hang-up of the first leg reaches them.
    assert d.model.caller_hangup(cid, d.now).events == [
        CallReleased(agent="agent2", call_id=target, reason="other party hung up")
    ]


def test_consult_then_cancel_returns_to_the_held_call() -> None:
    d = Driver()
    cid, consult, target = consult_agent2(d)
    d.do("agent1", Action.CANCEL_CONSULT, consult)
    assert d.advance(T.hangup_delay) == [
        CallReleased(
            agent="agent1",
            call_id=consult,
            reason="consult cancelled",
            disposition="consult cancelled",
        ),
        CallReleased(agent="agent2", call_id=target, reason="other party hung up"),
        CallRetrieved(agent="agent1", call_id=cid),
    ]
    (line,) = d.model.lines("agent1")
    assert line.call_id == cid and line.state is LineState.CONNECTED and line.consult is None


def test_cancel_while_the_consult_still_rings() -> None:
    d = Driver()
    cid = answered_call(d)
    d.do("agent1", Action.CONSULT, cid, number="+14155550100")
    consult = cid_of(d.advance(T.hold_delay)[1])
    d.do("agent1", Action.CANCEL_CONSULT, consult)
    assert d.run_all()[-1] == CallRetrieved(agent="agent1", call_id=cid)
    assert [v.call_id for v in d.model.lines("agent1")] == [cid]


def test_conference_joins_the_held_call_and_the_consult() -> None:
    d = Driver()
    cid, consult, _target = consult_agent2(d)
    d.do("agent1", Action.CONFERENCE, consult)
    assert d.advance(T.retrieve_delay) == [
        CallRetrieved(agent="agent1", call_id=cid),
        CallDataAttached(agent="agent1", call_id=cid, data={"conferenceWith": consult}),
        CallDataAttached(agent="agent1", call_id=consult, data={"conferenceWith": cid}),
    ]
    states = {v.call_id: (v.state, v.conference) for v in d.model.lines("agent1")}
    assert states == {cid: (LineState.CONNECTED, consult), consult: (LineState.CONNECTED, cid)}
    # Either leg may be hung up alone; the link goes with it.
    d.do("agent1", Action.HANGUP, consult)
    d.run_all()
    (line,) = d.model.lines("agent1")
    assert line.call_id == cid and line.conference is None


def test_consult_a_made_up_extension_is_refused_at_once() -> None:
    d = Driver()
    cid = answered_call(d)
    with pytest.raises(ActionFailedError, match=r"no extension 1099 \(not found\)"):
        d.do("agent1", Action.CONSULT, cid, number="1099")
    with pytest.raises(ActionFailedError, match="your own extension"):
        d.do("agent1", Action.CONSULT, cid, number="1001")
    assert d.model.line(cid).state is LineState.CONNECTED  # type: ignore[union-attr]
    assert d.pending == {}


def test_consult_to_a_busy_number_fails_and_the_call_stays_held() -> None:
    d = Driver()
    cid = answered_call(d)
    d.do("agent1", Action.CONSULT, cid, number="+14155550486")
    events = d.run_all()
    consult = cid_of(events[1])
    assert events[0] == CallHeld(agent="agent1", call_id=cid)
    assert events[-2:] == [
        ActionFailed(
            agent="agent1",
            reason="busy (486 Busy Here)",
            call_id=consult,
            number="+14155550486",
        ),
        CallReleased(agent="agent1", call_id=consult, reason="busy", disposition="busy"),
    ]
    (line,) = d.model.lines("agent1")
    assert line.state is LineState.HELD and line.consult is None


def test_commands_on_a_call_that_is_no_consult_fail() -> None:
    d = Driver()
    cid = answered_call(d)
    for action in (Action.COMPLETE_TRANSFER, Action.CONFERENCE):
        with pytest.raises(ActionFailedError, match="is not a consult call"):
            d.do("agent1", action, cid)
    d.do("agent1", Action.CONSULT, cid, number="1002")
    with pytest.raises(ActionFailedError, match="in progress"):
        d.do("agent1", Action.CONSULT, cid, number="1003")
    d.advance(T.hold_delay)
    with pytest.raises(ActionFailedError, match="already has a consult call"):
        d.do("agent1", Action.CONSULT, cid, number="1003")


def test_complete_fails_when_the_held_call_was_retrieved_meanwhile() -> None:
    d = Driver()
    cid, consult, _target = consult_agent2(d)
    d.do("agent1", Action.RETRIEVE, cid)
    d.advance(T.retrieve_delay)
    with pytest.raises(ActionFailedError, match="not held"):
        d.do("agent1", Action.COMPLETE_TRANSFER, consult)
    act = ConnectorAction(
        agent="agent1", action=Action.CANCEL_CONSULT, call_id=consult, held_call_id="other"
    )
    with pytest.raises(ActionFailedError, match="is not a consult call"):
        d.model.execute(act, d.now)


def test_the_caller_hanging_up_while_held_leaves_the_consult_alone() -> None:
    d = Driver()
    cid, consult, _target = consult_agent2(d)
    d.model.caller_hangup(cid, d.now)
    view = d.model.line(consult)
    assert view is not None and view.consult_for is None
    with pytest.raises(ActionFailedError, match="is not a consult call"):
        d.do("agent1", Action.COMPLETE_TRANSFER, consult)
