from __future__ import annotations

import json

import pytest

from ctikit.core import (
    CallBegan,
    CallEnded,
    CallRegistry,
    CallsReplaced,
    CallType,
    CallUpdated,
    CommandRejectedError,
    CtiRequestError,
    LimitExceededError,
    Limits,
    LineState,
    TelephonyError,
    UnknownCallError,
    parse_cti_message,
)
from ctikit.core import telephony as tel


def offer(reg: CallRegistry, agent: str, cid: str, now: float = 0.0, **kw: object) -> None:
    reg.apply(
        tel.CallOffered(
            agent=agent,
            call_id=cid,
            call_type=CallType.INBOUND,
            ani=kw.get("ani", "+14155550100"),
            dnis="8005550199",  # type: ignore[arg-type]
            data={"account": "A-1"},
        ),
        now=now,
    )


def test_component_call_lifecycle_and_sequence() -> None:
    reg = CallRegistry()
    (began,) = reg.begin_call("a1", "c1", "inbound", "Call from Jo", now=10.0)
    assert isinstance(began, CallBegan) and began.seq == 1 and began.call.label == "Call from Jo"
    reg.begin_call("a1", "c2", "OUTBOUND", None, now=11.0)
    assert reg.call_ids("a1") == ["c1", "c2"]
    (ended,) = reg.end_call("a1", "c1", 42, "done", now=60.0)
    assert isinstance(ended, CallEnded)
    assert ended.payload()["duration"] == "42" and ended.payload()["disposition"] == "done"
    assert ended.seq == 3
    assert reg.call_ids("a1") == ["c2"]
    assert reg.find_call("a1", "c1") is not None  # kept for wrap-up


@pytest.mark.parametrize(
    ("args", "error"),
    [
        (("", "inbound"), "non-empty"),
        ((None, "inbound"), "non-empty"),
        (("c1", "sideways"), "call type must be one of"),
        (("c1", 5), "call type"),
        (("x" * 300, "inbound"), "longer than"),
        (("a\nb", "inbound"), "control characters"),
    ],
)
def test_begin_call_rejects_bad_input_without_change(
    args: tuple[object, object], error: str
) -> None:
    reg = CallRegistry()
    with pytest.raises(CtiRequestError, match=error):
        reg.begin_call("a1", *args, now=0.0)
    assert reg.call_ids("a1") == [] and reg.last_seq("a1") == 0


def test_duplicate_begin_and_unknown_end() -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=0)
    with pytest.raises(CtiRequestError, match="already begun"):
        reg.begin_call("a1", "c1", "inbound", now=1)
    with pytest.raises(UnknownCallError):
        reg.end_call("a1", "nope", 1, "", now=1)
    for bad in ("12", True, -1, float("nan")):
        with pytest.raises(CtiRequestError, match="duration"):
            reg.end_call("a1", "c1", bad, "", now=1)
    assert reg.call_ids("a1") == ["c1"]


def test_set_call_ids_replaces_and_later_begin_keeps_place() -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=0)
    (ev,) = reg.set_call_ids("a1", ["c2", "c1"], now=1)
    assert isinstance(ev, CallsReplaced) and reg.call_ids("a1") == ["c2", "c1"]
    (began,) = reg.begin_call("a1", "c2", "outbound", "L", now=2)
    assert isinstance(began, CallBegan) and reg.call_ids("a1") == ["c2", "c1"]
    with pytest.raises(CtiRequestError, match="twice"):
        reg.set_call_ids("a1", ["x", "x"], now=3)
    with pytest.raises(CtiRequestError, match="array"):
        reg.set_call_ids("a1", "c1", now=3)
    assert reg.call_ids("a1") == ["c2", "c1"]


