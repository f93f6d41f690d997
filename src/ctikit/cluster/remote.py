"""Connector requests between nodes: any node asks, the lease holder carries them out.

A request is a JSON object pushed on the list ``P connector:requests``; the node holding the
connector lease pops it, runs it on its connector and pushes the outcome on the request's
own reply list, which expires. A request not started by its deadline is dropped unrun:
whoever sent it has already told its caller it failed. A command's outcome is the one its
reply waits for on a single node (:mod:`ctikit.core.outcomes`): the holder replies once the
connector reported it, so the asking node replies then too.

:class:`ForwardingTelephony` is the telephony side of every cluster node's service: on the
lease holder it runs commands on the connector there (:class:`~.lease.LeadLoop`), elsewhere
it sends them through Redis.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import secrets
import time
from collections.abc import Callable, Coroutine, Mapping, Sequence
from typing import Any

import msgspec
import redis.asyncio as aioredis
from redis.exceptions import RedisError

from ..connectors.base import ActionFailedError, Capability, Connector
from ..core.commands import Action
from ..core.errors import CommandRejectedError, CtiError, TelephonyError
from ..core.events import Event
from ..core.model import check_agent_id
from ..core.telephony import ConnectorAction, TelephonyEvent
from ..server.backend import StateBackend
from ..server.telephony import (
    CommandTimeoutError,
    LocalTelephony,
    UnsupportedError,
    check_command_timeout,
)
from .backend import RedisBackend
from .lease import LeadLoop, Lease

log = logging.getLogger("ctikit.cluster")

REPLY_TTL_SECONDS = 30
_encode = msgspec.json.Encoder().encode
_decode = msgspec.json.Decoder().decode


class Kind(enum.StrEnum):
    EXECUTE = "execute"
    PLACE_CALL = "place"


def new_request(
    kind: Kind, payload: Mapping[str, Any], *, prefix: str, within: float
) -> tuple[str, bytes]:
    """``(reply key, request bytes)`` for a request that must start within ``within`` s."""
    reply = f"{prefix}connector:reply:{secrets.token_hex(12)}"
    body = {
        "kind": kind.value,
        "payload": dict(payload),
        "reply": reply,
        "deadline": time.time() + within,
    }
    return reply, _encode(body)


def parse_request(raw: bytes | str, *, prefix: str) -> tuple[Kind, dict[str, Any], str, float]:
    """Validate a popped request; raises ValueError on anything malformed."""
    try:
        obj = _decode(raw)
    except msgspec.DecodeError as exc:
        raise ValueError(f"not JSON: {exc}") from None
    if not isinstance(obj, dict):
        raise ValueError("not an object")
    kind, payload, reply, deadline = (obj.get(k) for k in ("kind", "payload", "reply", "deadline"))
    if (
        not isinstance(reply, str)
        or not reply.startswith(f"{prefix}connector:reply:")
        or len(reply) > 200
    ):
        raise ValueError("bad reply key")
    if not isinstance(payload, dict) or not isinstance(deadline, int | float):
        raise ValueError("bad payload or deadline")
    if not isinstance(kind, str):
        raise ValueError("bad kind")
    return Kind(kind), payload, reply, float(deadline)


#: Error codes a reply may carry, and what the asking node raises for each. Anything else
#: (and ``action_failed``: the connector refused) is an ActionFailedError.
_REPLY_ERRORS: dict[str, type[CtiError]] = {
    "command_rejected": CommandRejectedError,
    "timeout": CommandTimeoutError,
    "unsupported": UnsupportedError,
}


def encode_reply(
    *, ok: bool, value: Any = None, error: str | None = None, code: str = "action_failed"
) -> bytes:
    return _encode({"ok": ok, "value": value, "error": error, "code": None if ok else code})


def parse_reply(raw: bytes | str) -> Any:
    """The value of a successful reply. A refusal raises what the holder raised (by its
    code: :data:`_REPLY_ERRORS`), else ActionFailedError, with the holder's message."""
    try:
        obj = _decode(raw)
    except msgspec.DecodeError:
        raise ActionFailedError("the connector node sent a malformed reply") from None
    if not isinstance(obj, dict):
        raise ActionFailedError("the connector node sent a malformed reply")
    if not obj.get("ok"):
        message = str(obj.get("error") or "the connector node refused")
        error = _REPLY_ERRORS.get(str(obj.get("code")))
        raise error(message) if error is not None else ActionFailedError(message)
    return obj.get("value")


