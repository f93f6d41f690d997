"""Backups of everything in ctikit's database, portable between SQLite and PostgreSQL.

A backup is gzip-compressed JSON lines:

    {"format": "ctikit-backup", "version": 1, "revision": "0004", "ctikit": "0.1.0", ...}
    {"table": "users", "row": {"username": "alice", ...}}
    ...
    {"end": true, "rows": {"users": 1, ...}}

Every table of the schema (:data:`~ctikit.storage.models.Base`'s metadata) is written,
parents before children, in primary-key order, from one read transaction (a consistent
snapshot while the server runs). Values are JSON's own; times are ISO 8601 UTC text, bytes
base64. The end record makes a cut-off file an error instead of a partial restore.

A restore goes into a database at the same schema revision (the same ctikit version) in one
transaction: all of it or nothing.
"""

from __future__ import annotations

import base64
import gzip
import json
import os
import zlib
from collections.abc import Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, Final

from sqlalchemy import Connection, Integer, LargeBinary, Table, delete, insert, select, text
from sqlalchemy.types import DateTime

from .migrate import current_revision
from .models import Base, UTCDateTime
from .store import CallLogStore

FORMAT: Final = "ctikit-backup"
FORMAT_VERSION: Final = 1
_BATCH: Final = 500


class BackupError(Exception):
    """The backup cannot be made or restored; the message is one line saying why."""


def tables() -> list[Table]:
    """Every table a backup holds, parents first."""
    return list(Base.metadata.sorted_tables)


