"""Webhook endpoints and the durable outbox of their deliveries, in the call-log database.

An outbox row is one event for one endpoint. Rows are written in the transaction of what
they report (a call log: :meth:`CallLogStore.save`, see ``log_outbox`` there) or on their
own (:meth:`WebhookStore.enqueue`), claimed by a sender for a while (:meth:`claim_due`:
another node, or this one after a crash, takes them again once the claim runs out), deleted
once delivered, and parked as ``dead`` after the last attempt.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import Table, delete, func, insert, select, update

from .models import WebhookEndpointRow, WebhookOutboxRow
from .store import CallLogStore, _db_errors

ENDPOINTS: Final = cast(Table, WebhookEndpointRow.__table__)
OUTBOX: Final = cast(Table, WebhookOutboxRow.__table__)
PENDING: Final = "pending"
DEAD: Final = "dead"


@dataclass(frozen=True, slots=True)
class Endpoint:
    id: str
    url: str
    secret: str
    events: frozenset[str]
    created_at: datetime
    created_by: str

    def to_dict(self) -> dict[str, Any]:
        """What the REST API shows: never the secret."""
        return {
            "id": self.id,
            "url": self.url,
            "events": sorted(self.events),
            "createdAt": self.created_at.isoformat(),
            "createdBy": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class Delivery:
    """An outbox row."""

    id: int
    event_id: str
    endpoint_id: str
    event: str
    payload: str
    created_at: datetime
    attempts: int
    next_attempt_at: datetime
    status: str
    last_error: str | None

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "eventId": self.event_id,
            "endpoint": self.endpoint_id,
            "event": self.event,
            "payload": self.payload,
            "createdAt": self.created_at.isoformat(),
            "attempts": self.attempts,
            "status": self.status,
            "lastError": self.last_error,
        }


def _delivery(row: Any) -> Delivery:
    return Delivery(
        id=row.id,
        event_id=row.event_id,
        endpoint_id=row.endpoint_id,
        event=row.event,
        payload=row.payload,
        created_at=row.created_at,
        attempts=row.attempts,
        next_attempt_at=row.next_attempt_at,
        status=row.status,
        last_error=row.last_error,
    )


class WebhookStore:
    """Endpoints and outbox rows in ``store``'s database."""

    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    # ------------------------------------------------------------ endpoints

    async def endpoints(self) -> builtins.list[Endpoint]:
        with _db_errors("read webhook endpoints"):
            async with self._store._session() as session:
                rows = (await session.execute(select(ENDPOINTS).order_by(ENDPOINTS.c.id))).all()
        return [
            Endpoint(
                id=r.id,
                url=r.url,
                secret=r.secret,
                events=frozenset(r.events.split()),
                created_at=r.created_at,
                created_by=r.created_by,
            )
            for r in rows
        ]

    async def add_endpoint(self, endpoint: Endpoint) -> None:
        with _db_errors("add webhook endpoint"):
            async with self._store._write_connection("add webhook endpoint") as conn:
                await conn.execute(
                    insert(ENDPOINTS).values(
                        id=endpoint.id,
                        url=endpoint.url,
                        secret=endpoint.secret,
                        events=" ".join(sorted(endpoint.events)),
                        created_at=endpoint.created_at,
                        created_by=endpoint.created_by,
                    )
                )

    async def delete_endpoint(self, endpoint_id: str) -> bool:
        """Remove the endpoint and every delivery still owed to it."""
        with _db_errors("delete webhook endpoint"):
            async with self._store._write_connection("delete webhook endpoint") as conn:
                gone = await conn.execute(delete(ENDPOINTS).where(ENDPOINTS.c.id == endpoint_id))
                await conn.execute(delete(OUTBOX).where(OUTBOX.c.endpoint_id == endpoint_id))
        return bool(gone.rowcount)

    # --------------------------------------------------------------- outbox

    async def enqueue(self, rows: builtins.list[dict[str, Any]]) -> None:
        """Insert outbox rows (``event_id endpoint_id event payload created_at
        next_attempt_at``) in one transaction."""
        if not rows:
            return
        with _db_errors("write webhook outbox"):
            async with self._store._write_connection("write webhook outbox") as conn:
                await conn.execute(insert(OUTBOX), [{**r, "status": PENDING} for r in rows])

    async def claim_due(
        self, now: datetime, until: datetime, limit: int
    ) -> builtins.list[Delivery]:
        """Pending rows due by ``now``, oldest first, claimed until ``until`` (their next
        attempt moves there and their attempts count up): no other sender takes them before,
        and after a crash they come due again by themselves."""
        # A read first: an idle sender takes no write lock (SQLite has one writer).
        due = select(OUTBOX.c.id).where(OUTBOX.c.status == PENDING, OUTBOX.c.next_attempt_at <= now)
        with _db_errors("look for webhook deliveries"):
            async with self._store._session() as session:
                if (await session.execute(due.limit(1))).first() is None:
                    return []
        with _db_errors("claim webhook deliveries"):
            async with self._store._write_connection("claim webhook deliveries") as conn:
                stmt = (
                    select(OUTBOX)
                    .where(OUTBOX.c.status == PENDING, OUTBOX.c.next_attempt_at <= now)
                    .order_by(OUTBOX.c.id)
                    .limit(limit)
                )
                if conn.dialect.name == "postgresql":
                    stmt = stmt.with_for_update(skip_locked=True)  # nodes take different rows
                rows = (await conn.execute(stmt)).all()
                if not rows:
                    return []
                await conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id.in_([r.id for r in rows]))
                    .values(next_attempt_at=until, attempts=OUTBOX.c.attempts + 1)
                )
        return [
            Delivery(
                id=r.id,
                event_id=r.event_id,
                endpoint_id=r.endpoint_id,
                event=r.event,
                payload=r.payload,
                created_at=r.created_at,
                attempts=r.attempts + 1,
                next_attempt_at=until,
                status=PENDING,
                last_error=r.last_error,
            )
            for r in rows
        ]

    async def delivered(self, delivery_id: int) -> None:
        with _db_errors("record webhook delivery"):
            async with self._store._write_connection("record webhook delivery") as conn:
                await conn.execute(delete(OUTBOX).where(OUTBOX.c.id == delivery_id))

    async def failed(self, delivery_id: int, error: str, retry_at: datetime | None) -> None:
        """Record a failed attempt: try again at ``retry_at``, or (None) park it as dead."""
        values: dict[str, Any] = {"last_error": error[:500]}
        if retry_at is None:
            values["status"] = DEAD
        else:
            values["next_attempt_at"] = retry_at
        with _db_errors("record webhook failure"):
            async with self._store._write_connection("record webhook failure") as conn:
                await conn.execute(update(OUTBOX).where(OUTBOX.c.id == delivery_id).values(values))

    async def dead_letters(self, *, limit: int, offset: int) -> tuple[int, builtins.list[Delivery]]:
        """How many dead letters there are, and a page of them, from one statement (a
        letter that dies meanwhile is counted and listed, or neither)."""
        total = func.count().over().label("total")
        stmt = (
            select(OUTBOX, total)
            .where(OUTBOX.c.status == DEAD)
            .order_by(OUTBOX.c.id)
            .limit(limit)
            .offset(offset)
        )
        with _db_errors("list dead letters"):
            async with self._store._session() as session:
                rows = (await session.execute(stmt)).all()
        if not rows:  # past the end (or none): the count alone
            return (await self.counts())[DEAD], []
        return int(rows[0].total), [_delivery(r) for r in rows]

    async def retry_dead(self, delivery_id: int, now: datetime) -> bool:
        """Put a dead letter back in line (attempts from zero)."""
        with _db_errors("retry dead letter"):
            async with self._store._write_connection("retry dead letter") as conn:
                done = await conn.execute(
                    update(OUTBOX)
                    .where(OUTBOX.c.id == delivery_id, OUTBOX.c.status == DEAD)
                    .values(status=PENDING, attempts=0, next_attempt_at=now)
                )
        return bool(done.rowcount)

    async def delete_dead(self, delivery_id: int) -> bool:
        with _db_errors("delete dead letter"):
            async with self._store._write_connection("delete dead letter") as conn:
                done = await conn.execute(
                    delete(OUTBOX).where(OUTBOX.c.id == delivery_id, OUTBOX.c.status == DEAD)
                )
        return bool(done.rowcount)

    async def counts(self) -> dict[str, int]:
        """Rows by status."""
        stmt = select(OUTBOX.c.status, func.count()).group_by(OUTBOX.c.status)
        with _db_errors("count webhook outbox"):
            async with self._store._session() as session:
                rows = (await session.execute(stmt)).all()
        return {PENDING: 0, DEAD: 0, **{str(s): int(n) for s, n in rows}}
