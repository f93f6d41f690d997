"""Webhooks end to end with a real receiving HTTP server: signed deliveries, the outbox
written before the console's ack (and with the call log, in its transaction), retries while
the receiver is down, dead letters over REST, and the webhooks:manage scope."""

from __future__ import annotations

import asyncio
import json
from typing import Any

from ctikit.server.keys import SERVICE
from ctikit.server.webhooks_api import WEBHOOKS
from ctikit.storage import AccountStore
from ctikit.testing import free_port

from .conftest import auth
from .webhook_receiver import Receiver

ALL = ["call.begin", "call.end", "call.log_saved"]


async def _ops(server: Any) -> dict[str, str]:
    accounts = AccountStore(server.app[SERVICE].store)
    _, secret = await accounts.create_token("ops", frozenset({"webhooks:manage"}))
    return {"Authorization": f"Bearer {secret}"}


async def _register(server: Any, url: str, events: list[str] = ALL) -> tuple[str, str]:
    r = await server.post(
        "/api/webhooks", json={"url": url, "events": events}, headers=await _ops(server)
    )
    body = await r.json()
    assert r.status == 201, body
    return body["endpoint"]["id"], body["secret"]


async def test_managing_webhooks_needs_the_scope_and_checks_input(server: Any) -> None:
    ops = await _ops(server)
    for who in ("agent1", "sup-blue", "crm", "dialer"):
        r = await server.get("/api/webhooks", headers=auth(server, who))
        assert r.status == 403, who
    bad = [
        ({"url": "ftp://x/y", "events": ["call.end"]}, "url"),
        ({"url": "http://u:p@x/y", "events": ["call.end"]}, "url"),
        ({"url": "http://x/y", "events": []}, "events"),
        ({"url": "http://x/y", "events": ["call.nope"]}, "unknown events"),
        ({"url": "http://x/y", "events": ["call.end"], "secret": "short"}, "secret"),
    ]
    for body, why in bad:
        r = await server.post("/api/webhooks", json=body, headers=ops)
        answer = await r.json()
        assert r.status == 400 and why in answer["error"], (body, answer)
    endpoint, secret = await _register(server, "https://crm.example.com/hook", ["call.end"])
    listed = await (await server.get("/api/webhooks", headers=ops)).json()
    assert [e["id"] for e in listed["endpoints"]] == [endpoint]
    assert secret not in json.dumps(listed) and set(ALL) <= set(listed["events"])
    r = await server.delete(f"/api/webhooks/{endpoint}", headers=ops)
    assert r.status == 200
    r = await server.delete(f"/api/webhooks/{endpoint}", headers=ops)
    assert r.status == 404
    r = await server.post("/api/webhooks/dead-letters/abc/retry", headers=ops)
    assert r.status == 400


async def test_signed_deliveries_of_begin_end_and_log_saved(server: Any, connect: Any) -> None:
    receiver = await Receiver(free_port()).start()
    try:
        _, receiver.secret = await _register(server, receiver.url)
        c = await connect("agent1")
        await c.request("fireOnCallBegin", callId="w1", callType="inbound", label="L")
        await c.request("fireOnCallEnd", callId="w1", duration=7, disposition="Sold")
        saved = await c.request("saveCallLog", callId="w1", subject="Hello")
        got = {d.event: d for d in await receiver.wait_for(3)}
        assert set(got) == set(ALL)
        assert all(d.signed and d.attempt == 1 for d in got.values())
        assert len({d.id for d in got.values()}) == 3
        begin, end, log = got["call.begin"].body, got["call.end"].body, got["call.log_saved"].body
        assert begin["type"] == "call.begin" and begin["agent"] == "agent1"
        assert begin["data"]["call"]["id"] == "w1" and begin["id"] == got["call.begin"].id
        assert end["data"]["disposition"] == "Sold" and end["data"]["duration"] == 7
        assert log["data"]["log"]["id"] == saved["logId"]
        assert log["data"]["log"]["subject"] == "Hello"
        # A wrong secret fails the check a receiver makes.
        receiver.secret = "not-the-secret-at-all"
        await c.request("fireOnCallBegin", callId="w2", callType="inbound")
        (late,) = await receiver.wait_for(1, event="call.begin", signed=False)
        assert late.body["data"]["call"]["id"] == "w2"
    finally:
        await receiver.stop()


