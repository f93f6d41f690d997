"""SipModel: baresip event sequences (as seen on baresip 1.0.0) -> core telephony events."""

from __future__ import annotations

import pytest

from ctikit.connectors.base import ActionFailedError
from ctikit.connectors.sim.config import Directory
from ctikit.connectors.sip.baresip import BaresipEvent
from ctikit.connectors.sip.mapping import PhoneLine, SipModel, failure_short
from ctikit.core import CallRegistry
from ctikit.core.commands import Action
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallHeld,
    CallMuted,
    CallOffered,
    CallReleased,
    CallRetrieved,
    LineStatus,
    TelephonyEvent,
)

PROXY = "127.0.0.1:5060"
A1 = f"sip:1001@{PROXY}"
A2 = f"sip:1002@{PROXY}"
CUST = f"sip:cust1@{PROXY}"


def call_ev(
    etype: str,
    cid: str | None,
    *,
    aor: str = A1,
    direction: str = "incoming",
    peer: str = CUST,
    param: str | None = None,
    klass: str = "call",
) -> BaresipEvent:
    return BaresipEvent(
        klass=klass,
        type=etype,
        account_aor=aor,
        direction=direction,
        peer_uri=peer,
        call_id=cid,
        param=param,
    )


def reg_ev(etype: str, aor: str, param: str = "200 OK") -> BaresipEvent:
    return BaresipEvent(klass="register", type=etype, account_aor=aor, param=param)


class Harness:
    """A model with agent1 (1001, two lines) and agent2 (1002, one line), all up, whose
    events are also applied to a real registry."""

    def __init__(self) -> None:
        self.model = SipModel(Directory({"1001": "agent1", "1002": "agent2"}))
        self.registry = CallRegistry()
        self.a1 = self.model.add_line("agent1", [A1, f"sip:8000@{PROXY}"])
        self.a1b = self.model.add_line("agent1", [A1, f"sip:8000@{PROXY}"])
        self.a2 = self.model.add_line("agent2", [A2])
        self.events: list[TelephonyEvent] = []
        for line in (self.a1, self.a1b, self.a2):
            self.apply(self.model.line_connected(line, dict.fromkeys(line.aors, True)))

    def apply(self, events: list[TelephonyEvent]) -> list[TelephonyEvent]:
        for e in events:
            self.registry.apply(e, now=1.0)  # raises if the core would reject it
        self.events += events
        return events

    def feed(self, line: PhoneLine, *evs: BaresipEvent, now: float = 1.0) -> list[TelephonyEvent]:
        out: list[TelephonyEvent] = []
        for ev in evs:
            out += self.apply(self.model.event(line, ev, now))
        return out

    def state(self, agent: str, cid: str) -> LineState | None:
        return self.registry.get_call(agent, cid).line_state


@pytest.fixture
def h() -> Harness:
    return Harness()


def test_lines_up_reports_each_agent_once(h: Harness) -> None:
    assert h.events == [LineStatus(agent="agent1", up=True), LineStatus(agent="agent2", up=True)]


def test_no_line_status_while_lines_are_still_starting() -> None:
    model = SipModel(Directory({"1001": "agent1"}))
    one = model.add_line("agent1", [A1])
    two = model.add_line("agent1", [A1])
    assert model.line_connected(one, {A1: True}) == []  # line 2 not there yet: no news
    assert model.line_connected(two, {A1: False}) == []  # registering
    assert model.event(two, reg_ev("REGISTER_OK", A1), 0.0) == [LineStatus(agent="agent1", up=True)]


