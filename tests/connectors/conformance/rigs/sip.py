"""Real SIP: kamailio and one baresip per agent line (``ctikit.lab``), on loopback.

The network: agent1 (1001) and agent2 (1002) with two lines each; a caller phone
("customer") that :meth:`SipConnector.place_inbound_call` dials from; a phone registered as
5550100 that answers every call at once (the far end of dial-outs and transfers, driven
here over its ``ctrl_tcp``: it is no part of the connector); and the lab's kamailio, which
fails 5550486 and 5550603 like a carrier and answers 404 for numbers nobody registered.
Real time, with bounded waits.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from pathlib import Path

from ctikit.connectors.sip import CtrlConnection, SipConnector
from ctikit.connectors.sip.baresip import BaresipEvent
from ctikit.lab import AgentSpec, LabPlan, SipLab, connector_for, plan_lab

from ..rig import REFERENCE, Recorder, Rig

WITHIN = 8.0  # seconds a wait may take: loopback SIP answers in milliseconds
SETTLE = 0.3  # seconds for stray events
CUSTOMER = "customer"


class FarEnd:
    """The phone of :attr:`Numbers.answers`: answers every incoming call, records DTMF."""

    def __init__(self, plan: LabPlan) -> None:
        self.spec = plan.caller(REFERENCE.answers)
        self.conn: CtrlConnection | None = None
        self.digits: dict[str, str] = {}  # SIP Call-ID -> digits received
        self._tasks: set[asyncio.Task[object]] = set()

    async def open(self) -> None:
        self.conn = await CtrlConnection.open(*self.spec.ctrl, self._on_event, name="far end")

    async def close(self) -> None:
        for task in self._tasks:
            task.cancel()
        if self.conn is not None:
            await self.conn.close()

    def _on_event(self, ev: BaresipEvent) -> None:
        if ev.type == "CALL_INCOMING" and ev.call_id is not None:
            task = asyncio.get_running_loop().create_task(self._accept(ev.call_id))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        elif ev.type == "CALL_DTMF_START" and ev.call_id is not None:
            self.digits[ev.call_id] = self.digits.get(ev.call_id, "") + (ev.param or "")

    async def _accept(self, call_id: str) -> None:
        assert self.conn is not None
        await self.conn.request("callfind", call_id)
        await self.conn.request("accept")

    async def hangup(self, call_id: str) -> None:
        assert self.conn is not None
        for command, params in (("callfind", call_id), ("hangup", None)):
            resp = await self.conn.request(command, params)
            assert resp.ok, (command, resp)


class SipRig(Rig):
    name = "sip"

    def __init__(self, plan: LabPlan) -> None:
        self.lab = SipLab(plan)
        self.sip: SipConnector = connector_for(plan, caller=CUSTOMER)
        self.far_end = FarEnd(plan)
        super().__init__(self.sip, Recorder(time.time))

    def now(self) -> float:
        return time.time()

    async def wait_until(self, cond: Callable[[], bool], *, what: str) -> None:
        changed = self.recorder.changed
        try:
            async with asyncio.timeout(WITHIN):
                while not cond():
                    changed.clear()
                    # Events wake us; the far end's DTMF does not: look again every 20 ms.
                    try:
                        async with asyncio.timeout(0.02):
                            await changed.wait()
                    except TimeoutError:
                        pass
        except TimeoutError:
            raise AssertionError(f"never happened within {WITHIN} s: {what}") from None

    async def settle(self) -> None:
        await asyncio.sleep(SETTLE)

    async def caller_hangup(self, call_id: str) -> None:
        await self.sip.caller_hangup(call_id)

    async def far_end_hangup(self, call_id: str) -> None:
        await self.far_end.hangup(call_id)

    def digits_heard(self, call_id: str) -> str:
        return self.far_end.digits.get(call_id, "")


@asynccontextmanager
async def sip_rig(tmp_path: Path) -> AsyncIterator[Rig]:
    agents = [
        AgentSpec(agent=agent, extension=ext, lines=2)
        for agent, ext in REFERENCE.extensions.items()
    ]
    rig = SipRig(plan_lab(tmp_path / "lab", agents, [CUSTOMER, REFERENCE.answers]))
    try:
        await rig.lab.start()
        await rig.far_end.open()
        await rig.sip.start(rig.recorder)
        yield rig
    finally:
        await rig.sip.stop()
        await rig.far_end.close()
        await rig.lab.stop()
