"""The webrtc connector's routing: one phone per agent, commands to it, its calls ended
when it stays away (no browser: links are the consoles' send functions)."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest

from ctikit.connectors.base import ActionFailedError
from ctikit.connectors.webrtc import ReportError, SipAccount, WebrtcConnector
from ctikit.connectors.webrtc.connector import OFFLINE
from ctikit.core.commands import Action
from ctikit.core.telephony import CallReleased, ConnectorAction, LineStatus, TelephonyEvent


class Sink:
    def __init__(self) -> None:
        self.events: list[TelephonyEvent] = []

    def report(self, event: TelephonyEvent) -> None:
        self.events.append(event)


class Frames(list[dict[str, Any]]):
    """What a console was sent; ``await frames.count(n)`` waits for ``n`` of them."""

    def __init__(self) -> None:
        super().__init__()
        self.more = asyncio.Event()

    def send(self, frame: dict[str, Any]) -> None:
        self.append(frame)
        self.more.set()

    async def count(self, n: int) -> None:
        async with asyncio.timeout(2):
            while len(self) < n:
                self.more.clear()
                await self.more.wait()


def connector(grace: float = 0.05) -> WebrtcConnector:
    accounts = {
        "a1": SipAccount(extension="1001", password="pw1"),
        "a2": SipAccount(extension="1002", password="pw2"),
    }
    return WebrtcConnector(
        accounts, ws_url="ws://127.0.0.1:5066", domain="example.org", grace=grace,
        request_timeout=1.0,
    )  # fmt: skip


OFFER = {"kind": "offered", "callId": "c1", "direction": "in", "peer": "555"}


async def test_the_first_console_is_the_phone_the_others_follow() -> None:
    c, sink = connector(), Sink()
    await c.start(sink)
    assert LineStatus(agent="a1", up=False, reason="no console is open") in sink.events
    first, second = Frames(), Frames()
    one, two = c.attach("a1", first.send), c.attach("a1", second.send)
    setup = c.setup(one, None)
    assert setup["role"] == "phone"
    assert setup["sip"] == {
        "server": "ws://127.0.0.1:5066", "domain": "example.org", "user": "1001", "password": "pw1"
    }  # fmt: skip
    # The other console of the agent gets no credentials, and its reports are refused.
    assert c.setup(two, None) == {"role": "follower"}
    with pytest.raises(ReportError, match="not the agent's phone"):
        c.report(two, OFFER)
    c.report(one, OFFER)
    # A command from any console goes to the phone, which says when it is done.
    action = ConnectorAction(agent="a1", action=Action.ANSWER, call_id="c1")
    task = asyncio.create_task(c.execute(action))
    await first.count(1)
    assert first[0]["cmd"] == "answer" and first[0]["callId"] == "c1" and second == []
    c.done(one, first[0]["ref"], None)
    await task
    # A failure the phone reports is the command's failure.
    task = asyncio.create_task(c.execute(action))
    await first.count(2)
    c.done(one, first[1]["ref"], "no microphone")
    with pytest.raises(ActionFailedError, match="no microphone"):
        await task


async def test_a_phone_that_stays_away_loses_its_calls_and_another_console_takes_over() -> None:
    c, sink = connector(), Sink()
    await c.start(sink)
    other = Frames()
    one, two = c.attach("a1", lambda f: None), c.attach("a1", other.send)
    c.setup(one, None)
    c.report(one, {"kind": "line", "up": True})
    c.report(one, OFFER)
    c.detach(one)
    with pytest.raises(ActionFailedError, match="softphone is offline"):
        await c.execute(ConnectorAction(agent="a1", action=Action.ANSWER, call_id="c1"))
    await other.count(1)
    assert other == [{"type": "phone", "cmd": "claim"}]
    assert CallReleased(agent="a1", call_id="c1", reason=OFFLINE) in sink.events
    assert LineStatus(agent="a1", up=False, reason=OFFLINE) in sink.events
    assert c.setup(two, [])["role"] == "phone"


async def test_a_phone_back_in_time_keeps_the_calls_it_still_has() -> None:
    c, sink = connector(grace=5), Sink()
    await c.start(sink)
    one = c.attach("a1", lambda f: None)
    c.setup(one, None)
    c.report(one, OFFER)
    c.report(one, {**OFFER, "callId": "c2"})
    c.detach(one)
    back = c.attach("a1", lambda f: None)
    answer = c.setup(back, ["c1", "c9"])
    assert answer["role"] == "phone" and answer["drop"] == ["c9"]  # c9: the server has none
    ended = [e for e in sink.events if isinstance(e, CallReleased)]
    assert [e.call_id for e in ended] == ["c2"]  # the console no longer had it
    assert [call.call_id for call in c.model.calls("a1")] == ["c1"]
    await c.stop()


async def test_an_agent_without_an_account_gets_no_phone_and_commands_need_one() -> None:
    c = connector()
    await c.start(Sink())
    link = c.attach("a3", lambda f: None)
    assert c.setup(link, None)["role"] == "none"
    with pytest.raises(ActionFailedError, match="offline"):
        await c.execute(ConnectorAction(agent="a3", action=Action.DIAL, number="1001"))
    with pytest.raises(ReportError, match="no command 7"):
        c.done(link, 7, None)


async def test_consult_actions_are_refused_not_sent_to_the_phone() -> None:
    """No CONSULT/CONFERENCE capability: the server never sends them; handed over anyway,
    they fail clearly and the phone hears nothing."""
    c, sink = connector(), Sink()
    await c.start(sink)
    frames = Frames()
    c.setup(c.attach("a1", frames.send), None)
    for act in (Action.CONSULT, Action.COMPLETE_TRANSFER, Action.CONFERENCE):
        action = ConnectorAction(agent="a1", action=act, call_id="c1", number="1002")
        with pytest.raises(ActionFailedError, match="not supported by this connector"):
            await c.execute(action)
    assert frames == [] and not c.capabilities
    await c.stop()