def action_to_dict(action: ConnectorAction) -> dict[str, Any]:
    return {
        "agent": action.agent,
        "action": action.action.value,
        "call_id": action.call_id,
        "number": action.number,
        "digits": action.digits,
        "data": action.data,
        "held_call_id": action.held_call_id,
    }


def action_from_dict(raw: Mapping[str, Any]) -> ConnectorAction:
    """Raises ValueError on anything a node would not have sent."""
    for name in ("call_id", "number", "digits", "held_call_id"):
        if raw.get(name) is not None and not isinstance(raw[name], str):
            raise ValueError(f"{name} must be a string")
    try:
        agent = check_agent_id(raw.get("agent"))
    except Exception as exc:
        raise ValueError(f"bad agent: {exc}") from None
    action = raw.get("action")
    if not isinstance(action, str):
        raise ValueError("action must be a string")
    return ConnectorAction(
        agent=agent,
        action=Action(action),
        call_id=raw.get("call_id"),
        number=raw.get("number"),
        digits=raw.get("digits"),
        data=raw.get("data"),
        held_call_id=raw.get("held_call_id"),
    )


#: A request not started by the lease holder within this is dropped (seconds).
START_WITHIN = 5.0
#: How much longer than a command's own time limit the asking node waits for the reply.
REPLY_MARGIN = 5.0


def reply_wait(command_timeout: float) -> float:
    """How long a node waits for the lease holder's reply to a request."""
    return START_WITHIN + command_timeout + REPLY_MARGIN


