"""What must hold after every frame a fuzzer sends to a console (docs/fuzzing.md)."""

from __future__ import annotations

import json
import time
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import msgspec

from ctikit.connectors.sim import SimulatorConnector
from ctikit.server.keys import SERVICE

from . import known_bugs
from .harness import CASES, KNOWN, Console, ConsoleClosedError, LiveServer
from .strategies import OPS, READ_ONLY_OPS

#: Error codes a response may carry: docs/protocol.md's list, without internal_error, plus
#: ``forbidden`` (read-only consoles) and ``rate_limited`` (floods), which the server also uses.
ERROR_CODES = frozenset(
    {
        "bad_request",
        "unknown_call",
        "limit_exceeded",
        "command_rejected",
        "telephony_error",
        "unsupported",
        "forbidden",
        "rate_limited",
    }
)
CALL_TYPES = frozenset({"INBOUND", "OUTBOUND", "INTERNAL"})
LINE_STATES = frozenset({"ringing", "dialing", "connected", "held", None})
MAX_ID = 2**53


#: Frames nested deeper than this may be refused as too deep, or not, depending on how much
#: stack the server has left: both answers are right.
DEEP = 800
_shallow = ThreadPoolExecutor(1, thread_name_prefix="fuzz-decode")


def _decode(frame: str) -> Any:
    try:
        return msgspec.json.decode(frame)
    except (msgspec.DecodeError, RecursionError):
        return None


def decode(frame: str | bytes) -> Any:
    """The frame as the server reads it, or None if it cannot. Decoded on a thread with a
    short stack: how deep JSON may nest depends on the stack left (hypothesis's is deep)."""
    if isinstance(frame, bytes):
        return None
    return _shallow.submit(_decode, frame).result()


def nesting(frame: str | bytes) -> int:
    """How deep arrays and objects nest in ``frame`` (strings skipped)."""
    text = frame.decode(errors="replace") if isinstance(frame, bytes) else frame
    if text.count("[") + text.count("{") < DEEP:
        return 0
    depth = deepest = 0
    in_string = escaped = False
    for ch in text:
        if in_string:
            if escaped:
                escaped = False
            elif ch == "\\":
                escaped = True
            elif ch == '"':
                in_string = False
        elif ch == '"':
            in_string = True
        elif ch in "[{":
            depth += 1
            deepest = max(deepest, depth)
        elif ch in "]}":
            depth -= 1
    return deepest


def request_id(obj: Any) -> Any:
    """The id the response must echo: the request's, if it is a valid id, else None."""
    rid = obj.get("id") if isinstance(obj, dict) else None
    if isinstance(rid, bool):
        return None
    if isinstance(rid, int) and -MAX_ID < rid < MAX_ID:
        return rid
    if isinstance(rid, str) and 0 < len(rid) <= 64:
        return rid
    return None


def _call_id(value: Any) -> Any:
    """A call ID as the server stores it: numbers are stringified (as the original does)."""
    if isinstance(value, int | float) and not isinstance(value, bool):
        return str(value)
    return value


def check_call(call: Any) -> None:
    assert isinstance(call, dict), call
    assert isinstance(call.get("id"), str) and call["id"], call
    assert call.get("type") in CALL_TYPES, call
    assert call.get("lineState") in LINE_STATES, call
    assert isinstance(call.get("muted"), bool), call
    assert isinstance(call.get("startedAt"), int | float), call


def check_response(frame: str | bytes, resp: Any, *, read_only: bool = False) -> None:
    """One response of the protocol's shape, answering ``frame``."""
    obj = decode(frame)
    op = obj.get("op") if isinstance(obj, dict) else None
    op = op if isinstance(op, str) else None
    assert isinstance(resp, dict), f"response is not an object: {resp!r}"
    assert resp.get("type") == "response", resp
    if resp.get("id") is None and resp.get("code") == "bad_request" and nesting(frame) > DEEP:
        assert resp.get("success") is False and isinstance(resp.get("error"), str), resp
        return  # refused as too deep: right for such a frame, whatever its id
    assert "id" in resp and resp["id"] == request_id(obj), (resp.get("id"), request_id(obj))
    assert isinstance(resp.get("success"), bool), resp
    if not resp["success"]:
        assert resp.get("code") != "internal_error", resp
        assert resp.get("code") in ERROR_CODES, resp
        assert isinstance(resp.get("error"), str) and resp["error"], resp
        extra = set(resp) - {"type", "id", "success", "error", "code"}
        if op == "getCallAttachedData" and resp["code"] == "unknown_call":
            assert extra == {"data"} and resp["data"] is None, resp
        else:
            assert extra <= {"data"} and resp.get("data") is None, resp
        if read_only and request_id(obj) is not None and op in OPS and op not in READ_ONLY_OPS:
            assert resp["code"] == "forbidden", resp
        return
    assert "error" not in resp and "code" not in resp, resp
    assert isinstance(obj, dict) and op in OPS, f"success for a frame that is no request: {resp}"
    assert not (read_only and op not in READ_ONLY_OPS), f"read-only console changed: {resp}"
    fields = set(resp) - {"type", "id", "success"}
    match op:
        case "getCallObjectIds":
            assert fields == {"ids"}, resp
            assert all(isinstance(i, str) for i in resp["ids"]), resp
        case "getCallAttachedData":
            want = {"data", "callType"} if obj.get("getCallType") else {"data"}
            assert fields == want, resp
            assert isinstance(resp["data"], str), resp
            json.loads(resp["data"])
            assert resp.get("callType", "INBOUND") in CALL_TYPES, resp
        case "saveCallLog":
            assert fields == {"logId"} and isinstance(resp["logId"], str), resp
        case "simulateCall":
            assert fields == {"callId"} and isinstance(resp["callId"], str), resp
        case "getState":
            assert fields == {"seq", "calls", "recent", "lineUp"}, resp
            assert isinstance(resp["seq"], int) and resp["seq"] >= 0, resp
            for call in [*resp["calls"], *resp["recent"]]:
                check_call(call)
            assert resp["lineUp"] in (True, False, None), resp
        case _:
            assert fields == set(), resp


