"""Webhooks: events to operators' URLs through a durable outbox (docs/webhooks.md).

- What is sent: :data:`WEBHOOK_EVENTS` maps a core event class to a webhook event name and
  its ``data``; :func:`register_event` adds more (agent state, when it comes). ``call.log_saved``
  is written by the call-log store in the log's own transaction (:meth:`Webhooks.log_rows`).
- Durable before acknowledged: the backends hand every committed batch of events to
  :meth:`Webhooks.tap`, which queues outbox rows for one writer task (group commit); the
  console's ``fireOnCallBegin`` / ``fireOnCallEnd`` reply only after :meth:`flushed`.
- Delivery (:meth:`Webhooks.run`): due rows are claimed for ``webhook_timeout`` + a margin,
  POSTed with an HMAC-SHA256 signature over ``"{timestamp}.{body}"``, deleted on 2xx, retried
  with doubling delays otherwise, and parked as dead letters after the last attempt. A
  process killed mid-delivery leaves its claims to run out: the event goes again, with the
  same ``id`` (at least once; receivers de-duplicate on it).
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import logging
import random
import secrets
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import aiohttp

from ..config import Config
from ..core.events import CallBegan, CallEnded, Event
from ..storage import CallLog, CallLogStore
from ..storage.webhooks import Delivery, Endpoint, WebhookStore

log = logging.getLogger("ctikit.webhooks")

#: Event data for a webhook: ``(event) -> data``.
DataOf = Callable[[Any], dict[str, Any]]


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    name: str
    data: DataOf


#: Core event class -> what its webhook is. Extend with :func:`register_event`.
WEBHOOK_EVENTS: dict[type[Event], WebhookEvent] = {}
#: Every name an endpoint may subscribe to (``call.log_saved`` comes from the store).
EVENT_NAMES: set[str] = {"call.log_saved"}


def register_event(cls: type[Event], name: str, data: DataOf) -> None:
    """Send ``cls`` events as webhook ``name`` with ``data(event)`` as their data."""
    WEBHOOK_EVENTS[cls] = WebhookEvent(name, data)
    EVENT_NAMES.add(name)


register_event(CallBegan, "call.begin", lambda e: {"call": e.call.to_dict()})
register_event(
    CallEnded,
    "call.end",
    lambda e: {"call": e.call.to_dict(), "duration": e.duration, "disposition": e.disposition},
)

SIGNATURE_HEADER = "Ctikit-Signature"
#: Rows queued in memory while the database is away; past it new events are dropped (logged).
MAX_QUEUED_ROWS = 100_000
#: Deliveries in flight at once per node.
MAX_IN_FLIGHT = 32
#: How often a node looks for due deliveries when nothing woke it (others' rows, retries).
POLL_SECONDS = 0.5
#: How often the endpoint list is re-read (endpoints added on another node).
ENDPOINTS_TTL = 2.0


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The ``Ctikit-Signature`` header: ``t=TIMESTAMP,v1=HEX`` where HEX is
    HMAC-SHA256(secret, "TIMESTAMP." + body)."""
    mac = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256)
    return f"t={timestamp},v1={mac.hexdigest()}"


def new_secret() -> str:
    return "whsec_" + secrets.token_urlsafe(32)


def _payload(event_id: str, name: str, at: datetime, agent: str, data: dict[str, Any]) -> str:
    body = {"id": event_id, "type": name, "createdAt": at.isoformat(), "agent": agent, "data": data}
    return json.dumps(body, separators=(",", ":"), ensure_ascii=False)


