"""The console WebSocket over a real socket: every op, fan-out, isolation, bad input."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import aiohttp
import pytest

from ctikit.core.model import CallType
from ctikit.core.telephony import CallHeld, CallOffered, CallReleased
from ctikit.server.keys import CONFIG, SERVICE

# Conformance: every test here runs on a single node and on a cluster node (Redis).
from .conftest import MODES

pytestmark = pytest.mark.parametrize("mode", MODES, indirect=True)


async def test_hello_describes_state(connect: Any) -> None:
    c = await connect("agent1")
    assert c.hello["protocol"] == 1 and c.hello["agent"] == "agent1"
    # The simulator reported the agent's line up at start: that is event 1.
    assert c.hello["calls"] == [] and c.hello["seq"] == 1 and c.hello["lineUp"] is True
    assert c.hello["connector"] == {
        "name": "sim",
        "canPlaceCalls": True,
        "canConsult": True,
        "canConference": True,
    }
    assert c.hello["limits"]["maxDataBytes"] == 65536
    assert c.hello["limits"]["commandTimeout"] == 10.0  # seconds a command may wait


async def test_component_call_flow_fans_out_to_every_frame_of_the_agent_only(
    connect: Any,
) -> None:
    a, a2, b = await connect("agent1"), await connect("agent1"), await connect("agent2")
    assert (await a.request("getCallObjectIds")) == {
        "type": "response",
        "id": 1,
        "success": True,
        "ids": [],
    }
    r = await a.request("fireOnCallBegin", callId="c1", callType="inbound", label="Jo")
    assert r["success"] is True
    for client in (a, a2):
        ev = await client.wait_event("callBegin", id="c1")
        assert ev["seq"] == a.hello["seq"] + 1 and ev["data"]["call"]["label"] == "Jo"
    r = await a2.request(
        "setCallAttachedData", callId="c1", data='{"ANI":"+1415"}', callType="internal"
    )
    assert r["success"]
    r = await a.request("getCallAttachedData", callId="c1", getCallType=True)
    assert r["data"] == '{"ANI":"+1415"}' and r["callType"] == "INTERNAL"
    r = await a.request("getCallAttachedData", callId="c1")
    assert "callType" not in r
    await a.request("fireOnCallBegin", callId="c2", callType="outbound")
    await a.request("setCallObjectIds", ids=["c2", "c1"])
    assert (await a2.request("getCallObjectIds"))["ids"] == ["c2", "c1"]
    r = await a.request("fireOnCallEnd", callId="c1", duration=33, disposition="Resolved")
    ev = await a2.wait_event("callEnd", id="c1")
    assert ev["data"]["duration"] == "33" and ev["data"]["disposition"] == "Resolved"
    # The other agent saw nothing and has nothing.
    assert (await b.request("getCallObjectIds"))["ids"] == []
    assert b.events == []
    seqs = [e["seq"] for e in a.events]
    assert seqs == list(range(a.hello["seq"] + 1, a.hello["seq"] + 1 + len(seqs)))


async def test_get_attached_data_of_inactive_call(connect: Any) -> None:
    c = await connect("agent1")
    r = await c.request("getCallAttachedData", callId="nope")
    assert r["success"] is False and r["data"] is None and r["code"] == "unknown_call"
    assert "not active" in r["error"]


async def test_cti_messages(connect: Any) -> None:
    c = await connect("agent1")
    assert (await c.request("sendCTIMessage", message="hello adapter"))["success"]
    ev = await c.wait_event("ctiMessage")
    assert ev["data"]["message"] == "hello adapter"
    r = await c.request("sendCTIMessage", message="/ANSWER")
    assert r["success"] is False and r["code"] == "command_rejected"
    assert "no active call" in r["error"]
    r = await c.request("sendCTIMessage", message="/DIAL")
    assert r["success"] is False and "needs NUMBER" in r["error"]
    assert c.names() == ["ctiMessage"]  # rejected commands reach no handler


async def test_simulated_call_answer_hold_hangup(connect: Any) -> None:
    c = await connect("agent1")
    r = await c.request(
        "simulateCall", ani="+14155550100", dnis="+18005550199", data={"account": "ACME-1042"}
    )
    cid = r["callId"]
    ev = await c.wait_event("callBegin", id=cid)
    call = ev["data"]["call"]
    assert call["lineState"] == "ringing" and call["type"] == "INBOUND"
    assert call["data"]["ANI"] == "+14155550100" and call["data"]["account"] == "ACME-1042"
    # Each reply comes once the command happened (docs/protocol.md, "Commands"): the next
    # command, sent from the reply, finds the call in its new state.
    assert (await c.request("sendCTIMessage", message=f"/ANSWER?CALL_ID={cid}"))["success"]
    assert await _lines(c) == ["connected"]
    assert (await c.request("sendCTIMessage", message="/HOLD"))["success"]
    assert await _lines(c) == ["held"]
    assert (await c.request("sendCTIMessage", message="/RETRIEVE"))["success"]
    assert await _lines(c) == ["connected"]
    assert (await c.request("sendCTIMessage", message="/MUTE"))["success"]
    assert (await c.request("getState"))["calls"][0]["muted"] is True
    assert (await c.request("sendCTIMessage", message="/DTMF?DIGITS=42"))["success"]
    assert (await c.request("sendCTIMessage", message="/HANGUP"))["success"]
    # The end came before the reply.
    ended = [e for e in c.events if e["event"] == "callEnd"]
    assert [e["data"]["id"] for e in ended] == [cid]
    assert ended[0]["data"]["reason"] == "agent hung up"
    assert (await c.request("getCallObjectIds"))["ids"] == []


async def test_a_command_the_telephony_fails_replies_with_its_failure(connect: Any) -> None:
    c = await connect("agent1")
    cid = (await c.request("simulateCall"))["callId"]
    assert (await c.request("sendCTIMessage", message="/ANSWER"))["success"]
    r = await c.request("sendCTIMessage", message="/TRANSFER?NUMBER=%2B14155550603")
    assert r["success"] is False and r["code"] == "command_rejected", r
    assert r["error"] == "/TRANSFER: declined (603 Decline)"
    assert await _lines(c) == ["connected"]  # the call stays with the agent
    # A transfer that works ends the call as transferred before the reply.
    assert (await c.request("sendCTIMessage", message="/TRANSFER?NUMBER=1002"))["success"]
    assert (await c.request("getCallObjectIds"))["ids"] == []
    ended = [e["data"] for e in c.events if e["event"] == "callEnd"]
    assert [(e["id"], e["disposition"]) for e in ended] == [(cid, "transferred")]
    # A dial replies once the call is dialing; its failure comes later as events.
    assert (await c.request("sendCTIMessage", message="/DIAL?NUMBER=%2B14155550486"))["success"]
    assert await _lines(c) == ["dialing"]
    await c.wait_event("callFailed", reason="busy (486 Busy Here)")


async def test_commands_wait_in_their_own_lane(connect: Any) -> None:
    """While a command waits for the telephony, the console's other requests go on; the
    commands of one socket run in the order they came."""
    c = await connect("agent1")
    await c.request("simulateCall")
    assert (await c.request("sendCTIMessage", message="/ANSWER"))["success"]
    # No answer from this number: the simulator fails the transfer after its ring timeout
    # (0.6 s here). A /HOLD sent meanwhile waits its turn, then finds the call connected.
    slow = asyncio.create_task(c.request("sendCTIMessage", message="/TRANSFER?NUMBER=5550408"))
    hold = asyncio.create_task(c.request("sendCTIMessage", message="/HOLD"))
    assert (await c.request("getState"))["calls"][0]["lineState"] == "connected"
    assert not slow.done()
    r = await slow
    assert r["success"] is False and "408" in r["error"], r
    assert (await hold)["success"]
    assert await _lines(c) == ["held"]


async def _lines(c: Any) -> list[str]:
    return [call["lineState"] for call in (await c.request("getState"))["calls"]]


async def test_save_call_log_is_committed_before_event(connect: Any, server: Any) -> None:
    c = await connect("agent1")
    await c.request("fireOnCallBegin", callId="c9", callType="inbound", label="L")
    await c.request(
        "setCallAttachedData", callId="c9", data='{"ANI": "+441632960001"}', callType="inbound"
    )
    await c.request("fireOnCallEnd", callId="c9", duration=12, disposition="Resolved")
    r = await c.request("saveCallLog", callId="c9", subject="Billing", comments="ok")
    assert r["success"], r
    ev = await c.wait_event("callLogSaved", id=r["logId"])
    store = server.app[SERVICE].store
    saved = await store.get(ev["data"]["id"])
    assert saved is not None and saved.subject == "Billing" and saved.ani == "+441632960001"
    assert saved.duration_seconds == 12 and saved.disposition == "Resolved"
    r = await c.request("saveCallLog", callId="never")
    assert r["success"] is False and r["code"] == "unknown_call"


async def test_custom_events(connect: Any) -> None:
    a, b = await connect("agent1"), await connect("agent2")
    assert (await a.request("fireEvent", eventType="MyEvt", message="hi"))["success"]
    ev = await a.wait_event("customEvent")
    assert ev["data"] == {"type": "MyEvt", "message": "hi"}
    assert b.events == []


BAD_FRAMES = [
    ("{not json", None, "not valid JSON"),
    ("[1,2]", None, "JSON object"),
    ('{"op": "getCallObjectIds"}', None, "needs an id"),
    ('{"id": true, "op": "ping"}', None, "needs an id"),
    ('{"id": 5}', 5, "needs an op"),
    ('{"id": 6, "op": "dropTables"}', 6, "unknown op"),
    ('{"id": 7, "op": "fireOnCallBegin", "callId": 5.5e400}', None, "not valid JSON"),
    (
        '{"id": 8, "op": "fireOnCallBegin", "callId": ["x"], "callType": "inbound"}',
        8,
        "non-empty string",
    ),
    ('{"id": 9, "op": "fireOnCallBegin", "callId": "x", "callType": "sideways"}', 9, "call type"),
    ('{"id": 10, "op": "setCallAttachedData", "callId": "x", "data": {"a": 1}}', 10, "JSON string"),
    ('{"id": 11, "op": "setCallObjectIds", "ids": "x"}', 11, "array"),
    ('{"id": 12, "op": "fireOnCallEnd", "callId": "zz", "duration": 1}', 12, "not active"),
    ('{"id": 13, "op": "sendCTIMessage", "message": 42}', 13, "must be a string"),
    ('{"id": 14, "op": "simulateCall", "ani": "drop table"}', 14, "phone number"),
    ('{"id": 15, "op": "saveCallLog", "callId": 3}', 15, "must be a string"),
]


async def test_bad_frames_get_clear_errors_and_the_socket_stays_usable(connect: Any) -> None:
    c, other = await connect("agent1"), await connect("agent2")
    await other.request("fireOnCallBegin", callId="keep", callType="inbound")
    for text, rid, reason in BAD_FRAMES:
        r = await c.send_raw(text, rid)
        assert r["success"] is False and r["type"] == "response", text
        assert reason in r["error"], (text, r["error"])
        assert r["code"] == "bad_request" or r["code"] == "unknown_call", r
        assert (await c.request("ping"))["success"]
    r = await c.request("setCallAttachedData", callId="x", data=json.dumps("y" * 70000))
    assert r["code"] == "limit_exceeded"
    assert (await other.request("getCallObjectIds"))["ids"] == ["keep"]
    assert (await c.request("getCallObjectIds"))["ids"] == []


async def test_oversized_frame_closes_with_1009(connect: Any) -> None:
    c = await connect("agent1")
    await c.ws.send_str(json.dumps({"id": 1, "op": "ping", "pad": "x" * 300_000}))
    await asyncio.wait_for(c.closed.wait(), 5)
    assert c.ws.close_code == 1009
    d = await connect("agent1")  # the server is fine
    assert (await d.request("ping"))["success"]


async def test_binary_frame_is_refused(connect: Any) -> None:
    c = await connect("agent1")
    fut = asyncio.get_running_loop().create_future()
    c._responses[None] = fut
    await c.ws.send_bytes(b"\x00\x01")
    frame = await asyncio.wait_for(fut, 5)
    assert frame["success"] is False and "binary" in frame["error"]


async def test_bad_agent_id_is_refused(server: Any) -> None:
    for agent in ("", "a b", "x" * 65, "<script>"):
        try:
            ws = await server.ws_connect(f"/ws?agent={agent}&token={server.tokens['agent1']}")
        except aiohttp.WSServerHandshakeError as exc:
            assert exc.status == 400
        else:
            await ws.close()
            raise AssertionError(f"agent {agent!r} was accepted")


async def test_reconnect_replays_missed_events_in_order(connect: Any, server: Any) -> None:
    a = await connect("agent1")
    await a.request("fireOnCallBegin", callId="r1", callType="inbound")
    assert a.hello["resumed"] == "fresh"
    last = a.events[-1]["seq"] if a.events else a.hello["seq"]
    await a.wait_event("callBegin", id="r1")
    last = a.events[-1]["seq"]
    await a.close()
    # While the console is away, things happen.
    b = await connect("agent1")
    await b.request("fireOnCallBegin", callId="r2", callType="inbound")
    await b.request("fireOnCallEnd", callId="r1", duration=3)
    c = await connect("agent1", query=f"&since={last}&epoch={a.hello['epoch']}")
    try:
        assert c.hello["resumed"] == "replay" and c.hello["seq"] == last
        await c.wait_event("callEnd", id="r1")
        assert [(e["event"], e["data"].get("id")) for e in c.events[:2]] == [
            ("callBegin", "r2"),
            ("callEnd", "r1"),
        ]
        assert [e["seq"] for e in c.events] == list(range(last + 1, last + 1 + len(c.events)))
        # A cursor from another server run (epoch) or too old gets a snapshot, flagged.
        d = await connect("agent1", query=f"&since={last}&epoch=other")
        assert d.hello["resumed"] == "snapshot" and [x["id"] for x in d.hello["calls"]] == ["r2"]
    finally:
        await c.close()


async def test_request_flood_is_answered_then_closed(connect: Any, server: Any) -> None:
    cfg = server.app[CONFIG]
    c = await connect("agent1")
    frames = [json.dumps({"id": i, "op": "ping"}) for i in range(cfg.max_request_burst + 20)]
    for f in frames:
        await c.ws.send_str(f)

    async def first_refusal() -> dict[str, Any]:
        # Refusals carry the refused request's id (a client waits for its answer by id).
        while True:
            for fut in list(c._responses.values()):
                if fut.done() and fut.result().get("code") == "rate_limited":
                    return fut.result()
            await asyncio.sleep(0.01)

    frame = await asyncio.wait_for(first_refusal(), 5)
    assert "slow down" in frame["error"] and frame["id"] in range(len(frames)), frame
    for _ in range(cfg.abuse_close_after + 10):
        if c.ws.closed:
            break
        await c.ws.send_str('{"id": 1, "op": "ping"}')
    await asyncio.wait_for(c.closed.wait(), 5)
    assert c.ws.close_code == 1008
    other = await connect("agent1")  # the server and other sockets are fine
    assert (await other.request("ping"))["success"]


async def test_impossible_telephony_events_are_dropped_and_counted(
    connect: Any, server: Any, caplog: pytest.LogCaptureFixture
) -> None:
    """A connector that reports nonsense (a ringing call put on hold, news of a call the
    agent does not have) changes nothing: the server logs the event, drops it, counts it."""
    svc = server.app[SERVICE]
    c = await connect("agent1")
    cid = (await c.request("simulateCall", ani="+14155550100"))["callId"]
    await c.wait_event("callBegin", id=cid)
    before = svc.backend.dropped_events
    svc.backend.report(CallHeld(agent="agent1", call_id=cid))
    svc.backend.report(CallReleased(agent="agent1", call_id="no-such-call", reason="x"))
    for _ in range(250):  # cluster mode applies reports on a worker task
        if svc.backend.dropped_events >= before + 2:
            break
        await asyncio.sleep(0.02)
    assert svc.backend.dropped_events == before + 2
    assert "dropped telephony event CallHeld" in caplog.text
    # The call never went on hold (the simulator may have given up ringing meanwhile).
    calls = (await c.request("getState"))["calls"]
    assert all(call["lineState"] == "ringing" for call in calls)
    assert not [e for e in c.events if e["data"].get("call", {}).get("lineState") == "held"]


async def test_a_repeated_offer_leaves_the_live_call_alone(connect: Any, server: Any) -> None:
    """A connector that offers a call the agent already has is refused, and the live call
    with that ID is not hung up (only calls the state never had are refused on the line)."""
    svc = server.app[SERVICE]
    c = await connect("agent1")
    cid = (await c.request("simulateCall", ani="+14155550100"))["callId"]
    await c.wait_event("callBegin", id=cid)
    assert (await c.request("sendCTIMessage", message="/ANSWER"))["success"]
    before = svc.backend.dropped_events
    svc.backend.report(
        CallOffered(agent="agent1", call_id=cid, call_type=CallType.INBOUND, ani="+1")
    )
    for _ in range(250):
        if svc.backend.dropped_events > before:
            break
        await asyncio.sleep(0.02)
    assert svc.backend.dropped_events == before + 1
    await asyncio.sleep(0.3)  # a wrongful hang-up would have ended it by now
    calls = (await c.request("getState"))["calls"]
    assert [(call["id"], call["lineState"]) for call in calls] == [(cid, "connected")]


async def test_an_agents_sockets_share_one_byte_budget(connect: Any, server: Any) -> None:
    # What a request costs grows with its size: large attached data from several sockets
    # of one agent meets one budget (max_request_bytes_*); other agents are not affected.
    cfg = server.app[CONFIG]
    data = json.dumps({"pad": "x" * 60_000})
    one, two = await connect("agent1"), await connect("agent1")
    await one.request("fireOnCallBegin", callId="b1", callType="inbound")
    got: list[str] = []
    for i in range(2 * cfg.max_request_bytes_burst // len(data)):
        c = (one, two)[i % 2]
        r = await c.request("setCallAttachedData", callId="b1", data=data, callType="inbound")
        got.append("ok" if r["success"] else r["code"])
        if not r["success"]:
            assert "bytes of requests per second" in r["error"], r
    # About the burst's worth passed (plus what refilled meanwhile), then refusals.
    assert 0 < got.count("ok") < len(got) and set(got) == {"ok", "rate_limited"}, got
    assert got.count("ok") * len(data) <= cfg.max_request_bytes_burst * 1.5
    other = await connect("agent2")
    await other.request("fireOnCallBegin", callId="b2", callType="inbound")
    r = await other.request("setCallAttachedData", callId="b2", data=data, callType="inbound")
    assert r["success"], r


async def test_a_commands_events_come_before_its_reply_when_the_fan_out_lags(
    connect: Any, mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a cluster the events reach a socket through Redis's pub/sub, the reply directly:
    under load the reply overtook the callEnd (CI, two test workers). The subscription is
    made to lag here (the one fault a test cannot cause for real on demand)."""
    if mode == "cluster":
        from ctikit.cluster.fanout import Fanout

        deliver = Fanout._send

        async def late(self: Any, box: Any, w: Any, seq: int, frame: bytes) -> None:
            await asyncio.sleep(0.2)
            await deliver(self, box, w, seq, frame)

        monkeypatch.setattr(Fanout, "_send", late)
    c = await connect("agent1")
    cid = (await c.request("simulateCall"))["callId"]
    await c.wait_event("callBegin", id=cid)
    assert (await c.request("sendCTIMessage", message=f"/ANSWER?CALL_ID={cid}"))["success"]
    assert [e["data"]["call"]["lineState"] for e in c.events if e["event"] == "callUpdate"][
        -1
    ] == "connected"
    assert (await c.request("sendCTIMessage", message="/HANGUP"))["success"]
    assert [e["data"]["id"] for e in c.events if e["event"] == "callEnd"] == [cid]
    seqs = [e["seq"] for e in c.events]
    assert seqs == sorted(set(seqs)), seqs  # once each, in order
    await asyncio.sleep(0.5)  # the lagging deliveries arrive: skipped, not repeated
    assert [e["seq"] for e in c.events] == seqs
