"""The browser phone's reports -> core events (sans-I/O), and what is refused."""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ctikit.connectors.directory import Directory
from ctikit.connectors.webrtc import ReportError, WebrtcModel
from ctikit.core.model import CallType
from ctikit.core.registry import CallRegistry
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallHeld,
    CallMuted,
    CallOffered,
    CallReleased,
    LineStatus,
)


def model() -> WebrtcModel:
    return WebrtcModel(Directory({"1001": "a1", "1002": "a2"}), max_calls=3)


def offer(call_id: str = "c1", direction: str = "in", peer: str = "5551234") -> dict[str, Any]:
    return {"kind": "offered", "callId": call_id, "direction": direction, "peer": peer}


def test_an_inbound_call_rings_is_answered_and_ends() -> None:
    m = model()
    (offered,) = m.report("a1", offer())
    assert offered == CallOffered(
        agent="a1", call_id="c1", call_type=CallType.INBOUND, ani="5551234", dnis="1001"
    )
    assert m.report("a1", {"kind": "answered", "callId": "c1"}) == [
        CallAnswered(agent="a1", call_id="c1")
    ]
    assert m.report("a1", {"kind": "answered", "callId": "c1"}) == []  # the same news again
    assert m.report("a1", {"kind": "muted", "callId": "c1", "muted": True}) == [
        CallMuted(agent="a1", call_id="c1", muted=True)
    ]
    assert m.report("a1", {"kind": "held", "callId": "c1"}) == [CallHeld(agent="a1", call_id="c1")]
    (ended,) = m.report("a1", {"kind": "ended", "callId": "c1", "by": "peer"})
    assert ended == CallReleased(agent="a1", call_id="c1", reason="caller hung up")
    assert m.calls("a1") == []


def test_reasons_in_the_sip_connectors_words() -> None:
    m = model()
    m.report("a1", offer())
    (gone,) = m.report("a1", {"kind": "ended", "callId": "c1", "by": "peer"})
    assert gone == CallReleased(
        agent="a1", call_id="c1", reason="caller abandoned", disposition="abandoned"
    )
    m.report("a1", offer("c2", "out", "5550486"))
    failed, released = m.report(
        "a1",
        {"kind": "ended", "callId": "c2", "by": "failed", "status": 486, "phrase": "Busy Here"},
    )
    assert failed == ActionFailed(
        agent="a1", reason="busy (486 Busy Here)", call_id="c2", number="5550486"
    )
    assert released == CallReleased(agent="a1", call_id="c2", reason="busy", disposition="busy")
    m.report("a1", offer("c3", "in", "1002"))
    assert m.calls("a1")[0].call_type is CallType.INTERNAL
    m.report("a1", {"kind": "answered", "callId": "c3"})
    (moved,) = m.report(
        "a1", {"kind": "ended", "callId": "c3", "by": "transferred", "target": "1002"}
    )
    assert (moved.reason, moved.disposition) == ("transferred", "transferred")


@pytest.mark.parametrize(
    ("raw", "words"),
    [
        ([], "a report is an object"),
        ({"kind": "answered", "callId": "nope"}, "no call 'nope'"),
        ({"kind": "offered", "callId": "x y"}, "callId must be"),
        ({"kind": "offered", "callId": "c9", "direction": "sideways"}, "direction"),
        ({"kind": "offered", "callId": "c9", "direction": "in", "peer": "<script>"}, "peer"),
        ({"kind": "ended", "callId": "c1", "by": "aliens"}, "by must be one of"),
        ({"kind": "ended", "callId": "c1", "by": "failed", "status": 99}, "status"),
        ({"kind": "muted", "callId": "c1", "muted": "yes"}, "muted must be"),
        ({"kind": "line", "up": 1}, "up must be"),
        ({"kind": "exploded", "callId": "c1"}, "unknown report kind"),
    ],
)
def test_a_bad_report_is_refused_with_a_reason(raw: Any, words: str) -> None:
    m = model()
    m.report("a1", offer())
    with pytest.raises(ReportError, match=words):
        m.report("a1", raw)


def test_moves_the_table_refuses_are_refused() -> None:
    m = model()
    m.report("a1", offer())
    with pytest.raises(ReportError, match="impossible on a ringing call"):
        m.report("a1", {"kind": "held", "callId": "c1"})


def test_a_phone_cannot_grow_past_its_calls() -> None:
    m = model()
    for i in range(3):
        m.report("a1", offer(f"c{i}"))
    with pytest.raises(ReportError, match="already has 3 calls"):
        m.report("a1", offer("c9"))
    assert m.report("a2", offer("c9"))  # another agent's phone is not affected


def test_the_line_is_news_only_when_it_changes_and_release_all_ends_every_call() -> None:
    m = model()
    assert m.line("a1", True, None) == [LineStatus(agent="a1", up=True)]
    assert m.line("a1", True, None) == []
    m.report("a1", offer("c1"))
    m.report("a1", offer("c2"))
    ended = m.release_all("a1", "gone")
    assert {e.call_id for e in ended} == {"c1", "c2"}
    assert all(isinstance(e, CallReleased) and e.reason == "gone" for e in ended)


_KINDS = st.sampled_from(["offered", "answered", "held", "retrieved", "muted", "ended", "line"])
_REPORT = st.fixed_dictionaries(
    {"kind": _KINDS, "callId": st.sampled_from(["c1", "c2", ""])},
    optional={
        "direction": st.sampled_from(["in", "out", "up"]),
        "peer": st.sampled_from(["1002", "555", None, 7]),
        "by": st.sampled_from(["agent", "peer", "failed", "closed", "x"]),
        "muted": st.booleans(),
        "up": st.booleans(),
        "status": st.integers(0, 800),
    },
)


@settings(max_examples=300, deadline=None)
@given(st.lists(_REPORT, max_size=25))
def test_whatever_a_browser_sends_the_registry_accepts_what_is_reported(
    reports: list[dict[str, Any]],
) -> None:
    # Every event the model lets through is one the core's registry applies: a browser can
    # put its agent's calls only in states any connector could.
    m = model()
    registry = CallRegistry()
    now = 1000.0
    for raw in reports:
        try:
            events = m.report("a1", raw)
        except ReportError:
            continue
        for event in events:
            now += 1
            # Refused would raise TelephonyError; a repeated report may change nothing.
            registry.apply(event, now=now)
