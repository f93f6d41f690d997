"""Memory budgets of the call state (issue 13, F2 and F4): prices, refusals, what is dropped."""

from __future__ import annotations

import json
import sys

import pytest
from hypothesis import given
from hypothesis import strategies as st

from ctikit.core import CallRegistry, CtiRequestError, LimitExceededError, Limits
from ctikit.core.budget import AGENT_COST, EVENT_COST, ServerBudget, data_cost

HOSTILE = "[" + ",".join(["{}"] * 20_000) + "]"  # 60 KB of text, ~1.4 MB parsed
MiB = 1024 * 1024


def _deep_size(value: object) -> int:
    """What CPython really takes (objects shared by the interpreter, such as small ints
    and short strings, counted as if they were not)."""
    if value is None or isinstance(value, bool):
        return 0
    size = sys.getsizeof(value)
    if isinstance(value, dict):
        size += sum(_deep_size(k) + _deep_size(v) for k, v in value.items())
    elif isinstance(value, list):
        size += sum(_deep_size(v) for v in value)
    return size


def test_the_price_of_empty_dicts_is_their_memory_not_their_text() -> None:
    value = json.loads(HOSTILE)
    cost = data_cost(value)
    assert cost > 20 * len(HOSTILE)  # not the 60 KB of text
    assert 0.8 < cost / _deep_size(value) < 1.3


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=5) | st.dictionaries(st.text(max_size=8), inner, max_size=5)
    ),
    max_leaves=30,
)


@given(json_values)
def test_the_price_is_near_what_cpython_takes(value: object) -> None:
    if isinstance(value, bool) or value is None:
        assert data_cost(value) == 0  # shared singletons
        return
    assert 0.5 * _deep_size(value) <= data_cost(value) <= 2 * _deep_size(value) + 64


def _reg(**limits: int) -> CallRegistry:
    return CallRegistry(Limits(**limits))


def _begin(reg: CallRegistry, agent: str, cid: str) -> None:
    reg.begin_call(agent, cid, "inbound", now=1.0)


def test_an_agent_budget_refuses_active_call_data_that_cannot_fit() -> None:
    reg = _reg(agent_memory_bytes=4 * MiB, max_data_bytes=MiB)
    _begin(reg, "a", "c1")
    _begin(reg, "a", "c2")
    reg.set_attached_data("a", "c1", HOSTILE, None, now=2.0)
    reg.set_attached_data("a", "c2", HOSTILE, None, now=2.0)
    _begin(reg, "a", "c3")
    with pytest.raises(LimitExceededError, match="agent_memory_bytes"):
        reg.set_attached_data("a", "c3", HOSTILE, None, now=3.0)
    assert reg.get_call("a", "c3").data == {}  # refused: nothing changed
    # Replacing a call's data is priced as the difference: the same value again fits.
    reg.set_attached_data("a", "c2", HOSTILE, None, now=4.0)
    # Data set before a call begins must fit too (and is priced when the call begins).
    with pytest.raises(LimitExceededError):
        reg.set_attached_data("a", "later", HOSTILE, None, now=5.0)
    state = reg.agent("a")
    assert state.cost <= 4 * MiB and reg.budget.used == state.cost


def test_the_event_log_is_bounded_by_bytes_and_replay_then_needs_a_snapshot() -> None:
    reg = _reg(event_log_bytes=3 * MiB, max_data_bytes=MiB)
    _begin(reg, "a", "c1")
    for i in range(20):
        reg.set_attached_data("a", "c1", HOSTILE, None, now=2.0 + i)
    state = reg.agent("a")
    assert 1 <= len(state.log) <= 2 and state.log_cost <= 3 * MiB
    assert state.log_cost == sum(state.log_costs)
    assert reg.events_after("a", 0) is None  # the oldest are gone: a snapshot
    last = state.log[-1].seq
    assert [e.seq for e in reg.events_after("a", last - 1) or []] == [last]
    assert reg.events_after("a", state.seq + 5) is None  # a cursor from a forgotten state


def test_small_events_are_priced_by_their_text() -> None:
    reg = _reg()
    reg.pin("a")
    base = reg.agent("a").cost
    reg.cti_message("a", "x" * 1000, now=1.0)
    reg.custom_event("a", "campaign", "y" * 500, now=2.0)
    assert reg.agent("a").cost == base + 2 * EVENT_COST + 1000 + len("campaign") + 500


def test_over_budget_the_soft_part_goes_first_log_then_ended_then_pending() -> None:
    reg = _reg(agent_memory_bytes=5 * MiB, max_data_bytes=MiB, event_log_bytes=64 * MiB)
    _begin(reg, "a", "e1")
    reg.set_attached_data("a", "e1", HOSTILE, None, now=2.0)
    reg.end_call("a", "e1", 1, None, now=3.0)
    reg.set_attached_data("a", "p1", HOSTILE, None, now=4.0)  # pending
    state = reg.agent("a")
    assert state.ended and state.pending_data and state.log
    _begin(reg, "a", "c1")
    reg.set_attached_data("a", "c1", HOSTILE, None, now=5.0)
    _begin(reg, "a", "c2")
    reg.set_attached_data("a", "c2", HOSTILE, None, now=6.0)
    # Two active calls' data (hard) fit; the log went first, then the ended call.
    assert state.cost <= 5 * MiB
    assert not state.ended and reg.find_call("a", "e1") is None
    assert "p1" in state.pending_data
    _begin(reg, "a", "c3")
    reg.set_attached_data("a", "c3", HOSTILE, None, now=7.0)
    assert not state.pending_data and state.cost <= 5 * MiB  # pending data went last
    assert list(reg.call_ids("a")) == ["c1", "c2", "c3"]


