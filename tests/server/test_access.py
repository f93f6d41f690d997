"""Authentication and isolation: every operation tried by someone who may not do it."""

from __future__ import annotations

import time
from typing import Any

import aiohttp
import jwt
import pytest

from ctikit.server.keys import AUTH

from .conftest import PASSWORD, auth

OTHER_AGENT_OPS = [
    ("get", "/api/agents/agent2/calls", None),
    ("get", "/api/agents/agent2/calls/c2", None),
    ("post", "/api/agents/agent2/calls/c2/data", {"x": 1}),
    ("post", "/api/agents/agent2/simulate-call", {}),
    ("post", "/api/agents/agent2/cti-message", {"message": "/HANGUP"}),
    ("post", "/api/agents/agent2/call-logs", {"callId": "c2"}),
    ("get", "/api/call-logs?agent=agent2", None),
    ("get", "/api/call-logs/export.csv?agent=agent2", None),
    ("get", "/api/call-logs/export.json?agent=agent2", None),
    ("get", "/api/console/config?agent=agent2", None),
]


async def _call(server: Any, method: str, path: str, body: Any, who: str | None) -> Any:
    headers = auth(server, who) if who else {}
    kwargs = {"json": body} if body is not None else {}
    r = await getattr(server, method)(path, headers=headers, **kwargs)
    return r.status, await r.json()


async def _agent2_state(server: Any, connect: Any) -> tuple[list[str], str]:
    c = await connect("agent2")
    await c.request("fireOnCallBegin", callId="c2", callType="inbound")
    await c.request("setCallAttachedData", callId="c2", data='{"secret":1}', callType="inbound")
    await c.request("fireOnCallEnd", callId="c2", duration=5)
    r = await c.request("saveCallLog", callId="c2", subject="private")
    await c.request("fireOnCallBegin", callId="c2b", callType="inbound")
    return (await c.request("getCallObjectIds"))["ids"], r["logId"]


async def test_an_agent_cannot_touch_another_agents_calls_or_logs(
    server: Any, connect: Any
) -> None:
    ids_before, log_id = await _agent2_state(server, connect)
    for method, path, body in [*OTHER_AGENT_OPS, ("get", f"/api/call-logs/{log_id}", None)]:
        status, answer = await _call(server, method, path, body, "agent1")
        assert (status, answer["code"]) == (403, "forbidden"), (path, answer)
        assert answer["success"] is False and "agent2" in answer["error"]
    # agent1's own listing never includes agent2's logs.
    status, answer = await _call(server, "get", "/api/call-logs", None, "agent1")
    assert status == 200 and answer["logs"] == []
    c = await connect("agent2")
    assert (await c.request("getCallObjectIds"))["ids"] == ids_before
    assert (await c.request("getCallAttachedData", callId="c2b"))["data"] == "{}"


async def test_no_or_bad_credentials_are_401(server: Any) -> None:
    for token in (None, "nonsense", "ctk_unknown", jwt.encode({"sub": "agent1"}, "k" * 40)):
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        r = await server.get("/api/agents/agent1/calls", headers=headers)
        body = await r.json()
        assert r.status == 401 and body["code"] == "unauthorized", (token, body)
        assert r.headers["WWW-Authenticate"].startswith("Bearer")


async def test_expired_and_forged_tokens_are_refused(server: Any) -> None:
    authn = server.app[AUTH]
    expired = jwt.encode(
        {"sub": "agent1", "role": "agent", "exp": int(time.time()) - 5},
        authn.secret,
        algorithm="HS256",
        headers={"kid": authn.keys.current().id},
    )
    forged = jwt.encode(
        {"sub": "agent1", "role": "agent", "exp": int(time.time()) + 60},
        "not-the-key-" * 4,
        algorithm="HS256",
    )
    for token, reason in ((expired, "expired"), (forged, "invalid")):
        r = await server.get(
            "/api/agents/agent1/calls", headers={"Authorization": f"Bearer {token}"}
        )
        assert r.status == 401 and reason in (await r.json())["error"]


async def test_login_errors_and_lockout(server: Any) -> None:
    r = await server.post("/api/login", json={"username": "agent1", "password": "wrong"})
    assert r.status == 401 and (await r.json())["error"] == "wrong user name or password"
    r = await server.post("/api/login", json={"username": "ghost", "password": "wrong"})
    assert (await r.json())["error"] == "wrong user name or password"  # same answer
    for _ in range(5):
        await server.post("/api/login", json={"username": "agent2", "password": "nope"})
    r = await server.post("/api/login", json={"username": "agent2", "password": PASSWORD})
    assert r.status == 429 and (await r.json())["code"] == "rate_limited"
    assert 1 <= int(r.headers["Retry-After"]) <= 60
    r = await server.post("/api/login", json={"username": 5, "password": None})
    assert r.status == 401


