"""CallLogStore behaviour on every backend."""

from __future__ import annotations

import asyncio
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from sqlalchemy import insert

from ctikit.storage import MAX_LIST_LIMIT, CallLog, CallLogStore, NewCallLog, StorageError
from ctikit.storage.models import CallLogRow
from ctikit.storage.records import NEW_CALL_LOG_FIELDS

from .conftest import Backend, FakeClock

MakeLog = Callable[..., NewCallLog]

NESTED = {
    "caseId": "500xx000001",
    "données": {"clé": "välue ✓", "list": [1, 2.5, None, True, {"deep": ["x"]}]},
    "emoji": "📞",
    "empty": {},
}


def full_log() -> NewCallLog:
    return NewCallLog(
        agent_id="agent-é-7",
        call_id="call-42",
        call_type="OUTBOUND",
        label="Support — 第一",
        ani="+14155550100",
        dnis="8000",
        attached_data=NESTED,
        started_at=datetime(2024, 5, 1, 14, 0, 0, 123456, tzinfo=timezone(timedelta(hours=2))),
        ended_at=datetime(2024, 5, 1, 12, 5, 30, tzinfo=UTC),
        duration_seconds=330,
        disposition="Resolved",
        subject="Ünïcødé subject",
        comments='Line 1, "quoted"\nLine 2\t\u00e9\u4e2d',
    )


async def test_save_get_round_trip(store: CallLogStore, clock: FakeClock) -> None:
    expected_created = clock.now
    saved = await store.save(full_log())
    assert re.fullmatch(r"log_[0-9a-f]{32}", saved.id)
    assert saved.created_at == expected_created
    assert saved.created_at.tzinfo is UTC
    loaded = await store.get(saved.id)
    assert loaded == saved
    assert loaded is not None
    assert loaded.attached_data == NESTED
    # Stored and returned in UTC, same instant.
    assert loaded.started_at == datetime(2024, 5, 1, 12, 0, 0, 123456, tzinfo=UTC)
    assert loaded.started_at is not None and loaded.started_at.utcoffset() == timedelta(0)
    assert loaded.ended_at is not None and loaded.ended_at.tzinfo is UTC
    assert loaded.comments == full_log().comments
    assert loaded.label == "Support — 第一"


async def test_to_dict_is_json_ready(store: CallLogStore) -> None:
    saved = await store.save(full_log())
    data = saved.to_dict()
    assert data["created_at"] == "2024-05-01T12:00:00Z"
    assert data["started_at"] == "2024-05-01T12:00:00.123456Z"
    assert data["ended_at"] == "2024-05-01T12:05:30Z"
    assert data["attached_data"] == NESTED
    assert data["id"] == saved.id


async def test_optional_fields_default_to_none(store: CallLogStore, make_log: MakeLog) -> None:
    saved = await store.save(make_log())
    loaded = await store.get(saved.id)
    assert loaded == saved
    assert loaded is not None
    optional = [f for f in NEW_CALL_LOG_FIELDS if f not in ("agent_id", "call_id", "call_type")]
    assert len(optional) == 10
    assert all(getattr(loaded, name) is None for name in optional)


@pytest.mark.parametrize(
    "value", [None, [], [1, "two", [3]], "text", 0, -1.5, True, {"a": {"b": {"c": [None]}}}]
)
async def test_attached_data_any_json_value(
    store: CallLogStore, make_log: MakeLog, value: Any
) -> None:
    saved = await store.save(make_log(attached_data=value))
    loaded = await store.get(saved.id)
    assert loaded is not None
    assert loaded.attached_data == value
    assert type(loaded.attached_data) is type(value)


async def test_get_unknown_id(store: CallLogStore) -> None:
    assert await store.get("log_" + "0" * 32) is None
    assert await store.get("") is None


async def test_ids_are_unique_opaque_strings(store: CallLogStore, make_log: MakeLog) -> None:
    ids = [(await store.save(make_log())).id for _ in range(5)]
    assert len(set(ids)) == 5
    assert all(re.fullmatch(r"log_[0-9a-f]{32}", i) for i in ids)


