"""Minimal reproducers of the bugs the fuzzers found (tests/fuzz/known_bugs.py).

Bugs fixed since (known_bugs.FIXED) keep their test, as a plain regression test.

Each is a strict xfail while its bug is open: once the server is fixed the test passes, the
suite fails on the XPASS, and the fix's author removes the mark here and the bug's entry in
known_bugs.py.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any

import pytest
import requests

from ctikit.connectors.sim import SimulatorConnector
from ctikit.server.keys import SERVICE

from .harness import Console, LiveServer


def _xfail(key: str, reason: str) -> pytest.MarkDecorator:
    # raises=AssertionError: a broken test (TypeError...) is not mistaken for the bug.
    return pytest.mark.xfail(
        strict=True, raises=AssertionError, reason=f"{key}: {reason} (tests/fuzz/known_bugs.py)"
    )


@pytest.fixture(autouse=True)
def _fresh_log(live: LiveServer) -> None:
    live.errors.take()  # what an earlier (failing) test left behind


def _send(live: LiveServer, console: Console, frame: dict[str, Any] | str) -> dict[str, Any]:
    text = frame if isinstance(frame, str) else json.dumps(frame)
    resp = live.call(console.exchange(text))
    assert isinstance(resp, dict)
    return resp


def _no_internal_error(live: LiveServer, resp: dict[str, Any]) -> None:
    assert resp.get("code") != "internal_error", resp
    assert live.errors.take() == []


def _post(live: LiveServer, path: str, body: str) -> requests.Response:
    headers = {**live.headers("service"), "Content-Type": "application/json"}
    return requests.post(f"{live.url}{path}", data=body, headers=headers, timeout=30)


def test_b1_cti_message_with_a_percent_escape_that_is_not_utf8(live: LiveServer) -> None:
    agent = live.add_agent("b1")
    c = live.console(agent)
    for message in ("/DIAL?NUMBER=%FF", "/HANGUP?CALL_ID=%C3%28"):
        resp = _send(live, c, {"id": 1, "op": "sendCTIMessage", "message": message})
        assert resp["success"] is False and resp["code"] == "bad_request", resp
        _no_internal_error(live, resp)
    r = _post(live, f"/api/agents/{agent}/cti-message", '{"message": "/DIAL?NUMBER=%FF"}')
    assert r.status_code == 400, r.text


def test_b2_deeply_nested_json(live: LiveServer) -> None:
    agent = live.add_agent("b2")
    c = live.console(agent)
    deep = "[" * 3000 + "]" * 3000
    resp = _send(live, c, '{"id": 1, "op": "ping", "x": ' + deep + "}")
    assert resp["success"] is False and resp["code"] == "bad_request", resp
    _no_internal_error(live, resp)
    assert _send(live, c, {"id": 2, "op": "fireOnCallBegin", "callId": "d", "callType": "inbound"})[
        "success"
    ]
    frame = {
        "id": 3,
        "op": "setCallAttachedData",
        "callId": "d",
        "callType": "inbound",
        "data": deep,
    }
    resp = _send(live, c, frame)
    assert resp["code"] in ("bad_request", "limit_exceeded"), resp
    _no_internal_error(live, resp)
    r = _post(live, f"/api/agents/{agent}/calls/d/data", deep)
    assert r.status_code == 400, r.text
    assert live.errors.take() == []


def test_b3_simulated_call_when_every_line_is_busy(live: LiveServer) -> None:
    agent = live.add_agent("b3")
    c = live.console(agent)
    for i in range(20):  # ringing for 1.5 s: all 20 lines of the agent are in use
        assert _send(live, c, {"id": i, "op": "simulateCall"})["success"]
    resp = _send(live, c, {"id": 20, "op": "simulateCall"})
    assert resp["success"] is False, resp
    _no_internal_error(live, resp)
    r = _post(live, f"/api/agents/{agent}/simulate-call", "{}")
    assert r.status_code in (409, 413), r.text


def test_b4_simulated_call_reported_placed_but_never_there(live: LiveServer) -> None:
    agent = live.add_agent("b4")
    c = live.console(agent)
    for i in range(20):
        frame = {"id": i, "op": "fireOnCallBegin", "callId": f"k{i}", "callType": "inbound"}
        assert _send(live, c, frame)["success"]
    resp = _send(live, c, {"id": 20, "op": "simulateCall"})
    if resp["success"]:  # then it must really ring
        ids = _send(live, c, {"id": 21, "op": "getCallObjectIds"})["ids"]
        assert resp["callId"] in ids, (resp, ids)
    else:
        assert resp["code"] in ("limit_exceeded", "command_rejected"), resp


def test_b5_dropped_telephony_call_leaves_no_line_behind(live: LiveServer) -> None:
    agent = live.add_agent("b5")
    c = live.console(agent)
    call_id = _send(live, c, {"id": 1, "op": "simulateCall"})["callId"]
    msg = f"/ANSWER?CALL_ID={call_id}"
    assert _send(live, c, {"id": 2, "op": "sendCTIMessage", "message": msg})["success"]
    time.sleep(0.1)  # the answer is done
    _send(live, c, {"id": 3, "op": "setCallObjectIds", "ids": []})
    time.sleep(0.1)
    assert live.app is not None
    svc = live.app[SERVICE]
    assert isinstance(svc.telephony.connector, SimulatorConnector)
    lines = {line.call_id for line in svc.telephony.connector.model.lines(agent)}
    # Whatever the fix (hang up, refuse, keep the call), phone and registry must agree.
    known = svc.backend.registry.call_ids(agent)
    assert lines <= set(known), (lines, known)


def test_b6_method_not_allowed_names_the_allowed_methods(live: LiveServer) -> None:
    r = requests.request("TRACE", f"{live.url}/api/health", timeout=30)
    assert r.status_code == 405 and r.json()["code"] == "method_not_allowed"
    assert "GET" in r.headers.get("Allow", ""), dict(r.headers)


def test_b7_nan_in_attached_data(live: LiveServer) -> None:
    agent = live.add_agent("b7")
    c = live.console(agent)
    assert _send(live, c, {"id": 1, "op": "fireOnCallBegin", "callId": "n", "callType": "inbound"})[
        "success"
    ]
    frame = {"id": 2, "op": "setCallAttachedData", "callId": "n", "data": '{"a": NaN}'}
    resp = _send(live, c, frame)
    _no_internal_error(live, resp)
    resp = _send(live, c, {"id": 3, "op": "saveCallLog", "callId": "n"})
    _no_internal_error(live, resp)
    assert _send(live, c, {"id": 4, "op": "fireOnCallBegin", "callId": "m", "callType": "inbound"})[
        "success"
    ]
    r = _post(live, f"/api/agents/{agent}/calls/m/data", '{"a": Infinity}')
    assert r.status_code < 500, r.text
    r = _post(live, f"/api/agents/{agent}/call-logs", '{"callId": "m"}')
    assert r.status_code < 500, r.text
    assert live.errors.take() == []


def test_b8_lone_surrogate_in_attached_data_bricks_the_agent(live: LiveServer) -> None:
    agent = live.add_agent("b8")
    c = live.console(agent)
    assert _send(live, c, {"id": 1, "op": "fireOnCallBegin", "callId": "s", "callType": "inbound"})[
        "success"
    ]
    frame = {"id": 2, "op": "setCallAttachedData", "callId": "s", "data": '"\\ud800"'}
    resp = _send(live, c, frame)
    _no_internal_error(live, resp)
    state = _send(live, c, {"id": 3, "op": "getState"})
    assert state["success"], state
    live.console(agent)  # a console can still connect (its hello encodes the calls)
    r = _post(live, f"/api/agents/{agent}/calls/s/data", '{"z": "\\udfff"}')
    assert r.status_code < 500, r.text
    r = requests.get(
        f"{live.url}/api/agents/{agent}/calls", headers=live.headers("service"), timeout=30
    )
    assert r.status_code == 200, r.text
    assert live.errors.take() == []


def test_b9_over_long_call_id_in_the_path_is_a_bad_request(live: LiveServer) -> None:
    agent = live.add_agent("b9")
    r = _post(live, f"/api/agents/{agent}/calls/{'x' * 256}/data", "{}")
    # The path is not the body: 413 (content too large) misleads the client.
    assert r.status_code == 400, (r.status_code, r.text)
    assert r.json()["code"] in ("bad_request", "limit_exceeded"), r.text


def test_b10_simulated_call_with_too_much_data(live: LiveServer) -> None:
    agent = live.add_agent("b10")
    body = json.dumps({"data": {"k": "x" * 70_000}})
    r = _post(live, f"/api/agents/{agent}/simulate-call", body)
    assert r.status_code == 413 and r.json()["code"] == "limit_exceeded", r.text


def test_b11_a_request_aiohttp_cannot_parse_is_one_warning_line(live: LiveServer) -> None:
    """A 10 KB URL (found by the REST fuzzer: a long repeated query) or a bad header is
    answered 400 by aiohttp before ctikit sees it; it was logged as an ERROR with a
    traceback (a way for anyone to fill the log) and answered in text. Now one WARNING line,
    and the answer is in the API's shape."""
    seen: list[logging.LogRecord] = []
    catch = logging.Handler(logging.WARNING)
    catch.emit = seen.append  # type: ignore[method-assign]
    server_log = logging.getLogger("aiohttp.server")
    server_log.addHandler(catch)
    try:
        long_url = f"{live.url}/api/phone-numbers?" + "&".join(["number=0" * 40] * 40)
        long = requests.get(long_url, timeout=30)
        bad_header = requests.get(
            f"{live.url}/api/health", headers={"X-Big": "x" * 9000}, timeout=30
        )
        for answer in (long, bad_header):  # in the API's shape, not aiohttp's text
            assert answer.status_code == 400, answer.text
            assert answer.headers["Content-Type"].startswith("application/json")
            body = answer.json()
            assert body["success"] is False and body["code"] == "bad_request", body
            assert body["error"].startswith("the request could not be read: ")
    finally:
        server_log.removeHandler(catch)
    assert live.errors.take() == []
    assert len(seen) == 2, [r.getMessage() for r in seen]
    for record in seen:
        assert record.levelname == "WARNING" and record.exc_info is None
        assert "malformed HTTP request from 127.0.0.1" in record.getMessage()
        assert "\n" not in record.getMessage() and len(record.getMessage()) < 300
