"""Bad URLs raise ValueError; unreachable or broken databases raise StorageError."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from sqlalchemy.ext.asyncio import create_async_engine
from sqlalchemy.pool import NullPool

from ctikit.storage import CallLogStore, NewCallLog, StorageError
from ctikit.storage.engine import normalize_url

from .conftest import PG_URL, SKIP_PG, Backend


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("ctikit.db", "sqlite+aiosqlite:///ctikit.db"),
        ("/var/lib/ctikit/calls.db", "sqlite+aiosqlite:////var/lib/ctikit/calls.db"),
        ("sqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+pysqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("sqlite+aiosqlite:///x.db", "sqlite+aiosqlite:///x.db"),
        ("postgresql://u@h:5433/db", "postgresql+asyncpg://u@h:5433/db"),
        ("postgres://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+psycopg2://u@h/db", "postgresql+asyncpg://u@h/db"),
        ("postgresql+asyncpg://u@h/db", "postgresql+asyncpg://u@h/db"),
    ],
)
def test_normalize_url(given: str, expected: str) -> None:
    assert normalize_url(given).render_as_string(hide_password=False) == expected


def test_normalize_url_accepts_paths(tmp_path: Path) -> None:
    assert normalize_url(tmp_path / "a.db").database == str(tmp_path / "a.db")


@pytest.mark.parametrize("url", ["", "   ", "mysql://u@h/db", "not a url://"])
async def test_bad_urls_raise_value_error(url: str) -> None:
    with pytest.raises(ValueError):
        await CallLogStore.open(url)


async def test_schema_is_postgres_only(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="PostgreSQL"):
        await CallLogStore.open(tmp_path / "x.db", schema="s")


async def test_invalid_schema_name() -> None:
    with pytest.raises(ValueError, match="invalid schema name"):
        await CallLogStore.open("postgresql://u@127.0.0.1:1/db", schema='x"; DROP')


async def test_unreachable_postgres() -> None:
    with pytest.raises(StorageError) as info:
        await CallLogStore.open("postgresql://postgres:s3cret@127.0.0.1:1/test")
    message = str(info.value)
    assert message.startswith("could not connect to postgresql at 127.0.0.1:1/test: ")
    assert "refused" in message.lower() or "connect call failed" in message.lower()
    assert "s3cret" not in message
    assert isinstance(info.value.__cause__, OSError)


async def test_unopenable_sqlite_file(tmp_path: Path) -> None:
    path = tmp_path / "missing-dir" / "x.db"
    with pytest.raises(StorageError, match=r"could not connect to sqlite database .*missing-dir"):
        await CallLogStore.open(path)


@pytest.mark.postgres
async def test_missing_postgres_database() -> None:
    if SKIP_PG:
        pytest.skip("CTIKIT_SKIP_POSTGRES=1")
    url = normalize_url(PG_URL).set(database="ctikit_no_such_db")
    with pytest.raises(StorageError, match=r"ctikit_no_such_db.*does not exist"):
        await CallLogStore.open(url)


async def test_database_errors_after_open_are_wrapped(
    backend: Backend, make_log: Callable[..., NewCallLog]
) -> None:
    store = await backend.open()
    # Break the schema behind the store's back, from another connection.
    admin = create_async_engine(store._engine.url, poolclass=NullPool)
    table = f'"{backend.schema}".call_logs' if backend.schema else "call_logs"
    try:
        async with admin.begin() as conn:
            await conn.exec_driver_sql(f"DROP TABLE {table}")
    finally:
        await admin.dispose()
    with pytest.raises(StorageError, match=r"could not count call logs: .*call_logs"):
        await store.count()
    with pytest.raises(StorageError, match="could not save call log: "):
        await store.save(make_log())
