"""Browser phones over a real console socket (connector webrtc, docs/webrtc.md): who gets
the SIP account, whose reports count, and commands routed to the phone console."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctikit.config import Config
from ctikit.connectors.webrtc import SipAccount, WebrtcConnector
from ctikit.server.app import build_app
from ctikit.server.keys import SERVICE
from ctikit.storage import AccountStore

from .conftest import _HASH, PASSWORD, USERS, WsClient


@pytest.fixture
async def server(aiohttp_client: Any, config: Config) -> Any:
    phones = WebrtcConnector(
        {
            "agent1": SipAccount(extension="1001", password="sip-secret-1"),
            "agent2": SipAccount(extension="1002", password="sip-secret-2"),
        },
        ws_url="wss://sip.example.com",
        domain="sip.example.com",
        grace=0.2,
        request_timeout=2.0,
    )
    app = await build_app(config, connector=phones)
    client = await aiohttp_client(app)
    accounts = AccountStore(app[SERVICE].store)
    client.tokens = {}
    for name, (role, agent, team) in USERS.items():
        await accounts.add_user(name, role=role, password_hash=_HASH, agent_id=agent, team=team)
        r = await client.post("/api/login", json={"username": name, "password": PASSWORD})
        client.tokens[name] = (await r.json())["token"]
    client.session.cookie_jar.clear()
    return client


OFFER = {"kind": "offered", "callId": "call-1@sip", "direction": "in", "peer": "5551234"}


async def test_one_phone_per_agent_reports_and_commands(connect: Any) -> None:
    phone: WsClient = await connect("agent1")
    setup = await phone.request("phoneSetup", calls=[])
    assert setup["success"] and setup["role"] == "phone", setup
    assert setup["sip"]["password"] == "sip-secret-1" and setup["sip"]["user"] == "1001"
    other: WsClient = await connect("agent1")
    assert (await other.request("phoneSetup"))["role"] == "follower"
    agent2: WsClient = await connect("agent2")
    # A supervisor watching agent1's console is never its phone and gets no password.
    watcher: WsClient = await connect("agent1", who="sup-blue")
    refused = await watcher.request("phoneSetup")
    assert not refused["success"] and refused["code"] == "unsupported"
    assert "sip-secret" not in str(refused)

    assert (await phone.request("phoneReport", report={"kind": "line", "up": True}))["success"]
    assert (await phone.request("phoneReport", report=OFFER))["success"]
    await other.wait_event("callBegin", id="call-1@sip")
    bad = await other.request("phoneReport", report={**OFFER, "callId": "x"})
    assert not bad["success"] and "not the agent's phone" in bad["error"]
    bad = await phone.request("phoneReport", report={"kind": "held", "callId": "call-1@sip"})
    assert bad["code"] == "bad_request" and "impossible on a ringing call" in bad["error"]

    # /ANSWER from the follower goes to the phone; the reply waits for the phone's report.
    reply = asyncio.create_task(other.request("sendCTIMessage", message="/ANSWER"))
    command = await asyncio.wait_for(phone.phone.get(), 5)
    assert command["cmd"] == "answer" and command["callId"] == "call-1@sip"
    assert not reply.done()
    await phone.request("phoneReport", report={"kind": "answered", "callId": "call-1@sip"})
    await phone.request("phoneDone", ref=command["ref"], error=None)
    assert (await reply)["success"]
    assert other.phone.empty() and agent2.phone.empty()
    assert "callBegin" not in agent2.names()

    # The phone says it could not: the command fails with its words.
    reply = asyncio.create_task(other.request("sendCTIMessage", message="/HOLD"))
    command = await asyncio.wait_for(phone.phone.get(), 5)
    await phone.request("phoneDone", ref=command["ref"], error="488 Not Acceptable Here")
    failed = await reply
    assert not failed["success"] and "488 Not Acceptable Here" in failed["error"]


async def test_the_phone_console_closing_ends_its_calls_and_the_next_console_is_asked(
    connect: Any,
) -> None:
    phone: WsClient = await connect("agent1")
    await phone.request("phoneSetup")
    other: WsClient = await connect("agent1")
    assert (await other.request("phoneSetup"))["role"] == "follower"
    await phone.request("phoneReport", report=OFFER)
    await other.wait_event("callBegin")
    await phone.close()
    ended = await other.wait_event("callEnd", id="call-1@sip")
    assert ended["data"]["reason"] == "the agent's softphone went offline"
    assert (await asyncio.wait_for(other.phone.get(), 5))["cmd"] == "claim"
    assert (await other.request("phoneSetup"))["role"] == "phone"


async def test_phone_ops_on_another_connector_are_unsupported(
    aiohttp_client: Any, config: Config
) -> None:
    app = await build_app(config)  # the simulator
    client = await aiohttp_client(app)
    await AccountStore(app[SERVICE].store).add_user(
        "agent1", role="agent", password_hash=_HASH, agent_id="agent1", team=None
    )
    r = await client.post("/api/login", json={"username": "agent1", "password": PASSWORD})
    token = (await r.json())["token"]
    ws = await client.ws_connect(f"/ws?agent=agent1&token={token}")
    c = await WsClient(ws).start()
    answer = await c.request("phoneSetup")
    assert not answer["success"] and answer["code"] == "unsupported"
    await c.close()
