"""CallLogStore: async, durable persistence of call logs."""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import sqlite3
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self

from alembic.util import CommandError
from sqlalchemy import ColumnElement, Select, and_, func, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import StaticPool

from .engine import (
    build_engine,
    describe_target,
    normalize_url,
    prepare_sqlite_file,
    sqlite_file_path,
)
from .errors import StorageError, describe_error
from .migrate import migrate
from .models import CallLogRow
from .records import (
    CallLog,
    NewCallLog,
    check_filter_datetime,
    new_log_id,
    require_aware,
    utc_now,
    validate_new_log,
)

MAX_LIST_LIMIT: Final = 1000
EXPORT_PAGE_SIZE: Final = 500

# SQLAlchemy wraps driver errors, but connection failures (refused, timeout)
# surface as plain OSError from the async drivers; sqlite3.Error comes from
# prepare_sqlite_file, which uses the stdlib driver directly.
_DB_ERRORS: Final = (SQLAlchemyError, OSError, sqlite3.Error)


@contextmanager
def _db_errors(action: str) -> Iterator[None]:
    try:
        yield
    except _DB_ERRORS as exc:
        raise StorageError(f"could not {action}: {describe_error(exc)}") from exc


def _to_record(row: CallLogRow) -> CallLog:
    return CallLog(
        id=row.id,
        created_at=row.created_at,
        agent_id=row.agent_id,
        call_id=row.call_id,
        call_type=row.call_type,
        label=row.label,
        ani=row.ani,
        dnis=row.dnis,
        attached_data=json.loads(row.attached_data),
        started_at=row.started_at,
        ended_at=row.ended_at,
        duration_seconds=row.duration_seconds,
        disposition=row.disposition,
        subject=row.subject,
        comments=row.comments,
    )


