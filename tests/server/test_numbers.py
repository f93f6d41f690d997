"""Phone numbers for people: libphonenumber's formats, and anything else as it was given."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core.errors import CtiRequestError
from ctikit.server import numbers


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("+1 (415) 555-0123", "+1 415-555-0123"),
        ("+14155550123", "+1 415-555-0123"),
        ("+442079460123", "+44 20 7946 0123"),
        ("1002", "1002"),  # an extension
        ("8005550100", "8005550100"),  # no country code: not guessed
        ("+1", "+1"),  # not a number
    ],
)
def test_international_format(raw: str, shown: str) -> None:
    assert numbers.formatted(raw)["international"] == shown


@given(st.text(max_size=numbers.MAX_LENGTH))
def test_any_text_gives_an_answer(raw: str) -> None:
    out = numbers.formatted(raw)
    assert out["number"] == raw
    assert all(isinstance(out[k], str) for k in ("international", "national", "e164"))
    if not out["valid"]:
        assert out["international"] == raw


def test_requests_are_bounded() -> None:
    with pytest.raises(CtiRequestError, match="at most 50"):
        numbers.check_numbers(["+1"] * 51)
    with pytest.raises(CtiRequestError, match="at most 64"):
        numbers.check_numbers(["1" * 65])
    with pytest.raises(CtiRequestError, match="number="):
        numbers.check_numbers([])
