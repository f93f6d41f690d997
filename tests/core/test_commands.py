from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core import Action, CtiCommand, CtiRequestError, parse_cti_message


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("/ANSWER", CtiCommand(action=Action.ANSWER)),
        ("/answer", CtiCommand(action=Action.ANSWER)),
        ("/HANGUP?LINE_NUMBER=2", CtiCommand(action=Action.HANGUP, line_number=2)),
        ("/HOLD?CALL_ID=sim-1", CtiCommand(action=Action.HOLD, call_id="sim-1")),
        ("/RETRIEVE", CtiCommand(action=Action.RETRIEVE)),
        ("/DIAL?NUMBER=%2B14155550100", CtiCommand(action=Action.DIAL, number="+14155550100")),
        ("/DIAL?number=1002", CtiCommand(action=Action.DIAL, number="1002")),
        (
            "/TRANSFER?NUMBER=1002&CALL_ID=c1",
            CtiCommand(action=Action.TRANSFER, number="1002", call_id="c1"),
        ),
        ("/MUTE", CtiCommand(action=Action.MUTE)),
        ("/UNMUTE?LINE_NUMBER=1", CtiCommand(action=Action.UNMUTE, line_number=1)),
        ("/DTMF?DIGITS=12%23*", CtiCommand(action=Action.DTMF, digits="12#*")),
        ("/consult?number=1002", CtiCommand(action=Action.CONSULT, number="1002")),
        ("/COMPLETE_TRANSFER", CtiCommand(action=Action.COMPLETE_TRANSFER)),
        (
            "/CANCEL_CONSULT?CALL_ID=c2",
            CtiCommand(action=Action.CANCEL_CONSULT, call_id="c2"),
        ),
        ("/CONFERENCE?LINE_NUMBER=2", CtiCommand(action=Action.CONFERENCE, line_number=2)),
    ],
)
def test_valid_commands(text: str, expected: CtiCommand) -> None:
    assert parse_cti_message(text) == expected


@pytest.mark.parametrize(
    "text", ["hello", "", "ANSWER", "/", "/FOO", "/FOO?X=1", "//ANSWER", "answer please"]
)
def test_outside_grammar_is_none(text: str) -> None:
    assert parse_cti_message(text) is None


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("/DIAL", "needs NUMBER"),
        ("/DIAL?NUMBER=", "needs NUMBER"),
        ("/DIAL?NUMBER=12 34", "not a dialable number"),
        ("/DIAL?NUMBER=1&LINE_NUMBER=1", "unknown parameter LINE_NUMBER"),
        ("/TRANSFER", "needs NUMBER"),
        ("/CONSULT", "needs NUMBER"),
        ("/CONSULT?NUMBER=a b", "not a dialable number"),
        ("/COMPLETE_TRANSFER?NUMBER=1", "unknown parameter NUMBER"),
        ("/DTMF", "needs DIGITS"),
        ("/DTMF?DIGITS=12x", "DIGITS may hold only"),
        ("/ANSWER?LINE_NUMBER=0", "LINE_NUMBER must be"),
        ("/ANSWER?LINE_NUMBER=abc", "LINE_NUMBER must be"),
        ("/ANSWER?LINE_NUMBER=1&CALL_ID=x", "not both"),
        ("/ANSWER?FOO=1", "unknown parameter FOO"),
        ("/ANSWER?CALL_ID", "has no value"),
        ("/HOLD?CALL_ID=a&CALL_ID=b", "given twice"),
        ("/MUTE?NUMBER=1", "unknown parameter NUMBER"),
    ],
)
def test_malformed_known_commands_say_why(text: str, reason: str) -> None:
    with pytest.raises(CtiRequestError, match=reason):
        parse_cti_message(text)


def test_overlong_and_non_string() -> None:
    with pytest.raises(CtiRequestError, match="longer than"):
        parse_cti_message("/ANSWER?CALL_ID=" + "x" * 5000)
    with pytest.raises(CtiRequestError, match="must be a string"):
        parse_cti_message(42)  # type: ignore[arg-type]


numbers = st.from_regex(r"\A\+?[0-9A-Za-z*#._-]{1,64}\Z")
commands = st.one_of(
    st.builds(
        CtiCommand,
        action=st.sampled_from(
            [
                a
                for a in Action
                if a not in (Action.DIAL, Action.TRANSFER, Action.DTMF, Action.CONSULT)
            ]
        ),
        line_number=st.one_of(st.none(), st.integers(1, 99)),
    ),
    st.builds(CtiCommand, action=st.just(Action.DIAL), number=numbers),
    st.builds(
        CtiCommand,
        action=st.sampled_from([Action.TRANSFER, Action.CONSULT]),
        number=numbers,
        call_id=st.one_of(
            st.none(),
            st.text(
                # No lone surrogates: strict JSON refuses them before a command is parsed.
                st.characters(
                    min_codepoint=32, exclude_characters="\x7f", exclude_categories=("Cs",)
                ),
                min_size=1,
                max_size=40,
            ).filter(str.strip),
        ),
    ),
    st.builds(
        CtiCommand, action=st.just(Action.DTMF), digits=st.from_regex(r"\A[0-9*#A-D]{1,64}\Z")
    ),
)


@given(commands)
def test_round_trip(cmd: CtiCommand) -> None:
    assert parse_cti_message(cmd.to_message()) == cmd


@given(st.text(max_size=300))
def test_any_text_parses_or_fails_cleanly(text: str) -> None:
    try:
        result = parse_cti_message(text)
    except CtiRequestError as exc:
        assert exc.message
    else:
        assert result is None or isinstance(result, CtiCommand)