class CallLogStore:
    """Saves and queries call logs in SQLite or PostgreSQL.

    Create with :meth:`open`; close with :meth:`close` (or ``async with``).
    Database failures raise :class:`StorageError`, bad input ``ValueError``.
    """

    def __init__(
        self, engine: AsyncEngine, *, clock: Callable[[], datetime] = utc_now, target: str = ""
    ) -> None:
        """Wrap an already migrated *engine*; prefer :meth:`open`."""
        self._engine = engine
        self._sessions = async_sessionmaker(engine, expire_on_commit=False)
        # An in-memory SQLite database lives in one connection that StaticPool
        # hands to every session; concurrent sessions would then commit or roll
        # back each other's work, so they take turns instead.
        self._serial: AbstractAsyncContextManager[Any] = (
            asyncio.Lock() if isinstance(engine.pool, StaticPool) else nullcontext()
        )
        self._clock = clock
        self._target = target or describe_target(engine.url)
        self._closed = False

    @classmethod
    async def open(
        cls,
        url: str | os.PathLike[str] | URL,
        *,
        clock: Callable[[], datetime] = utc_now,
        echo: bool = False,
        schema: str | None = None,
    ) -> CallLogStore:
        """Connect, migrate the schema to head and return a ready store.

        *url* is a SQLite file path, a ``sqlite[+driver]://`` URL or a
        ``postgresql[+driver]://`` URL; it is switched to the async driver.
        *schema* (PostgreSQL only) keeps the tables in that schema, created if
        missing. *clock* supplies ``created_at`` (must return aware datetimes).
        """
        db_url = normalize_url(url)
        target = describe_target(db_url)
        engine = build_engine(db_url, echo=echo, schema=schema)
        try:
            sqlite_path = sqlite_file_path(db_url)
            if sqlite_path is not None:
                with _db_errors(f"connect to {target}"):
                    await asyncio.to_thread(prepare_sqlite_file, sqlite_path)
            with _db_errors(f"connect to {target}"):
                async with engine.connect():
                    pass
            try:
                await migrate(engine, schema=schema)
            except CommandError as exc:
                # Typically a database migrated by a newer ctikit.
                raise StorageError(f"could not migrate {target}: {exc}") from exc
            except _DB_ERRORS as exc:
                raise StorageError(f"could not migrate {target}: {describe_error(exc)}") from exc
        except BaseException:
            await engine.dispose()
            raise
        return cls(engine, clock=clock, target=target)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    def __repr__(self) -> str:
        return f"<CallLogStore {self._target}{' (closed)' if self._closed else ''}>"

    async def close(self) -> None:
        """Close all pooled connections. Idempotent."""
        if not self._closed:
            self._closed = True
            await self._engine.dispose()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        self._check_open()
        async with self._serial, self._sessions() as session:
            yield session

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("call log store is closed")

    def _now(self) -> datetime:
        return require_aware("clock()", self._clock())

    async def save(self, log: NewCallLog) -> CallLog:
        """Validate and insert *log*; returns once the transaction is committed.

        Raises ``ValueError`` (naming the field) when a value breaks a limit.
        """
        values, attached_json = validate_new_log(log)
        values.update(id=new_log_id(), created_at=self._now())
        row = CallLogRow(**{**values, "attached_data": attached_json})
        with _db_errors("save call log"):
            async with self._session() as session, session.begin():
                session.add(row)
        # Return what was stored: attached_data as it reads back from JSON text.
        values["attached_data"] = json.loads(attached_json)
        return CallLog(**values)

    async def get(self, log_id: str) -> CallLog | None:
        """The log with *log_id*, or None."""
        with _db_errors("read call log"):
            async with self._session() as session:
                row = await session.get(CallLogRow, log_id)
        return None if row is None else _to_record(row)

    async def list(
        self,
        *,
        agent_id: str | Collection[str] | None = None,
        call_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> builtins.list[CallLog]:
        """Matching logs, newest first (created_at, then id, descending).

        ``since`` is inclusive and ``until`` exclusive, both on created_at.
        *limit* is capped at 1000; ``ValueError`` if limit < 1 or offset < 0.
        """
        if limit < 1:
            raise ValueError(f"limit must be at least 1, got {limit}")
        if offset < 0:
            raise ValueError(f"offset must not be negative, got {offset}")
        where = _filters(agent_id, call_id, since, until)
        stmt = (
            select(CallLogRow)
            .where(*where)
            .order_by(CallLogRow.created_at.desc(), CallLogRow.id.desc())
            .limit(min(limit, MAX_LIST_LIMIT))
            .offset(offset)
        )
        return await self._fetch(stmt, "list call logs")

    async def count(
        self,
        *,
        agent_id: str | Collection[str] | None = None,
        call_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> int:
        """Number of logs matching the same filters as :meth:`list`."""
        where = _filters(agent_id, call_id, since, until)
        stmt = select(func.count()).select_from(CallLogRow).where(*where)
        with _db_errors("count call logs"):
            async with self._session() as session:
                return int(await session.scalar(stmt) or 0)

    async def iter_all(
        self,
        *,
        agent_id: str | Collection[str] | None = None,
        call_id: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        page_size: int = EXPORT_PAGE_SIZE,
    ) -> AsyncIterator[CallLog]:
        """Stream matching logs oldest first, one short query per page (for export).

        Pages are keyed on (created_at, id) rather than offsets, so logs saved
        during a long export neither shift nor duplicate rows.
        """
        if page_size < 1:
            raise ValueError(f"page_size must be at least 1, got {page_size}")
        where = _filters(agent_id, call_id, since, until)
        after: tuple[datetime, str] | None = None
        while True:
            stmt = select(CallLogRow).where(*where)
            if after is not None:
                stmt = stmt.where(
                    or_(
                        CallLogRow.created_at > after[0],
                        and_(CallLogRow.created_at == after[0], CallLogRow.id > after[1]),
                    )
                )
            stmt = stmt.order_by(CallLogRow.created_at.asc(), CallLogRow.id.asc()).limit(page_size)
            page = await self._fetch(stmt, "export call logs")
            for log in page:
                yield log
            if len(page) < page_size:
                return
            after = (page[-1].created_at, page[-1].id)

    async def _fetch(self, stmt: Select[CallLogRow], action: str) -> builtins.list[CallLog]:
        with _db_errors(action):
            async with self._session() as session:
                rows: Sequence[CallLogRow] = (await session.scalars(stmt)).all()
        return [_to_record(row) for row in rows]


def _filters(
    agent_id: str | Collection[str] | None,
    call_id: str | None,
    since: datetime | None,
    until: datetime | None,
) -> list[ColumnElement[bool]]:
    where: list[ColumnElement[bool]] = []
    if isinstance(agent_id, str):
        where.append(CallLogRow.agent_id == agent_id)
    elif agent_id is not None:
        # Several agents (a supervisor's team); an empty collection matches nothing.
        where.append(CallLogRow.agent_id.in_(sorted(agent_id)))
    if call_id is not None:
        where.append(CallLogRow.call_id == call_id)
    since = check_filter_datetime("since", since)
    if since is not None:
        where.append(CallLogRow.created_at >= since)
    until = check_filter_datetime("until", until)
    if until is not None:
        where.append(CallLogRow.created_at < until)
    return where