def test_set_attached_data_json_string_and_pending() -> None:
    reg = CallRegistry()
    # Data set before the call begins is applied when it begins.
    assert reg.set_attached_data("a1", "c1", '{"k": 1}', "internal", now=0) == []
    reg.begin_call("a1", "c1", "inbound", now=1)
    view = reg.get_call("a1", "c1")
    assert view.data == {"k": 1} and view.call_type is CallType.INTERNAL
    (upd,) = reg.set_attached_data("a1", "c1", "[1, 2]", None, now=2)
    assert isinstance(upd, CallUpdated) and reg.get_call("a1", "c1").data == [1, 2]
    with pytest.raises(CtiRequestError, match="JSON string"):
        reg.set_attached_data("a1", "c1", {"k": 1}, None, now=3)
    with pytest.raises(CtiRequestError, match="not valid JSON"):
        reg.set_attached_data("a1", "c1", "{nope", None, now=3)
    with pytest.raises(LimitExceededError):
        reg.set_attached_data("a1", "c1", json.dumps("x" * 70000), None, now=3)
    assert reg.get_call("a1", "c1").data == [1, 2]


def test_attach_data_merges_and_limits() -> None:
    reg = CallRegistry(Limits(max_data_bytes=200))
    offer(reg, "a1", "c1")
    reg.attach_data("a1", "c1", {"ivr": "billing"}, now=1)
    assert reg.get_call("a1", "c1").data == {
        "ANI": "+14155550100",
        "DNIS": "8005550199",
        "account": "A-1",
        "ivr": "billing",
    }
    with pytest.raises(LimitExceededError):
        reg.attach_data("a1", "c1", {"big": "x" * 300}, now=2)
    with pytest.raises(UnknownCallError):
        reg.attach_data("a1", "zzz", {}, now=2)
    with pytest.raises(CtiRequestError, match="object"):
        reg.attach_data("a1", "c1", [1], now=2)


def test_connector_lifecycle_and_commands() -> None:
    reg = CallRegistry()
    offer(reg, "a1", "c1", now=100)
    assert reg.get_call("a1", "c1").line_state is LineState.RINGING
    with pytest.raises(CommandRejectedError, match="needs a connected"):
        reg.resolve_command("a1", parse_cti_message("/HOLD?CALL_ID=c1"))  # type: ignore[arg-type]
    action = reg.resolve_command("a1", parse_cti_message("/ANSWER"))  # type: ignore[arg-type]
    assert action.call_id == "c1"
    reg.apply(tel.CallAnswered(agent="a1", call_id="c1"), now=101)
    assert reg.apply(tel.CallAnswered(agent="a1", call_id="c1"), now=101) == []
    with pytest.raises(CommandRejectedError, match="no ringing call"):
        reg.resolve_command("a1", parse_cti_message("/ANSWER"))  # type: ignore[arg-type]
    reg.apply(tel.CallHeld(agent="a1", call_id="c1"), now=102)
    assert reg.resolve_command("a1", parse_cti_message("/RETRIEVE?LINE_NUMBER=1")).call_id == "c1"  # type: ignore[arg-type]
    t = reg.resolve_command("a1", parse_cti_message("/TRANSFER?NUMBER=1002"))  # type: ignore[arg-type]
    assert t.data == reg.get_call("a1", "c1").data
    with pytest.raises(CommandRejectedError, match="no line 2"):
        reg.resolve_command("a1", parse_cti_message("/HANGUP?LINE_NUMBER=2"))  # type: ignore[arg-type]
    (end,) = reg.apply(
        tel.CallReleased(agent="a1", call_id="c1", reason="caller hung up"), now=160.4
    )
    assert isinstance(end, CallEnded) and end.payload()["duration"] == "60"
    assert end.reason == "caller hung up"


def test_component_calls_are_not_connector_controlled() -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=0)
    with pytest.raises(CommandRejectedError, match="not controlled"):
        reg.resolve_command("a1", parse_cti_message("/HANGUP?CALL_ID=c1"))  # type: ignore[arg-type]
    with pytest.raises(TelephonyError):
        reg.apply(tel.CallAnswered(agent="a1", call_id="c1"), now=1)


def test_telephony_nonsense_is_rejected_without_change() -> None:
    reg = CallRegistry()
    offer(reg, "a1", "c1")
    seq = reg.last_seq("a1")
    with pytest.raises(TelephonyError):
        offer(reg, "a1", "c1")
    with pytest.raises(TelephonyError):
        reg.apply(tel.CallReleased(agent="a1", call_id="ghost", reason="x"), now=1)
    with pytest.raises(TelephonyError, match="bad agent"):
        reg.apply(tel.CallAnswered(agent="bad agent!", call_id="c1"), now=1)
    assert reg.last_seq("a1") == seq and reg.call_ids("a1") == ["c1"]


