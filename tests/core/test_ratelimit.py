from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core.ratelimit import TokenBucket


def test_burst_then_rate() -> None:
    b = TokenBucket(rate=10, burst=3)
    assert [b.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.refused_in_a_row == 1
    assert b.allow(0.05) is False  # half a token
    assert b.allow(0.1) is True and b.refused_in_a_row == 0
    assert b.allow(100.0) and b.allow(100.0) and b.allow(100.0)  # refilled to burst only
    assert b.allow(100.0) is False


def test_clock_going_backwards_grants_nothing() -> None:
    b = TokenBucket(rate=1, burst=1)
    assert b.allow(10.0) and not b.allow(5.0) and not b.allow(10.5) and b.allow(11.0)


def test_bad_settings() -> None:
    with pytest.raises(ValueError):
        TokenBucket(rate=0, burst=1)


@given(st.lists(st.floats(0, 1000, allow_nan=False), min_size=1, max_size=200))
def test_never_more_than_burst_plus_rate_times_elapsed(times: list[float]) -> None:
    times.sort()
    b = TokenBucket(rate=5, burst=4)
    allowed = sum(b.allow(t) for t in times)
    assert allowed <= 4 + 5 * (times[-1] - times[0]) + 1e-9
