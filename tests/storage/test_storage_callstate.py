"""CallStateStore: one bulk upsert per flush, deletes for agents without calls."""

from __future__ import annotations

from typing import Any

import pytest
from sqlalchemy import select

from ctikit.storage import CallLogStore, CallStateStore, StorageError
from ctikit.storage.callstate import DELETE_BATCH, is_empty_state
from ctikit.storage.models import CallStateRow

from .conftest import Backend, FakeClock


def call(cid: str, **extra: Any) -> dict[str, Any]:
    return {"id": cid, "type": "INBOUND", "data": {"ANI": "+33 1 23 45 67 89", "é": "ü"}, **extra}


async def updated_at(store: CallLogStore) -> dict[str, Any]:
    async with store._session() as session:
        rows = await session.execute(select(CallStateRow.agent_id, CallStateRow.updated_at))
        return dict(rows.all())


async def test_insert_update_and_delete(store: CallLogStore, clock: FakeClock) -> None:
    states = CallStateStore(store)
    assert await states.load() == {}

    await states.save(
        {
            "a": {"calls": [call("c1")], "ended": []},
            "b": {"calls": [], "ended": [call("c2", ended=True)]},
            "c": {"calls": [call("c3")], "ended": []},
        }
    )
    assert await states.load() == {
        "a": {"calls": [call("c1")], "ended": []},
        "b": {"calls": [], "ended": [call("c2", ended=True)]},
        "c": {"calls": [call("c3")], "ended": []},
    }
    first = await updated_at(store)
    assert len(set(first.values())) == 1  # one timestamp per flush

    # Update a, delete c (its calls are over and nothing is left), leave b alone.
    await states.save(
        {
            "a": {"calls": [call("c1"), call("c4")], "ended": []},
            "c": {"calls": [], "ended": []},
            "never-saved": {"calls": [], "ended": []},
        }
    )
    assert await states.load() == {
        "a": {"calls": [call("c1"), call("c4")], "ended": []},
        "b": {"calls": [], "ended": [call("c2", ended=True)]},
    }
    second = await updated_at(store)
    assert second["a"] > first["a"]
    assert second["b"] == first["b"]

    await states.save({"a": None, "b": {}})
    assert await states.load() == {}


async def test_many_agents_in_one_flush(store: CallLogStore) -> None:
    states = CallStateStore(store)
    n = DELETE_BATCH * 2 + 150
    await states.save({f"agent-{i}": {"calls": [call(f"c{i}")]} for i in range(n)})
    assert len(await states.load()) == n
    # Most agents' calls end, a few change: deletes span several batches.
    flush: dict[str, Any] = {f"agent-{i}": {"calls": [], "ended": []} for i in range(n - 10)}
    flush |= {f"agent-{i}": {"calls": [call(f"new{i}")]} for i in range(n - 10, n)}
    await states.save(flush)
    assert await states.load() == {
        f"agent-{i}": {"calls": [call(f"new{i}")]} for i in range(n - 10, n)
    }


async def test_clear_and_empty_save(store: CallLogStore) -> None:
    states = CallStateStore(store)
    await states.save({})
    await states.save({"a": {"calls": [call("c1")]}, "b": {"calls": [call("c2")]}})
    await states.clear("a")
    await states.clear("unknown")
    assert list(await states.load()) == ["b"]


async def test_unserialisable_state_writes_nothing(store: CallLogStore) -> None:
    states = CallStateStore(store)
    await states.save({"a": {"calls": [call("c1")]}})
    with pytest.raises(TypeError):
        await states.save({"a": {"calls": []}, "b": {"calls": [object()]}})
    assert await states.load() == {"a": {"calls": [call("c1")]}}


async def test_a_failing_flush_is_rolled_back(backend: Backend, store: CallLogStore) -> None:
    states = CallStateStore(store)
    await states.save({"a": {"calls": [call("c1")]}, "gone": {"calls": [call("c2")]}})
    if backend.name == "postgres":
        # agent_id is VARCHAR(64): PostgreSQL refuses the whole statement.
        with pytest.raises(StorageError, match="could not save call state: "):
            await states.save(
                {"a": {"calls": [call("c9")]}, "gone": {"calls": []}, "x" * 65: {"calls": [1]}}
            )
        assert await states.load() == {
            "a": {"calls": [call("c1")]},
            "gone": {"calls": [call("c2")]},
        }
    else:  # SQLite does not enforce VARCHAR lengths
        await states.save({"x" * 65: {"calls": [1]}})
        assert await states.load() == {
            "a": {"calls": [call("c1")]},
            "gone": {"calls": [call("c2")]},
            "x" * 65: {"calls": [1]},
        }


@pytest.mark.parametrize(
    ("state", "empty"),
    [
        (None, True),
        ({}, True),
        ({"calls": [], "ended": []}, True),
        ({"calls": [], "ended": [], "note": None}, True),
        ({"calls": [], "ended": [{"id": "c1"}]}, False),
        ({"calls": [{"id": "c1"}], "ended": []}, False),
        ({"seq": 0}, False),
        ([], False),
        ("", False),
    ],
)
def test_is_empty_state(state: object, empty: bool) -> None:
    assert is_empty_state(state) is empty