def test_limits_on_active_calls() -> None:
    reg = CallRegistry(Limits(max_active_calls=2))
    reg.begin_call("a1", "c1", "inbound", now=0)
    reg.begin_call("a1", "c2", "inbound", now=0)
    with pytest.raises(LimitExceededError):
        reg.begin_call("a1", "c3", "inbound", now=0)
    with pytest.raises(CommandRejectedError, match="cannot dial"):
        reg.resolve_command("a1", parse_cti_message("/DIAL?NUMBER=1"))  # type: ignore[arg-type]


def test_event_log_replay_window() -> None:
    reg = CallRegistry(Limits(event_log_size=3))
    for i in range(5):
        reg.cti_message("a1", f"m{i}", now=i)
    assert [e.seq for e in reg.events_after("a1", 2) or []] == [3, 4, 5]
    assert reg.events_after("a1", 1) is None  # event 2 was dropped: a snapshot is needed
    assert reg.events_after("a1", 5) == []


def test_line_status_only_on_change() -> None:
    reg = CallRegistry()
    assert len(reg.apply(tel.LineStatus(agent="a1", up=False, reason="phone died"), now=0)) == 1
    assert reg.apply(tel.LineStatus(agent="a1", up=False), now=1) == []


def test_calls_on_a_line_cannot_be_dropped_or_ended_by_components() -> None:
    reg = CallRegistry()
    offer(reg, "a1", "line-1")
    reg.begin_call("a1", "soft-1", "inbound", now=1)
    with pytest.raises(CtiRequestError, match="must keep call 'line-1'"):
        reg.set_call_ids("a1", ["soft-1"], now=2)
    with pytest.raises(CtiRequestError, match="/HANGUP"):
        reg.end_call("a1", "line-1", 5, "", now=2)
    reg.set_call_ids("a1", ["soft-1", "line-1"], now=3)  # reordering is fine
    assert reg.call_ids("a1") == ["soft-1", "line-1"]


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ('{"a": NaN}', "not JSON"),
        ('{"a": Infinity}', "not JSON"),
        ('{"a": "\\ud800"}', "lone surrogate"),
        ("[" * 40 + "]" * 40, "nested too deeply"),
        ("[" * 5000 + "]" * 5000, "nested too deeply"),
    ],
)
def test_attached_data_must_be_strict_json(text: str, reason: str) -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=0)
    with pytest.raises(CtiRequestError, match=reason):
        reg.set_attached_data("a1", "c1", text, None, now=1)
    with pytest.raises(CtiRequestError):
        reg.attach_data("a1", "c1", {"x": float("nan")}, now=1)
    with pytest.raises(CtiRequestError, match="lone surrogate"):
        reg.begin_call("a1", "c2", "inbound", "\ud800", now=1)
    assert reg.get_call("a1", "c1").data == {}


def test_cti_message_percent_escape_must_be_utf8() -> None:
    with pytest.raises(CtiRequestError, match="not UTF-8"):
        parse_cti_message("/DIAL?NUMBER=%FF")


def test_snapshot_and_restore_round_trip() -> None:
    reg = CallRegistry()
    offer(reg, "a1", "line-1", now=5)
    reg.apply(tel.CallAnswered(agent="a1", call_id="line-1"), now=6)
    reg.begin_call("a1", "soft-1", "outbound", "L", now=7)
    reg.begin_call("a1", "old", "inbound", now=1)
    reg.end_call("a1", "old", 3, "done", now=8)
    snap = json.loads(json.dumps(reg.snapshot_agent("a1")))  # as stored: JSON text
    fresh = CallRegistry()
    views = fresh.restore_agent("a1", snap)
    assert [v.id for v in views] == ["line-1", "soft-1"]
    assert fresh.get_call("a1", "line-1") == reg.get_call("a1", "line-1")
    assert fresh.find_call("a1", "old") is not None
    for bad in (
        [1],
        {"calls": [{"id": 5}]},
        {"calls": [{"id": "x", "call_type": "NOPE"}]},
        {"calls": [{"id": "x", "call_type": "INBOUND"}]},
    ):
        with pytest.raises(CtiRequestError):
            CallRegistry().restore_agent("a1", bad)


