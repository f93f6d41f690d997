from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core.ratelimit import SharedBuckets, TokenBucket


def test_burst_then_rate() -> None:
    b = TokenBucket(rate=10, burst=3)
    assert [b.allow(0.0) for _ in range(4)] == [True, True, True, False]
    assert b.refused_lately == 1
    assert b.allow(0.05) is False  # half a token
    assert b.allow(0.1) is True and b.refused_lately == 2  # no quiet second yet
    assert b.allow(1.2) is True and b.refused_lately == 0
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


def test_a_cost_takes_that_many_tokens_and_one_over_the_burst_never_passes() -> None:
    b = TokenBucket(rate=100, burst=1000)
    assert b.allow(0.0, 600) and not b.allow(0.0, 600) and b.allow(0.0, 400)
    assert b.allow(2.0, 200)  # refilled 200
    assert not b.allow(100.0, 1001) and b.allow(100.0, 1000)


def test_shared_buckets_follow_the_key_until_the_last_holder_lets_go() -> None:
    shared = SharedBuckets(rate=10, burst=100)
    a, a2, other = shared.hold("a"), shared.hold("a"), shared.hold("b")
    assert a is a2 and a is not other and len(shared) == 2
    assert a.allow(0.0, 100) and not a2.allow(0.0, 1)  # one budget for both sockets
    shared.release("a")
    assert shared.hold("a") is a  # still held once: the same bucket
    shared.release("a")
    shared.release("a")
    assert len(shared) == 1 and shared.hold("a") is not a  # forgotten, then new


def test_a_client_sending_far_over_the_rate_keeps_counting_refusals() -> None:
    # Ten times the rate: one request in ten passes, and the refusals still add up.
    b = TokenBucket(rate=50, burst=1)
    for i in range(1, 1001):
        b.allow(i / 500)
    assert b.refused_lately >= 800
