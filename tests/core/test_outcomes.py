"""core.outcomes: which committed event completes (or fails) which command."""

from __future__ import annotations

import pytest

from ctikit.core.commands import Action
from ctikit.core.events import CallBegan, CallEnded, CallFailed, CallUpdated, Event
from ctikit.core.model import CallType, CallView, LineState
from ctikit.core.outcomes import COMPLETES, DONE, Awaits, Verdict, judge, needs_report
from ctikit.core.telephony import ConnectorAction


def view(cid: str = "c1", state: LineState | None = LineState.CONNECTED, **kw: object) -> CallView:
    fields: dict[str, object] = {
        "id": cid,
        "call_type": CallType.INBOUND,
        "label": None,
        "data": {},
        "started_at": 0.0,
        "line_state": state,
        "muted": False,
        "answered_at": None,
        "ended_at": None,
        "duration": None,
        "disposition": None,
        "ani": None,
        "dnis": None,
    }
    fields.update(kw)
    return CallView(**fields)  # type: ignore[arg-type]


def updated(cid: str = "c1", state: LineState = LineState.CONNECTED, **kw: object) -> Event:
    return CallUpdated(agent="a", seq=1, at=0.0, call=view(cid, state, **kw))


def ended(cid: str = "c1", disposition: str = "", reason: str | None = None) -> Event:
    return CallEnded(
        agent="a", seq=1, at=0.0, call=view(cid), duration=1.0, disposition=disposition,
        reason=reason,
    )  # fmt: skip


def failed(cid: str | None = "c1", number: str | None = None, reason: str = "busy") -> Event:
    return CallFailed(agent="a", seq=1, at=0.0, call_id=cid, reason=reason, number=number)


def began(cid: str = "c2", state: LineState = LineState.DIALING) -> Event:
    return CallBegan(agent="a", seq=1, at=0.0, call=view(cid, state))


def cmd(action: Action, cid: str | None = "c1", number: str | None = None) -> ConnectorAction:
    return ConnectorAction(agent="a", action=action, call_id=cid, number=number)


def test_every_command_has_an_outcome() -> None:
    assert set(COMPLETES) == set(Action)
    assert [a for a in Action if not needs_report(a)] == [Action.DTMF]


@pytest.mark.parametrize(
    ("action", "event", "verdict"),
    [
        (Action.ANSWER, updated(state=LineState.CONNECTED), DONE),
        (Action.ANSWER, updated(state=LineState.RINGING), None),  # data attached meanwhile
        (Action.ANSWER, updated("other", LineState.CONNECTED), None),
        (Action.HOLD, updated(state=LineState.HELD), DONE),
        (Action.HOLD, updated(state=LineState.CONNECTED), None),
        (Action.RETRIEVE, updated(state=LineState.CONNECTED), DONE),
        (Action.MUTE, updated(muted=True), DONE),
        (Action.MUTE, updated(muted=False), None),
        (Action.UNMUTE, updated(muted=False), DONE),
        (Action.HANGUP, ended(reason="agent hung up"), DONE),
        (Action.HANGUP, ended(reason="caller hung up"), DONE),  # ended all the same
        (Action.HANGUP, failed(), None),  # about an earlier command; the end completes it
        (Action.TRANSFER, ended(disposition="transferred"), DONE),
        (Action.TRANSFER, failed(reason="busy (486)"), Verdict(False, "busy (486)")),
        (Action.HOLD, failed(reason="not confirmed"), Verdict(False, "not confirmed")),
        (Action.HOLD, failed("other"), None),
    ],
)  # fmt: skip
def test_judge(action: Action, event: Event, verdict: Verdict | None) -> None:
    assert judge(cmd(action), event) == verdict


@pytest.mark.parametrize("action", [Action.ANSWER, Action.HOLD, Action.MUTE, Action.TRANSFER])
def test_a_call_that_ends_first_fails_the_command(action: Action) -> None:
    v = judge(cmd(action), ended(reason="caller abandoned", disposition="abandoned"))
    shows = COMPLETES[action].shows
    assert v == Verdict(False, f"call 'c1' ended before it was {shows} (caller abandoned)")


def test_dial_is_done_when_a_new_call_is_dialing_and_fails_for_its_number() -> None:
    dial = cmd(Action.DIAL, None, number="+14155550404")
    assert judge(dial, began(state=LineState.DIALING)) == DONE
    assert judge(dial, began(state=LineState.RINGING)) is None  # a call coming in meanwhile
    assert judge(dial, failed(None, "+14155550404", "not found")) == Verdict(False, "not found")
    assert judge(dial, failed(None, "+1999")) is None


def test_events_of_another_agent_never_count() -> None:
    other = CallUpdated(agent="b", seq=1, at=0.0, call=view(state=LineState.CONNECTED))
    assert judge(cmd(Action.ANSWER), other) is None


def test_dtmf_waits_for_nothing() -> None:
    assert COMPLETES[Action.DTMF].awaits is Awaits.NOTHING
    assert judge(cmd(Action.DTMF), updated()) is None
