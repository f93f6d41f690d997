"""What each core event carries to the browser (its wire name and payload)."""

from __future__ import annotations

from ctikit.core import CallRegistry, CallType, Event
from ctikit.core import telephony as tel


def test_every_event_names_itself_and_carries_its_payload() -> None:
    reg = CallRegistry()
    events: list[Event] = []
    events += reg.apply(
        tel.CallOffered(agent="a1", call_id="c1", call_type=CallType.INBOUND, ani="+1"), now=1
    )
    events += reg.apply(tel.CallAnswered(agent="a1", call_id="c1"), now=2)
    events += reg.set_call_ids("a1", ["c1"], now=3)
    events += reg.apply(
        tel.ActionFailed(agent="a1", reason="busy (486)", call_id="c1", number="1002"), now=4
    )
    released = tel.CallReleased(agent="a1", call_id="c1", reason="caller hung up")
    events += reg.apply(released, now=64.6)
    events += reg.call_log_saved("a1", "log-1", now=65)
    events += reg.cti_message("a1", "/ANSWER", now=66)
    events += reg.custom_event("a1", "campaign", "Q4", now=67)
    events += reg.apply(tel.LineStatus(agent="a1", up=False, reason="phone gone"), now=68)
    got = {e.wire_name: e.payload() for e in events}
    assert list(got) == [
        "callBegin",
        "callUpdate",
        "callIds",
        "callFailed",
        "callEnd",
        "callLogSaved",
        "ctiMessage",
        "customEvent",
        "lineStatus",
    ]
    assert got["callBegin"]["id"] == "c1" and got["callBegin"]["call"]["lineState"] == "ringing"
    assert got["callUpdate"]["call"]["lineState"] == "connected"
    assert got["callUpdate"]["call"]["answeredAt"] == 2
    assert got["callIds"] == {"ids": ["c1"]}
    assert got["callFailed"] == {"id": "c1", "reason": "busy (486)", "number": "1002"}
    end = got["callEnd"]
    assert end["duration"] == "64" and end["disposition"] == ""
    assert end["reason"] == "caller hung up"
    assert end["call"]["endedAt"] == 64.6 and end["call"]["data"] == {"ANI": "+1"}
    assert got["callLogSaved"] == {"id": "log-1"}
    assert got["ctiMessage"] == {"message": "/ANSWER"}
    assert got["customEvent"] == {"type": "campaign", "message": "Q4"}
    assert got["lineStatus"] == {"up": False, "reason": "phone gone"}
    assert [e.seq for e in events] == list(range(1, 10))
