"""CallLogStore: async, durable persistence of call logs.

Writes and the database's single writer
---------------------------------------
SQLite allows one writer at a time. Left to itself, a busy server's concurrent writes
wait for each other inside SQLite while each holds a pooled connection, until
``busy_timeout`` expires ("database is locked") or the pool runs dry. So on SQLite
every write transaction of a store waits its turn on an asyncio lock *before* it takes a
connection, then starts with ``BEGIN IMMEDIATE`` (so a writer in another process makes
it wait up to ``busy_timeout`` instead of failing at once). Reads (WAL) never wait for
writes. PostgreSQL writes run concurrently.

Call logs are group-committed: :meth:`CallLogStore.save` queues the row and a writer
task inserts everything queued so far in one transaction (one fsync), so saves that
arrive while a commit is in flight go in the next one together. Each caller gets its
own id and returns only after the transaction holding its row committed; a failure is
reported to every caller of that transaction (a data error in one row is retried row
by row, so it fails only that row's caller). A save still queued after
``write_timeout`` seconds is withdrawn and fails with :class:`StorageError`.
"""

from __future__ import annotations

import asyncio
import builtins
import json
import os
import sqlite3
import time
from collections import deque
from collections.abc import AsyncIterator, Callable, Collection, Iterator, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, nullcontext
from dataclasses import dataclass
from datetime import datetime
from types import TracebackType
from typing import Any, Final, Self, cast

import msgspec
from alembic.util import CommandError
from sqlalchemy import ColumnElement, Select, Table, and_, func, insert, or_, select
from sqlalchemy.engine import URL
from sqlalchemy.exc import DataError, DBAPIError, IntegrityError, SQLAlchemyError, StatementError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, AsyncSession, async_sessionmaker
from sqlalchemy.pool import StaticPool

from .engine import (
    POOL_MAX_OVERFLOW,
    POOL_SIZE,
    POOL_TIMEOUT_SECONDS,
    build_engine,
    describe_target,
    normalize_url,
    prepare_sqlite_file,
    sqlite_file_path,
)
from .errors import StorageError, describe_error
from .migrate import migrate
from .models import CallLogRow, WebhookOutboxRow
from .records import (
    NEW_CALL_LOG_FIELDS,
    CallLog,
    NewCallLog,
    check_filter_datetime,
    new_log_id,
    require_aware,
    utc_now,
    validate_new_log,
)

MAX_LIST_LIMIT: Final = 1000
#: Rows read at once by exports and listings: a row may hold 64 KiB of attached data that
#: takes ~1.5 MB parsed, so a page stays small (issue 13, F2: +1.7 GB for one listing).
EXPORT_PAGE_SIZE: Final = 20
#: Longest wait for a turn to write (SQLite) or for a queued call log to be written.
WRITE_TIMEOUT_SECONDS: Final = 30.0
#: Most call logs committed in one transaction.
MAX_WRITE_BATCH: Final = 500
#: Call-log transactions in flight at once on PostgreSQL (SQLite: one).
POSTGRES_LOG_WRITERS: Final = 4

_LOG_TABLE: Final = cast(Table, CallLogRow.__table__)
_OUTBOX_TABLE: Final = cast(Table, WebhookOutboxRow.__table__)

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


@dataclass(slots=True, eq=False)
class _QueuedLog:
    """A call log waiting for the writer; ``future`` completes once it is committed."""

    row: dict[str, Any]
    future: asyncio.Future[None]
    outbox: list[dict[str, Any]]  # webhook deliveries committed with the log
    taken: bool = False  # in a transaction now: the caller can no longer withdraw it
    withdrawn: bool = False  # the caller gave up before it was taken: never written


def _is_row_error(exc: BaseException) -> bool:
    """Whether *exc* may be caused by one row's data (then retry the rows one by one)."""
    if isinstance(exc, IntegrityError | DataError):
        return True
    # Bind-parameter processing failed before reaching the database.
    return isinstance(exc, StatementError) and not isinstance(exc, DBAPIError)


def _consume(future: asyncio.Future[None]) -> None:
    """Retrieve an outcome nobody awaits any more (silences 'never retrieved')."""
    if not future.cancelled():
        future.exception()


