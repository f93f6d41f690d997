"""Real calls through kamailio and baresip on loopback, driven by the SipConnector (items 1-4).

Each test starts its own lab (kamailio + one baresip per agent line + caller phones) in
``tmp_path`` and applies every connector event to a real CallRegistry.
"""

from __future__ import annotations

import pytest

from ctikit.connectors.base import ActionFailedError, CallPlacer
from ctikit.core.model import CallType, LineState
from ctikit.core.telephony import (
    ActionFailed,
    CallAnswered,
    CallHeld,
    CallMuted,
    CallOffered,
    CallReleased,
    CallRetrieved,
    LineStatus,
)

from .conftest import LabFactory
from .sipkit import Phone, cti, eventually

pytestmark = pytest.mark.sip


async def test_lines_come_up(sip_lab: LabFactory) -> None:
    _, _, _, sink = await sip_lab()
    assert sorted(sink.events, key=lambda e: e.agent) == [
        LineStatus(agent="agent1", up=True),
        LineStatus(agent="agent2", up=True),
    ]
    assert sink.registry.agent("agent1").line_up is True


async def test_inbound_call_is_offered_with_caller_and_dialled_number(sip_lab: LabFactory) -> None:
    plan, _, _, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        cid = await cust.dial("1001")
        offer = await sink.wait_for(CallOffered, agent="agent1")
        assert offer == CallOffered(
            agent="agent1", call_id=cid, call_type=CallType.INBOUND, ani="cust1", dnis="1001"
        )
        await cust.wait("CALL_RINGING", cid)
        view = sink.registry.get_call("agent1", cid)
        assert view.line_state is LineState.RINGING and view.data == {
            "ANI": "cust1",
            "DNIS": "1001",
        }
        # An IVR attaches data by the (stable, SIP) call ID: the core merges it.
        sink.registry.attach_data("agent1", cid, {"account": "42"}, now=0.0)
        assert sink.registry.get_call("agent1", cid).data["account"] == "42"
        # The contact-centre number (a queue) is the DNIS when it is what was dialled.
        qid = await cust.dial("8000")
        q_offer = await sink.wait_for(CallOffered, call_id=qid)
        assert (q_offer.agent, q_offer.dnis, q_offer.ani) == ("agent1", "8000", "cust1")
    assert not sink.errors