def test_dump_and_load_carry_the_whole_agent_state() -> None:
    """What cluster mode stores per agent: a copy loaded from a dump goes on exactly where
    the original would (same next seq, same pending data, same line status)."""
    reg = CallRegistry()
    offer(reg, "a1", "line-1", now=5)
    reg.set_attached_data("a1", "later", '{"k": 1}', "outbound", now=6)  # pending, no event
    reg.apply(tel.LineStatus(agent="a1", up=False, reason="phone gone"), now=7)
    dump = json.loads(json.dumps(reg.dump_agent("a1")))
    copy = CallRegistry()
    copy.load_agent("a1", dump)
    assert copy.dump_agent("a1") == reg.dump_agent("a1")
    # Both continue identically: the pending data applies, numbering goes on.
    for r in (reg, copy):
        (ev,) = r.begin_call("a1", "later", "inbound", now=8)
        assert ev.seq == 3 and ev.call.data == {"k": 1}
        assert ev.call.call_type.value == "OUTBOUND"
    assert copy.agent("a1").line_up is False


def test_load_refuses_damaged_dumps_and_keeps_the_old_state() -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=1)
    for bad in (
        "text",
        {"seq": -1},
        {"seq": True},
        {"seq": 2**60},
        {"line_up": "yes"},
        {"pending": [["c", {"x": float("nan")}, None]]},
        {"pending": [["c", {}, "NOPE"]]},
        {"pending": "x"},
        {"calls": [{"id": "x", "call_type": "NOPE"}]},
    ):
        with pytest.raises(CtiRequestError):
            reg.load_agent("a1", bad)
        assert reg.call_ids("a1") == ["c1"] and reg.last_seq("a1") == 1
    with pytest.raises(CtiRequestError):
        CallRegistry().load_agent("bad agent!", {})


def test_custom_events_one_per_agent_in_each_agents_sequence() -> None:
    reg = CallRegistry()
    offer(reg, "a1", "c1")  # a1 seq 1
    reg.pin("a2")  # a console of a2 is connected
    events = reg.custom_events(["a1", "a2", "a3"], "campaign", "Q4", now=5.0)
    assert [(e.agent, e.seq, e.at) for e in events] == [("a1", 2, 5.0), ("a2", 1, 5.0)]
    assert [e.seq for e in reg.events_after("a2", 0)] == [1]
    assert reg.custom_event("a2", "campaign", None, now=6.0)[0].seq == 2
    # a3 has no state (no console, no calls): the campaign created none for it (F4).
    assert not reg.has_agent("a3") and reg.agents() == ["a1", "a2"]


@pytest.mark.parametrize(
    ("agents", "event_type", "message", "error"),
    [
        (["a1", "bad agent"], "campaign", "m", CtiRequestError),
        (["a1", "a2\n"], "campaign", "m", CtiRequestError),
        (["a1"], "", "m", CtiRequestError),
        (["a1"], "campaign", 3, CtiRequestError),
        (["a1"], "campaign", "x" * (64 * 1024 + 1), LimitExceededError),
    ],
)
def test_custom_events_refused_fire_nothing(
    agents: list[str], event_type: object, message: object, error: type[Exception]
) -> None:
    reg = CallRegistry()
    offer(reg, "a1", "c1")
    with pytest.raises(error):
        reg.custom_events(agents, event_type, message, now=1.0)
    assert reg.last_seq("a1") == 1 and reg.agents() == ["a1"]


def test_agent_lists_are_checked_and_deduplicated() -> None:
    from ctikit.core.model import check_agent_id, check_agent_list

    assert check_agent_list(["b", "a", "b"], 3) == ["b", "a"]
    for bad in (None, [], "a", ["a", None], ["a", ["b"]], ["a", "b c"], ["a", "b\n"]):
        with pytest.raises(CtiRequestError):
            check_agent_list(bad, 10)
    with pytest.raises(LimitExceededError):
        check_agent_list(["a"] * 11, 10)
    with pytest.raises(CtiRequestError):  # "$" in a pattern also matches before a final "\n"
        check_agent_id("agent1\n")
