"""SipConnector against fake baresip ctrl_tcp servers: the pump's own behaviour, no binaries."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from ctikit.connectors.base import ActionFailedError, Connector
from ctikit.connectors.sim.config import Directory
from ctikit.connectors.sip import CtrlConnection, CtrlError, LineEndpoint, SipConnector
from ctikit.core.commands import Action
from ctikit.core.model import CallType
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallMuted,
    CallOffered,
    CallReleased,
    ConnectorAction,
    LineStatus,
)

from .fakebaresip import FakeBaresip
from .sipkit import RecordingSink, eventually

AOR = "sip:1001@127.0.0.1:5060"


@pytest.fixture
async def fake() -> AsyncIterator[FakeBaresip]:
    fb = FakeBaresip([AOR])
    await fb.start()
    yield fb
    await fb.stop()


def connector(fb: FakeBaresip, **kw: object) -> SipConnector:
    ep = LineEndpoint(agent="agent1", host="127.0.0.1", port=fb.port, aors=(AOR,))
    return SipConnector(
        [ep],
        directory=Directory({"1001": "agent1"}),
        proxy=("127.0.0.1", 5060),
        request_timeout=0.3,
        **kw,  # type: ignore[arg-type]
    )


def incoming(cid: str) -> dict[str, object]:
    return {
        "class": "call",
        "type": "CALL_INCOMING",
        "accountaor": AOR,
        "direction": "incoming",
        "peeruri": "sip:cust1@127.0.0.1:5060",
        "id": cid,
    }


async def test_it_is_a_connector(fake: FakeBaresip) -> None:
    conn = connector(fake)
    assert isinstance(conn, Connector) and conn.name == "sip"
    with pytest.raises(ActionFailedError, match="not running"):
        await conn.execute(ConnectorAction(agent="agent1", action=Action.DIAL, number="1"))
    await conn.stop()  # idempotent, even before start


async def test_garbage_on_ctrl_tcp_drops_the_line_and_it_reconnects(fake: FakeBaresip) -> None:
    sink = RecordingSink()
    conn = connector(fake)
    await conn.start(sink)
    try:
        assert sink.events == [LineStatus(agent="agent1", up=True)]
        fake.event(**incoming("c1"))
        await sink.wait_for(CallOffered, call_id="c1")
        fake.send_raw(b'9:{"event":,')  # valid framing, broken JSON: skipped
        fake.send_raw(b"12:not a netstring at all")  # broken framing: connection dropped
        gone = await sink.wait_for(CallReleased, call_id="c1")
        assert gone.reason.startswith("phone line lost (protocol error")
        down = await sink.wait_for(LineStatus, up=False)
        assert down.reason is not None and "protocol error" in down.reason
        await sink.wait_until(lambda: sink.events[-1] == LineStatus(agent="agent1", up=True))
        assert [c for c, _ in fake.commands].count("reginfo") == 2
    finally:
        await conn.stop()
    assert sink.events[-1] == LineStatus(agent="agent1", up=False, reason="SIP connector stopped")
    assert not sink.errors


async def test_refused_and_unanswered_commands_fail_the_action(fake: FakeBaresip) -> None:
    sink = RecordingSink()
    conn = connector(fake)
    await conn.start(sink)
    try:
        fake.event(**incoming("c1"))
        await sink.wait_for(CallOffered, call_id="c1")
        answer = ConnectorAction(agent="agent1", action=Action.ANSWER, call_id="c1")
        fake.handlers["accept"] = lambda p: (False, "no call to accept")
        with pytest.raises(ActionFailedError, match="baresip refused accept: no call to accept"):
            await conn.execute(answer)
        fake.handlers["accept"] = lambda p: None  # baresip hangs
        with pytest.raises(ActionFailedError, match="no reply to 'accept'"):
            await conn.execute(answer)
        assert conn.model.find_call("agent1", "c1").pending is None  # nothing left pending
        with pytest.raises(ActionFailedError, match="needs a connected call"):
            await conn.execute(ConnectorAction(agent="agent1", action=Action.HOLD, call_id="c1"))
        with pytest.raises(ActionFailedError, match="not on agent1's phone"):
            await conn.execute(ConnectorAction(agent="agent1", action=Action.HOLD, call_id="zz"))
    finally:
        await conn.stop()


async def test_dial_selects_the_agents_account_and_learns_the_call_id(fake: FakeBaresip) -> None:
    sink = RecordingSink()
    conn = connector(fake)
    fake.handlers["callstat"] = lambda p: (
        True,
        "\n===== Call debug (OUTGOING) =====\n af=AF_INET id=out-1\n direction: Outgoing\n",
    )
    await conn.start(sink)
    try:
        await conn.execute(ConnectorAction(agent="agent1", action=Action.DIAL, number="*72#"))
        offer = await sink.wait_for(CallOffered, call_id="out-1")
        assert (offer.call_type, offer.outgoing, offer.dnis) == (CallType.OUTBOUND, True, "*72#")
        assert fake.commands[-3:] == [
            ("uafind", AOR),
            ("dial", "sip:*72%23@127.0.0.1:5060"),
            ("callstat", None),
        ]
        # The only line is busy now.
        with pytest.raises(ActionFailedError, match="all 1 lines of agent1 are in use"):
            await conn.execute(ConnectorAction(agent="agent1", action=Action.DIAL, number="2"))
        with pytest.raises(ActionFailedError, match="own extension"):
            conn.model.begin_dial(conn.model.lines("agent1")[0], "1001")
    finally:
        await conn.stop()


async def test_mute_toggles_until_baresip_says_so(fake: FakeBaresip) -> None:
    sink = RecordingSink()
    conn = connector(fake)
    await conn.start(sink)
    replies = iter(["\ncall un-muted\n", "\ncall muted\n"])  # it was muted on the phone
    fake.handlers["mute"] = lambda p: (True, next(replies))
    try:
        fake.event(**incoming("c1"))
        fake.event(**{**incoming("c1"), "type": "CALL_ESTABLISHED"})
        await sink.wait_until(lambda: len(sink.events) >= 3)
        await conn.execute(ConnectorAction(agent="agent1", action=Action.MUTE, call_id="c1"))
        assert [e for e in sink.events if isinstance(e, CallMuted)] == [
            CallMuted(agent="agent1", call_id="c1", muted=True)
        ]
        assert [c for c, _ in fake.commands].count("mute") == 2
    finally:
        await conn.stop()


async def test_unreachable_phone_is_reported_down(fake: FakeBaresip) -> None:
    port = fake.port
    await fake.stop()
    sink = RecordingSink()
    conn = connector(fake, ready_timeout=0.2)
    await conn.start(sink)
    try:
        down = await sink.wait_for(LineStatus, up=False)
        assert down.reason is not None and "not reachable" in down.reason
        with pytest.raises(ActionFailedError, match="phone is down"):
            await conn.execute(ConnectorAction(agent="agent1", action=Action.DIAL, number="2"))
        await fake.start(port)  # it comes back
        await sink.wait_for(LineStatus, up=True, within=5)
    finally:
        await conn.stop()


async def test_ctrl_connection_reports_why_it_closed(fake: FakeBaresip) -> None:
    events: list[object] = []
    conn = await CtrlConnection.open("127.0.0.1", fake.port, events.append, reply_timeout=0.2)
    assert (await conn.request("reginfo")).ok
    fake.send_raw(b'5:{"a":,')  # framing fine, JSON broken, then a good event
    fake.event(type="REGISTER_OK", **{"class": "register"})
    await eventually(lambda: len(events) == 1)
    await fake.drop_clients()
    assert await conn.wait_closed() == "baresip closed the connection"
    with pytest.raises(CtrlError, match="connection closed"):
        await conn.request("reginfo")
    await conn.close()


async def test_stale_calls_are_hung_up_on_connect(fake: FakeBaresip) -> None:
    fake.handlers["listcalls"] = lambda p: (True, "\n--- Active calls (2) ---\n  [line 1] ...\n")
    sink = RecordingSink()
    conn = connector(fake)
    await conn.start(sink)
    await conn.stop()
    assert [c for c, _ in fake.commands][:4] == ["listcalls", "hangup", "hangup", "reginfo"]


async def test_sink_errors_do_not_stop_the_pump(fake: FakeBaresip) -> None:
    class Grumpy(RecordingSink):
        def report(self, event: object) -> None:
            super().report(event)  # type: ignore[arg-type]
            raise RuntimeError("sink bug")

    sink = Grumpy()
    conn = connector(fake)
    await conn.start(sink)
    try:
        fake.event(**incoming("c1"))
        await sink.wait_for(CallOffered, call_id="c1")
        fake.event(**incoming("c2"))
        await sink.wait_for(CallOffered, call_id="c2")
    finally:
        await conn.stop()


async def test_unconfirmed_hold_fails_after_a_while(fake: FakeBaresip) -> None:
    sink = RecordingSink()
    conn = connector(fake, confirm_timeout=0.2)
    await conn.start(sink)
    try:
        fake.event(**incoming("c1"))
        fake.event(**{**incoming("c1"), "type": "CALL_ESTABLISHED"})
        await sink.wait_for(CallAnswered, call_id="c1")
        hold = ConnectorAction(agent="agent1", action=Action.HOLD, call_id="c1")
        await conn.execute(hold)  # baresip says ok, but no re-INVITE answer ever comes
        with pytest.raises(ActionFailedError, match="still in progress"):
            await conn.execute(hold)
        failed = await sink.wait_for(ActionFailed, call_id="c1")
        assert failed.reason == "/HOLD was sent but the far end did not confirm it"
        await conn.execute(hold)  # the call takes commands again
    finally:
        await conn.stop()


async def test_a_phone_that_never_answers_is_reported_down(fake: FakeBaresip) -> None:
    fake.handlers["listcalls"] = lambda p: None  # accepts connections, answers nothing
    sink = RecordingSink()
    conn = connector(fake, ready_timeout=0.2)
    await conn.start(sink)
    try:
        down = await sink.wait_for(LineStatus, up=False)
        assert down.reason is not None and "does not answer" in down.reason
    finally:
        await conn.stop()
