"""The SIP connector on a lab's phones.

The connector is built from plain data (where each line's ``ctrl_tcp`` listens, the caller
phone); :func:`line_endpoints` and :func:`caller_endpoint` read them off a plan.
:class:`LabConnector` is what ``ctikit demo --sip`` runs: a connector that starts its lab
first and stops it last, so a server (or a cluster node taking over) owns both as one.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from ..connectors.base import Capability, EventSink
from ..connectors.sip import CallerEndpoint, LineEndpoint, SipConnector
from ..core.telephony import ConnectorAction
from .plan import AgentSpec, LabOptions, LabPlan, plan_lab
from .sip import SipLab


def line_endpoints(plan: LabPlan) -> list[LineEndpoint]:
    """Where each agent line of ``plan`` is controlled, with the AORs it registers."""
    return [
        LineEndpoint(agent=p.agent, host=p.ctrl[0], port=p.ctrl_port, aors=p.aors(plan.proxy_port))
        for p in plan.agent_phones()
        if p.agent is not None
    ]


def caller_endpoint(plan: LabPlan, user: str) -> CallerEndpoint:
    """The caller phone ``user`` of ``plan``, for :meth:`SipConnector.place_inbound_call`."""
    spec = plan.caller(user)
    return CallerEndpoint(host=spec.ctrl[0], port=spec.ctrl_port)


def connector_for(plan: LabPlan, *, caller: str | None = None, **kwargs: Any) -> SipConnector:
    """A connector for the agent phones of ``plan`` (it starts nothing). ``caller`` names the
    plan's caller phone that :meth:`~SipConnector.place_inbound_call` dials from."""
    return SipConnector(
        line_endpoints(plan),
        directory=plan.directory(),
        proxy=plan.proxy,
        caller=caller_endpoint(plan, caller) if caller is not None else None,
        **kwargs,
    )


class LabConnector:
    """A :class:`SipConnector` together with the :class:`SipLab` running its phones
    (implements ``Connector`` and ``CallPlacer``): :meth:`start` starts the lab, then the
    connector; :meth:`stop` the other way round."""

    name = "sip"

    def __init__(self, lab: SipLab, connector: SipConnector, *, ready_timeout: float = 15.0):
        self.lab = lab
        self.connector = connector
        self._ready_timeout = ready_timeout

    @classmethod
    def for_plan(
        cls, plan: LabPlan, *, caller: str | None = None, ready_timeout: float = 15.0, **kw: Any
    ) -> LabConnector:
        conn = connector_for(plan, caller=caller, ready_timeout=ready_timeout, **kw)
        return cls(SipLab(plan), conn, ready_timeout=ready_timeout)

    @classmethod
    def new(
        cls,
        extensions: Mapping[str, str],
        *,
        root: Path | None = None,
        lines: int = 2,
        queue: str | None = None,
        options: LabOptions | None = None,
        **kwargs: Any,
    ) -> LabConnector:
        """A fresh lab: ``extensions`` maps agent ID -> extension; every agent gets ``lines``
        lines (and answers ``queue``, if given); a caller phone ("customer") places test
        calls. Files go to ``root`` (default: a new temp dir)."""
        agents = [
            AgentSpec(agent=agent, extension=ext, lines=lines, queues=(queue,) if queue else ())
            for agent, ext in extensions.items()
        ]
        where = root or Path(tempfile.mkdtemp(prefix="ctikit-sip-"))
        plan = plan_lab(where, agents, ["customer"], options)
        return cls.for_plan(plan, caller="customer", **kwargs)

    @property
    def plan(self) -> LabPlan:
        return self.lab.plan

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self.connector.capabilities

    async def start(self, sink: EventSink) -> None:
        """Start the lab (every phone registered), then the connector."""
        await self.lab.start(ready_timeout=self._ready_timeout)
        try:
            await self.connector.start(sink)
        except BaseException:
            await self.lab.stop()
            raise

    async def stop(self) -> None:
        """Stop the connector (calls released, lines down), then the lab. Idempotent."""
        try:
            await self.connector.stop()
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
        return await self.connector.place_inbound_call(agent, ani=ani, dnis=dnis, data=data)

    async def caller_hangup(self, call_id: str) -> None:
        await self.connector.caller_hangup(call_id)
