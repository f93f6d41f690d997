"""The transitions table: what it says, that the registry does exactly that, and the docs."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ctikit.core import (
    CallEnded,
    CallRegistry,
    CallType,
    CallUpdated,
    CommandRejectedError,
    LineState,
    TelephonyError,
    parse_cti_message,
)
from ctikit.core import telephony as tel
from ctikit.core.commands import CONSULT_ACTIONS, Action, CtiCommand
from ctikit.core.transitions import (
    COMMANDS,
    DUPLICATES,
    EVENTS,
    Edge,
    LineEvent,
    TableState,
    after,
    allows,
    as_markdown,
    is_duplicate,
    line_event,
    needs,
)

DOC = Path(__file__).resolve().parents[2] / "docs" / "connectors.md"
R, D, C, H = LineState.RINGING, LineState.DIALING, LineState.CONNECTED, LineState.HELD


def event_of(kind: LineEvent, cid: str = "c1", *, muted: bool = True) -> tel.TelephonyEvent:
    """A telephony event of ``kind`` for agent a1's call ``cid``."""
    match kind:
        case LineEvent.OFFERED:
            return tel.CallOffered(agent="a1", call_id=cid, call_type=CallType.INBOUND, ani="+1")
        case LineEvent.OFFERED_OUTGOING:
            return tel.CallOffered(
                agent="a1", call_id=cid, call_type=CallType.INTERNAL, dnis="1002", outgoing=True
            )
        case LineEvent.ANSWERED:
            return tel.CallAnswered(agent="a1", call_id=cid)
        case LineEvent.HELD:
            return tel.CallHeld(agent="a1", call_id=cid)
        case LineEvent.RETRIEVED:
            return tel.CallRetrieved(agent="a1", call_id=cid)
        case LineEvent.MUTED:
            return tel.CallMuted(agent="a1", call_id=cid, muted=muted)
        case LineEvent.DATA_ATTACHED:
            return tel.CallDataAttached(agent="a1", call_id=cid, data={"ivr": "billing"})
        case LineEvent.RELEASED:
            return tel.CallReleased(agent="a1", call_id=cid, reason="caller hung up")
    raise AssertionError(kind)


# How to bring a call into each state with events every connector sends.
PATHS: dict[TableState, list[LineEvent]] = {
    Edge.NEW: [],
    R: [LineEvent.OFFERED],
    D: [LineEvent.OFFERED_OUTGOING],
    C: [LineEvent.OFFERED, LineEvent.ANSWERED],
    H: [LineEvent.OFFERED, LineEvent.ANSWERED, LineEvent.HELD],
}


def registry_with_call_in(state: TableState) -> CallRegistry:
    reg = CallRegistry()
    for i, kind in enumerate(PATHS[state]):
        reg.apply(event_of(kind), now=100.0 + i)
    return reg


def line_state(reg: CallRegistry, cid: str = "c1") -> TableState:
    call = reg.find_call("a1", cid)
    if call is None:
        return Edge.NEW
    if cid not in reg.call_ids("a1"):
        return Edge.ENDED
    assert call.line_state is not None
    return call.line_state


# ------------------------------------------------------------ the rules named in the issue


@pytest.mark.parametrize(
    ("state", "kind"),
    [
        (R, LineEvent.HELD),  # a ringing call cannot be put on hold
        (D, LineEvent.HELD),
        (R, LineEvent.RETRIEVED),  # nor retrieved before it was held
        (C, LineEvent.OFFERED),  # nor offered twice
        (R, LineEvent.MUTED),  # no call audio to mute before answer
        (D, LineEvent.MUTED),
        (Edge.NEW, LineEvent.ANSWERED),
        (Edge.NEW, LineEvent.RELEASED),
    ],
)
def test_impossible_transitions_are_refused_and_change_nothing(
    state: TableState, kind: LineEvent
) -> None:
    reg = registry_with_call_in(state)
    before, seq = reg.dump_agent("a1"), reg.last_seq("a1")
    with pytest.raises(TelephonyError, match="c1"):
        reg.apply(event_of(kind), now=200)
    assert reg.dump_agent("a1") == before and reg.last_seq("a1") == seq


