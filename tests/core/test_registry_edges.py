"""Edges of the registry's inputs: limits that drop the oldest, odd values, connector data."""

from __future__ import annotations

import pytest

from ctikit.core import (
    CallFailed,
    CallRegistry,
    CallType,
    CtiError,
    CtiRequestError,
    LimitExceededError,
    Limits,
    TelephonyError,
    UnknownCallError,
    parse_cti_message,
)
from ctikit.core import telephony as tel
from ctikit.core.errors import TooLongError


def offer(reg: CallRegistry, cid: str, now: float = 0.0) -> None:
    reg.apply(tel.CallOffered(agent="a1", call_id=cid, call_type=CallType.INBOUND), now=now)


def test_reading_calls() -> None:
    reg = CallRegistry()
    offer(reg, "c1", now=1)
    assert [c.id for c in reg.calls("a1")] == ["c1"] and reg.agents() == ["a1"]
    with pytest.raises(UnknownCallError, match="'c2' is not active"):
        reg.get_call("a1", "c2")
    assert reg.find_call("a1", "c2") is None and reg.recent_calls("a1") == []
    reg.apply(tel.CallReleased(agent="a1", call_id="c1", reason="x"), now=2)
    assert [c.id for c in reg.recent_calls("a1")] == ["c1"]


def test_ended_calls_and_pending_data_keep_only_the_newest() -> None:
    reg = CallRegistry(Limits(max_recent_ended=2, max_pending_data=2))
    for i in range(3):
        reg.begin_call("a1", f"c{i}", "inbound", now=i)
        reg.end_call("a1", f"c{i}", None, None, now=i + 10.5)
    assert [c.id for c in reg.recent_calls("a1")] == ["c1", "c2"]
    assert reg.recent_calls("a1")[0].duration == 10.5  # none given: measured
    for i in range(3):
        assert reg.set_attached_data("a1", f"p{i}", f'{{"n": {i}}}', None, now=20) == []
    reg.begin_call("a1", "p0", "outbound", now=21)
    reg.begin_call("a1", "p2", "outbound", now=22)
    assert reg.get_call("a1", "p0").data == {}  # dropped: the oldest of three
    view = reg.get_call("a1", "p2")
    assert view.data == {"n": 2} and view.call_type is CallType.OUTBOUND  # no type was set


def test_attached_data_and_type_of_an_active_call() -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=0)
    (ev,) = reg.set_attached_data("a1", "c1", "[1]", "Outbound", now=1)
    assert ev.call.call_type is CallType.OUTBOUND and ev.call.data == [1]
    with pytest.raises(CtiRequestError, match="not an object: cannot merge"):
        reg.attach_data("a1", "c1", {"k": 1}, now=2)


def test_ids_labels_and_logs() -> None:
    reg = CallRegistry()
    (ev,) = reg.begin_call("a1", 42, "inbound", now=0)  # the original stringifies numbers
    assert ev.call.id == "42"
    with pytest.raises(CtiRequestError, match="call label must be a string"):
        reg.begin_call("a1", "c2", "inbound", ["label"], now=0)
    with pytest.raises(TooLongError, match="call label longer than 255"):
        reg.begin_call("a1", "c2", "inbound", "x" * 256, now=0)
    (saved,) = reg.call_log_saved("a1", "log-7", now=1)
    assert saved.log_id == "log-7"
    with pytest.raises(CtiRequestError, match="call log ID must be a non-empty string"):
        reg.call_log_saved("a1", " ", now=1)
    assert reg.last_seq("a1") == 2


def test_connector_data_and_failures() -> None:
    reg = CallRegistry(Limits(max_data_bytes=100))
    offer(reg, "c1")
    (ev,) = reg.apply(tel.CallDataAttached(agent="a1", call_id="c1", data={"q": "sales"}), now=1)
    assert ev.call.data == {"q": "sales"}
    seq = reg.last_seq("a1")
    for bad in ({"big": "x" * 200}, {"nan": float("nan")}, {"set": {1, 2}}):
        with pytest.raises(TelephonyError, match="connector attached bad data"):
            reg.apply(tel.CallDataAttached(agent="a1", call_id="c1", data=bad), now=2)
    assert reg.last_seq("a1") == seq and reg.get_call("a1", "c1").data == {"q": "sales"}
    (failed,) = reg.apply(tel.ActionFailed(agent="a1", reason="busy"), now=3)
    assert isinstance(failed, CallFailed) and failed.call_id is None
    with pytest.raises(TelephonyError, match="connector offered a bad call"):
        reg.apply(
            tel.CallOffered(agent="a1", call_id="c2", call_type=CallType.INBOUND, data={1: 2}),  # type: ignore[dict-item]
            now=4,
        )


def test_offered_data_is_checked_as_the_registry_would() -> None:
    reg = CallRegistry(Limits(max_data_bytes=60))
    assert reg.check_offered_data("+1", "800", {"k": 1}) == {"ANI": "+1", "DNIS": "800", "k": 1}
    assert reg.check_offered_data(None, None, {}) == {}
    with pytest.raises(LimitExceededError, match="larger than 60 bytes"):
        reg.check_offered_data("+1", None, {"k": "x" * 60})
    with pytest.raises(CtiRequestError, match="key that is not a string"):
        reg.check_offered_data(None, None, {3: "x"})  # type: ignore[dict-item]


def test_command_grammar_edges() -> None:
    assert parse_cti_message("/HANGUP?&LINE_NUMBER=1&") is not None  # empty parts are skipped
    with pytest.raises(CtiRequestError, match="CALL_ID is empty, too long or has control"):
        parse_cti_message("/HOLD?CALL_ID=a%0Ab")


def test_errors_carry_a_code() -> None:
    assert CtiError("x").code == "error" and CtiError("x", code="custom").code == "custom"
    assert UnknownCallError("x").code == "unknown_call"
