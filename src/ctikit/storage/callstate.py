"""Saved call state per agent (JSON text), so a restarted server resyncs its consoles."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import delete, select

from .models import CallStateRow
from .store import CallLogStore, _db_errors


class CallStateStore:
    """Upserts and reads agents' call-state snapshots in the call-log database."""

    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    async def save(self, states: dict[str, Any]) -> None:
        """Replace the saved state of each agent in ``states`` (one transaction)."""
        if not states:
            return
        now = self._store._now()
        with _db_errors("save call state"):
            async with self._store._session() as session, session.begin():
                for agent, state in states.items():
                    row = await session.get(CallStateRow, agent)
                    text = json.dumps(state, separators=(",", ":"))
                    if row is None:
                        session.add(CallStateRow(agent_id=agent, state=text, updated_at=now))
                    else:
                        row.state, row.updated_at = text, now

    async def load(self) -> dict[str, Any]:
        """Every saved state; a row that is not valid JSON is skipped (and left as is)."""
        with _db_errors("load call state"):
            async with self._store._session() as session:
                rows = (await session.scalars(select(CallStateRow))).all()
        out: dict[str, Any] = {}
        for row in rows:
            try:
                out[row.agent_id] = json.loads(row.state)
            except ValueError:
                continue
        return out

    async def clear(self, agent: str) -> None:
        with _db_errors("clear call state"):
            async with self._store._session() as session, session.begin():
                await session.execute(delete(CallStateRow).where(CallStateRow.agent_id == agent))