class ForwardingTelephony:
    """The telephony side of a cluster node (see the module docstring).

    ``make_connector`` builds a fresh connector each time this node takes the lease;
    ``prototype`` (one such connector, never started) tells the name and capabilities.
    """

    def __init__(
        self,
        redis: aioredis.Redis,
        backend: RedisBackend,
        lease: Lease,
        make_connector: Callable[[], Connector],
        prototype: Connector,
        *,
        command_timeout: float,
    ) -> None:
        self.redis = redis
        self.backend = backend
        self.prefix = backend.prefix
        self.command_timeout = check_command_timeout(command_timeout)
        self.lead = LeadLoop(
            lease, make_connector, command_timeout=command_timeout, on_lead=self._serve
        )
        self._name = prototype.name
        # Taking calls over is the holder's own business; a scenario would play once per
        # takeover, so scenarios are for a single node. Consult commands are forwarded like
        # any other (a consult's link lives in the holder's connector: a takeover loses it).
        self._capabilities = prototype.capabilities & {
            Capability.PLACE_CALLS,
            Capability.CONSULT,
            Capability.CONFERENCE,
        }
        self._tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def name(self) -> str:
        return self._name

    @property
    def capabilities(self) -> frozenset[Capability]:
        return self._capabilities

    @property
    def requests_key(self) -> str:
        return f"{self.prefix}connector:requests"

    async def start(self, backend: StateBackend) -> None:
        self._stopping = False
        await self.lead.start(backend)

    async def stop(self) -> None:
        self._stopping = True
        await self.lead.stop()
        for task in list(self._tasks):
            task.cancel()
        if self._tasks:
            await asyncio.wait(self._tasks, timeout=5)

    async def execute(self, action: ConnectorAction) -> None:
        local = self.lead.local
        if local is not None:
            await local.execute(action)
            return
        try:
            await self._ask(Kind.EXECUTE, action_to_dict(action))
        except ActionFailedError as exc:
            raise CommandRejectedError(f"/{action.action.value}: {exc}") from None

    async def place_inbound_call(
        self, agent: str, *, ani: str | None, dnis: str | None, data: Mapping[str, Any] | None
    ) -> str:
        if Capability.PLACE_CALLS not in self._capabilities:
            raise UnsupportedError(f"the {self._name} connector cannot place test calls")
        local = self.lead.local
        if local is not None:
            return await self._place_here(local, agent, ani, dnis, data)
        call_id = await self._ask(
            Kind.PLACE_CALL,
            {"agent": agent, "ani": ani, "dnis": dnis, "data": dict(data) if data else None},
        )
        if not isinstance(call_id, str):
            raise ActionFailedError("the connector node sent a malformed call ID")
        return call_id

    def run_scenario(self, path: str) -> asyncio.Task[list[str | None]]:
        raise UnsupportedError("scenarios run on a single node only, not in cluster mode")

    def health(self) -> dict[str, Any]:
        return {"cluster": {"drivesConnector": self.lead.local is not None}}

    async def not_ready(self) -> str | None:
        local = self.lead.local
        if local is not None:
            return await local.not_ready()
        if await self.lead.lease.holder_now() is None:
            return "no node holds the connector lease (a takeover is under way or none can)"
        return None

    # ------------------------------------------------------- ReportListener

    def committed(self, events: Sequence[Event]) -> None:
        local = self.lead.local
        if local is not None:
            local.committed(events)

    def dropped(self, event: TelephonyEvent, error: TelephonyError) -> None:
        local = self.lead.local
        if local is not None:
            local.dropped(event, error)

    async def state_lost(self) -> None:
        # The connector's lines hold calls the new state does not know: start it afresh
        # (the lease loop takes the lease again, here or elsewhere) so both agree.
        await self.lead.restart()

    # ------------------------------------------------------ the asking node

    async def _ask(self, kind: Kind, payload: Mapping[str, Any]) -> Any:
        try:
            if await self.lead.lease.holder_now() is None:
                raise ActionFailedError(
                    "no node drives the telephony connector right now (a takeover takes up to "
                    f"{self.lead.lease.ttl_ms / 1000:g} s): try again"
                )
            reply, body = new_request(kind, payload, prefix=self.prefix, within=START_WITHIN)
            await self.redis.rpush(self.requests_key, body)
            got = await self.redis.blpop([reply], timeout=reply_wait(self.command_timeout))
        except (RedisError, OSError) as exc:
            raise ActionFailedError(f"the cluster's Redis is unreachable: {exc}") from None
        if got is None:
            raise ActionFailedError("the node driving the telephony connector did not answer")
        return parse_reply(got[1])

    # ------------------------------------------------------ the lease holder

    async def _place_here(
        self,
        local: LocalTelephony,
        agent: str,
        ani: str | None,
        dnis: str | None,
        data: Mapping[str, Any] | None,
    ) -> str:
        call_id = await local.place_inbound_call(agent, ani=ani, dnis=dnis, data=data)
        # Its offer is committed before the caller hears of the call: as on a single node.
        await self.backend.settled(agent)
        return call_id

    def _serve(self) -> None:
        self._spawn(self._serve_requests())

    async def _serve_requests(self) -> None:
        while self.lead.local is not None and not self._stopping:
            try:
                item = await self.redis.blpop([self.requests_key], timeout=1)
            except (RedisError, OSError):
                await asyncio.sleep(0.2)
                continue
            if item is not None:
                self._spawn(self._serve_one(item[1]))

    async def _serve_one(self, raw: bytes | str) -> None:
        try:
            kind, payload, reply, deadline = parse_request(raw, prefix=self.prefix)
        except ValueError as exc:
            log.warning("ignored a malformed connector request: %s", exc)
            return
        if deadline < time.time():
            return  # its sender gave up already
        try:
            out = encode_reply(ok=True, value=await self.run_locally(kind, payload))
        except ActionFailedError as exc:
            out = encode_reply(ok=False, error=str(exc))
        except CtiError as exc:
            out = encode_reply(ok=False, error=exc.message, code=exc.code)
        except ValueError as exc:
            out = encode_reply(ok=False, error=str(exc))
        except Exception:
            log.exception("connector request %s failed", kind)
            out = encode_reply(ok=False, error="internal error on the connector node")
        try:
            await self.redis.rpush(reply, out)
            await self.redis.expire(reply, REPLY_TTL_SECONDS)
        except (RedisError, OSError) as exc:
            log.warning("could not reply to a connector request: %s", exc)

    async def run_locally(self, kind: Kind, payload: Mapping[str, Any]) -> Any:
        """Carry out a request on this node's connector (it must hold the lease)."""
        local = self.lead.local
        if local is None:
            raise ActionFailedError("this node no longer drives the telephony connector")
        if kind is Kind.EXECUTE:
            await local.execute(action_from_dict(payload))
            return None
        data, agent = payload.get("data"), check_agent_id(payload.get("agent"))
        return await self._place_here(
            local,
            agent,
            _str(payload.get("ani")),
            _str(payload.get("dnis")),
            data if isinstance(data, dict) else None,
        )

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)


def _str(value: object) -> str | None:
    return value if isinstance(value, str) else None
