"""The packaged Alembic migrations create (and keep) the schema."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Connection, inspect, text
from sqlalchemy.ext.asyncio import AsyncEngine

from ctikit.storage import CallLogStore, NewCallLog, StorageError
from ctikit.storage.migrate import HEAD_REVISION, alembic_config, current_revision
from ctikit.storage.models import Base

from .conftest import Backend


def engine_of(store: CallLogStore) -> AsyncEngine:
    return store._engine  # white-box: the tests inspect the real database


def _schema_info(conn: Connection) -> tuple[set[str], set[str], str | None]:
    insp = inspect(conn)
    tables = set(insp.get_table_names())
    indexes = {ix["name"] for ix in insp.get_indexes("call_logs") if ix["name"]}
    return tables, indexes, current_revision(conn)


async def test_open_creates_schema(store: CallLogStore) -> None:
    async with engine_of(store).connect() as conn:
        tables, indexes, revision = await conn.run_sync(_schema_info)
    assert {"call_logs", "users", "service_tokens", "settings", "alembic_version"} <= tables
    assert {
        "ix_call_logs_agent_id_created_at",
        "ix_call_logs_call_id",
        "ix_call_logs_created_at_id",
    } <= indexes
    assert revision == HEAD_REVISION


async def test_open_twice_is_idempotent(
    backend: Backend, make_log: Callable[..., NewCallLog]
) -> None:
    first = await backend.open()
    saved = await first.save(make_log())
    await first.close()
    again = await backend.open()
    also = await backend.open()
    assert await again.get(saved.id) == saved
    assert await also.count() == 1
    async with engine_of(again).connect() as conn:
        _, _, revision = await conn.run_sync(_schema_info)
    assert revision == HEAD_REVISION


async def test_concurrent_open_of_a_new_database(backend: Backend) -> None:
    # Several workers starting at once must not race each other's CREATE TABLE.
    stores = await asyncio.gather(*(backend.open() for _ in range(4)))
    assert [await s.count() for s in stores] == [0, 0, 0, 0]


def _diff(conn: Connection) -> list[object]:
    return list(compare_metadata(MigrationContext.configure(conn), Base.metadata))


async def test_models_match_migrations(store: CallLogStore) -> None:
    async with engine_of(store).connect() as conn:
        diff = await conn.run_sync(_diff)
    assert diff == []


def _downgrade(conn: Connection) -> set[str]:
    command.downgrade(alembic_config(conn), "base")
    return set(inspect(conn).get_table_names())


async def test_downgrade_drops_the_table(store: CallLogStore) -> None:
    async with engine_of(store).begin() as conn:
        tables = await conn.run_sync(_downgrade)
    assert "call_logs" not in tables


async def test_database_from_a_newer_version_is_refused(backend: Backend) -> None:
    store = await backend.open()
    async with engine_of(store).begin() as conn:
        await conn.execute(text("UPDATE alembic_version SET version_num = '9999'"))
    await store.close()
    with pytest.raises(StorageError, match=r"could not migrate .*9999"):
        await backend.open()


async def test_sqlite_connections_are_durable(tmp_path: object) -> None:
    store = await CallLogStore.open(f"{tmp_path}/pragmas.db")
    try:
        async with engine_of(store).connect() as conn:
            mode = (await conn.exec_driver_sql("PRAGMA journal_mode")).scalar()
            sync = (await conn.exec_driver_sql("PRAGMA synchronous")).scalar()
            busy = (await conn.exec_driver_sql("PRAGMA busy_timeout")).scalar()
    finally:
        await store.close()
    assert mode == "wal"
    assert sync == 2  # FULL
    assert busy is not None and int(busy) >= 1000


def test_head_revision_constant_matches_the_scripts() -> None:
    from alembic.script import ScriptDirectory

    assert ScriptDirectory.from_config(alembic_config()).get_current_head() == HEAD_REVISION
