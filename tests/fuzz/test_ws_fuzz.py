"""Fuzzing the console WebSocket: generated frames at a real server, invariants after each.

See docs/fuzzing.md for the invariants; tests/fuzz/invariants.py checks them.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Iterator
from typing import Any, ClassVar

import pytest
from hypothesis import given, note
from hypothesis import strategies as st
from hypothesis.stateful import (
    Bundle,
    RuleBasedStateMachine,
    consumes,
    invariant,
    rule,
    run_state_machine_as_test,
)

from ctikit.core.commands import Action

from . import strategies as S
from .conftest import fuzz_settings
from .harness import CASES, LiveServer
from .invariants import WsBench, decode


@pytest.fixture(scope="module")
def bench(live: LiveServer) -> WsBench:
    return WsBench(live)


@pytest.fixture(autouse=True)
def _state_checked(bench: WsBench) -> Iterator[None]:
    yield
    bench.check_state()


def test_read_only_console_changes_nothing(bench: WsBench) -> None:
    """A supervisor watching agent1 sends anything: reads work, changes are refused."""
    # First in this module: agent1 has no call yet, so no simulator timer can fire.
    assert bench.ctl("getState")["calls"] == []
    seq = bench.ctl("getState")["seq"]

    @fuzz_settings(weight=0.5)
    @given(frame=S.frames())
    def fuzz(frame: str) -> None:
        bench.send(frame, "ws read-only console", read_only=True)
        assert bench.ctl("getState")["seq"] == seq, bench.main.events[-3:]

    fuzz()


@fuzz_settings(weight=3)
@given(frame=S.frames())
def test_any_frame(bench: WsBench, frame: str) -> None:
    """Requests of every op with valid and invalid fields, CTI messages, garbage."""
    bench.send(frame)


@fuzz_settings(weight=1)
@given(message=S.cti_messages(), rid=S.valid_ids)
def test_cti_messages(bench: WsBench, message: str, rid: int | str) -> None:
    """sendCTIMessage with the grammar's commands, broken ones and free text."""
    bench.send(S.encode({"id": rid, "op": "sendCTIMessage", "message": message}), "ws cti")


@fuzz_settings(weight=0.25)
@given(payload=st.binary(max_size=64) | st.text(max_size=64).map(str.encode))
def test_binary_frames(bench: WsBench, payload: bytes) -> None:
    resp = bench.send(payload, "ws binary")
    assert resp["success"] is False and "binary" in resp["error"], resp


@pytest.mark.parametrize("size", [262_144 + 1, 300_000, 1_000_000])
def test_oversized_frames_close_1009(bench: WsBench, live: LiveServer, size: int) -> None:
    """Frames over the limit close that socket with 1009; everything else carries on."""
    victim = live.console("agent1")
    frame = json.dumps({"id": 1, "op": "ping", "pad": "x" * size})
    CASES["ws oversized"] += 1
    live.call(victim.ws.send_str(frame))
    live.call(victim.wait_closed())
    assert victim.ws.close_code == 1009
    assert bench.send(json.dumps({"id": 2, "op": "ping"}))["success"]
    assert live.errors.take() == []


# --------------------------------------------------------------- stateful

LINE_ACTIONS = [a.value for a in Action if a is not Action.DIAL]