async def _seed(store: CallLogStore, make_log: MakeLog) -> list[CallLog]:
    """Six logs, one second apart: agents a/b alternating, calls c0..c2."""
    return [await store.save(make_log(agent_id="ab"[i % 2], call_id=f"c{i % 3}")) for i in range(6)]


async def test_list_newest_first_and_filters(store: CallLogStore, make_log: MakeLog) -> None:
    logs = await _seed(store, make_log)
    assert await store.list() == logs[::-1]
    assert await store.list(agent_id="a") == [logs[4], logs[2], logs[0]]
    assert await store.list(call_id="c1") == [logs[4], logs[1]]
    assert await store.list(agent_id="b", call_id="c2") == [logs[5]]
    assert await store.list(agent_id="nobody") == []
    # since inclusive, until exclusive
    since, until = logs[1].created_at, logs[4].created_at
    assert await store.list(since=since, until=until) == [logs[3], logs[2], logs[1]]
    assert (
        await store.list(since=since.astimezone(timezone(timedelta(hours=-5)))) == (logs[1:][::-1])
    )


async def test_list_paging(store: CallLogStore, make_log: MakeLog) -> None:
    logs = (await _seed(store, make_log))[::-1]
    assert await store.list(limit=2) == logs[:2]
    assert await store.list(limit=2, offset=2) == logs[2:4]
    assert await store.list(limit=2, offset=4) == logs[4:]
    assert await store.list(limit=10, offset=6) == []


async def test_list_ties_ordered_by_id(backend: Backend, make_log: MakeLog) -> None:
    store = await backend.open(clock=FakeClock(step=timedelta(0)))
    logs = [await store.save(make_log()) for _ in range(4)]
    by_id = sorted(logs, key=lambda log: log.id, reverse=True)
    assert await store.list() == by_id
    assert [log async for log in store.iter_all(page_size=3)] == by_id[::-1]


async def test_count(store: CallLogStore, make_log: MakeLog) -> None:
    logs = await _seed(store, make_log)
    assert await store.count() == 6
    assert await store.count(agent_id="a") == 3
    assert await store.count(call_id="c0") == 2
    assert await store.count(since=logs[3].created_at) == 3
    assert await store.count(until=logs[3].created_at) == 3
    assert await store.count(agent_id="zzz") == 0


@pytest.mark.parametrize(("limit", "offset"), [(0, 0), (-1, 0), (1, -1)])
async def test_list_rejects_bad_paging(store: CallLogStore, limit: int, offset: int) -> None:
    with pytest.raises(ValueError, match=r"limit|offset"):
        await store.list(limit=limit, offset=offset)


async def test_list_limit_is_capped(store: CallLogStore) -> None:
    base = datetime(2024, 1, 1, tzinfo=UTC)
    rows = [
        {
            "id": f"log_{i:032x}",
            "created_at": base + timedelta(seconds=i),
            "agent_id": "bulk",
            "call_id": "bulk",
            "call_type": "INTERNAL",
            "attached_data": "null",
        }
        for i in range(MAX_LIST_LIMIT + 5)
    ]
    async with store._engine.begin() as conn:
        await conn.execute(insert(CallLogRow), rows)
    assert len(await store.list(limit=5000)) == MAX_LIST_LIMIT
    assert await store.count() == MAX_LIST_LIMIT + 5
    exported = [log.id async for log in store.iter_all()]  # crosses export pages
    assert exported == [row["id"] for row in rows]


async def test_iter_all_streams_oldest_first_with_filters(
    store: CallLogStore, make_log: MakeLog
) -> None:
    logs = await _seed(store, make_log)
    assert [log async for log in store.iter_all(page_size=2)] == logs
    assert [log async for log in store.iter_all(agent_id="b", page_size=1)] == logs[1::2]
    assert [log async for log in store.iter_all(since=logs[5].created_at)] == [logs[5]]
    assert [log async for log in store.iter_all(call_id="none")] == []