class Webhooks:
    """The outbox writer and the sender of one node."""

    def __init__(self, store: CallLogStore, config: Config) -> None:
        self.db = WebhookStore(store)
        self.max_attempts = config.webhook_max_attempts
        self.retry_seconds = config.webhook_retry_seconds
        self.retry_max = config.webhook_retry_max_seconds
        self.timeout = config.webhook_timeout
        self.endpoints: list[Endpoint] = []
        self._endpoints_read = -1e9
        self._rows: list[dict[str, Any]] = []
        self._next: asyncio.Future[None] | None = None  # the batch being gathered
        self._writing: asyncio.Future[None] | None = None  # the batch being written
        self._writer: asyncio.Task[None] | None = None
        self._wake = asyncio.Event()
        self.counts = {"pending": 0, "dead": 0}  # as last read (metrics)
        self.delivered = 0
        self.failures = 0

    # ------------------------------------------------------------- writing

    def _subscribers(self, name: str) -> list[Endpoint]:
        return [e for e in self.endpoints if name in e.events]

    def _rows_for(self, name: str, agent: str, data: dict[str, Any]) -> list[dict[str, Any]]:
        targets = self._subscribers(name)
        if not targets:
            return []
        now = datetime.now(UTC)
        event_id = "evt_" + uuid.uuid4().hex
        payload = _payload(event_id, name, now, agent, data)
        return [
            {
                "event_id": event_id,
                "endpoint_id": e.id,
                "event": name,
                "payload": payload,
                "created_at": now,
                "next_attempt_at": now,
                "attempts": 0,
            }
            for e in targets
        ]

    def log_rows(self, record: CallLog) -> list[dict[str, Any]]:
        """Outbox rows for a call log about to be saved (the store's ``log_outbox``)."""
        rows = self._rows_for("call.log_saved", record.agent_id, {"log": record.to_dict()})
        return [{**r, "status": "pending"} for r in rows]

    def tap(self, events: Sequence[Event]) -> None:
        """Queue outbox rows for the events that are webhooks (see the module docstring)."""
        if not self.endpoints:
            return
        rows: list[dict[str, Any]] = []
        for event in events:
            kind = WEBHOOK_EVENTS.get(type(event))
            if kind is not None:
                rows += self._rows_for(kind.name, event.agent, kind.data(event))
        if not rows:
            return
        if len(self._rows) + len(rows) > MAX_QUEUED_ROWS:
            waiting = len(self._rows)
            log.error(
                "webhook outbox: %d rows wait for the database; dropped %d", waiting, len(rows)
            )
            return
        self._rows += rows
        if self._next is None:
            self._next = asyncio.get_running_loop().create_future()
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def flushed(self) -> None:
        """Return once every row queued so far is committed (raises if its write failed)."""
        waits = [f for f in (self._writing, self._next) if f is not None]
        for fut in waits:
            await asyncio.shield(fut)

    async def _write(self) -> None:
        while self._rows:
            rows, self._rows = self._rows, []
            fut, self._next = self._next, None
            assert fut is not None
            self._writing = fut
            try:
                await self.db.enqueue(rows)
            except Exception as exc:
                log.error("webhook outbox: could not write %d rows (retrying): %s", len(rows), exc)
                self._rows = rows + self._rows
                if not fut.done():
                    fut.set_exception(exc)
                    fut.add_done_callback(lambda f: f.exception())
                if self._next is None:
                    self._next = asyncio.get_running_loop().create_future()
                await asyncio.sleep(1.0)
                continue
            finally:
                self._writing = None
            if not fut.done():
                fut.set_result(None)
            self.wake()

    def wake(self) -> None:
        """Deliver now (rows were committed on this node)."""
        self._wake.set()

    # ---------------------------------------------------------- delivering

    async def refresh(self, *, force: bool = False) -> None:
        now = time.monotonic()
        if force or now - self._endpoints_read > ENDPOINTS_TTL:
            self.endpoints = await self.db.endpoints()
            self._endpoints_read = now

    async def run(self) -> None:
        """Deliver due rows until cancelled."""
        async with aiohttp.ClientSession(
            timeout=aiohttp.ClientTimeout(total=self.timeout),
            headers={"User-Agent": "ctikit-webhooks"},
        ) as http:
            while True:
                try:
                    await self.refresh()
                    sent = await self._round(http)
                    if sent == 0:
                        self.counts = await self.db.counts()
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # the database is away: try again shortly
                    log.warning("webhook delivery round failed: %s", exc)
                    sent = 0
                if sent < MAX_IN_FLIGHT:
                    self._wake.clear()
                    try:
                        async with asyncio.timeout(POLL_SECONDS):
                            await self._wake.wait()
                    except TimeoutError:
                        pass

    async def _round(self, http: aiohttp.ClientSession) -> int:
        now = datetime.now(UTC)
        until = now + timedelta(seconds=self.timeout + 5)
        due = await self.db.claim_due(now, until, MAX_IN_FLIGHT)
        if due:
            await asyncio.gather(*(self._deliver(http, d) for d in due))
        return len(due)

    async def _deliver(self, http: aiohttp.ClientSession, d: Delivery) -> None:
        endpoint = next((e for e in self.endpoints if e.id == d.endpoint_id), None)
        if endpoint is None:
            await self.refresh(force=True)
            endpoint = next((e for e in self.endpoints if e.id == d.endpoint_id), None)
            if endpoint is None:  # removed since: nothing owed any more
                await self.db.delivered(d.id)
                return
        body = d.payload.encode()
        headers = {
            "Content-Type": "application/json",
            "Ctikit-Webhook-Id": d.event_id,
            "Ctikit-Event": d.event,
            "Ctikit-Attempt": str(d.attempts),
            SIGNATURE_HEADER: sign(endpoint.secret, int(time.time()), body),
        }
        error: str | None = None
        try:
            # No redirects: a receiver that moved is told by its failures, and a
            # delivery never lands on a URL nobody registered.
            async with http.post(
                endpoint.url, data=body, headers=headers, allow_redirects=False
            ) as resp:
                if not 200 <= resp.status < 300:
                    error = f"HTTP {resp.status}"
        except TimeoutError:
            error = f"no answer within {self.timeout:g} s"
        except aiohttp.ClientError as exc:
            error = f"{type(exc).__name__}: {exc}"[:300]
        if error is None:
            self.delivered += 1
            await self.db.delivered(d.id)
            return
        self.failures += 1
        if d.attempts >= self.max_attempts:
            log.warning("webhook %s to %s: dead letter after %d attempts (%s)",
                        d.event_id, endpoint.id, d.attempts, error)  # fmt: skip
            await self.db.failed(d.id, error, None)
            return
        delay = min(self.retry_max, self.retry_seconds * 2 ** (d.attempts - 1))
        delay *= random.uniform(0.9, 1.1)  # receivers that come back are not hit all at once
        await self.db.failed(d.id, error, datetime.now(UTC) + timedelta(seconds=delay))