def _encode(table: Table, row: dict[str, Any]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in row.items():
        if isinstance(value, datetime):
            out[key] = value.isoformat()
        elif isinstance(value, bytes | memoryview):
            out[key] = base64.b64encode(bytes(value)).decode()
        else:
            out[key] = value
    return out


def _decode(table: Table, row: object, line: int) -> dict[str, Any]:
    if not isinstance(row, dict):
        raise BackupError(f"line {line}: a row must be a JSON object")
    out: dict[str, Any] = {}
    for key, value in row.items():
        column = table.columns.get(key)
        if column is None:
            raise BackupError(f"line {line}: table {table.name} has no column {key!r}")
        if value is not None and isinstance(column.type, UTCDateTime | DateTime):
            try:
                value = datetime.fromisoformat(value)
            except (TypeError, ValueError):
                raise BackupError(f"line {line}: {table.name}.{key} is not a time") from None
        elif value is not None and isinstance(column.type, LargeBinary):
            value = base64.b64decode(value)
        out[key] = value
    return out


# ----------------------------------------------------------------------- backup


async def write_backup(store: CallLogStore, path: Path, *, made_by: str) -> dict[str, int]:
    """Write the whole database to ``path`` (a new file, mode 0600: it holds password
    hashes and the signing keys); ``made_by`` is the ctikit version, for the header.
    Returns the rows written per table."""
    partial = _start(path)
    try:
        with os.fdopen(os.open(partial, os.O_WRONLY), "wb") as raw:
            with gzip.GzipFile(fileobj=raw, mode="wb") as out:
                counts = await _dump(store, out, made_by)
            raw.flush()
            os.fsync(raw.fileno())
        _finish(partial, path)
    finally:
        _remove(partial)
    return counts


def _start(path: Path) -> Path:
    """A new, empty, private file beside ``path`` to write the backup into."""
    if path.exists():
        raise BackupError(f"{path} exists already; choose a new name or remove it")
    partial = path.with_name(f".{path.name}.partial")
    try:
        os.close(os.open(partial, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600))
    except OSError as exc:
        raise BackupError(f"cannot write {partial}: {exc.strerror}") from None
    return partial


def _finish(partial: Path, path: Path) -> None:
    """The whole file gets its name at once, and never replaces another."""
    try:
        os.link(partial, path)
    except FileExistsError:
        raise BackupError(f"{path} exists already; choose a new name or remove it") from None


def _remove(partial: Path) -> None:
    partial.unlink(missing_ok=True)


async def _dump(store: CallLogStore, out: gzip.GzipFile, made_by: str) -> dict[str, int]:
    def line(obj: dict[str, Any]) -> None:
        out.write(json.dumps(obj, ensure_ascii=False, separators=(",", ":")).encode() + b"\n")

    counts: dict[str, int] = {}
    engine = store._engine
    async with engine.connect() as conn:
        if engine.dialect.name == "postgresql":
            # One snapshot for every table, while the server goes on writing.
            await conn.execution_options(isolation_level="REPEATABLE READ")
        async with conn.begin():
            if engine.dialect.name == "sqlite":
                # pysqlite begins only before a write; a read snapshot needs an explicit one.
                await conn.exec_driver_sql("BEGIN")
            revision = await conn.run_sync(current_revision)
            line(
                {
                    "format": FORMAT,
                    "version": FORMAT_VERSION,
                    "revision": revision,
                    "ctikit": made_by,
                    "source": engine.dialect.name,
                }
            )
            for table in tables():
                n = 0
                result = await conn.stream(select(table).order_by(*table.primary_key.columns))
                async for row in result.mappings():
                    line({"table": table.name, "row": _encode(table, dict(row))})
                    n += 1
                counts[table.name] = n
    line({"end": True, "rows": counts})
    return counts


# ---------------------------------------------------------------------- restore


def read_header(path: Path) -> dict[str, Any]:
    """The backup's first record, checked; BackupError if ``path`` is not a backup."""
    for _, record in _records(path):
        return record
    raise BackupError(f"{path} is empty: not a ctikit backup")


def _records(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        with gzip.open(path, "rb") as f:
            for number, raw in enumerate(f, 1):
                try:
                    record = json.loads(raw)
                except ValueError:
                    raise BackupError(f"{path}: line {number} is not JSON") from None
                if not isinstance(record, dict):
                    raise BackupError(f"{path}: line {number} is not a JSON object")
                if number == 1 and (
                    record.get("format") != FORMAT or record.get("version") != FORMAT_VERSION
                ):
                    raise BackupError(
                        f"{path} is not a ctikit backup of format version {FORMAT_VERSION}"
                    )
                yield number, record
    except FileNotFoundError:
        raise BackupError(f"no backup file {path}") from None
    except (gzip.BadGzipFile, EOFError, zlib.error) as exc:
        raise BackupError(f"{path} is not a whole gzip file ({exc}): not a ctikit backup") from None
    except OSError as exc:
        raise BackupError(f"cannot read {path}: {exc.strerror or exc}") from None


async def restore_backup(store: CallLogStore, path: Path, *, force: bool) -> dict[str, int]:
    """Put the backup in ``path`` into ``store``'s database, in one transaction. Refuses a
    database that holds anything unless ``force`` (which replaces all of it). Returns the
    rows restored per table."""
    header = read_header(path)
    async with store._write_connection("restore a backup") as conn:
        return await conn.run_sync(_restore, path, header, force)


def _restore(conn: Connection, path: Path, header: dict[str, Any], force: bool) -> dict[str, int]:
    revision = current_revision(conn)
    if header.get("revision") != revision:
        raise BackupError(
            f"{path} holds schema revision {header.get('revision')} (ctikit "
            f"{header.get('ctikit')}), this ctikit's database is at {revision}: "
            f"restore it with ctikit {header.get('ctikit')}, then upgrade (docs/operations.md)"
        )
    by_name = {t.name: t for t in tables()}
    used = [t.name for t in by_name.values() if conn.scalar(select(1).select_from(t).limit(1))]
    if used and not force:
        raise BackupError(
            f"the database already holds data ({', '.join(used)}): restore into an empty "
            "database, or pass --force to replace everything in it"
        )
    for table in reversed(tables()):
        conn.execute(delete(table))
    counts = dict.fromkeys(by_name, 0)
    pending: list[dict[str, Any]] = []
    current: Table | None = None
    end: dict[str, Any] | None = None

    def flush() -> None:
        if pending and current is not None:
            conn.execute(insert(current), pending)
            pending.clear()

    for number, record in _records(path):
        if number == 1:
            continue
        if end is not None:
            raise BackupError(f"{path}: line {number} follows the end record")
        if record.get("end") is True:
            end = record
            continue
        table = by_name.get(str(record.get("table")))
        if table is None:
            raise BackupError(f"{path}: line {number} names no table of this schema")
        if table is not current:
            flush()
            current = table
        pending.append(_decode(table, record.get("row"), number))
        counts[table.name] += 1
        if len(pending) >= _BATCH:
            flush()
    flush()
    if end is None:
        raise BackupError(f"{path} is cut off (no end record): was the backup interrupted?")
    if end.get("rows") != counts:
        raise BackupError(f"{path}: the end record counts {end.get('rows')}, the file {counts}")
    if conn.dialect.name == "postgresql":
        advance_sequences(conn, tables())
    return counts


def advance_sequences(conn: Connection, which: list[Table]) -> None:
    """Integer keys inserted with their values leave PostgreSQL's sequences behind: move
    each past its table's largest key, so the next row the server adds gets a new one."""
    for table in which:
        keys = list(table.primary_key.columns)
        if len(keys) == 1 and isinstance(keys[0].type, Integer):
            column = keys[0]
            quoted = conn.dialect.identifier_preparer.quote(table.name)
            conn.execute(
                text(
                    "SELECT setval(pg_get_serial_sequence(:t, :c), "
                    f"(SELECT coalesce(max({column.name}), 0) + 1 FROM {quoted}), false) "
                    "WHERE pg_get_serial_sequence(:t, :c) IS NOT NULL"
                ),
                {"t": table.name, "c": column.name},
            )