def test_held_before_answered_is_refused_and_answered_at_stays_honest() -> None:
    reg = registry_with_call_in(R)
    with pytest.raises(TelephonyError, match="ringing: impossible"):
        reg.apply(tel.CallHeld(agent="a1", call_id="c1"), now=101)
    (ev,) = reg.apply(tel.CallAnswered(agent="a1", call_id="c1"), now=102)
    assert isinstance(ev, CallUpdated) and ev.call.answered_at == 102
    reg.apply(tel.CallHeld(agent="a1", call_id="c1"), now=103)
    reg.apply(tel.CallRetrieved(agent="a1", call_id="c1"), now=104)
    assert reg.get_call("a1", "c1").answered_at == 102  # retrieving is not answering again


@pytest.mark.parametrize(("state", "kind"), sorted(DUPLICATES))
def test_duplicates_change_nothing_and_emit_nothing(state: TableState, kind: LineEvent) -> None:
    reg = registry_with_call_in(state)
    before = reg.dump_agent("a1")
    assert reg.apply(event_of(kind), now=200) == []
    assert reg.dump_agent("a1") == before


def test_mute_is_a_property_of_the_answered_call_and_survives_hold() -> None:
    reg = registry_with_call_in(C)
    (ev,) = reg.apply(tel.CallMuted(agent="a1", call_id="c1", muted=True), now=200)
    assert isinstance(ev, CallUpdated) and ev.call.muted
    assert reg.apply(tel.CallMuted(agent="a1", call_id="c1", muted=True), now=201) == []
    reg.apply(tel.CallHeld(agent="a1", call_id="c1"), now=202)
    assert reg.get_call("a1", "c1").muted
    (ev,) = reg.apply(tel.CallMuted(agent="a1", call_id="c1", muted=False), now=203)
    assert ev.call.line_state is H and not ev.call.muted
    with pytest.raises(CommandRejectedError, match="no connected call"):
        reg.resolve_command("a1", CtiCommand(action=Action.UNMUTE))
    with pytest.raises(CommandRejectedError, match="needs a connected call; call 'c1' is held"):
        reg.resolve_command("a1", CtiCommand(action=Action.UNMUTE, call_id="c1"))


@pytest.mark.parametrize("state", [R, D, C, H])
def test_release_ends_a_call_in_any_state(state: TableState) -> None:
    reg = registry_with_call_in(state)
    (ev,) = reg.apply(event_of(LineEvent.RELEASED), now=300)
    assert isinstance(ev, CallEnded) and ev.reason == "caller hung up"
    assert line_state(reg) is Edge.ENDED
    with pytest.raises(TelephonyError, match="does not have on a line"):
        reg.apply(event_of(LineEvent.RELEASED), now=301)  # released exactly once


def test_events_on_a_components_own_call_are_refused() -> None:
    reg = CallRegistry()
    reg.begin_call("a1", "c1", "inbound", now=0)
    for kind in LineEvent:
        with pytest.raises(TelephonyError):
            reg.apply(event_of(kind), now=1)
    assert reg.last_seq("a1") == 1


def test_events_that_are_not_telephony_events_are_refused() -> None:
    class Bogus:
        agent = "a1"
        call_id = "c1"

    with pytest.raises(TelephonyError, match="unknown telephony event Bogus"):
        CallRegistry().apply(Bogus(), now=0)  # type: ignore[arg-type]


# ------------------------------------------------- the registry does what the table says


@pytest.mark.parametrize("kind", list(LineEvent))
@pytest.mark.parametrize("state", list(PATHS))
def test_registry_follows_the_table_for_every_pair(state: TableState, kind: LineEvent) -> None:
    reg = registry_with_call_in(state)
    before = reg.dump_agent("a1")
    expected = after(state, kind)
    if expected is None:
        with pytest.raises(TelephonyError):
            reg.apply(event_of(kind), now=200)
        assert reg.dump_agent("a1") == before
        return
    events = reg.apply(event_of(kind), now=200)
    assert line_state(reg) == expected
    assert len(events) == (0 if is_duplicate(state, kind) else 1)
    if expected is C:
        assert reg.get_call("a1", "c1").answered_at is not None