async def test_supervisor_reads_its_team_only_and_changes_nothing(
    server: Any, connect: Any
) -> None:
    a1 = await connect("agent1")
    await a1.request("fireOnCallBegin", callId="s1", callType="inbound")
    status, body = await _call(server, "get", "/api/agents/agent1/calls", None, "sup-blue")
    assert status == 200 and [c["id"] for c in body["calls"]] == ["s1"]
    status, body = await _call(server, "get", "/api/agents/agent2/calls", None, "sup-blue")
    assert status == 403 and "team" in body["error"]
    for method, path, payload in [
        ("post", "/api/agents/agent1/calls/s1/data", {"x": 1}),
        ("post", "/api/agents/agent1/cti-message", {"message": "hi"}),
        ("post", "/api/agents/agent1/call-logs", {"callId": "s1"}),
        ("post", "/api/agents/agent1/simulate-call", {}),
    ]:
        status, body = await _call(server, method, path, payload, "sup-blue")
        assert status == 403, (path, body)
    # Watching agent1's console: reads work, changes are refused.
    watch = await connect("agent1", who="sup-blue")
    assert (await watch.request("getCallObjectIds"))["ids"] == ["s1"]
    for op, fields in [
        ("fireOnCallEnd", {"callId": "s1", "duration": 1}),
        ("sendCTIMessage", {"message": "x"}),
        ("setCallObjectIds", {"ids": []}),
        ("saveCallLog", {"callId": "s1"}),
    ]:
        r = await watch.request(op, **fields)
        assert r["success"] is False and r["code"] == "forbidden", op
    await a1.request("fireOnCallEnd", callId="s1", duration=2)
    assert (await watch.wait_event("callEnd", id="s1"))["data"]["duration"] == "2"
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await connect("agent2", who="sup-blue")
    assert exc.value.status == 403


async def test_service_tokens_are_scoped(server: Any, connect: Any) -> None:
    c = await connect("agent2")
    await c.request("fireOnCallBegin", callId="v1", callType="inbound")
    status, _ = await _call(server, "post", "/api/agents/agent2/calls/v1/data", {"ivr": 1}, "ivr")
    assert status == 200
    for method, path, body in [
        ("get", "/api/call-logs", None),
        ("post", "/api/agents/agent2/cti-message", {"message": "x"}),
    ]:
        status, answer = await _call(server, method, path, body, "ivr")
        assert status == 403 and "scope" in answer["error"]
    status, _ = await _call(server, "get", "/api/call-logs", None, "crm")
    assert status == 200
    status, answer = await _call(server, "post", "/api/agents/agent2/calls/v1/data", {}, "crm")
    assert status == 403
    with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
        await connect("agent2", who="ivr")
    assert exc.value.status == 403


async def test_websocket_refusals(server: Any) -> None:
    token = server.tokens["agent1"]
    cases = [
        ("/ws?agent=agent1", {}, 401),
        (f"/ws?agent=agent2&token={token}", {}, 403),
        (f"/ws?agent=agent1&token={token}", {"Origin": "https://evil.example"}, 403),
    ]
    for path, headers, status in cases:
        with pytest.raises(aiohttp.WSServerHandshakeError) as exc:
            await server.ws_connect(path, headers=headers)
        assert exc.value.status == status, path
    own = f"http://{server.host}:{server.port}"
    ws = await server.ws_connect(f"/ws?agent=agent1&token={token}", headers={"Origin": own})
    assert (await ws.receive_json())["type"] == "hello"
    await ws.close()


async def test_agent_listing_shows_only_what_the_caller_may_read(server: Any, connect: Any) -> None:
    for agent in ("agent1", "agent2"):
        c = await connect(agent)
        await c.request("fireOnCallBegin", callId=f"l-{agent}", callType="inbound")
    seen = {}
    for who in ("agent1", "sup-blue", "ivr"):
        status, body = await _call(server, "get", "/api/agents", None, who)
        assert status == 200, body
        seen[who] = {a["id"] for a in body["agents"]}
    assert seen["agent1"] == {"agent1"}
    assert seen["sup-blue"] == {"agent1"}  # team blue only
    assert {"agent1", "agent2"} <= seen["ivr"]
    status, body = await _call(server, "get", "/api/agents", None, "crm")
    assert status == 403 and "calls:attach" in body["error"]  # logs:read is not enough
    status, _ = await _call(server, "get", "/api/agents", None, None)
    assert status == 401


async def test_demo_mode_needs_no_login(aiohttp_client: Any, tmp_path: Any) -> None:
    from ctikit.config import Config
    from ctikit.server.app import build_app

    app = await build_app(Config(database=f"sqlite:///{tmp_path / 'd.db'}", demo=True))
    client = await aiohttp_client(app)
    ws = await client.ws_connect("/ws?agent=agent7")
    assert (await ws.receive_json())["type"] == "hello"
    await ws.send_json({"id": 1, "op": "fireOnCallBegin", "callId": "d1", "callType": "inbound"})
    await ws.send_json({"id": 2, "op": "fireOnCallEnd", "callId": "d1", "duration": 3})
    await ws.send_json({"id": 3, "op": "saveCallLog", "callId": "d1", "subject": "demo"})
    saved = None
    while saved is None:
        frame = await ws.receive_json(timeout=5)
        if frame.get("id") == 3:
            saved = frame["logId"]
    await ws.close()
    r = await client.get("/api/call-logs/export.csv")  # no agent named: everything
    assert saved in await r.text()
    r = await client.get("/api/call-logs?agent=agent7")
    assert (await r.json())["total"] == 1


async def test_failed_login_memory_is_bounded(server: Any) -> None:
    from ctikit.server.logins import LocalLoginLimiter, LoginLimits

    limiter = LocalLoginLimiter(LoginLimits(per_address=1000), time.monotonic, max_tracked=10)
    server.app[AUTH].limiter = limiter
    for i in range(25):  # anyone may try any name: 25 names, each failing once
        r = await server.post("/api/login", json={"username": f"nobody{i}", "password": "x"})
        assert r.status == 401
    assert limiter.tracked()[0] <= 10
    # A name under attack right now is still locked out.
    for _ in range(5):
        await server.post("/api/login", json={"username": "agent1", "password": "nope"})
    r = await server.post("/api/login", json={"username": "agent1", "password": PASSWORD})
    assert r.status == 429