def _to_record(row: CallLogRow, raw_data: bool = False) -> CallLog:
    # raw_data: the attached data stays the stored JSON text (msgspec.Raw, written out as
    # is): 64 KiB of text rather than up to ~1.5 MB of parsed objects (issue 13, F2).
    return CallLog(
        id=row.id,
        created_at=row.created_at,
        agent_id=row.agent_id,
        call_id=row.call_id,
        call_type=row.call_type,
        label=row.label,
        ani=row.ani,
        dnis=row.dnis,
        attached_data=(
            msgspec.Raw(row.attached_data.encode()) if raw_data else json.loads(row.attached_data)
        ),
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
        self,
        engine: AsyncEngine,
        *,
        clock: Callable[[], datetime] = utc_now,
        target: str = "",
        write_timeout: float = WRITE_TIMEOUT_SECONDS,
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
        self._sqlite = engine.dialect.name == "sqlite"
        # SQLite has one writer: this store's writes take turns (see the module doc).
        self._write_lock: asyncio.Lock | None = asyncio.Lock() if self._sqlite else None
        self._write_timeout = write_timeout
        self._log_queue: deque[_QueuedLog] = deque()
        self._log_writers = 0  # writer tasks running now
        self._max_log_writers = 1 if self._sqlite else POSTGRES_LOG_WRITERS
        self._writer_tasks: set[asyncio.Task[None]] = set()
        self._clock = clock
        self._target = target or describe_target(engine.url)
        self._closed = False
        #: Called with the seconds each call-log transaction took (the server's metrics).
        self.observe_commit: Callable[[float], None] | None = None
        #: Webhook outbox rows for a call log about to be saved (its stored values):
        #: inserted in the same transaction as the log (storage/webhooks.py).
        self.log_outbox: Callable[[CallLog], builtins.list[dict[str, Any]]] | None = None
        #: Called after a transaction that wrote outbox rows committed.
        self.outbox_written: Callable[[], None] | None = None

    @classmethod
    async def open(
        cls,
        url: str | os.PathLike[str] | URL,
        *,
        clock: Callable[[], datetime] = utc_now,
        echo: bool = False,
        schema: str | None = None,
        pool_size: int = POOL_SIZE,
        max_overflow: int = POOL_MAX_OVERFLOW,
        pool_timeout: float = POOL_TIMEOUT_SECONDS,
        write_timeout: float = WRITE_TIMEOUT_SECONDS,
    ) -> CallLogStore:
        """Connect, migrate the schema to head and return a ready store.

        *url* is a SQLite file path, a ``sqlite[+driver]://`` URL or a
        ``postgresql[+driver]://`` URL; it is switched to the async driver.
        *schema* (PostgreSQL only) keeps the tables in that schema, created if
        missing. *clock* supplies ``created_at`` (must return aware datetimes).
        The pool holds *pool_size* connections plus *max_overflow* more when busy;
        an operation waits at most *pool_timeout* s for one, and a write at most
        *write_timeout* s for its turn, before failing with :class:`StorageError`.
        """
        db_url = normalize_url(url)
        target = describe_target(db_url)
        engine = build_engine(
            db_url,
            echo=echo,
            schema=schema,
            pool_size=pool_size,
            max_overflow=max_overflow,
            pool_timeout=pool_timeout,
        )
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
        return cls(engine, clock=clock, target=target, write_timeout=write_timeout)

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
        """Refuse new work, finish writing the call logs already queued, then close all
        pooled connections. Idempotent."""
        if not self._closed:
            self._closed = True
            while self._writer_tasks:
                await asyncio.gather(*self._writer_tasks, return_exceptions=True)
            await self._engine.dispose()

    @asynccontextmanager
    async def _session(self) -> AsyncIterator[AsyncSession]:
        self._check_open()
        async with self._serial, self._sessions() as session:
            yield session

    @asynccontextmanager
    async def _write_turn(self, action: str) -> AsyncIterator[None]:
        """On SQLite, wait (at most write_timeout) until no other write of this store runs."""
        lock = self._write_lock
        if lock is None:
            yield
            return
        try:
            async with asyncio.timeout(self._write_timeout):
                await lock.acquire()
        except TimeoutError:
            raise StorageError(
                f"could not {action}: {self._target} is busy "
                f"(waited {self._write_timeout:g} s for other writes to finish)"
            ) from None
        try:
            yield
        finally:
            lock.release()

    @asynccontextmanager
    async def _write_session(self, action: str) -> AsyncIterator[AsyncSession]:
        """An ORM session inside a write transaction (committed on exit), in turn."""
        self._check_open()
        async with (
            self._write_turn(action),
            self._serial,
            self._sessions() as session,
            session.begin(),
        ):
            if self._sqlite:
                await (await session.connection()).exec_driver_sql("BEGIN IMMEDIATE")
            yield session

    @asynccontextmanager
    async def _write_connection(
        self, action: str, *, check_open: bool = True
    ) -> AsyncIterator[AsyncConnection]:
        """A Core connection inside a write transaction (committed on exit), in turn."""
        if check_open:
            self._check_open()
        async with (
            self._write_turn(action),
            self._serial,
            self._engine.connect() as conn,
            conn.begin(),
        ):
            if self._sqlite:
                # Take SQLite's write lock now (waiting busy_timeout for another
                # process), not at the first write, where it may fail at once.
                await conn.exec_driver_sql("BEGIN IMMEDIATE")
            yield conn

    def _check_open(self) -> None:
        if self._closed:
            raise StorageError("call log store is closed")

    def _now(self) -> datetime:
        return require_aware("clock()", self._clock())

    async def save(self, log: NewCallLog) -> CallLog:
        """Validate and insert *log*; returns once the transaction is committed.

        Raises ``ValueError`` (naming the field) when a value breaks a limit, and
        :class:`StorageError` when the database fails or stays busy for longer
        than ``write_timeout`` (the log is then not saved).
        """
        values, attached_json = validate_new_log(log)
        values.update(id=new_log_id(), created_at=self._now())
        self._check_open()
        # What is stored: attached_data as it reads back from JSON text.
        record = CallLog(**{**values, "attached_data": json.loads(attached_json)})
        outbox = self.log_outbox(record) if self.log_outbox is not None else []
        await self._commit_log({**values, "attached_data": attached_json}, outbox)
        if outbox and self.outbox_written is not None:
            self.outbox_written()
        return record

    # ------------------------------------------------------ group commit of logs

    async def _commit_log(self, row: dict[str, Any], outbox: builtins.list[dict[str, Any]]) -> None:
        """Queue *row* (and its outbox rows) for the writer and wait until its transaction
        committed."""
        item = _QueuedLog(row, asyncio.get_running_loop().create_future(), outbox)
        self._log_queue.append(item)
        self._start_log_writer()
        try:
            try:
                async with asyncio.timeout(self._write_timeout):
                    await asyncio.shield(item.future)
                return
            except TimeoutError:
                if not item.taken:
                    item.withdrawn = True
                    raise StorageError(
                        f"could not save call log: {self._target} is busy (not written "
                        f"within {self._write_timeout:g} s; the log was not saved)"
                    ) from None
            # Its transaction is under way and ends (commit or error) within the pool,
            # lock and driver timeouts: only then is the outcome known.
            await asyncio.shield(item.future)
        except asyncio.CancelledError:
            if item.taken:
                item.future.add_done_callback(_consume)
            else:
                item.withdrawn = True  # never written
            raise

    def _start_log_writer(self) -> None:
        if self._log_writers < self._max_log_writers:
            self._log_writers += 1
            task = asyncio.get_running_loop().create_task(self._write_logs())
            self._writer_tasks.add(task)
            task.add_done_callback(self._writer_tasks.discard)

    def _take_batch(self) -> builtins.list[_QueuedLog]:
        batch: builtins.list[_QueuedLog] = []
        queue = self._log_queue
        while queue and len(batch) < MAX_WRITE_BATCH:
            item = queue.popleft()
            if not item.withdrawn:
                item.taken = True
                batch.append(item)
        return batch

    def _has_queued_logs(self) -> bool:
        queue = self._log_queue
        while queue and queue[0].withdrawn:
            queue.popleft()
        return bool(queue)

    async def _write_logs(self) -> None:
        """Writer task: commit what is queued, batch after batch, until the queue is empty.

        The batch is taken once the transaction has begun (after waiting for the
        turn to write and for a connection), so it holds every save that arrived
        meanwhile. The count of running writers drops in the same step as the queue
        is found empty, so a save queued afterwards always starts a new writer.
        """
        batch: builtins.list[_QueuedLog] = []
        try:
            while self._has_queued_logs():
                batch = []
                try:
                    async with self._write_connection("save call log", check_open=False) as conn:
                        began = time.perf_counter()
                        batch = self._take_batch()
                        if batch:
                            await self._insert_rows(conn, batch)
                    if self.observe_commit is not None:
                        self.observe_commit(time.perf_counter() - began)
                except Exception as exc:
                    if not batch:
                        # The turn, the connection or BEGIN failed: fail the saves
                        # waiting now rather than retry them forever.
                        batch = self._take_batch()
                    await self._batch_failed(batch, exc)
                else:
                    for item in batch:
                        if not item.future.done():
                            item.future.set_result(None)
        finally:
            self._log_writers -= 1
            # Only when this task is cancelled (event loop shutting down): nobody may
            # wait forever for a writer that is gone.
            stranded = [i for i in batch if not i.future.done()]
            while self._log_writers == 0 and self._log_queue:
                stranded += self._take_batch()
            error = StorageError("could not save call log: the store's writer was stopped")
            for item in stranded:
                self._fail(item, error)

    async def _batch_failed(self, batch: builtins.list[_QueuedLog], exc: Exception) -> None:
        if len(batch) > 1 and _is_row_error(exc):
            # One row may be at fault: save the rows one by one, so only its save fails.
            for item in batch:
                try:
                    async with self._write_connection("save call log", check_open=False) as conn:
                        await self._insert_rows(conn, [item])
                except Exception as row_exc:
                    self._fail(item, row_exc)
                else:
                    if not item.future.done():
                        item.future.set_result(None)
            return
        for item in batch:
            self._fail(item, exc)

    @staticmethod
    def _fail(item: _QueuedLog, exc: BaseException) -> None:
        if item.future.done():
            return
        if isinstance(exc, StorageError):
            error = StorageError(str(exc))
        else:
            error = StorageError(f"could not save call log: {describe_error(exc)}")
        error.__cause__ = exc  # one exception per caller, the same cause
        item.future.set_exception(error)

    @staticmethod
    async def _insert_rows(conn: AsyncConnection, batch: builtins.list[_QueuedLog]) -> None:
        """Insert the rows of *batch*; the ids the database returns are checked."""
        table = _LOG_TABLE
        rows = [item.row for item in batch]
        dialect = conn.dialect
        many = len(rows) > 1
        if dialect.insert_executemany_returning if many else dialect.insert_returning:
            result = await conn.execute(
                insert(table).returning(table.c.id), rows if many else rows[0]
            )
            stored = sorted(result.scalars().all())
            if stored != sorted(row["id"] for row in rows):
                raise StorageError(
                    f"could not save call log: the database confirmed {len(stored)} "
                    f"of {len(rows)} rows"
                )
        else:  # SQLite before 3.35 has no RETURNING
            await conn.execute(insert(table), rows)
        outbox = [r for item in batch for r in item.outbox]
        if outbox:
            await conn.execute(insert(_OUTBOX_TABLE), outbox)

    async def ping(self) -> None:
        """One round trip to the database (readiness); :class:`StorageError` if it fails."""
        with _db_errors(f"reach {self._target}"):
            async with self._session() as session:
                await session.execute(select(1))

    async def update(self, log: CallLog) -> CallLog:
        """Write *log*'s subject, comments, disposition, duration and attached data over the
        stored log with its id (an Open CTI ``saveLog`` with an ``Id``). ``LookupError`` if
        there is none; ``ValueError`` (naming the field) when a value breaks a limit."""
        values, attached_json = validate_new_log(
            NewCallLog(**{k: getattr(log, k) for k in NEW_CALL_LOG_FIELDS})
        )
        with _db_errors("update call log"):
            async with self._write_session("update call log") as session:
                row = await session.get(CallLogRow, log.id)
                if row is None or row.agent_id != log.agent_id:
                    raise LookupError(f"no call log {log.id!r} of this agent")
                row.subject = values["subject"]
                row.comments = values["comments"]
                row.disposition = values["disposition"]
                row.duration_seconds = values["duration_seconds"]
                row.attached_data = attached_json
        return log

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
        raw_data: bool = False,
    ) -> builtins.list[CallLog]:
        """Matching logs, newest first (created_at, then id, descending).

        ``since`` is inclusive and ``until`` exclusive, both on created_at.
        *limit* is capped at 1000; ``ValueError`` if limit < 1 or offset < 0. With
        ``raw_data`` each log's attached data is its JSON text (``msgspec.Raw``).
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
        return await self._fetch(stmt, "list call logs", raw_data)

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
        raw_data: bool = False,
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
            page = await self._fetch(stmt, "export call logs", raw_data)
            for log in page:
                yield log
            if len(page) < page_size:
                return
            after = (page[-1].created_at, page[-1].id)

    async def _fetch(
        self, stmt: Select[CallLogRow], action: str, raw_data: bool = False
    ) -> builtins.list[CallLog]:
        with _db_errors(action):
            async with self._session() as session:
                rows: Sequence[CallLogRow] = (await session.scalars(stmt)).all()
        return [_to_record(row, raw_data) for row in rows]


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