def test_inbound_answer_hold_retrieve_hangup(h: Harness) -> None:
    offered = h.feed(h.a1, call_ev("CALL_INCOMING", "c1", param=CUST))
    assert offered == [
        CallOffered(
            agent="agent1", call_id="c1", call_type=CallType.INBOUND, ani="cust1", dnis="1001"
        )
    ]
    call = h.model.find_call("agent1", "c1")
    h.model.set_pending(call, Action.ANSWER)
    assert h.feed(
        h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="offer"), call_ev("CALL_ESTABLISHED", "c1")
    ) == [CallAnswered(agent="agent1", call_id="c1")]
    assert h.feed(h.a1, call_ev("CALL_RTPESTAB", "c1", klass="other", param="audio")) == []
    assert call.media and call.pending is None
    h.model.set_pending(call, Action.HOLD)
    assert h.feed(h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="answer")) == [
        CallHeld(agent="agent1", call_id="c1")
    ]
    assert h.state("agent1", "c1") is LineState.HELD
    h.model.set_pending(call, Action.RETRIEVE)
    assert h.feed(h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="answer")) == [
        CallRetrieved(agent="agent1", call_id="c1")
    ]
    assert h.model.muted(call, True) == [CallMuted(agent="agent1", call_id="c1", muted=True)]
    assert h.model.muted(call, True) == []
    h.model.set_pending(call, Action.HANGUP)
    assert h.feed(h.a1, call_ev("CALL_CLOSED", "c1", param="Connection reset by user")) == [
        CallReleased(agent="agent1", call_id="c1", reason="agent hung up")
    ]
    assert h.registry.calls("agent1") == []
    # Late news of a call that is over changes nothing.
    assert (
        h.feed(
            h.a1, call_ev("CALL_RTCP", "c1", klass="other"), call_ev("CALL_CLOSED", "c1", param="x")
        )
        == []
    )


def test_a_remote_reinvite_is_not_our_hold(h: Harness) -> None:
    h.feed(h.a1, call_ev("CALL_INCOMING", "c1"), call_ev("CALL_ESTABLISHED", "c1"))
    assert h.feed(h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="answer")) == []
    assert h.feed(h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="offer")) == []


@pytest.mark.parametrize(
    ("established", "reason", "disposition"),
    [(False, "caller abandoned", "abandoned"), (True, "caller hung up", None)],
)
def test_caller_hangs_up(
    h: Harness, established: bool, reason: str, disposition: str | None
) -> None:
    h.feed(h.a1, call_ev("CALL_INCOMING", "c1"))
    if established:
        h.feed(h.a1, call_ev("CALL_ESTABLISHED", "c1"))
    assert h.feed(h.a1, call_ev("CALL_CLOSED", "c1", param="Connection reset by peer")) == [
        CallReleased(agent="agent1", call_id="c1", reason=reason, disposition=disposition)
    ]


def test_queue_number_is_the_dnis(h: Harness) -> None:
    (offer,) = h.feed(h.a1b, call_ev("CALL_INCOMING", "q1", aor=f"sip:8000@{PROXY}"))
    assert isinstance(offer, CallOffered) and offer.dnis == "8000" and offer.ani == "cust1"


def test_dial_gets_its_call_id_from_the_first_event(h: Harness) -> None:
    call = h.model.begin_dial(h.a1, "cust1")
    assert h.model.free_line("agent1") is h.a1b  # line 1 is taken while dialling
    assert (
        h.feed(
            h.a1,
            call_ev("CALL_LOCAL_SDP", None, direction="outgoing", klass="other", param="offer"),
        )
        == []
    )
    ringing = h.feed(h.a1, call_ev("CALL_RINGING", "o1", direction="outgoing"))
    assert ringing == [
        CallOffered(
            agent="agent1",
            call_id="o1",
            call_type=CallType.OUTBOUND,
            ani="1001",
            dnis="cust1",
            outgoing=True,
        )
    ]
    assert h.state("agent1", "o1") is LineState.DIALING
    assert h.model.dial_identified(call, "o1") == []  # callstat came second: nothing new
    assert h.feed(h.a1, call_ev("CALL_ESTABLISHED", "o1", direction="outgoing")) == [
        CallAnswered(agent="agent1", call_id="o1")
    ]
    assert h.feed(
        h.a1, call_ev("CALL_CLOSED", "o1", direction="outgoing", param="Connection reset by peer")
    ) == [CallReleased(agent="agent1", call_id="o1", reason="other party hung up")]