async def test_answer_establishes_both_sides_with_media(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        cid = await cust.dial("1001")
        await sink.wait_for(CallOffered, call_id=cid)
        await cti(conn, sink, "agent1", "/ANSWER")
        await cust.wait("CALL_ESTABLISHED", cid)
        await sink.wait_for(CallAnswered, agent="agent1", call_id=cid)
        assert sink.registry.get_call("agent1", cid).line_state is LineState.CONNECTED
        await cust.wait("CALL_RTPESTAB", cid)  # the caller hears the agent's phone
        call = conn.model.find_call("agent1", cid)
        await eventually(lambda: call.media)  # and the agent's phone hears the caller
    assert not sink.errors


async def test_hold_retrieve_mute_dtmf_hangup(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        cid = await cust.dial("1001")
        await sink.wait_for(CallOffered, call_id=cid)
        await cti(conn, sink, "agent1", "/ANSWER")
        await sink.wait_for(CallAnswered, call_id=cid)

        offers_before = sum(1 for e in cust.events if e.type == "CALL_REMOTE_SDP")
        await cti(conn, sink, "agent1", "/HOLD")
        await sink.wait_for(CallHeld, agent="agent1", call_id=cid)
        assert sink.registry.get_call("agent1", cid).line_state is LineState.HELD
        # The caller really got a re-INVITE (an SDP offer) for it.
        remote = [e for e in cust.events if e.type == "CALL_REMOTE_SDP"]
        assert len(remote) > offers_before and remote[-1].param == "offer"

        await cti(conn, sink, "agent1", "/RETRIEVE")
        await sink.wait_for(CallRetrieved, agent="agent1", call_id=cid)
        assert sink.registry.get_call("agent1", cid).line_state is LineState.CONNECTED

        await cti(conn, sink, "agent1", "/MUTE")
        await sink.wait_for(CallMuted, call_id=cid, muted=True)
        assert sink.registry.get_call("agent1", cid).muted
        await cti(conn, sink, "agent1", "/UNMUTE")
        await sink.wait_for(CallMuted, call_id=cid, muted=False)

        await cti(conn, sink, "agent1", "/DTMF?DIGITS=12%23")
        for digit in "12#":
            await cust.wait("CALL_DTMF_START", cid, param=digit)

        await cti(conn, sink, "agent1", "/HANGUP")
        released = await sink.wait_for(CallReleased, call_id=cid)
        assert released.reason == "agent hung up"
        assert (await cust.wait("CALL_CLOSED", cid)).param == "Connection reset by peer"
    assert sink.registry.calls("agent1") == []
    assert not sink.errors


async def test_caller_hangs_up_and_abandons(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        ringing = await cust.dial("1001")
        await sink.wait_for(CallOffered, call_id=ringing)
        await cust.hangup(ringing)
        gone = await sink.wait_for(CallReleased, call_id=ringing)
        assert (gone.reason, gone.disposition) == ("caller abandoned", "abandoned")

        talking = await cust.dial("1001")
        await sink.wait_for(CallOffered, call_id=talking)
        await cti(conn, sink, "agent1", "/ANSWER")
        await sink.wait_for(CallAnswered, call_id=talking)
        await cust.hangup(talking)
        assert (await sink.wait_for(CallReleased, call_id=talking)).reason == "caller hung up"
    assert sink.registry.calls("agent1") == []
    assert not sink.errors


async def test_dial_outbound_to_a_customer(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    async with Phone(plan, "cust2") as cust:
        await cti(conn, sink, "agent1", "/DIAL?NUMBER=cust2")
        offer = await sink.wait_for(CallOffered, agent="agent1")
        assert (offer.call_type, offer.ani, offer.dnis) == (CallType.OUTBOUND, "1001", "cust2")
        assert sink.registry.get_call("agent1", offer.call_id).line_state is LineState.DIALING
        incoming = await cust.wait("CALL_INCOMING", offer.call_id)
        assert incoming.peer_uri is not None and "1001@" in incoming.peer_uri
        await cust.cmd("accept")
        await sink.wait_for(CallAnswered, call_id=offer.call_id)
        await cust.hangup(offer.call_id)
        released = await sink.wait_for(CallReleased, call_id=offer.call_id)
        assert released.reason == "other party hung up"
    assert not sink.errors


async def test_dial_an_internal_extension(sip_lab: LabFactory) -> None:
    _, _, conn, sink = await sip_lab(callers=[])
    await cti(conn, sink, "agent1", "/DIAL?NUMBER=1002")
    mine = await sink.wait_for(CallOffered, agent="agent1")
    theirs = await sink.wait_for(CallOffered, agent="agent2")
    assert mine.call_type is theirs.call_type is CallType.INTERNAL
    assert (theirs.ani, theirs.dnis) == ("1001", "1002")
    await cti(conn, sink, "agent2", "/ANSWER")
    await sink.wait_for(CallAnswered, agent="agent1", call_id=mine.call_id)
    await sink.wait_for(CallAnswered, agent="agent2", call_id=theirs.call_id)
    await cti(conn, sink, "agent2", "/HANGUP")
    assert (await sink.wait_for(CallReleased, agent="agent2")).reason == "agent hung up"
    assert (await sink.wait_for(CallReleased, agent="agent1")).reason == "other party hung up"
    assert not sink.errors


async def test_unreachable_declined_and_busy_targets_fail_loudly(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    # Unreachable: nobody registered 9999.
    await cti(conn, sink, "agent1", "/DIAL?NUMBER=9999")
    failed = await sink.wait_for(ActionFailed, agent="agent1", number="9999")
    assert failed.reason == "not found (404 Not Found)"
    gone = await sink.wait_for(CallReleased, agent="agent1", call_id=failed.call_id)
    assert gone.reason == "not found"

    # Declined: agent2 rejects the ringing internal call (and is not rung on line 2).
    await cti(conn, sink, "agent1", "/DIAL?NUMBER=1002")
    ringing = await sink.wait_for(CallOffered, agent="agent2")
    await cti(conn, sink, "agent2", "/HANGUP")
    declined = await sink.wait_for(ActionFailed, agent="agent1", number="1002")
    assert declined.reason == "busy (486 Rejected)"
    assert sum(isinstance(e, CallOffered) for e in sink.of("agent2")) == 1
    await sink.wait_for(CallReleased, agent="agent1", call_id=ringing.call_id)

    # Busy: both of agent2's lines are taken.
    async with Phone(plan, "cust1") as cust:
        for _ in range(2):
            cid = await cust.dial("1002")
            await sink.wait_for(CallOffered, agent="agent2", call_id=cid)
        assert len(sink.registry.calls("agent2")) == 2
        await cti(conn, sink, "agent1", "/DIAL?NUMBER=1002")
        await sink.wait_until(
            lambda: sum(isinstance(e, ActionFailed) for e in sink.of("agent1")) == 3
        )
        last = [e for e in sink.of("agent1") if isinstance(e, ActionFailed)][-1]
        assert last.reason == "busy (486 Max Calls)"
        released = await sink.wait_for(CallReleased, agent="agent1", call_id=last.call_id)
        assert released.disposition == "busy"
    assert sink.registry.calls("agent1") == []
    assert not sink.errors


async def test_blind_transfer_to_another_agent(sip_lab: LabFactory) -> None:
    plan, _, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        cid = await cust.dial("8000")
        await sink.wait_for(CallOffered, agent="agent1", call_id=cid)
        await cti(conn, sink, "agent1", "/ANSWER")
        await sink.wait_for(CallAnswered, call_id=cid)
        sink.registry.attach_data("agent1", cid, {"account": "42"}, now=0.0)

        await cti(conn, sink, "agent1", "/TRANSFER?NUMBER=1002")
        offer = await sink.wait_for(CallOffered, agent="agent2")
        assert (offer.ani, offer.dnis, offer.call_type) == ("cust1", "8000", CallType.INBOUND)
        assert offer.data["account"] == "42"  # the console of agent2 gets the IVR data
        await cti(conn, sink, "agent2", "/ANSWER")
        await cust.wait("CALL_ESTABLISHED", offer.call_id)
        gone = await sink.wait_for(CallReleased, agent="agent1", call_id=cid)
        assert (gone.reason, gone.disposition) == ("transferred", "transferred")
        assert sink.registry.call_ids("agent2") == [offer.call_id]
        assert sink.registry.get_call("agent2", offer.call_id).data["account"] == "42"

        # A transfer to a number nobody has fails, and baresip 1.0.0 drops the call.
        await cti(conn, sink, "agent2", "/TRANSFER?NUMBER=9999")
        failed = await sink.wait_for(ActionFailed, agent="agent2", call_id=offer.call_id)
        assert failed.reason == "not found (404 Not Found)"
        await sink.wait_for(CallReleased, agent="agent2", call_id=offer.call_id)
    assert not sink.errors


async def test_place_inbound_call_rings_the_agent_as_the_given_caller(sip_lab: LabFactory) -> None:
    _, _, conn, sink = await sip_lab(placer="cust2")
    assert isinstance(conn, CallPlacer)
    cid = await conn.place_inbound_call(
        "agent2", ani="+14155550123", dnis="+18005550199", data={"reason": "billing"}
    )
    offer = await sink.wait_for(CallOffered, call_id=cid)
    assert offer == CallOffered(
        agent="agent2",
        call_id=cid,
        call_type=CallType.INBOUND,
        ani="+14155550123",
        dnis="+18005550199",
        data={"reason": "billing"},
    )
    await cti(conn, sink, "agent2", "/ANSWER")
    await sink.wait_for(CallAnswered, call_id=cid)
    await conn.caller_hangup(cid)
    assert (await sink.wait_for(CallReleased, call_id=cid)).reason == "caller hung up"
    made_up = await conn.place_inbound_call("agent1")  # a plausible random caller
    offer = await sink.wait_for(CallOffered, call_id=made_up)
    assert offer.agent == "agent1" and offer.ani and offer.data
    assert not sink.errors


async def test_place_inbound_call_needs_a_caller_phone(sip_lab: LabFactory) -> None:
    _, _, conn, _ = await sip_lab(callers=[])
    with pytest.raises(ActionFailedError, match="no caller phone"):
        await conn.place_inbound_call("agent1")
