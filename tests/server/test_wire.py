"""Event frames: the campaign fast path gives the same bytes as the full encoding."""

from __future__ import annotations

import msgspec
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core.events import CustomEventFired
from ctikit.server import wire

texts = st.text(min_size=1, max_size=40)


def full(event: CustomEventFired) -> bytes:
    return msgspec.json.encode(
        {
            "type": "event",
            "seq": event.seq,
            "event": "customEvent",
            "at": event.at,
            "data": {"type": event.event_type, "message": event.message},
        }
    )


@given(
    st.lists(
        st.tuples(
            st.integers(1, 2**53),
            st.sampled_from(["campaign", "x"]) | texts,
            st.none() | st.sampled_from(["go", ""]) | texts,
            st.sampled_from([1.0, 1764070000.123456]) | st.floats(0, 4e9),
        ),
        min_size=1,
        max_size=6,
    )
)
def test_custom_event_frames_are_the_full_encoding(
    cases: list[tuple[int, str, str | None, float]],
) -> None:
    # In sequence, so that a repeat reuses the cached tail and a change replaces it.
    for seq, event_type, message, at in cases + cases[:1]:
        event = CustomEventFired(agent="a", seq=seq, at=at, event_type=event_type, message=message)
        frame = wire.encode_event(event)
        assert frame == full(event)
        assert msgspec.json.decode(frame)["seq"] == seq
