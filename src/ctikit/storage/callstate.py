"""Saved call state per agent (JSON text), so a restarted server resyncs its consoles."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any, Final, cast

from sqlalchemy import Table, delete, select
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from .models import CallStateRow
from .store import CallLogStore, _db_errors

#: Agents per ``DELETE ... WHERE agent_id IN (...)`` (well under SQLite's variable limit).
DELETE_BATCH: Final = 500

_TABLE: Final = cast(Table, CallStateRow.__table__)


def is_empty_state(state: object) -> bool:
    """Whether *state* holds nothing to restore: None, or a mapping whose values are all
    None or empty (e.g. ``{"calls": [], "ended": []}``, an agent without calls)."""
    if state is None:
        return True
    if not isinstance(state, Mapping):
        return False
    return all(v is None or (isinstance(v, list | dict) and not v) for v in state.values())


class CallStateStore:
    """Upserts and reads agents' call-state snapshots in the call-log database."""

    def __init__(self, store: CallLogStore) -> None:
        self._store = store

    async def save(self, states: dict[str, Any]) -> None:
        """Replace the saved state of each agent in ``states``, in one transaction.

        An agent whose state is empty (see :func:`is_empty_state`) has its row deleted;
        the others are upserted in one bulk statement.
        """
        if not states:
            return
        now = self._store._now()
        rows: list[dict[str, Any]] = []
        gone: list[str] = []
        for agent, state in states.items():
            if is_empty_state(state):
                gone.append(agent)
            else:
                text = json.dumps(state, separators=(",", ":"))
                rows.append({"agent_id": agent, "state": text, "updated_at": now})
        with _db_errors("save call state"):
            async with self._store._write_connection("save call state") as conn:
                if rows:
                    insert = pg_insert if conn.dialect.name == "postgresql" else sqlite_insert
                    stmt = insert(_TABLE)
                    stmt = stmt.on_conflict_do_update(
                        index_elements=[_TABLE.c.agent_id],
                        set_={"state": stmt.excluded.state, "updated_at": stmt.excluded.updated_at},
                    )
                    await conn.execute(stmt, rows)  # one executemany
                for i in range(0, len(gone), DELETE_BATCH):
                    chunk = gone[i : i + DELETE_BATCH]
                    await conn.execute(delete(_TABLE).where(_TABLE.c.agent_id.in_(chunk)))

    async def load(self) -> dict[str, Any]:
        """Every saved state; a row that is not valid JSON is skipped (and left as is)."""
        with _db_errors("load call state"):
            async with self._store._session() as session:
                rows = (await session.execute(select(_TABLE.c.agent_id, _TABLE.c.state))).all()
        out: dict[str, Any] = {}
        for agent, text in rows:
            try:
                out[agent] = json.loads(text)
            except ValueError:
                continue
        return out

    async def clear(self, agent: str) -> None:
        with _db_errors("clear call state"):
            async with self._store._write_connection("clear call state") as conn:
                await conn.execute(delete(_TABLE).where(_TABLE.c.agent_id == agent))