async def test_the_outbox_is_written_before_the_ack_and_a_receiver_that_comes_back_gets_all(
    server: Any, connect: Any
) -> None:
    hooks = server.app[WEBHOOKS]
    hooks.retry_seconds, hooks.retry_max = 0.1, 0.4
    receiver = Receiver(free_port())  # not listening yet: every attempt is refused
    _, receiver.secret = await _register(server, receiver.url)
    c = await connect("agent1")
    for i in range(5):
        await c.request("fireOnCallBegin", callId=f"d{i}", callType="inbound")
        # Acked: the delivery is in the database already.
        assert (await hooks.db.counts())["pending"] == i + 1
    await c.request("fireOnCallEnd", callId="d0", duration=1)
    saved = await c.request("saveCallLog", callId="d0")
    counts = await hooks.db.counts()
    assert counts["pending"] == 7  # the log's row came with the log's transaction
    await asyncio.sleep(1.0)  # down for a while: several failed attempts each
    await receiver.start()
    try:
        got = await receiver.wait_for(7)
        assert sorted(d.body["data"]["call"]["id"] for d in got if d.event == "call.begin") == [
            f"d{i}" for i in range(5)
        ]
        assert any(d.attempt > 1 for d in got)
        (log,) = [d for d in got if d.event == "call.log_saved"]
        assert log.body["data"]["log"]["id"] == saved["logId"]

        async def drained() -> None:
            while True:  # polls the database: nothing in this process to wait on
                if not (await hooks.db.counts())["pending"]:
                    return
                await asyncio.sleep(0.05)

        await asyncio.wait_for(drained(), 10)
    finally:
        await receiver.stop()


async def test_dead_letters_are_listed_retried_and_deleted(server: Any, connect: Any) -> None:
    hooks = server.app[WEBHOOKS]
    hooks.retry_seconds, hooks.retry_max, hooks.max_attempts = 0.05, 0.1, 3
    ops = await _ops(server)
    receiver = await Receiver(free_port()).start()
    receiver.status = 500
    try:
        endpoint, receiver.secret = await _register(server, receiver.url, ["call.begin"])
        c = await connect("agent1")
        await c.request("fireOnCallBegin", callId="x1", callType="inbound")
        await c.request("fireOnCallBegin", callId="x2", callType="inbound")
        tries = await receiver.wait_for(6)
        assert sorted(d.attempt for d in tries) == [1, 1, 2, 2, 3, 3]

        async def dead() -> list[dict[str, Any]]:
            while True:
                body = await (await server.get("/api/webhooks/dead-letters", headers=ops)).json()
                if body["total"] == 2:
                    return list(body["deadLetters"])
                await asyncio.sleep(0.05)

        letters = await asyncio.wait_for(dead(), 10)
        assert {json.loads(d["payload"])["data"]["call"]["id"] for d in letters} == {"x1", "x2"}
        assert all(d["lastError"] == "HTTP 500" and d["endpoint"] == endpoint for d in letters)
        assert all(d["attempts"] == 3 for d in letters)
        r = await server.get("/api/webhooks/dead-letters", headers=auth(server, "agent1"))
        assert r.status == 403
        receiver.status = 204
        first, second = letters
        r = await server.post(f"/api/webhooks/dead-letters/{first['id']}/retry", headers=ops)
        assert r.status == 200
        (again,) = await receiver.wait_for(1, id=first["eventId"], attempt=1)
        assert again.signed
        r = await server.delete(f"/api/webhooks/dead-letters/{second['id']}", headers=ops)
        assert r.status == 200
        r = await server.delete(f"/api/webhooks/dead-letters/{second['id']}", headers=ops)
        assert r.status == 404
        assert (await hooks.db.counts())["dead"] == 0
    finally:
        await receiver.stop()