def expected_event(obj: Any, resp: dict[str, Any]) -> tuple[str, str, Any] | None:
    """(event, data field, value) that a successful change must have sent to the agent."""
    op = obj.get("op")
    match op:
        case "simulateCall":
            return ("callBegin", "id", resp["callId"])
        case "fireOnCallBegin":
            return ("callBegin", "id", _call_id(obj.get("callId")))
        case "fireOnCallEnd":
            return ("callEnd", "id", _call_id(obj.get("callId")))
        case "setCallObjectIds":
            return ("callIds", "ids", [_call_id(i) for i in obj.get("ids", [])])
        case "fireOnCallLogSaved":
            return ("callLogSaved", "id", _call_id(obj.get("logId")))
        case "saveCallLog":
            return ("callLogSaved", "id", resp["logId"])
        case "sendCTIMessage":
            return ("ctiMessage", "message", obj.get("message"))
        case "fireEvent":
            return ("customEvent", "type", obj.get("eventType"))
    return None


def check_seq(console: Console) -> None:
    """Sequence numbers of the console's events: increasing by one from its hello, no gap."""
    first = console.hello["seq"] + 1
    for i in range(console.checked_events, len(console.events)):
        seq = console.events[i].get("seq")
        assert seq == first + i, (
            f"event {i} of {console.agent}'s socket has seq {seq}, expected {first + i}: "
            f"{console.events[i]}"
        )
    console.checked_events = len(console.events)


def replay(console: Console, upto: int) -> list[str]:
    """The active call IDs a console knows from its hello and its events up to seq ``upto``."""
    ids = [c["id"] for c in console.hello["calls"]]
    for ev in console.events:
        if ev["seq"] > upto:
            break
        data = ev["data"]
        if ev["event"] == "callBegin" and data["id"] not in ids:
            ids.append(data["id"])
        elif ev["event"] == "callEnd" and data["id"] in ids:
            ids.remove(data["id"])
        elif ev["event"] == "callIds":
            ids = list(data["ids"])
    return ids


