"""The record a softphone's saveLog hands the server: any JSON gives the fields or a
CtiRequestError naming the problem, never another exception."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from ctikit.core.errors import CtiRequestError
from ctikit.server.opencti import MAX_FIELDS, _duration, _fields

scalars = st.none() | st.booleans() | st.integers() | st.floats() | st.text(max_size=50)
json_values = st.recursive(
    scalars,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(), inner, max_size=3),
)


@given(st.dictionaries(st.text(max_size=300), json_values, max_size=30) | json_values)
def test_any_json_gives_fields_or_a_clear_error(value: Any) -> None:
    try:
        out = _fields(value)
    except CtiRequestError as exc:
        assert exc.message and "\n" not in exc.message
        return
    assert isinstance(value, dict) and len(out) <= MAX_FIELDS
    assert all(isinstance(k, str) and k for k in out)
    assert all(v is None or isinstance(v, str | int | float | bool) for v in out.values())


@given(json_values)
def test_any_duration_gives_seconds_or_a_clear_error(value: Any) -> None:
    try:
        seconds = _duration({"CallDurationInSeconds": value})
    except CtiRequestError:
        return
    assert seconds is None or 0 <= seconds <= 2**31 - 1