def test_dial_identified_by_callstat_first(h: Harness) -> None:
    call = h.model.begin_dial(h.a1, "1002")
    (offer,) = h.apply(h.model.dial_identified(call, "i1"))
    assert isinstance(offer, CallOffered) and offer.call_type is CallType.INTERNAL
    assert h.feed(h.a1, call_ev("CALL_RINGING", "i1", direction="outgoing")) == []


@pytest.mark.parametrize(
    ("status", "short", "told"),
    [
        ("486 Busy Here", "busy", "busy (486 Busy Here)"),
        ("404 Not Found", "not found", "not found (404 Not Found)"),
        ("486 Max Calls", "busy", "busy (486 Max Calls)"),
        ("603 Decline", "declined", "declined (603 Decline)"),
        ("480 Temporarily Unavailable", "unavailable", "unavailable (480 Temporarily Unavailable)"),
        ("488 Not Acceptable Here", "failed", "failed (488 Not Acceptable Here)"),
        ("Connection refused", "failed", "Connection refused"),
    ],
)
def test_failed_dial_reports_the_sip_status(h: Harness, status: str, short: str, told: str) -> None:
    # In the simulator's words: the short reason, then the status line (or baresip's text).
    h.model.begin_dial(h.a1, "9999")
    events = h.feed(h.a1, call_ev("CALL_CLOSED", "f1", direction="outgoing", param=status))
    assert events == [
        CallOffered(
            agent="agent1",
            call_id="f1",
            call_type=CallType.OUTBOUND,
            ani="1001",
            dnis="9999",
            outgoing=True,
        ),
        ActionFailed(agent="agent1", reason=told, call_id="f1", number="9999"),
        CallReleased(agent="agent1", call_id="f1", reason=short, disposition=short),
    ]
    assert failure_short(status) == short


def test_dial_refused_by_baresip_reports_nothing(h: Harness) -> None:
    call = h.model.begin_dial(h.a1, "9999")
    assert h.model.dial_failed(call, "baresip refused dial") == []
    assert not h.a1.busy


def test_cannot_dial_own_extension_or_with_all_lines_busy(h: Harness) -> None:
    with pytest.raises(ActionFailedError, match="own extension"):
        h.model.begin_dial(h.a1, "1001")
    h.feed(h.a2, call_ev("CALL_INCOMING", "x", aor=A2))
    with pytest.raises(ActionFailedError, match="all 1 lines of agent2 are in use"):
        h.model.free_line("agent2")
    with pytest.raises(ActionFailedError, match="no SIP phone"):
        h.model.free_line("agent9")


def test_internal_call_both_sides(h: Harness) -> None:
    call = h.model.begin_dial(h.a1, "1002")
    caller_side = h.feed(h.a1, call_ev("CALL_RINGING", "i1", direction="outgoing", peer=A2))
    callee_side = h.feed(h.a2, call_ev("CALL_INCOMING", "i1", aor=A2, peer=A1))
    assert caller_side[0] == CallOffered(
        agent="agent1",
        call_id="i1",
        outgoing=True,
        call_type=CallType.INTERNAL,
        ani="1001",
        dnis="1002",
    )
    assert h.state("agent1", "i1") is LineState.DIALING
    assert h.state("agent2", "i1") is LineState.RINGING
    assert callee_side == [
        CallOffered(
            agent="agent2", call_id="i1", call_type=CallType.INTERNAL, ani="1001", dnis="1002"
        )
    ]
    assert call.key == "i1"


def test_one_agent_holding_both_legs_gets_distinct_ids(h: Harness) -> None:
    h.model.begin_dial(h.a1, "8000")  # a queue agent1 is in: it rings agent1's line 2
    h.feed(h.a1, call_ev("CALL_RINGING", "q1", direction="outgoing"))
    (offer,) = h.feed(h.a1b, call_ev("CALL_INCOMING", "q1", aor=f"sip:8000@{PROXY}", peer=A1))
    assert isinstance(offer, CallOffered) and offer.call_id == "q1~2"
    assert h.registry.call_ids("agent1") == ["q1", "q1~2"]


