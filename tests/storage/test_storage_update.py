"""CallLogStore.update: an Open CTI saveLog with an Id rewrites the log's text, duration and
attached data, for the agent that owns it only."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pytest

from ctikit.storage import CallLogStore, NewCallLog


async def test_update_rewrites_the_log(
    store: CallLogStore, make_log: Callable[..., NewCallLog]
) -> None:
    saved = await store.save(make_log(subject="first", attached_data={"a": 1}))
    changed = replace(
        saved, subject="second", comments="notes", duration_seconds=12, attached_data={"b": 2}
    )
    assert await store.update(changed) == changed
    again = await store.get(saved.id)
    assert again is not None
    assert (again.subject, again.comments, again.duration_seconds) == ("second", "notes", 12)
    assert again.attached_data == {"b": 2} and again.created_at == saved.created_at


async def test_update_refuses_other_agents_and_unknown_ids(
    store: CallLogStore, make_log: Callable[..., NewCallLog]
) -> None:
    saved = await store.save(make_log(subject="mine"))
    with pytest.raises(LookupError):
        await store.update(replace(saved, agent_id="agent-2", subject="theirs"))
    with pytest.raises(LookupError):
        await store.update(replace(saved, id="log_nope"))
    assert (await store.get(saved.id)).subject == "mine"  # type: ignore[union-attr]


async def test_update_checks_limits(
    store: CallLogStore, make_log: Callable[..., NewCallLog]
) -> None:
    saved = await store.save(make_log())
    bad: Any = replace(saved, subject="x" * 300)
    with pytest.raises(ValueError, match="subject"):
        await store.update(bad)
