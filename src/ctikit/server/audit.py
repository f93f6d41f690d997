"""The audit log of a server: what it records, its writer, retention and REST query
(:mod:`.audit_api`).

Recorded (docs/monitoring.md#audit-log): logins and their failures, logouts, users and
tokens added, changed and removed (by :class:`~ctikit.storage.AccountStore`, in the change's
own transaction), campaign events, CTI commands with who sent them, webhook changes. The
caller is :data:`.guard.ACTOR`, set when a request or socket authenticates (tasks it starts inherit
it). Entries are queued and group-committed by one writer task; they never hold a password
or a token.
"""

from __future__ import annotations

import asyncio
import logging
from datetime import UTC, datetime, timedelta
from typing import Any

from aiohttp import web

from ..storage.audit import AuditStore, entry
from ..storage.store import CallLogStore
from .guard import ACTOR

log = logging.getLogger("ctikit.audit")
#: Entries waiting for the database; past it new ones are dropped (logged).
MAX_QUEUED = 100_000
PURGE_EVERY = 3600.0
WRITE_BATCH = 100


class AuditLog:
    """Queue entries with :meth:`record`; :meth:`run` writes them and applies retention."""

    def __init__(self, store: CallLogStore, retention_days: int) -> None:
        self.db = AuditStore(store)
        self.retention_days = retention_days
        self._rows: list[dict[str, Any]] = []
        self._writer: asyncio.Task[None] | None = None
        self.dropped = 0

    def record(
        self,
        action: str,
        target: str | None = None,
        *,
        outcome: str = "ok",
        actor: str | None = None,
        address: str | None = None,
        **detail: Any,
    ) -> None:
        """Queue one entry (written within milliseconds; never raises)."""
        if len(self._rows) >= MAX_QUEUED:
            self.dropped += 1
            return
        who = actor or ACTOR.get() or "system"
        self._rows.append(
            entry(
                at=datetime.now(UTC),
                actor=who,
                action=action,
                target=target,
                outcome=outcome,
                address=address,
                detail=detail,
            )
        )
        if self._writer is None or self._writer.done():
            self._writer = asyncio.get_running_loop().create_task(self._write())

    async def _write(self) -> None:
        while self._rows:
            # In batches: a flood of failed logins queues hundreds of entries, and preparing
            # a batch's statement holds the event loop (~10 us an entry).
            rows, self._rows = self._rows[:WRITE_BATCH], self._rows[WRITE_BATCH:]
            try:
                await self.db.write(rows)
            except Exception as exc:
                log.error("audit log: could not write %d entries (retrying): %s", len(rows), exc)
                self._rows = rows + self._rows
                await asyncio.sleep(1.0)

    async def flushed(self) -> None:
        """Wait until what was recorded so far is written (tests, shutdown)."""
        while self._writer is not None and not self._writer.done():
            await asyncio.shield(self._writer)

    async def run(self) -> None:
        """Delete entries past the retention, at start and hourly."""
        while True:
            if self.retention_days > 0:
                before = datetime.now(UTC) - timedelta(days=self.retention_days)
                try:
                    gone = await self.db.purge(before)
                    if gone:
                        log.info("audit log: deleted %d entries older than %s", gone, before)
                except Exception as exc:
                    log.warning("audit log: retention failed: %s", exc)
            await asyncio.sleep(PURGE_EVERY)


AUDIT = web.AppKey("audit", AuditLog)
