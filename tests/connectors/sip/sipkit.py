"""Helpers of the real-process SIP tests: binaries check, a recording sink, caller phones."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import TypeVar

from ctikit.connectors.sip import CtrlConnection, SipConnector
from ctikit.connectors.sip.baresip import BaresipEvent, Response
from ctikit.core import CallRegistry
from ctikit.core.commands import parse
from ctikit.core.telephony import TelephonyEvent
from ctikit.lab import LabPlan

T = TypeVar("T")
WAIT = 5.0  # seconds: loopback SIP answers in milliseconds, this is only a safety net


class RecordingSink:
    """Records events in order and applies each to a real registry (errors are kept)."""

    def __init__(self) -> None:
        self.events: list[TelephonyEvent] = []
        self.errors: list[Exception] = []
        self.registry = CallRegistry()
        self._changed = asyncio.Event()
        self.on_event: Callable[[TelephonyEvent], None] | None = None

    def report(self, event: TelephonyEvent) -> None:
        self.events.append(event)
        try:
            self.registry.apply(event, now=time.time())
        except Exception as exc:
            self.errors.append(exc)
        if self.on_event is not None:
            self.on_event(event)
        self._changed.set()

    def of(self, agent: str) -> list[TelephonyEvent]:
        return [e for e in self.events if e.agent == agent]

    async def wait_for(self, cls: type[T], *, within: float = WAIT, **fields: object) -> T:
        """The first event of type ``cls`` with these field values (waits for it)."""
        async with asyncio.timeout(within):
            while True:
                for e in self.events:
                    if isinstance(e, cls) and all(getattr(e, k) == v for k, v in fields.items()):
                        return e
                self._changed.clear()
                await self._changed.wait()

    async def wait_until(self, cond: Callable[[], bool], *, within: float = WAIT) -> None:
        async with asyncio.timeout(within):
            while not cond():
                self._changed.clear()
                await self._changed.wait()


async def eventually(cond: Callable[[], bool], *, within: float = WAIT) -> None:
    """Poll ``cond`` (for state that changes without a sink event, e.g. RTP flowing)."""
    async with asyncio.timeout(within):
        while not cond():  # noqa: ASYNC110 - nothing signals these changes: poll
            await asyncio.sleep(0.01)


async def cti(conn: SipConnector, sink: RecordingSink, agent: str, message: str) -> None:
    """Send a CTI command the way the server does: parse, resolve in the registry, execute."""
    cmd = parse(message)
    assert cmd is not None, message
    await conn.execute(sink.registry.resolve_command(agent, cmd))


class Phone:
    """A caller's baresip driven directly over ctrl_tcp, recording its events."""

    def __init__(self, plan: LabPlan, user: str) -> None:
        self.plan = plan
        self.spec = plan.caller(user)
        self.events: list[BaresipEvent] = []
        self._changed = asyncio.Event()
        self.conn: CtrlConnection | None = None
        self._dialled: set[str] = set()

    async def __aenter__(self) -> Phone:
        self.conn = await CtrlConnection.open(*self.spec.ctrl, self._on_event, name=self.spec.name)
        return self

    async def __aexit__(self, *exc: object) -> None:
        assert self.conn is not None
        await self.conn.close()

    def _on_event(self, ev: BaresipEvent) -> None:
        self.events.append(ev)
        self._changed.set()

    async def cmd(self, command: str, params: str | None = None) -> Response:
        assert self.conn is not None
        resp = await self.conn.request(command, params)
        assert resp.ok, (command, resp)
        return resp

    async def dial(self, number: str) -> str:
        """Dial ``number`` through the proxy; returns the SIP Call-ID."""
        await self.cmd("dial", self.plan.uri(number))
        ev = await self.wait_event(
            lambda e: (
                e.call_id is not None
                and e.direction == "outgoing"
                and e.call_id not in self._dialled
            )
        )
        assert ev.call_id is not None
        self._dialled.add(ev.call_id)
        return ev.call_id

    async def wait_event(
        self, pred: Callable[[BaresipEvent], bool], *, within: float = WAIT
    ) -> BaresipEvent:
        async with asyncio.timeout(within):
            while True:
                for e in self.events:
                    if pred(e):
                        return e
                self._changed.clear()
                await self._changed.wait()

    async def wait(self, etype: str, call_id: str | None = None, **kw: object) -> BaresipEvent:
        return await self.wait_event(
            lambda e: (
                e.type == etype
                and (call_id is None or e.call_id == call_id)
                and all(getattr(e, k) == v for k, v in kw.items())
            ),
            within=WAIT,
        )

    async def hangup(self, call_id: str) -> None:
        await self.cmd("callfind", call_id)
        await self.cmd("hangup")
