"""Consult commands in the core: which calls they name, what completes them."""

from __future__ import annotations

import pytest

from ctikit.core import telephony as tel
from ctikit.core.commands import Action, CtiCommand, parse
from ctikit.core.errors import CommandRejectedError
from ctikit.core.events import CallEnded, CallFailed, CallUpdated
from ctikit.core.model import CallType, LineState
from ctikit.core.outcomes import DONE, judge
from ctikit.core.registry import CallRegistry


def registry(consult_state: LineState = LineState.CONNECTED) -> CallRegistry:
    """a1 has c1 held and c2 a consult call about it (in ``consult_state``), and c3 held."""
    reg = CallRegistry()
    for cid, data in (("c1", {}), ("c2", {"consultOf": "c1"}), ("c3", {})):
        reg.apply(
            tel.CallOffered(agent="a1", call_id=cid, call_type=CallType.INBOUND, data=data),
            now=1,
        )
    for cid in ("c1", "c3"):
        reg.apply(tel.CallAnswered(agent="a1", call_id=cid), now=2)
        reg.apply(tel.CallHeld(agent="a1", call_id=cid), now=3)
    if consult_state is not LineState.RINGING:
        reg.apply(tel.CallAnswered(agent="a1", call_id="c2"), now=4)
    if consult_state is LineState.HELD:
        reg.apply(tel.CallHeld(agent="a1", call_id="c2"), now=5)
    return reg


def resolve(reg: CallRegistry, message: str) -> tel.ConnectorAction:
    cmd = parse(message)
    assert cmd is not None
    return reg.resolve_command("a1", cmd)


@pytest.mark.parametrize(
    "message", ["/COMPLETE_TRANSFER", "/COMPLETE_TRANSFER?CALL_ID=c2", "/CONFERENCE?CALL_ID=c1"]
)
def test_consult_commands_name_the_consult_call_and_the_held_one(message: str) -> None:
    action = resolve(registry(), message)
    assert (action.call_id, action.held_call_id) == ("c2", "c1")


def test_complete_carries_the_held_calls_data_so_the_target_gets_it() -> None:
    reg = registry()
    reg.attach_data("a1", "c1", {"account": "42"}, now=5)
    assert resolve(reg, "/COMPLETE_TRANSFER").data == {"account": "42"}
    assert resolve(reg, "/CANCEL_CONSULT").data is None


def test_a_call_with_no_consult_is_refused() -> None:
    reg = registry()
    with pytest.raises(CommandRejectedError, match="call 'c3' has no consult call"):
        resolve(reg, "/COMPLETE_TRANSFER?CALL_ID=c3")
    with pytest.raises(CommandRejectedError, match="no consult call"):
        resolve(CallRegistry(), "/CANCEL_CONSULT")


def test_the_consult_calls_state_is_checked_by_the_table() -> None:
    reg = registry(LineState.HELD)
    with pytest.raises(CommandRejectedError, match="needs a connected consult call"):
        resolve(reg, "/COMPLETE_TRANSFER")
    with pytest.raises(CommandRejectedError, match="needs a connected or dialing consult call"):
        resolve(reg, "/CANCEL_CONSULT")


def test_the_held_call_must_be_held() -> None:
    reg = registry()
    reg.apply(tel.CallRetrieved(agent="a1", call_id="c1"), now=6)
    with pytest.raises(CommandRejectedError, match=r"\('c1'\) is connected, not held"):
        resolve(reg, "/CONFERENCE")


def test_a_link_to_itself_or_to_no_call_is_no_consult() -> None:
    reg = CallRegistry()
    for cid, data in (("x", {"consultOf": "x"}), ("y", {"consultOf": "gone"})):
        reg.apply(
            tel.CallOffered(agent="a1", call_id=cid, call_type=CallType.INBOUND, data=data),
            now=1,
        )
        reg.apply(tel.CallAnswered(agent="a1", call_id=cid), now=2)
    with pytest.raises(CommandRejectedError, match="no consult call"):
        resolve(reg, "/COMPLETE_TRANSFER")


def test_consult_itself_acts_on_a_connected_or_held_call() -> None:
    reg = registry()
    assert resolve(reg, "/CONSULT?NUMBER=1002").call_id == "c2"  # connected first
    assert resolve(reg, "/CONSULT?NUMBER=1002&CALL_ID=c3").call_id == "c3"


def _view(reg: CallRegistry, cid: str):  # type: ignore[no-untyped-def]
    return reg.get_call("a1", cid)


def test_outcomes_watch_the_held_call_for_cancel_and_conference() -> None:
    reg = registry()
    cancel = tel.ConnectorAction(
        agent="a1", action=Action.CANCEL_CONSULT, call_id="c2", held_call_id="c1"
    )
    c1, c2 = _view(reg, "c1"), _view(reg, "c2")
    ended_c2 = CallEnded(agent="a1", seq=1, at=1, call=c2, duration=1, disposition="x")
    assert judge(cancel, ended_c2) is None  # the consult ending is on the way
    retrieved = CallUpdated(
        agent="a1",
        seq=2,
        at=2,
        call=reg.apply(tel.CallRetrieved(agent="a1", call_id="c1"), now=7)[-1].call,  # type: ignore[union-attr]
    )
    assert judge(cancel, retrieved) == DONE
    ended_c1 = CallEnded(agent="a1", seq=3, at=3, call=c1, duration=1, disposition="y")
    verdict = judge(cancel, ended_c1)
    assert verdict is not None and not verdict.ok
    failed = CallFailed(agent="a1", seq=4, at=4, call_id="c2", reason="no such thing")
    assert judge(cancel, failed) is not None and not judge(cancel, failed).ok  # type: ignore[union-attr]


def test_complete_is_done_when_the_consult_call_ends_transferred() -> None:
    reg = registry()
    done = tel.ConnectorAction(
        agent="a1", action=Action.COMPLETE_TRANSFER, call_id="c2", held_call_id="c1"
    )
    c1, c2 = _view(reg, "c1"), _view(reg, "c2")
    assert (
        judge(
            done, CallEnded(agent="a1", seq=1, at=1, call=c1, duration=1, disposition="transferred")
        )
        is None
    )
    assert (
        judge(
            done, CallEnded(agent="a1", seq=2, at=1, call=c2, duration=1, disposition="transferred")
        )
        == DONE
    )
    assert CtiCommand(action=Action.CONFERENCE).to_message() == "/CONFERENCE"