class WsBench:
    """agent1's consoles under fuzz, and agent2's, which must never notice.

    ``main`` gets the fuzzed frames; ``mirror`` is a second socket of agent1 that must get the
    same events in the same order; ``other`` is agent2, with a call of its own set up before
    any fuzzing, whose state must stay exactly as it was.
    """

    def __init__(self, live: LiveServer) -> None:
        self.live = live
        self.main = live.console("agent1")
        self.mirror = live.console("agent1")
        self.other = live.console("agent2")
        self.ctl("fireOnCallBegin", callId="keep", callType="inbound", label="K", on=self.other)
        self.ctl("setCallAttachedData", callId="keep", data='{"secret":1}', on=self.other)
        self.other_state = self.ctl("getState", on=self.other)
        self.other_events = len(self.other.events)
        self.sent = 0
        self._watch: Console | None = None
        assert live.errors.take() == []

    def ctl(self, op: str, on: Console | None = None, **fields: Any) -> dict[str, Any]:
        """A control request (not a fuzz case)."""
        if on is None and self.main.closed:
            self.main = self.live.console("agent1")
        return self.live.call((on or self.main).request(op, **fields))

    @property
    def watch(self) -> Console:
        """A supervisor's read-only console on agent1 (opened on first use)."""
        if self._watch is None or self._watch.closed:
            self._watch = self.live.console("agent1", who="sup-blue")
        return self._watch

    def send(self, frame: str | bytes, kind: str = "ws", *, read_only: bool = False) -> Any:
        """Send one fuzz frame to agent1's console (or the supervisor's read-only one), check
        every invariant, return the response (None if a known bug closed the socket)."""
        if self.main.closed:
            self.main = self.live.console("agent1")
        target = self.watch if read_only else self.main
        avoided = known_bugs.avoid(frame)
        if avoided is not None:
            KNOWN[f"{avoided} (frame not sent)"] += 1
            return None
        start = len(self.main.events)
        CASES[kind] += 1
        self.sent += 1
        if self.sent % 100 == 0:
            self.release_orphans()
        try:
            resp = self.live.call(target.exchange(frame))
        except ConsoleClosedError as exc:
            errors = self.live.errors.take()
            bug = known_bugs.match(errors)
            if bug is None:
                raise AssertionError(f"{exc} after {_show(frame)}; server log: {errors}") from None
            KNOWN[bug] += 1
            return None
        errors = self.live.errors.take()
        if errors:
            bug = known_bugs.match(errors)
            code = resp.get("code") if isinstance(resp, dict) else None
            if bug is None or code != "internal_error":
                raise AssertionError(f"server logged errors on {_show(frame)}: {errors}")
            KNOWN[bug] += 1
            return resp
        try:
            check_response(frame, resp, read_only=read_only)
            for console in {self.main, self.mirror, target}:
                check_seq(console)
            obj = decode(frame)
            if resp["success"] and not read_only:
                want = expected_event(obj, resp)
                if want is not None:
                    name, field, value = want
                    got = [e for e in self.main.events[start:] if e["event"] == name]
                    if (
                        name == "callBegin"
                        and not got
                        and obj.get("op") == "simulateCall"
                        and known_bugs.is_open("B4")
                        and len(self.ctl("getState")["calls"]) >= 20
                    ):
                        KNOWN["B4"] += 1
                        return resp
                    assert any(e["data"].get(field) == value for e in got), (
                        f"{obj.get('op')} succeeded without its {name} event "
                        f"({field}={value!r}); events since: {self.main.events[start:]}"
                    )
            assert len(self.other.events) == self.other_events, (
                f"agent2 got events: {self.other.events[self.other_events :]}"
            )
        except AssertionError as exc:
            raise AssertionError(f"{exc}\n  frame: {_show(frame)}\n  response: {resp}") from None
        return resp

    def check_state(self) -> None:
        """agent1's state agrees with what its consoles were told; agent2's is untouched."""
        state = self.ctl("getState")
        ids = [c["id"] for c in state["calls"]]
        listed = self.ctl("getCallObjectIds")["ids"]
        if self.ctl("getState")["seq"] == state["seq"]:  # no simulator timer fired meanwhile
            assert listed == ids, (listed, ids)
        assert len(ids) == len(set(ids)) and len(ids) <= 20, ids
        check_seq(self.main)
        # Every event up to the state's seq reached the console, and they add up to its calls.
        seqs = [self.main.hello["seq"]] + [e["seq"] for e in self.main.events]
        assert state["seq"] in seqs, (state["seq"], seqs[-5:])
        assert replay(self.main, state["seq"]) == ids, (replay(self.main, state["seq"]), ids)
        self.check_mirror()
        other = self.ctl("getState", on=self.other)
        assert other == self.other_state, (other, self.other_state)
        assert len(self.other.events) == self.other_events, self.other.events
        assert self.live.errors.take() == []

    def check_mirror(self) -> None:
        """The second socket got exactly the events of the first, in the same order."""
        upto = self.ctl("getState")["seq"]
        self.ctl("ping", on=self.mirror)  # events up to ``upto`` have all arrived by now
        check_seq(self.mirror)
        by_seq = {e["seq"]: e for e in self.mirror.events}
        for ev in self.main.events:
            if ev["seq"] <= upto:
                assert by_seq.get(ev["seq"]) == ev, (ev, by_seq.get(ev["seq"]))

    def quiesce(self) -> None:
        """Hang up agent1's telephony calls and drop the rest, so a test starts clean."""
        for call in self.ctl("getState")["calls"]:
            if call["lineState"] is not None:
                self.ctl("sendCTIMessage", message=f"/HANGUP?CALL_ID={call['id']}")
        time.sleep(0.05)  # the simulator's BYE round trip
        self.ctl("setCallObjectIds", ids=[])
        self.release_orphans()
        self.live.errors.take()

    def release_orphans(self) -> None:
        """Phone and registry agree: the simulator has no line for a call the registry does
        not know (bug B5 while it was open: then their callers hang up, so later
        simulateCall requests are not refused for busy lines)."""
        orphans = self.live.call(self._release_orphans())
        if orphans and known_bugs.is_open("B5"):
            KNOWN["B5"] += orphans
        else:
            assert not orphans, f"the simulator has {orphans} lines the registry does not know"

    async def _release_orphans(self) -> int:
        orphans = 0
        assert self.live.app is not None
        svc = self.live.app[SERVICE]
        sim = svc.telephony.connector
        assert isinstance(sim, SimulatorConnector)
        for agent in ("agent1", "agent3"):
            known = set(svc.backend.registry.call_ids(agent))
            for line in sim.model.lines(agent):
                if line.call_id not in known:
                    orphans += 1
                    await sim.caller_hangup(line.call_id)
        return orphans


def _show(frame: str | bytes, limit: int = 400) -> str:
    text = repr(frame)
    return text if len(text) <= limit else f"{text[:limit]}... ({len(frame)} characters)"