def test_blind_transfer_carries_data_to_the_target(h: Harness) -> None:
    h.feed(
        h.a1,
        call_ev("CALL_INCOMING", "c1", aor=f"sip:8000@{PROXY}"),
        call_ev("CALL_ESTABLISHED", "c1"),
    )
    call = h.model.find_call("agent1", "c1")
    h.model.transfer_started(call, "1002", {"account": "42"}, now=10.0)
    (offer,) = h.feed(h.a2, call_ev("CALL_INCOMING", "c2", aor=A2), now=11.0)
    assert offer == CallOffered(
        agent="agent2",
        call_id="c2",
        call_type=CallType.INBOUND,
        ani="cust1",
        dnis="8000",
        data={"account": "42"},
    )
    h.feed(h.a2, call_ev("CALL_ESTABLISHED", "c2", aor=A2))
    assert h.feed(h.a1, call_ev("CALL_CLOSED", "c1", param="Call transfered")) == [
        CallReleased(agent="agent1", call_id="c1", reason="transferred", disposition="transferred")
    ]


def test_transfer_data_expires(h: Harness) -> None:
    h.feed(h.a1, call_ev("CALL_INCOMING", "c1"), call_ev("CALL_ESTABLISHED", "c1"))
    h.model.transfer_started(h.model.find_call("agent1", "c1"), "1002", {"k": 1}, now=10.0)
    (offer,) = h.feed(h.a2, call_ev("CALL_INCOMING", "c2", aor=A2), now=10.0 + 3600)
    assert isinstance(offer, CallOffered) and offer.data == {} and offer.dnis == "1002"


def test_failed_transfer_releases_the_call(h: Harness) -> None:
    h.feed(h.a1, call_ev("CALL_INCOMING", "c1"), call_ev("CALL_ESTABLISHED", "c1"))
    h.model.transfer_started(h.model.find_call("agent1", "c1"), "9999", None, now=1.0)
    assert h.feed(h.a1, call_ev("TRANSFER_FAILED", "c1", param="404 Not Found")) == [
        ActionFailed(
            agent="agent1", reason="not found (404 Not Found)", call_id="c1", number="9999"
        ),
        CallReleased(
            agent="agent1",
            call_id="c1",
            reason="transfer failed (404 Not Found)",
            disposition="transfer failed",
        ),
    ]


def test_line_lost_releases_its_calls_and_reports_the_agent_down(h: Harness) -> None:
    h.feed(h.a1b, call_ev("CALL_INCOMING", "c1"), call_ev("CALL_ESTABLISHED", "c1"))
    h.feed(h.a2, call_ev("CALL_INCOMING", "c2", aor=A2))
    events = h.apply(h.model.line_lost(h.a1b, "baresip closed the connection"))
    assert events == [
        CallReleased(
            agent="agent1",
            call_id="c1",
            reason="phone line lost (baresip closed the connection)",
            disposition="failed",
        ),
        LineStatus(agent="agent1", up=False, reason="line 2: baresip closed the connection"),
    ]
    with pytest.raises(ActionFailedError):
        h.model.find_call("agent1", "c1")
    assert h.apply(h.model.line_connected(h.a1b, {A1: True, f"sip:8000@{PROXY}": False})) == []
    assert h.feed(h.a1b, reg_ev("REGISTER_OK", f"sip:8000@{PROXY}")) == [
        LineStatus(agent="agent1", up=True)
    ]
    assert h.registry.call_ids("agent2") == ["c2"]  # other agents untouched


