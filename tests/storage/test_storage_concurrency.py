"""Many concurrent writes: every save succeeds (or fails clearly and alone), none hangs.

Regression tests for the contact-centre day at 20,000 agents, where call-log saves
failed with SQLite "database is locked" and pool timeouts while the call-state flush
wrote at the same time (bench/RESULTS.md, "Storage fixes").
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.ext.asyncio import AsyncConnection

import ctikit.storage.engine
import ctikit.storage.store
from ctikit.storage import CallLogStore, CallStateStore, NewCallLog, StorageError

from .conftest import Backend

MakeLog = Callable[..., NewCallLog]


def _count_batches(store: CallLogStore, monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Record the size of every call-log transaction of *store*."""
    sizes: list[int] = []
    insert_rows = store._insert_rows

    async def counting(conn: AsyncConnection, batch: list[Any]) -> None:
        sizes.append(len(batch))
        await insert_rows(conn, batch)

    monkeypatch.setattr(store, "_insert_rows", counting)
    return sizes


async def test_500_concurrent_saves_with_a_tiny_pool(
    backend: Backend, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    # One pooled connection for everything: saves, call-state flushes and reads.
    store = await backend.open(pool_size=1, max_overflow=0)
    states = CallStateStore(store)
    sizes = _count_batches(store, monkeypatch)

    async def flush(i: int) -> None:
        await states.save({f"agent-{j}": {"calls": [{"id": f"c{i}"}]} for j in range(50)})

    saves = [store.save(make_log(agent_id=f"agent-{i % 50}", call_id=f"c{i}")) for i in range(500)]
    others = [flush(i) for i in range(20)] + [store.count() for _ in range(20)]
    results = await asyncio.gather(*saves, *others)
    saved = results[:500]

    assert len({log.id for log in saved}) == 500
    assert await store.count() == 500
    stored = {log.id: log for log in await store.list(limit=1000)}
    assert stored == {log.id: log for log in saved}
    assert sorted(log.call_id for log in saved) == sorted(f"c{i}" for i in range(500))
    # Group commit: far fewer transactions than saves.
    assert sum(sizes) == 500
    assert len(sizes) < 50, sizes
    assert len(await states.load()) == 50


async def test_saves_arriving_during_a_commit_share_the_next_one(
    backend: Backend, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = await backend.open()
    sizes = _count_batches(store, monkeypatch)
    first = asyncio.create_task(store.save(make_log(call_id="first")))
    await asyncio.sleep(0)  # the first save is queued and its writer started
    rest = [asyncio.create_task(store.save(make_log(call_id=f"c{i}"))) for i in range(30)]
    await asyncio.gather(first, *rest)
    assert sum(sizes) == 31
    assert len(sizes) <= 5, sizes
    assert await store.count() == 31


async def test_two_stores_on_one_sqlite_file(tmp_path: Path, make_log: MakeLog) -> None:
    # Like two processes: their locks do not see each other, SQLite's busy_timeout does.
    db = tmp_path / "shared.db"
    async with await CallLogStore.open(db) as a, await CallLogStore.open(db) as b:
        saves = [(a if i % 2 else b).save(make_log(call_id=f"c{i}")) for i in range(300)] + [
            CallStateStore(a).save({f"x{i}": {"calls": [i]}}) for i in range(20)
        ]
        await asyncio.gather(*saves)
        assert await a.count() == await b.count() == 300


async def test_a_bad_row_fails_only_its_own_save(
    store: CallLogStore, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    taken = await store.save(make_log(call_id="already-there"))
    ids = iter(
        [f"log_{i:032x}" for i in range(5)] + [taken.id] + [f"log_{i:032x}" for i in range(5, 10)]
    )
    monkeypatch.setattr(ctikit.storage.store, "new_log_id", lambda: next(ids))
    sizes = _count_batches(store, monkeypatch)

    results = await asyncio.gather(
        *(store.save(make_log(call_id=f"c{i}")) for i in range(11)), return_exceptions=True
    )

    errors = [r for r in results if isinstance(r, BaseException)]
    assert len(errors) == 1
    assert isinstance(results[5], StorageError)
    assert str(results[5]).startswith("could not save call log: ")
    assert sizes[0] == 11  # one batch first, then row by row to find the culprit
    assert await store.count() == 11  # "already-there" and the 10 good ones
    for log in results:
        if not isinstance(log, BaseException):
            assert await store.get(log.id) == log


async def test_busy_writer_gives_a_clear_error_and_saves_nothing(
    tmp_path: Path, make_log: MakeLog
) -> None:
    async with await CallLogStore.open(tmp_path / "x.db", write_timeout=0.3) as store:
        assert store._write_lock is not None
        await store._write_lock.acquire()  # a write that never ends
        started = time.monotonic()
        with pytest.raises(StorageError, match=r"could not save call log: .* is busy .*not saved"):
            await store.save(make_log())
        with pytest.raises(StorageError, match=r"could not save call state: .* is busy"):
            await CallStateStore(store).save({"a": {"calls": [1]}})
        assert time.monotonic() - started < 5
        store._write_lock.release()
        await asyncio.sleep(0.05)
        assert await store.count() == 0  # the withdrawn log was never written
        await store.save(make_log())  # and the store still works
        assert await store.count() == 1


async def test_locked_by_another_process_fails_after_busy_timeout(
    tmp_path: Path, make_log: MakeLog, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(ctikit.storage.engine, "BUSY_TIMEOUT_SECONDS", 0.3)
    db = tmp_path / "x.db"
    async with await CallLogStore.open(db) as store:
        other = sqlite3.connect(db, isolation_level=None)
        try:
            other.execute("BEGIN IMMEDIATE")  # holds SQLite's write lock
            with pytest.raises(StorageError, match="could not save call log: database is locked"):
                await asyncio.wait_for(store.save(make_log()), 10)
        finally:
            other.execute("ROLLBACK")
            other.close()
        await store.save(make_log())
        assert await store.count() == 1


async def test_cancelled_save_still_queued_is_not_written(
    tmp_path: Path, make_log: MakeLog
) -> None:
    async with await CallLogStore.open(tmp_path / "x.db") as store:
        assert store._write_lock is not None
        await store._write_lock.acquire()
        task = asyncio.create_task(store.save(make_log(call_id="cancelled")))
        kept = asyncio.create_task(store.save(make_log(call_id="kept")))
        await asyncio.sleep(0.05)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await task
        store._write_lock.release()
        await kept
        assert [log.call_id for log in await store.list()] == ["kept"]


async def test_stopped_writer_fails_its_callers(tmp_path: Path, make_log: MakeLog) -> None:
    async with await CallLogStore.open(tmp_path / "x.db") as store:
        assert store._write_lock is not None
        await store._write_lock.acquire()
        saves = [asyncio.create_task(store.save(make_log(call_id=f"c{i}"))) for i in range(3)]
        await asyncio.sleep(0.05)
        for writer in list(store._writer_tasks):
            writer.cancel()
        results = await asyncio.wait_for(asyncio.gather(*saves, return_exceptions=True), 5)
        store._write_lock.release()
        assert all(isinstance(r, StorageError) for r in results), results
        assert "writer was stopped" in str(results[0])
        await store.save(make_log())  # a new writer starts for the next save
        assert await store.count() == 1


async def test_close_finishes_queued_saves(backend: Backend, make_log: MakeLog) -> None:
    store = await backend.open()
    tasks = [asyncio.create_task(store.save(make_log(call_id=f"c{i}"))) for i in range(50)]
    await asyncio.sleep(0)  # all queued
    await store.close()
    saved = await asyncio.gather(*tasks)
    reopened = await backend.open()
    assert await reopened.count() == 50
    assert {log.id for log in await reopened.list()} == {log.id for log in saved}


async def test_no_connection_for_the_writer_fails_queued_saves(
    backend: Backend, make_log: MakeLog
) -> None:
    store = await backend.open(pool_size=1, max_overflow=0, pool_timeout=0.3)
    async with store._engine.connect():  # the only connection, held elsewhere
        started = time.monotonic()
        results = await asyncio.gather(
            *(store.save(make_log(call_id=f"c{i}")) for i in range(5)), return_exceptions=True
        )
        assert time.monotonic() - started < 5
    assert all(isinstance(r, StorageError) for r in results), results
    assert "could not save call log: QueuePool limit of size 1 overflow 0 reached" in str(
        results[0]
    )
    await store.save(make_log())  # the connection is back: saves work again
    assert await store.count() == 1
