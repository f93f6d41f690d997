"""Every change of an agent's state, stored for reports (the ``agent_states`` table)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final, cast

from sqlalchemy import Table, insert, select

from .models import AgentStateRow
from .store import CallLogStore, _db_errors

_TABLE: Final = cast(Table, AgentStateRow.__table__)
#: Rows one history read returns at most.
MAX_HISTORY: Final = 1000


@dataclass(frozen=True, slots=True, kw_only=True)
class AgentStateChange:
    """``agent`` entered ``status`` (``reason`` for away) at ``started_at``, from ``previous``."""

    agent_id: str
    status: str
    reason: str | None
    previous: str
    started_at: datetime


class AgentStateLog:
    """Appends and reads agent-state changes in the call-log database."""

    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    async def record(self, changes: Sequence[AgentStateChange]) -> None:
        """Store ``changes`` in one transaction (one multi-row insert)."""
        if not changes:
            return
        rows = [
            {
                "agent_id": c.agent_id,
                "status": c.status,
                "reason": c.reason,
                "previous": c.previous,
                "started_at": c.started_at,
            }
            for c in changes
        ]
        with _db_errors("record agent states"):
            async with self._store._write_connection("record agent states") as conn:
                await conn.execute(insert(_TABLE), rows)

    async def history(
        self, agent: str, *, since: datetime | None = None, limit: int = MAX_HISTORY
    ) -> list[AgentStateChange]:
        """The agent's changes (oldest first) from ``since``, at most ``limit``."""
        stmt = select(_TABLE).where(_TABLE.c.agent_id == agent)
        if since is not None:
            stmt = stmt.where(_TABLE.c.started_at >= since)
        stmt = stmt.order_by(_TABLE.c.started_at, _TABLE.c.id).limit(min(limit, MAX_HISTORY))
        with _db_errors("read agent states"):
            async with self._store._session() as session:
                rows = (await session.execute(stmt)).mappings().all()
        return [
            AgentStateChange(
                agent_id=r["agent_id"],
                status=r["status"],
                reason=r["reason"],
                previous=r["previous"],
                started_at=r["started_at"],
            )
            for r in rows
        ]
