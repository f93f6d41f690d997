"""Database URL normalisation and engine construction (SQLite / PostgreSQL)."""

from __future__ import annotations

import os
import re
import sqlite3
import time
from typing import Any, Final

from sqlalchemy import event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

SQLITE_DRIVER: Final = "sqlite+aiosqlite"
POSTGRES_DRIVER: Final = "postgresql+asyncpg"
BUSY_TIMEOUT_SECONDS: Final = 10.0
CONNECT_TIMEOUT_SECONDS: Final = 10.0
# Connection pool (file databases and PostgreSQL). Writes to SQLite take one connection
# at a time (CallLogStore serialises them), so the pool is mostly for concurrent reads;
# a caller waits at most POOL_TIMEOUT_SECONDS for a connection, then gets an error.
POOL_SIZE: Final = 5
POOL_MAX_OVERFLOW: Final = 10
POOL_TIMEOUT_SECONDS: Final = 30.0

_SCHEMA_RE: Final = re.compile(r"[a-z_][a-z0-9_]{0,62}")


def normalize_url(url: str | os.PathLike[str] | URL) -> URL:
    """Turn a path or database URL into a URL for an async driver.

    A value without ``://`` is a SQLite file path (``~`` is expanded).
    ``sqlite://``/``sqlite+pysqlite://`` map to aiosqlite and
    ``postgres://``/``postgresql[+driver]://`` to asyncpg.
    """
    if isinstance(url, URL):
        parsed = url
    else:
        text = os.fspath(url)
        if not text.strip():
            raise ValueError("database URL must not be empty")
        if "://" not in text:
            path = text if text == ":memory:" else os.path.expanduser(text)
            return URL.create(SQLITE_DRIVER, database=path)
        try:
            parsed = make_url(text)
        except ArgumentError as exc:
            raise ValueError(f"invalid database URL: {exc}") from exc
    backend = parsed.get_backend_name()
    if backend == "sqlite":
        return parsed.set(drivername=SQLITE_DRIVER)
    if backend in ("postgresql", "postgres"):
        return parsed.set(drivername=POSTGRES_DRIVER)
    raise ValueError(
        f"unsupported database {parsed.drivername!r}: use a SQLite path/URL or postgresql://"
    )


def describe_target(url: URL) -> str:
    """Where *url* points, for error messages; never includes the password."""
    if url.get_backend_name() == "sqlite":
        return f"sqlite database {url.database or ':memory:'}"
    return f"postgresql at {url.host or 'localhost'}:{url.port or 5432}/{url.database or ''}"


def check_schema_name(schema: str) -> str:
    """Validate a PostgreSQL schema name (plain lower-case identifier only)."""
    if not _SCHEMA_RE.fullmatch(schema):
        raise ValueError(f"invalid schema name {schema!r}: use [a-z_][a-z0-9_]*, max 63 chars")
    return schema


def sqlite_file_path(url: URL) -> str | None:
    """The file behind a SQLite *url*, or None for in-memory/URI databases."""
    path = url.database
    if url.get_backend_name() != "sqlite":
        return None  # a PostgreSQL database name is not a file here
    if not path or path == ":memory:" or path.startswith("file:") or "mode" in url.query:
        return None
    return path


def prepare_sqlite_file(path: str) -> None:
    """Create the database file if needed and switch it to WAL (blocking; run in a thread).

    WAL mode is stored in the file, so this is a one-time conversion. Doing it
    here, with retries, matters because SQLite may refuse the conversion with
    "database is locked" *without* waiting for busy_timeout when several
    connections race to create the same new file.
    """
    parent = os.path.dirname(os.path.abspath(path))
    if not os.path.isdir(parent):
        raise FileNotFoundError(f"directory {parent} does not exist")
    if os.path.isdir(path):
        raise IsADirectoryError(f"{path} is a directory")
    deadline = time.monotonic() + BUSY_TIMEOUT_SECONDS
    conn = sqlite3.connect(path, timeout=BUSY_TIMEOUT_SECONDS)
    try:
        while True:
            try:
                conn.execute("PRAGMA journal_mode = WAL").fetchall()
                return
            except sqlite3.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
    finally:
        conn.close()


def _sqlite_on_connect(dbapi_connection: Any, _record: ConnectionPoolEntry) -> None:
    # busy_timeout first: switching to WAL needs a lock another process may hold.
    # WAL + synchronous=FULL: a commit is fsynced to the WAL before it returns,
    # so an acknowledged save survives a process kill and also a power cut.
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {int(BUSY_TIMEOUT_SECONDS * 1000)}")
        cursor.execute("PRAGMA journal_mode = WAL")
        cursor.execute("PRAGMA synchronous = FULL")
        cursor.execute("PRAGMA foreign_keys = ON")
    finally:
        cursor.close()


def _sqlite_pooled(url: URL) -> bool:
    """Whether SQLAlchemy gives this SQLite *url* a queue pool (a file, not memory)."""
    db = url.database
    return bool(db) and db != ":memory:" and url.query.get("mode") != "memory"


def build_engine(
    url: URL,
    *,
    echo: bool = False,
    schema: str | None = None,
    pool_size: int = POOL_SIZE,
    max_overflow: int = POOL_MAX_OVERFLOW,
    pool_timeout: float = POOL_TIMEOUT_SECONDS,
) -> AsyncEngine:
    """Create an async engine for a normalised *url* with durability settings.

    The pool settings apply to SQLite files and PostgreSQL; an in-memory SQLite
    database is one shared connection.
    """
    pool: dict[str, Any] = {
        "pool_size": pool_size,
        "max_overflow": max_overflow,
        "pool_timeout": pool_timeout,
    }
    if url.get_backend_name() == "sqlite":
        if schema is not None:
            raise ValueError("schema is only supported for PostgreSQL")
        engine = create_async_engine(
            url,
            echo=echo,
            connect_args={"timeout": BUSY_TIMEOUT_SECONDS},
            **(pool if _sqlite_pooled(url) else {}),
        )
        event.listen(engine.sync_engine, "connect", _sqlite_on_connect)
        return engine
    connect_args: dict[str, Any] = {}
    if "timeout" not in url.query:
        # asyncpg waits 60 s by default; fail faster when the host is unreachable.
        connect_args["timeout"] = CONNECT_TIMEOUT_SECONDS
    if schema is not None:
        connect_args["server_settings"] = {"search_path": check_schema_name(schema)}
    # pre_ping: a long-running server must survive PostgreSQL restarts.
    return create_async_engine(
        url, echo=echo, pool_pre_ping=True, connect_args=connect_args, **pool
    )
