"""``ctikit demo --webrtc``: the webrtc connector on a lab it starts first.

The product's :class:`~ctikit.connectors.webrtc.WebrtcConnector` starts nothing: consoles
register to the operator's SIP server. For the demo that server is a lab on 127.0.0.1
(kamailio with WebSocket, rtpengine, and a baresip "customer" phone that places test calls),
with a fresh random SIP password per agent. :class:`WebrtcLabConnector` starts the lab, then
the connector, and stops them the other way round.
"""

from __future__ import annotations

import asyncio
import random
import secrets
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..connectors.base import ActionFailedError, Capability, EventSink
from ..connectors.sim.callers import random_caller
from ..connectors.sip.baresip import parse_callstat, sip_uri
from ..connectors.sip.ctrl import CtrlConnection, CtrlError
from ..connectors.webrtc import SipAccount, WebrtcConnector
from ..core.telephony import ConnectorAction
from .plan import HOST, LabOptions, LabPlan, WebAgent, plan_lab
from .sip import SipLab

CALLER = "customer"


class WebrtcLabConnector:
    """A :class:`WebrtcConnector` on a lab of its own (implements ``Connector`` and
    ``CallPlacer``: the lab's customer phone calls an agent's console)."""

    name = "webrtc"

    def __init__(self, lab: SipLab, connector: WebrtcConnector) -> None:
        self.lab = lab
        self.connector = connector
        self._caller: CtrlConnection | None = None
        self._caller_uas: set[str] = set()
        self._lock = asyncio.Lock()
        self._rng = random.Random()

    @classmethod
    def new(
        cls, extensions: Mapping[str, str], *, root: Path | None = None, grace: float = 10.0
    ) -> WebrtcLabConnector:
        """A fresh lab for agents ``extensions`` (agent ID -> extension)."""
        web = [
            WebAgent(agent=a, extension=ext, password=secrets.token_urlsafe(12))
            for a, ext in extensions.items()
        ]
        where = root or Path(tempfile.mkdtemp(prefix="ctikit-webrtc-"))
        plan = plan_lab(where, [], [CALLER], LabOptions(), web_agents=web)
        assert plan.webrtc is not None
        accounts = {w.agent: SipAccount(extension=w.extension, password=w.password) for w in web}
        connector = WebrtcConnector(
            accounts,
            ws_url=plan.webrtc.ws_url,
            domain=f"{HOST}:{plan.proxy_port}",
            grace=grace,
        )
        return cls(SipLab(plan), connector)

    @property
    def plan(self) -> LabPlan:
        return self.lab.plan

    @property
    def capabilities(self) -> frozenset[Capability]:
        return frozenset({Capability.PLACE_CALLS})

    async def start(self, sink: EventSink) -> None:
        await self.lab.start()
        try:
            await self.connector.start(sink)
        except BaseException:
            await self.lab.stop()
            raise

    async def stop(self) -> None:
        try:
            await self.connector.stop()
            if self._caller is not None:
                await self._caller.close()
        finally:
            await self.lab.stop()

    async def execute(self, action: ConnectorAction) -> None:
        await self.connector.execute(action)

    async def place_inbound_call(
        self,
        agent: str,
        *,
        ani: str | None = None,
        dnis: str | None = None,
        data: Mapping[str, Any] | None = None,
    ) -> str:
        """The customer phone calls ``agent``'s console as ``ani``; the SIP Call-ID."""
        account = self.connector.accounts.get(agent)
        if account is None:
            raise ActionFailedError(f"{agent} has no extension")
        made_up = random_caller(self._rng)
        ani = made_up.ani if ani is None else ani
        proxy = self.plan.proxy
        aor = sip_uri(ani, *proxy)
        async with self._lock:
            try:
                conn = await self._connection()
                if ani not in self._caller_uas:
                    # A UA per ANI, never registered, so the call's From is the ANI.
                    await _ok(conn, "uanew", f"<{aor};transport=udp>;regint=0")
                    self._caller_uas.add(ani)
                self.connector.model.expect_call(
                    agent, ani, made_up.data if data is None else data,
                    dnis=made_up.dnis if dnis is None else dnis,
                )  # fmt: skip
                await _ok(conn, "uafind", aor)
                await _ok(conn, "dial", sip_uri(account.extension, *proxy))
                found = parse_callstat((await _ok(conn, "callstat")).data)
            except (CtrlError, OSError) as exc:
                raise ActionFailedError(f"caller phone: {exc}") from None
        if found is None:
            raise ActionFailedError("the caller phone did not start the call")
        return found[1]

    async def _connection(self) -> CtrlConnection:
        if self._caller is None or self._caller.closed:
            spec = self.plan.caller(CALLER)
            self._caller = await CtrlConnection.open(*spec.ctrl, name="caller")
            self._caller_uas = set()
        return self._caller


async def _ok(conn: CtrlConnection, command: str, params: str | None = None) -> Any:
    resp = await conn.request(command, params)
    if not resp.ok:
        raise ActionFailedError(f"caller phone refused {command}: {resp.data.strip()}")
    return resp