def test_restored_calls_over_the_budget_are_kept_and_nothing_else() -> None:
    big = _reg(max_data_bytes=MiB)
    for cid in ("k1", "k2"):
        _begin(big, "a", cid)
        big.set_attached_data("a", cid, HOSTILE, None, now=2.0)
    big.end_call("a", "k2", 1, None, now=3.0)
    small = _reg(agent_memory_bytes=1 * MiB, max_data_bytes=MiB)
    # Calls saved before a restart come back even if the budget shrank meanwhile: the
    # soft part (the ended call) is dropped, the active call stays.
    assert [c.id for c in small.restore_agent("a", big.snapshot_agent("a"))] == ["k1"]
    state = small.agent("a")
    assert not state.ended and state.cost > MiB and small.budget.used == state.cost


def test_the_server_budget_is_shared_and_refuses_clearly() -> None:
    reg = _reg(server_memory_bytes=5 * MiB, max_data_bytes=MiB, event_log_bytes=0)
    for agent in ("a", "b", "c"):
        _begin(reg, agent, "k")
    reg.set_attached_data("a", "k", HOSTILE, None, now=2.0)
    reg.set_attached_data("b", "k", HOSTILE, None, now=2.0)
    reg.set_attached_data("c", "k", HOSTILE, None, now=2.0)
    _begin(reg, "c", "k2")
    with pytest.raises(LimitExceededError, match="server's memory budget"):
        reg.set_attached_data("c", "k2", HOSTILE, None, now=3.0)
    with pytest.raises(LimitExceededError, match="server's memory budget"):
        reg.attach_data("c", "k2", {"x": json.loads(HOSTILE)}, now=3.0)
    assert reg.budget.used == sum(reg.agent(a).cost for a in ("a", "b", "c"))
    assert reg.budget.room() > 0
    # Ending a call makes its data soft: the next change may drop it to make room.
    reg.end_call("a", "k", 1, None, now=4.0)
    reg.set_attached_data("c", "k2", HOSTILE, None, now=5.0)
    assert reg.find_call("a", "k") is None and reg.budget.used <= 5 * MiB


def test_load_and_restore_charge_the_budget_once() -> None:
    reg = _reg(max_data_bytes=MiB)
    _begin(reg, "a", "k")
    reg.set_attached_data("a", "k", HOSTILE, None, now=2.0)
    dump = reg.dump_agent("a")
    used = reg.budget.used
    reg.load_agent("a", dump)
    assert reg.budget.used <= used  # the old state was given back (its log is not dumped)
    assert reg.budget.used == reg.agent("a").cost
    other = _reg(max_data_bytes=MiB)
    other.restore_agent("a", reg.snapshot_agent("a"))
    assert other.budget.used == other.agent("a").cost > AGENT_COST


def test_reads_of_unknown_agents_keep_nothing() -> None:
    reg = _reg()
    assert reg.call_ids("nobody") == [] and reg.calls("nobody") == []
    assert reg.recent_calls("nobody") == [] and reg.find_call("nobody", "x") is None
    assert reg.last_seq("nobody") == 0 and reg.line_up("nobody") is None
    assert reg.events_after("nobody", 0) == []
    with pytest.raises(CtiRequestError):
        reg.call_ids("bad agent!")
    assert reg.agents() == [] and reg.budget.used == 0


def test_idle_agents_are_forgotten_at_the_cap_and_busy_ones_refuse() -> None:
    reg = _reg(max_agents=3)
    reg.pin("connected")
    _begin(reg, "busy", "k")
    reg.cti_message("idle", "hi", now=1.0)  # state, but no calls and no console
    used = reg.budget.used
    reg.cti_message("new", "hi", now=2.0)  # the cap: "idle" goes
    assert sorted(reg.agents()) == ["busy", "connected", "new"]
    assert reg.budget.used == used  # "idle" gave its memory back, "new" took as much
    # A forgotten agent's console resumes from a snapshot, never from a stale cursor.
    assert reg.events_after("idle", 1) is None
    _begin(reg, "new", "k")
    with pytest.raises(LimitExceededError, match="max_agents"):
        reg.cti_message("another", "hi", now=3.0)
    reg.unpin("connected")
    reg.cti_message("another", "hi", now=4.0)  # "connected" has no console now: it goes
    assert "connected" not in reg.agents()


def test_pins_count_consoles() -> None:
    reg = _reg(max_agents=1)
    reg.pin("a")
    reg.pin("a")
    reg.unpin("a")
    with pytest.raises(LimitExceededError):
        reg.pin("b")  # "a" still has a console
    reg.unpin("a")
    reg.unpin("a")  # one too many: harmless
    reg.pin("b")
    assert reg.agents() == ["b"]


def test_server_budget_room() -> None:
    assert ServerBudget(10, 4).room() == 6