@pytest.mark.parametrize("action", [a for a in COMMANDS if a not in CONSULT_ACTIONS])
@pytest.mark.parametrize("state", [R, D, C, H])
def test_registry_allows_commands_exactly_as_the_table_says(
    state: LineState, action: Action
) -> None:
    reg = registry_with_call_in(state)
    if action is Action.UNMUTE and state is C:
        reg.apply(tel.CallMuted(agent="a1", call_id="c1", muted=True), now=150)
    cmd = CtiCommand(
        action=action,
        call_id="c1",
        number="1002" if action in (Action.TRANSFER, Action.CONSULT) else None,
        digits="12" if action is Action.DTMF else None,
    )
    if state in COMMANDS[action]:
        assert reg.resolve_command("a1", cmd).call_id == "c1"
    else:
        with pytest.raises(CommandRejectedError, match=f"needs a {needs(action)} call"):
            reg.resolve_command("a1", cmd)


def test_a_command_without_a_target_picks_by_the_tables_order() -> None:
    reg = CallRegistry()
    for cid, kinds in (
        ("held", PATHS[H]),
        ("ringing", PATHS[R]),
        ("dialing", PATHS[D]),
        ("connected", PATHS[C]),
    ):
        for kind in kinds:
            reg.apply(event_of(kind, cid), now=1)
    picks = {
        msg: reg.resolve_command("a1", parse_cti_message(msg)).call_id  # type: ignore[arg-type]
        for msg in ("/HANGUP", "/ANSWER", "/RETRIEVE", "/TRANSFER?NUMBER=1", "/DTMF?DIGITS=1")
    }
    assert picks == {
        "/HANGUP": "connected",
        "/ANSWER": "ringing",
        "/RETRIEVE": "held",
        "/TRANSFER?NUMBER=1": "connected",
        "/DTMF?DIGITS=1": "connected",
    }
    reg.apply(tel.CallReleased(agent="a1", call_id="connected", reason="x"), now=2)
    assert reg.resolve_command("a1", parse_cti_message("/HANGUP")).call_id == "dialing"  # type: ignore[arg-type]
    with pytest.raises(CommandRejectedError, match="no connected call"):
        reg.resolve_command("a1", parse_cti_message("/HOLD"))  # type: ignore[arg-type]


# ------------------------------------------------------------------- the table itself


def test_the_table_is_consistent() -> None:
    on_a_line = {R, D, C, H}
    reachable = {nxt for nxt in EVENTS.values()}
    assert reachable == on_a_line | {Edge.ENDED}, "every state can be reached, no other"
    assert {s for s, _ in EVENTS} == on_a_line | {Edge.NEW}, "nothing leaves ENDED"
    for state, kind in DUPLICATES:
        assert EVENTS[state, kind] == state, "a duplicate must not move the call"
    assert set(COMMANDS) == set(Action) - {Action.DIAL}
    for action, states in COMMANDS.items():
        assert len(set(states)) == len(states) and set(states) <= on_a_line, action


def test_what_a_command_leads_to_is_a_transition_the_table_allows() -> None:
    """The event a connector reports after carrying out an allowed command is legal."""
    outcome = {
        Action.ANSWER: LineEvent.ANSWERED,
        Action.HANGUP: LineEvent.RELEASED,
        Action.HOLD: LineEvent.HELD,
        Action.RETRIEVE: LineEvent.RETRIEVED,
        Action.TRANSFER: LineEvent.RELEASED,
        Action.MUTE: LineEvent.MUTED,
        Action.UNMUTE: LineEvent.MUTED,
    }
    for action, kind in outcome.items():
        for state in COMMANDS[action]:
            nxt = after(state, kind)
            assert nxt is not None and not is_duplicate(state, kind), (action, state)


def test_helpers() -> None:
    assert not allows(Action.DIAL, C) and not allows(Action.HANGUP, None)
    assert allows(Action.HANGUP, R) and needs(Action.TRANSFER) == "connected or held"
    assert line_event(tel.LineStatus(agent="a1", up=True)) is None
    assert line_event(tel.ActionFailed(agent="a1", reason="busy")) is None
    outbound = tel.CallOffered(agent="a1", call_id="c", call_type=CallType.OUTBOUND)
    assert line_event(outbound) is LineEvent.OFFERED_OUTGOING


def test_docs_show_the_table_as_it_is() -> None:
    """docs/connectors.md carries the tables between markers; they must be what the code
    says. On failure, paste the text printed below between the markers."""
    text = DOC.read_text()
    m = re.search(r"<!-- transitions:begin -->\n(.*?)<!-- transitions:end -->", text, re.S)
    assert m, "docs/connectors.md lost its transitions markers"
    assert m.group(1) == as_markdown(), "docs/connectors.md is stale:\n" + as_markdown()
