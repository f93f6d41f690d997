"""The REST API: calls, attached data from an IVR, call logs and exports, errors."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from aiohttp import web

from ctikit.server.keys import SERVICE
from ctikit.storage import NewCallLog

from .conftest import MODES, auth

# Conformance: every test here runs on a single node and on a cluster node (Redis).
pytestmark = pytest.mark.parametrize("mode", MODES, indirect=True)


async def test_ivr_attaches_data_seen_by_console(server: Any, connect: Any) -> None:
    c = await connect("agent1")
    r = await server.post(
        "/api/agents/agent1/simulate-call",
        json={"ani": "+14155550100", "dnis": "+18005550199"},
        headers=auth(server),
    )
    assert r.status == 200
    cid = (await r.json())["callId"]
    r = await server.post(
        f"/api/agents/agent1/calls/{cid}/data",
        json={"ivr_reason": "billing", "verified": True},
        headers=auth(server),
    )
    body = await r.json()
    assert r.status == 200 and body["call"]["data"]["ivr_reason"] == "billing"
    got = await c.request("getCallAttachedData", callId=cid, getCallType=True)
    assert '"ivr_reason":"billing"' in got["data"] and got["callType"] == "INBOUND"
    r = await server.get("/api/agents/agent1/calls", headers=auth(server))
    assert [x["id"] for x in (await r.json())["calls"]] == [cid]
    r = await server.get(f"/api/agents/agent1/calls/{cid}", headers=auth(server))
    assert (await r.json())["call"]["ani"] == "+14155550100"


async def test_cti_message_replies_once_the_command_happened(server: Any) -> None:
    """An IVR or CRM answering then holding over REST, with nothing in between."""
    r = await server.post("/api/agents/agent1/simulate-call", json={}, headers=auth(server))
    cid = (await r.json())["callId"]

    async def cti(message: str) -> tuple[int, dict[str, Any]]:
        resp = await server.post(
            "/api/agents/agent1/cti-message", json={"message": message}, headers=auth(server)
        )
        return resp.status, await resp.json()

    async def line() -> str:
        resp = await server.get(f"/api/agents/agent1/calls/{cid}", headers=auth(server))
        return str((await resp.json())["call"]["lineState"])

    assert await cti("/ANSWER") == (200, {"success": True})
    assert await line() == "connected"
    assert await cti("/HOLD") == (200, {"success": True})
    assert await line() == "held"
    status, body = await cti("/TRANSFER?NUMBER=%2B14155550404")
    assert status == 409 and body["code"] == "command_rejected", body
    assert body["error"] == "/TRANSFER: not found (404 Not Found)"
    assert await cti("/HANGUP") == (200, {"success": True})
    resp = await server.get("/api/agents/agent1/calls", headers=auth(server))
    assert (await resp.json())["calls"] == []


async def test_rest_errors_have_the_protocol_shape(server: Any) -> None:
    cases = [
        ("post", "/api/agents/agent1/calls/none/data", {"json": {"a": 1}}, 404, "unknown_call"),
        ("post", "/api/agents/agent1/calls/none/data", {"data": b"{bad"}, 400, "bad_request"),
        ("post", "/api/agents/agent1/calls/none/data", {"json": [1]}, 400, "bad_request"),
        ("get", "/api/agents/bad%20agent/calls", {}, 400, "bad_request"),
        ("get", "/api/agents/agent1/calls/nope", {}, 404, "unknown_call"),
        ("get", "/api/call-logs?limit=0", {}, 400, "bad_request"),
        ("get", "/api/call-logs?since=yesterday", {}, 400, "bad_request"),
        ("get", "/api/call-logs/log_missing", {}, 404, "not_found"),
        ("get", "/api/nothing-here", {}, 404, "not_found"),
        ("delete", "/api/call-logs", {}, 405, "method_not_allowed"),
        (
            "post",
            "/api/agents/agent1/cti-message",
            {"json": {"message": "/HOLD"}},
            409,
            "command_rejected",
        ),
        ("post", "/api/agents/agent1/call-logs", {"json": {"callId": "x"}}, 404, "unknown_call"),
        ("post", "/api/agents/agent1/simulate-call", {"json": {"data": "x"}}, 400, "bad_request"),
    ]
    for method, path, kwargs, status, code in cases:
        r = await getattr(server, method)(path, headers=auth(server), **kwargs)
        body = await r.json()
        assert (r.status, body["success"], body["code"]) == (status, False, code), (path, body)
        assert body["error"]


async def test_call_logs_list_read_export(server: Any, connect: Any) -> None:
    c = await connect("agent2")
    await c.request("fireOnCallBegin", callId="c1", callType="outbound", label="To ACME")
    await c.request(
        "setCallAttachedData",
        callId="c1",
        data='{"ANI":"+1","DNIS":"+2","note":"=1+1"}',
        callType="outbound",
    )
    await c.request("fireOnCallEnd", callId="c1", duration=61, disposition="Resolved")
    r = await server.post(
        "/api/agents/agent2/call-logs",
        json={"callId": "c1", "subject": "Renewal", "comments": 'said "yes", call back, Monday'},
        headers=auth(server, "agent2"),
    )
    assert r.status == 201
    log = (await r.json())["log"]
    assert log["call_type"] == "OUTBOUND" and log["duration_seconds"] == 61
    assert log["dnis"] == "+2" and log["disposition"] == "Resolved"
    await c.wait_event("callLogSaved", id=log["id"])

    r = await server.get("/api/call-logs?agent=agent2", headers=auth(server, "agent2"))
    body = await r.json()
    assert body["total"] == 1 and body["logs"][0]["id"] == log["id"]
    r = await server.get(f"/api/call-logs/{log['id']}", headers=auth(server, "agent2"))
    assert (await r.json())["log"]["subject"] == "Renewal"

    r = await server.get("/api/call-logs/export.csv?agent=agent2", headers=auth(server, "agent2"))
    assert r.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.reader(io.StringIO(await r.text())))
    assert rows[0][0] == "id" and rows[1][0] == log["id"]
    assert 'said "yes", call back, Monday' in rows[1]
    r = await server.get("/api/call-logs/export.json?agent=agent2", headers=auth(server, "agent2"))
    exported = await r.json()
    assert [x["id"] for x in exported] == [log["id"]]
    r = await server.get("/api/call-logs/export.json?agent=agent1", headers=auth(server))
    assert await r.json() == []


async def test_openapi_and_health_need_no_login(server: Any) -> None:
    spec = await (await server.get("/api/openapi.json")).json()
    assert spec["openapi"].startswith("3.") and "/api/call-logs" in spec["paths"]
    health = await (await server.get("/api/health")).json()
    assert health["success"] and health["connector"] == "sim"


async def test_console_config(server: Any) -> None:
    body = await (await server.get("/api/console/config?agent=agent1", headers=auth(server))).json()
    assert body["agent"] == "agent1" and body["connector"]["canPlaceCalls"] is True
    assert body["console"]["dispositions"][0] == "Resolved"
    assert body["console"]["shortcuts"]["answer"] == "Alt+Shift+A"
    r = await server.get("/api/console/config?agent=", headers=auth(server))
    assert r.status == 400


async def test_request_bodies_must_be_strict_json(server: Any, connect: Any) -> None:
    c = await connect("agent1")
    await c.request("fireOnCallBegin", callId="j1", callType="inbound")
    for body, reason in [
        (b'{"a": NaN}', "not JSON"),
        (b'{"a": "\\ud800"}', "lone surrogate"),
        (b"[" * 5000 + b"]" * 5000, "nested too deeply"),
        (b'{"a": 1', "not valid JSON"),
        (b"\xff\xfe", "not valid JSON"),
    ]:
        r = await server.post(
            "/api/agents/agent1/calls/j1/data", data=body, headers=auth(server, "ivr")
        )
        answer = await r.json()
        assert r.status == 400 and reason in answer["error"], (body[:20], answer)
    got = await c.request("getCallAttachedData", callId="j1")
    assert got["data"] == "{}"


async def test_simulated_calls_stop_at_the_active_call_limit(server: Any, connect: Any) -> None:
    c = await connect("agent1")
    limit = server.app[SERVICE].backend.limits.max_active_calls
    for _ in range(limit):
        assert (await c.request("simulateCall"))["success"]
    r = await c.request("simulateCall")
    assert r["success"] is False and r["code"] == "command_rejected" and "limit" in r["error"]
    assert len((await c.request("getCallObjectIds"))["ids"]) == limit


async def test_campaign_event_reaches_every_named_console_once(server: Any, connect: Any) -> None:
    a1, a1b, a2 = await connect("agent1"), await connect("agent1"), await connect("agent2")
    await a1.request("fireOnCallBegin", callId="k1", callType="inbound")
    began = (await a1b.wait_event("callBegin", id="k1"))["seq"]
    first = {"agents": ["agent1", "agent1"], "type": "campaign", "message": "Q4 start"}
    r = await server.post("/api/events", json=first, headers=auth(server, "dialer"))
    assert (r.status, await r.json()) == (200, {"success": True, "agents": 1})
    second = {"agents": ["agent2", "agent1"], "type": "campaign", "message": "Q4 end"}
    r = await server.post("/api/events", json=second, headers=auth(server, "dialer"))
    assert (r.status, await r.json()) == (200, {"success": True, "agents": 2})
    for console in (a1, a1b):
        one = await console.wait_event("customEvent", message="Q4 start")
        two = await console.wait_event("customEvent", message="Q4 end")
        assert (one["seq"], two["seq"]) == (began + 1, began + 2)
        assert one["data"]["type"] == "campaign"
    ev = await a2.wait_event("customEvent", message="Q4 end")
    assert ev["data"] == {"type": "campaign", "message": "Q4 end"}
    await a1.request("fireOnCallEnd", callId="k1", duration=1)
    await a1b.wait_event("callEnd", id="k1")
    assert a1b.names().count("customEvent") == 2  # each once, nothing repeated
    assert a1b.names()[-1] == "callEnd"
    assert a2.names().count("customEvent") == 1
    for console in (a1b, a2):  # every event once, in each agent's own sequence
        seqs = [e["seq"] for e in console.events]
        assert seqs == list(range(console.hello["seq"] + 1, console.hello["seq"] + 1 + len(seqs)))

    # A console that reconnects after the campaign gets it by replay.
    late = await connect("agent2", query=f"&since=0&epoch={a2.hello['epoch']}")
    assert late.hello["resumed"] == "replay"
    assert (await late.wait_event("customEvent"))["seq"] == ev["seq"]


async def test_campaign_event_refusals_fire_nothing(server: Any, connect: Any) -> None:
    c = await connect("agent2")
    ok_body = {"agents": ["agent2"], "type": "campaign"}
    cases: list[tuple[Any, str, int, str]] = [
        ({"type": "campaign"}, "dialer", 400, "bad_request"),
        ({**ok_body, "agents": []}, "dialer", 400, "bad_request"),
        ({**ok_body, "agents": "agent2"}, "dialer", 400, "bad_request"),
        ({**ok_body, "agents": ["agent2", 7]}, "dialer", 400, "bad_request"),
        ({**ok_body, "agents": ["agent2", "bad agent"]}, "dialer", 400, "bad_request"),
        ({**ok_body, "agents": ["agent2", "agent1\n"]}, "dialer", 400, "bad_request"),
        ({**ok_body, "agents": ["a"] * 50_001}, "dialer", 413, "limit_exceeded"),
        ({**ok_body, "type": ""}, "dialer", 400, "bad_request"),
        ({**ok_body, "type": 5}, "dialer", 400, "bad_request"),
        ({**ok_body, "message": {"x": 1}}, "dialer", 400, "bad_request"),
        ({**ok_body, "message": "x" * 70_000}, "dialer", 413, "limit_exceeded"),
        (ok_body, "ivr", 403, "forbidden"),  # no calls:control scope
        (ok_body, "agent1", 403, "forbidden"),  # another agent's console
        (ok_body, "sup-blue", 403, "forbidden"),  # supervisors only read
    ]
    for body, who, status, code in cases:
        r = await server.post("/api/events", json=body, headers=auth(server, who))
        answer = await r.json()
        assert (r.status, answer["success"], answer["code"]) == (status, False, code), body
        assert answer["error"]
    r = await server.post("/api/events", json=ok_body)
    assert r.status == 401
    # An agent may fire at its own console.
    r = await server.post("/api/events", json=ok_body, headers=auth(server, "agent2"))
    assert (r.status, (await r.json())["agents"]) == (200, 1)
    await c.wait_event("customEvent", type="campaign")
    assert c.names() == ["customEvent"]


async def test_rest_time_filters_take_rfc3339_in_either_case(server: Any) -> None:
    for since in ("2026-01-01T00:00:00Z", "2026-01-01t00:00:00z", "2026-01-01T00:00:00+01:00"):
        r = await server.get("/api/call-logs", params={"since": since}, headers=auth(server))
        assert r.status == 200, (since, await r.text())
    r = await server.get("/api/call-logs?since=2026-01-01T00:00:00", headers=auth(server))
    assert r.status == 400 and "time zone" in (await r.json())["error"]


async def test_campaign_needs_credentials_before_anything_else(server: Any) -> None:
    r = await server.post("/api/events", data=b"{not json")
    assert r.status == 401 and r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_phone_numbers_are_formatted_by_libphonenumber(server: Any) -> None:
    resp = await server.get(
        "/api/phone-numbers",
        params=[("number", "+1 (415) 555-0123"), ("number", "+442079460123"), ("number", "1002")],
        headers=auth(server),
    )
    assert resp.status == 200
    got = [(n["international"], n["valid"]) for n in (await resp.json())["numbers"]]
    assert got == [("+1 415-555-0123", True), ("+44 20 7946 0123", True), ("1002", False)]
    resp = await server.get("/api/phone-numbers", headers=auth(server))
    body = await resp.json()
    assert resp.status == 400 and body["success"] is False and "number=" in body["error"]


async def test_a_date_past_the_last_utc_date_is_a_clear_error_everywhere(server: Any) -> None:
    # 9999-12-31T23:00-05:00 is past datetime.max in UTC (found by the REST fuzzer: the
    # export had started its stream and broke it).
    until = "9999-12-31T23%3A00%3A00-05%3A00"
    for path in ("/api/call-logs", "/api/call-logs/export.csv", "/api/call-logs/export.json"):
        r = await server.get(f"{path}?agent=agent1&until={until}", headers=auth(server))
        body = await r.json()
        assert r.status == 400 and body["code"] == "bad_request", (path, body)
        assert "until is out of range" in body["error"], (path, body)


async def test_a_refused_large_body_closes_the_connection_instead_of_draining(
    server: Any,
) -> None:
    # A login body over 16 KiB is refused unread: keeping the connection would mean reading
    # (and dropping) the rest first. A small refused body keeps the connection.
    async def big() -> AsyncIterator[bytes]:  # 4 MB, more than the server buffers unread
        yield b'{"username": "a", "password": "'
        for _ in range(64):
            yield b"x" * 65_536
        yield b'"}'

    size = str(34 + 64 * 65_536)
    headers = {"Content-Type": "application/json", "Content-Length": size}
    r = await server.post("/api/login", data=big(), headers=headers)
    assert r.status == 413 and (await r.json())["code"] == "limit_exceeded"
    assert r.headers.get("Connection", "").lower() == "close"
    r = await server.post("/api/login", data=b"{", headers={"Content-Type": "application/json"})
    assert r.status == 400 and r.headers.get("Connection", "").lower() != "close"


@pytest.mark.parametrize("path", ["/api/call-logs?limit=1000", "/api/call-logs/export.csv"])
async def test_long_listings_and_exports_give_the_loop_back_between_rows(
    server: Any, path: str
) -> None:
    # A CSV row of a 100 KB log takes ~2 ms to format: a page of them in one go held every
    # other request for ~45 ms. Counted in turns of the loop, not timed.
    store = server.app[SERVICE].store
    now = datetime.now(UTC)
    rows = 50
    for i in range(rows):
        await store.save(
            NewCallLog(
                agent_id="agent1", call_id=f"t{i}", call_type="INBOUND",
                started_at=now, ended_at=now, comments="x",
            )
        )  # fmt: skip
    turns = 0

    async def ticker() -> None:
        nonlocal turns
        while True:
            turns += 1
            await asyncio.sleep(0)

    at: list[int] = []  # the loop's turn at each write of the response
    write = web.StreamResponse.write

    async def recorded(self: web.StreamResponse, data: bytes) -> None:
        at.append(turns)
        await write(self, data)

    task = asyncio.create_task(ticker())
    try:
        with pytest.MonkeyPatch.context() as mp:
            mp.setattr(web.StreamResponse, "write", recorded)
            r = await server.get(path, headers=auth(server, "crm"))
            await r.read()
        assert r.status == 200
    finally:
        task.cancel()
    assert len(at) >= rows
    in_one_turn = sum(a == b for a, b in itertools.pairwise(at))
    assert in_one_turn <= 2, at  # the opening (and a first row) may share a turn
