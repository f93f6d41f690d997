"""The audit log: who did what, when, from where (docs/monitoring.md#audit-log).

Entries never hold a password, a password hash or a token: callers pass only names, ids and
outcomes, and :func:`entry` drops any ``detail`` key that looks like a secret as a backstop.
"""

from __future__ import annotations

import builtins
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final, cast

from sqlalchemy import ColumnElement, Table, delete, func, insert, select

from .models import AuditRow
from .store import CallLogStore, _db_errors

AUDIT: Final = cast(Table, AuditRow.__table__)
_SECRET_KEY = re.compile(r"pass|secret|token|hash|key|cookie|authorization", re.IGNORECASE)


def _clip(value: object, limit: int) -> str | None:
    return None if value is None else str(value)[:limit]


def entry(
    *,
    at: datetime,
    actor: str,
    action: str,
    target: str | None = None,
    outcome: str = "ok",
    address: str | None = None,
    detail: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A row for the audit table. ``detail`` keeps plain values only (text clipped), and no
    key that names a secret."""
    kept: dict[str, Any] = {}
    for key, value in (detail or {}).items():
        if _SECRET_KEY.search(key):
            continue
        if value is None or isinstance(value, bool | int | float):
            kept[key] = value
        else:
            kept[key] = str(value)[:500]
    return {
        "at": at,
        "actor": _clip(actor, 255) or "?",
        "action": action[:64],
        "target": _clip(target, 255),
        "outcome": outcome[:16],
        "address": _clip(address, 64),
        "detail": json.dumps(kept, separators=(",", ":"), ensure_ascii=False),
    }


@dataclass(frozen=True, slots=True)
class AuditEntry:
    id: int
    at: datetime
    actor: str
    action: str
    target: str | None
    outcome: str
    address: str | None
    detail: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "at": self.at.isoformat(),
            "actor": self.actor,
            "action": self.action,
            "target": self.target,
            "outcome": self.outcome,
            "address": self.address,
            "detail": self.detail,
        }


def _filters(
    actor: str | None, action: str | None, since: datetime | None, until: datetime | None
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if actor is not None:
        where.append(AUDIT.c.actor == actor)
    if action is not None:
        where.append(AUDIT.c.action == action)
    if since is not None:
        where.append(AUDIT.c.at >= since)
    if until is not None:
        where.append(AUDIT.c.at < until)
    return where


class AuditStore:
    """Audit rows in ``store``'s database."""

    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    async def write(self, rows: builtins.list[dict[str, Any]]) -> None:
        if not rows:
            return
        with _db_errors("write audit log"):
            async with self._store._write_connection("write audit log") as conn:
                await conn.execute(insert(AUDIT), rows)

    async def query(
        self,
        *,
        actor: str | None = None,
        action: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> tuple[int, builtins.list[AuditEntry]]:
        """(how many match, a page of them newest first)."""
        where = _filters(actor, action, since, until)
        page = (
            select(AUDIT)
            .where(*where)
            .order_by(AUDIT.c.at.desc(), AUDIT.c.id.desc())
            .limit(limit)
            .offset(offset)
        )
        counting = select(func.count()).select_from(AUDIT).where(*where)
        with _db_errors("read audit log"):
            async with self._store._session() as session:
                total = int(await session.scalar(counting) or 0)
                rows = (await session.execute(page)).all()
        return total, [
            AuditEntry(
                id=r.id,
                at=r.at,
                actor=r.actor,
                action=r.action,
                target=r.target,
                outcome=r.outcome,
                address=r.address,
                detail=json.loads(r.detail),
            )
            for r in rows
        ]

    async def purge(self, before: datetime) -> int:
        """Delete entries older than ``before``; how many went."""
        with _db_errors("purge audit log"):
            async with self._store._write_connection("purge audit log") as conn:
                done = await conn.execute(delete(AUDIT).where(AUDIT.c.at < before))
        return int(done.rowcount or 0)
