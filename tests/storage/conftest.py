"""Fixtures for the storage tests: every store test runs on SQLite and PostgreSQL.

PostgreSQL tests use ``CTIKIT_TEST_POSTGRES_URL`` (default: the local ``test``
database). They fail when it is unreachable unless ``CTIKIT_SKIP_POSTGRES=1``.
Each test gets its own schema, dropped afterwards, so runs never see each
other's rows (even concurrent ones).
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ctikit.storage import CallLogStore, NewCallLog

PG_URL = os.environ.get(
    "CTIKIT_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/test"
)
SKIP_PG = os.environ.get("CTIKIT_SKIP_POSTGRES") == "1"


class FakeClock:
    """Deterministic clock: each call returns the current time, then advances it."""

    def __init__(
        self,
        start: datetime = datetime(2024, 5, 1, 12, 0, tzinfo=UTC),
        step: timedelta = timedelta(seconds=1),
    ) -> None:
        self.now = start
        self.step = step

    def __call__(self) -> datetime:
        now = self.now
        self.now += self.step
        return now


@dataclass
class Backend:
    """A database to test against; ``open()`` stores are closed at teardown."""

    name: str
    url: str
    schema: str | None = None
    stores: list[CallLogStore] = field(default_factory=list)

    async def open(self, **kwargs: Any) -> CallLogStore:
        store = await CallLogStore.open(self.url, schema=self.schema, **kwargs)
        self.stores.append(store)
        return store

    async def close_all(self) -> None:
        for store in self.stores:
            await store.close()


@asynccontextmanager
async def _postgres_backend() -> AsyncIterator[Backend]:
    if SKIP_PG:
        pytest.skip("CTIKIT_SKIP_POSTGRES=1")
    admin = create_async_engine(PG_URL, poolclass=NullPool)
    try:
        async with admin.connect() as conn:
            await conn.exec_driver_sql("SELECT 1")
    except (OSError, SQLAlchemyError) as exc:
        await admin.dispose()
        pytest.fail(
            f"PostgreSQL at {PG_URL} is not reachable ({exc}); "
            "start it or set CTIKIT_SKIP_POSTGRES=1 to skip the PostgreSQL tests"
        )
    schema = f"ctikit_test_{uuid.uuid4().hex[:16]}"
    backend = Backend("postgres", PG_URL, schema)
    try:
        yield backend
    finally:
        await backend.close_all()
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f'DROP SCHEMA IF EXISTS "{schema}" CASCADE')
        await admin.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    """A fresh, empty database: a SQLite file in tmp_path or a PostgreSQL schema."""
    if request.param == "sqlite":
        sqlite = Backend("sqlite", str(tmp_path / "ctikit.db"))
        try:
            yield sqlite
        finally:
            await sqlite.close_all()
    else:
        async with _postgres_backend() as pg:
            yield pg


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
async def store(backend: Backend, clock: FakeClock) -> CallLogStore:
    """An open store on ``backend`` whose created_at values come from ``clock``."""
    return await backend.open(clock=clock)


@pytest.fixture
def make_log() -> Callable[..., NewCallLog]:
    """Build a NewCallLog with sensible defaults; keyword arguments override."""

    def make(**overrides: Any) -> NewCallLog:
        values: dict[str, Any] = {
            "agent_id": "agent-1",
            "call_id": "call-1",
            "call_type": "INBOUND",
        }
        values.update(overrides)
        return NewCallLog(**values)

    return make