def test_registration_failure_is_news(h: Harness) -> None:
    assert h.feed(h.a2, reg_ev("REGISTER_FAIL", A2, "408 Request Timeout")) == [
        LineStatus(
            agent="agent2",
            up=False,
            reason="line 1: registration of 1002 failed: 408 Request Timeout",
        )
    ]
    assert h.feed(h.a2, reg_ev("UNREGISTERING", A2)) == []
    assert h.feed(h.a2, reg_ev("REGISTER_OK", "sip:other@x")) == []  # not this line's AOR
    assert h.feed(h.a2, reg_ev("REGISTER_OK", A2)) == [LineStatus(agent="agent2", up=True)]


def test_stopped_releases_everything(h: Harness) -> None:
    h.feed(h.a1, call_ev("CALL_INCOMING", "c1"))
    events = h.apply(h.model.stopped("bye"))
    assert events[0] == CallReleased(agent="agent1", call_id="c1", reason="bye")
    assert events[1:] == [
        LineStatus(agent="agent1", up=False, reason="bye"),
        LineStatus(agent="agent2", up=False, reason="bye"),
    ]


def test_calls_placed_on_the_phone_itself_are_reported(h: Harness) -> None:
    (offer,) = h.feed(
        h.a2,
        call_ev("CALL_RINGING", "m1", aor=A2, direction="outgoing", peer=f"sip:5550100@{PROXY}"),
    )
    assert offer == CallOffered(
        agent="agent2",
        call_id="m1",
        call_type=CallType.OUTBOUND,
        ani="1002",
        dnis="5550100",
        outgoing=True,
    )


def test_expected_call_data(h: Harness) -> None:
    h.model.expect_call("agent1", "cust1", {"ivr": "billing"}, dnis="8005550100", now=1.0)
    (other,) = h.feed(h.a2, call_ev("CALL_INCOMING", "c8", aor=A2))  # not for agent2
    assert isinstance(other, CallOffered) and other.data == {} and other.dnis == "1002"
    (offer,) = h.feed(h.a1, call_ev("CALL_INCOMING", "c9"))
    assert isinstance(offer, CallOffered)
    assert (offer.data, offer.dnis, offer.ani) == ({"ivr": "billing"}, "8005550100", "cust1")
    (again,) = h.feed(h.a1b, call_ev("CALL_INCOMING", "c10"))  # used once only
    assert isinstance(again, CallOffered) and again.data == {}


def test_find_call_refuses_other_agents_calls(h: Harness) -> None:
    h.feed(h.a2, call_ev("CALL_INCOMING", "c2", aor=A2))
    with pytest.raises(ActionFailedError, match="not on agent1's phone"):
        h.model.find_call("agent1", "c2")


def test_what_the_table_refuses_or_repeats_is_not_reported(
    h: Harness, caplog: pytest.LogCaptureFixture
) -> None:
    # The model moves its calls by the core's transitions table: baresip saying something
    # impossible for the call's state (an SDP "answer" to a hold on a call still ringing) is
    # logged and dropped, a repeat (CALL_ESTABLISHED again after a hold) changes nothing.
    h.feed(h.a1, call_ev("CALL_INCOMING", "c1"))
    call = h.model.find_call("agent1", "c1")
    h.model.set_pending(call, Action.HOLD)
    with caplog.at_level("WARNING"):
        assert h.feed(h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="answer")) == []
    assert "ignoring CallHeld on a ringing call" in caplog.text
    assert call.pending is Action.HOLD and call.line_state is LineState.RINGING
    h.model.set_pending(call, None)
    assert h.feed(h.a1, call_ev("CALL_ESTABLISHED", "c1")) == [
        CallAnswered(agent="agent1", call_id="c1")
    ]
    h.model.set_pending(call, Action.HOLD)
    h.feed(h.a1, call_ev("CALL_REMOTE_SDP", "c1", param="answer"))
    assert h.feed(h.a1, call_ev("CALL_ESTABLISHED", "c1")) == []
    assert h.state("agent1", "c1") is LineState.HELD
    assert h.model.muted(call, True) == [CallMuted(agent="agent1", call_id="c1", muted=True)]
