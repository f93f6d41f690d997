"""Faults (item 7): a phone process killed mid-call, kamailio restarted or crashed, garbage
sent to the SIP ports."""

from __future__ import annotations

import asyncio
import random
import signal
import socket

import pytest

from ctikit.core.telephony import CallAnswered, CallOffered, CallReleased, LineStatus
from ctikit.lab import LabOptions
from ctikit.lab.plan import HOST

from .conftest import LabFactory
from .sipkit import Phone, RecordingSink, cti

pytestmark = pytest.mark.sip


async def answered_call(phone: Phone, sink: RecordingSink, conn: object, number: str) -> str:
    cid = await phone.dial(number)
    offer = await sink.wait_for(CallOffered, call_id=cid)
    await cti(conn, sink, offer.agent, f"/ANSWER?CALL_ID={cid}")  # type: ignore[arg-type]
    await sink.wait_for(CallAnswered, call_id=cid)
    return cid


async def test_killed_phone_releases_its_calls_reports_down_then_up(sip_lab: LabFactory) -> None:
    plan, lab, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        cid = await answered_call(cust, sink, conn, "1001")
        line = conn.model.find_call("agent1", cid).line
        assert line.index == 1
        proc = lab.phone_of("agent1", 1)
        starts = proc.starts
        proc.signal(signal.SIGKILL)

        gone = await sink.wait_for(CallReleased, agent="agent1", call_id=cid)
        assert gone.reason.startswith("phone line lost") and gone.disposition == "failed"
        down = await sink.wait_for(LineStatus, agent="agent1", up=False)
        assert down.reason is not None and "line 1" in down.reason
        assert sink.registry.calls("agent1") == []

        # The lab restarts baresip; the connector reconnects; the agent is up again.
        await sink.wait_until(
            lambda: sink.events[-1] == LineStatus(agent="agent1", up=True), within=10
        )
        assert proc.starts == starts + 1
        await cust.hangup(cid)  # the caller's leg never heard of the crash (no BYE)

        # New calls work, on the restarted line too (its stale registration was replaced).
        again = await answered_call(cust, sink, conn, "1001")
        assert conn.model.find_call("agent1", again).line.index == 1
    assert [e for e in sink.of("agent2") if not isinstance(e, LineStatus)] == []
    assert not sink.errors


async def test_graceful_kamailio_restart_keeps_calls_and_registrations(
    sip_lab: LabFactory,
) -> None:
    plan, lab, conn, sink = await sip_lab()
    async with Phone(plan, "cust1") as cust:
        talking = await answered_call(cust, sink, conn, "1001")
        await lab.restart_kamailio()
        # Registrations survived (kamailio's db_text), so a new call routes at once...
        await answered_call(cust, sink, conn, "1002")
        # ...and the call made before the restart can still be hung up through the proxy.
        await cti(conn, sink, "agent1", f"/HANGUP?CALL_ID={talking}")
        await sink.wait_for(CallReleased, call_id=talking)
        await cust.wait("CALL_CLOSED", talking)
    assert not any(isinstance(e, LineStatus) and not e.up for e in sink.events)
    assert not sink.errors


async def test_crashed_kamailio_lines_reregister(sip_lab: LabFactory) -> None:
    regint = 4
    plan, lab, _, sink = await sip_lab(options=LabOptions(regint=regint))
    async with Phone(plan, "cust1") as cust:
        await lab.restart_kamailio(crash=True)  # SIGKILL: every registration is lost
        loop = asyncio.get_running_loop()
        start = loop.time()
        while True:  # calls fail (404) until the phones' next REGISTER refresh
            await cust.cmd("dial", plan.uri("1001"))
            try:
                await sink.wait_for(CallOffered, agent="agent1", within=0.5)
                break
            except TimeoutError:
                assert loop.time() - start < 3 * regint, "agent1 never registered again"
        assert loop.time() - start <= 2 * regint
    assert not sink.errors


async def test_garbage_to_sip_ports_breaks_nothing(sip_lab: LabFactory) -> None:
    plan, lab, conn, sink = await sip_lab()
    rng = random.Random(7)
    junk = [
        b"",
        b"\x00" * 100,
        bytes(rng.randrange(256) for _ in range(1400)),
        b"INVITE sip:1001@127.0.0.1 SIP/2.0\r\nVia: garbage\r\n\r\n",
        b"SIP/2.0 200 OK\r\nCall-ID: nothing\r\nCSeq: x\r\n\r\n",
        b"REGISTER sip:x SIP/2.0\r\nContent-Length: 99999\r\n\r\nabc",
    ]
    ports = [plan.proxy_port, *(p.sip_port for p in plan.phones)]
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        for port in ports:
            for data in junk:
                s.sendto(data, (HOST, port))
    for phone in plan.phones:  # baresip's SIP/TCP listener too
        with socket.create_connection((HOST, phone.sip_port)) as t:
            t.sendall(bytes(rng.randrange(256) for _ in range(3000)))
    await asyncio.sleep(0.3)
    async with Phone(plan, "cust1") as cust:
        cid = await answered_call(cust, sink, conn, "1001")
        await cti(conn, sink, "agent1", "/HANGUP")
        await sink.wait_for(CallReleased, call_id=cid)
    assert lab.kamailio is not None and lab.kamailio.starts == 1
    assert all(p.starts == 1 for p in lab.phones.values())
    assert not any(isinstance(e, LineStatus) and not e.up for e in sink.events)
    assert not sink.errors