async def test_concurrent_saves(store: CallLogStore, make_log: MakeLog) -> None:
    saved = await asyncio.gather(*(store.save(make_log(call_id=f"c{i}")) for i in range(25)))
    assert await store.count() == 25
    assert {log.id for log in await store.list()} == {log.id for log in saved}


LONG = "x" * 256


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"agent_id": LONG}, "agent_id is too long"),
        ({"call_id": LONG}, "call_id is too long"),
        ({"subject": LONG}, "subject is too long"),
        ({"disposition": LONG}, "disposition is too long"),
        ({"label": LONG}, "label is too long"),
        ({"ani": LONG}, "ani is too long"),
        ({"comments": "é" * (16 * 1024 + 1)}, "comments is too long"),
        ({"attached_data": {"k": "v" * (64 * 1024)}}, "attached_data is too large"),
        ({"attached_data": {"f": float("nan")}}, "attached_data is not a JSON value"),
        ({"attached_data": {"o": object()}}, "attached_data is not a JSON value"),
        ({"call_type": "inbound"}, "call_type must be one of INBOUND, OUTBOUND, INTERNAL"),
        ({"agent_id": ""}, "agent_id must not be empty"),
        ({"call_id": None}, "call_id must be a string"),
        ({"comments": "nul\x00byte"}, "comments must not contain NUL"),
        ({"subject": "\ud800"}, "subject is not valid Unicode"),
        ({"started_at": datetime(2024, 1, 1)}, "started_at must be timezone-aware"),
        ({"ended_at": "2024-01-01"}, "ended_at must be a datetime"),
        ({"duration_seconds": -1}, "duration_seconds must be between"),
        ({"duration_seconds": 2**31}, "duration_seconds must be between"),
        ({"duration_seconds": 1.5}, "duration_seconds must be an int"),
    ],
)
async def test_save_rejects_invalid_values(
    store: CallLogStore, make_log: MakeLog, overrides: dict[str, Any], message: str
) -> None:
    with pytest.raises(ValueError, match=re.escape(message)):
        await store.save(make_log(**overrides))
    assert await store.count() == 0


async def test_save_accepts_values_at_the_limits(store: CallLogStore, make_log: MakeLog) -> None:
    big_json = {"k": "v" * (64 * 1024 - len('{"k":""}'))}
    log = make_log(
        agent_id="a" * 255,
        call_id="é" * 255,  # characters, not bytes
        subject="s" * 255,
        disposition="d" * 255,
        comments="c" * 32 * 1024,
        attached_data=big_json,
        duration_seconds=0,
    )
    saved = await store.save(log)
    assert await store.get(saved.id) == saved


async def test_filters_reject_naive_datetimes(store: CallLogStore) -> None:
    with pytest.raises(ValueError, match="since must be timezone-aware"):
        await store.list(since=datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="until must be timezone-aware"):
        await store.count(until=datetime(2024, 1, 1))


async def test_clock_must_be_aware(backend: Backend, make_log: MakeLog) -> None:
    store = await backend.open(clock=lambda: datetime(2024, 1, 1))
    with pytest.raises(ValueError, match="timezone-aware"):
        await store.save(make_log())


async def test_closed_store_raises(backend: Backend, make_log: MakeLog) -> None:
    async with await backend.open() as store:
        assert "(closed)" not in repr(store)
    with pytest.raises(StorageError, match="closed"):
        await store.save(make_log())
    with pytest.raises(StorageError, match="closed"):
        await store.list()
    await store.close()  # idempotent


@pytest.mark.parametrize("url", [":memory:", "sqlite://"])
async def test_in_memory_store_serialises_concurrent_saves(url: str, make_log: MakeLog) -> None:
    # One shared connection: without serialisation sessions undo each other.
    async with await CallLogStore.open(url) as store:
        await asyncio.gather(*(store.save(make_log(call_id=f"c{i}")) for i in range(25)))
        assert await store.count() == 25