class ConsoleMachine(RuleBasedStateMachine):
    """Real call flows (simulated calls, answers, holds, transfers, component calls, call
    logs) interleaved with fuzzed frames, on agent1's console."""

    bench: ClassVar[WsBench]
    sim_calls = Bundle("sim_calls")
    component_calls = Bundle("component_calls")
    ended = Bundle("ended")

    def __init__(self) -> None:
        super().__init__()
        self.b = type(self).bench
        self.rid = 0

    def req(self, op: str, **fields: Any) -> dict[str, Any] | None:
        self.rid += 1
        resp = self.b.send(json.dumps({"id": self.rid, "op": op, **fields}), "ws stateful")
        note(f"{op} {fields} -> {resp}")
        return resp if isinstance(resp, dict) else None

    def active(self) -> list[dict[str, Any]]:
        return list(self.b.ctl("getState")["calls"])

    @rule(
        target=sim_calls,
        ani=st.none() | S.phone_numbers,
        data=st.none() | st.dictionaries(st.text(max_size=6), S.json_values, max_size=3),
    )
    def simulate_call(self, ani: str | None, data: dict[str, Any] | None) -> Any:
        fields: dict[str, Any] = {"ani": ani} if ani else {}
        if data is not None:
            fields["data"] = data
        r = self.req("simulateCall", **fields)
        # Bundles fill the same whatever the server answers: what hypothesis draws must not
        # depend on the server (replays would be flaky). A failed call leaves an unknown ID.
        return r["callId"] if r and r["success"] else "sim-never-placed"

    @rule(call=sim_calls, action=st.sampled_from(LINE_ACTIONS), extra=st.sampled_from(["", "n"]))
    def command_on_call(self, call: str, action: str, extra: str) -> None:
        msg = f"/{action}?CALL_ID={call}"
        if action in ("TRANSFER", "CONSULT"):
            msg += "&NUMBER=" + ("1003" if extra else "+14155550123")
        if action == "DTMF":
            msg += "&DIGITS=12#"
        r = self.req("sendCTIMessage", message=msg)
        if r and not r["success"]:
            # Well-formed: only the call state may refuse it.
            assert r["code"] == "command_rejected", r

    @rule(action=st.sampled_from(LINE_ACTIONS), line=st.none() | st.integers(1, 4))
    def command_by_line(self, action: str, line: int | None) -> None:
        msg = f"/{action}" + (f"?LINE_NUMBER={line}" if line else "")
        if action in ("TRANSFER", "CONSULT"):
            msg += ("&" if line else "?") + "NUMBER=1003"
        if action == "DTMF":
            msg += ("&" if line else "?") + "DIGITS=5"
        r = self.req("sendCTIMessage", message=msg)
        if r and not r["success"]:
            assert r["code"] == "command_rejected", r

    @rule(number=st.sampled_from(["1003", "1001", "+14155550123", "404", "486", "603"]))
    def dial(self, number: str) -> None:
        r = self.req("sendCTIMessage", message=f"/DIAL?NUMBER={number}")
        if r and not r["success"]:
            assert r["code"] == "command_rejected", r

    @rule(
        target=component_calls,
        cid=st.sampled_from(S.CALL_POOL) | st.text(min_size=1, max_size=12),
        ctype=st.sampled_from(S.CALL_TYPES),
        label=st.none() | S.short_text,
    )
    def fire_begin(self, cid: str, ctype: str, label: str | None) -> Any:
        self.req("fireOnCallBegin", callId=cid, callType=ctype, label=label)
        return cid

    @rule(target=ended, call=consumes(component_calls), duration=st.integers(0, 10**6))
    def fire_end(self, call: str, duration: int) -> Any:
        self.req("fireOnCallEnd", callId=call, duration=duration, disposition="done")
        return call

    @rule(
        call=component_calls | sim_calls, data=S.json_strings, ctype=st.sampled_from(S.CALL_TYPES)
    )
    def set_data(self, call: str, data: str, ctype: str) -> None:
        r = self.req("setCallAttachedData", callId=call, data=data, callType=ctype)
        if r and r["success"]:
            got = self.req("getCallAttachedData", callId=call, getCallType=True)
            strict = decode(data)  # None unless it is JSON proper (not NaN, 1e999...)
            if got and got["success"] and strict is not None:
                assert json.loads(got["data"]) == strict, (got, data)

    @rule(seed=st.integers(0, 2**32), pool=st.lists(st.sampled_from(S.CALL_POOL), max_size=2))
    def set_ids(self, seed: int, pool: list[str]) -> None:
        # Only component calls: dropping a telephony call orphans its line (docs/fuzzing.md).
        # The order comes from a drawn seed: what is drawn must not depend on server state.
        ids = [c["id"] for c in self.active() if c["lineState"] is None]
        random.Random(seed).shuffle(ids)
        chosen = list(dict.fromkeys(ids + pool))
        r = self.req("setCallObjectIds", ids=chosen)
        if r and r["success"]:
            listed = self.b.ctl("getCallObjectIds")["ids"]
            assert [i for i in listed if i in chosen] == chosen, (listed, chosen)

    @rule(call=ended | sim_calls | component_calls, subject=S.short_text)
    def save_log(self, call: str, subject: str) -> None:
        self.req("saveCallLog", callId=call, subject=subject, comments="fuzz")

    @rule(frame=S.frames())
    def fuzz_frame(self, frame: str) -> None:
        self.b.send(frame, "ws stateful")

    @rule(seconds=st.sampled_from([0.005, 0.02, 0.1]))
    def wait(self, seconds: float) -> None:
        time.sleep(seconds)  # simulator timers fire: answers, far ends, ring timeouts

    @invariant()
    def consistent(self) -> None:
        state = self.b.ctl("getState")
        assert len(state["calls"]) <= 20, state

    def teardown(self) -> None:
        self.b.check_state()
        self.b.quiesce()


def test_stateful_call_flows(bench: WsBench) -> None:
    bench.quiesce()
    ConsoleMachine.bench = bench
    run_state_machine_as_test(
        ConsoleMachine, settings=fuzz_settings(weight=0.25, stateful_step_count=40)
    )
