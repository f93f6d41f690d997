"""``ctikit backup``, ``ctikit restore`` and ``ctikit keys ...``: operator commands on the
server's database (``--config FILE``'s ``[server].database`` or ``--database URL``)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path
from typing import Any

from .accounts_cli import Refused, _require_postgres_database, _require_sqlite_database


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--config", metavar="FILE", help="the server's config file: use its [server].database"
    )
    db.add_argument(
        "--database", metavar="URL", help="the database (default: the config's, or ./ctikit.db)"
    )
    backup = sub.add_parser(
        "backup",
        parents=[db],
        help="write users, tokens, signing keys, call logs and call state to a file",
    )
    backup.add_argument("file", help="the backup to write (gzip JSON lines; must not exist)")
    restore = sub.add_parser(
        "restore", parents=[db], help="put a backup into an empty database (same ctikit version)"
    )
    restore.add_argument("file", help="a file written by ctikit backup")
    restore.add_argument(
        "--force", action="store_true", help="replace everything in a database that holds data"
    )


def run(args: argparse.Namespace, database: str, source: str) -> int:
    """Run ``backup`` or ``restore`` on ``database``. Raises :class:`Refused`."""
    from .storage.backup import BackupError, read_header
    from .storage.engine import normalize_url, sqlite_file_path

    try:
        url = normalize_url(database)
    except ValueError as exc:
        raise Refused(f"{exc} ({source})", 2) from None
    path = Path(args.file)
    try:
        if args.command == "backup":
            if path.exists():
                raise Refused(f"{path} exists already; choose a new name or remove it", 2)
            sqlite = sqlite_file_path(url)
            if sqlite is not None:
                _require_sqlite_database(sqlite, source)
            else:
                asyncio.run(_require_postgres_database(url, source))
        else:
            read_header(path)  # before the database is opened (or created)
        return asyncio.run(_act(args, url, path, source))
    except BackupError as exc:
        raise Refused(str(exc)) from None


async def _act(args: argparse.Namespace, url: Any, path: Path, source: str) -> int:
    from .storage import CallLogStore, StorageError
    from .storage.backup import restore_backup, write_backup

    try:
        async with await CallLogStore.open(url) as store:
            if args.command == "backup":
                counts = await write_backup(store, path)
                print(f"wrote {path}: {_summary(counts)}")
            else:
                counts = await restore_backup(store, path, force=args.force)
                print(f"restored {path}: {_summary(counts)}")
    except StorageError as exc:
        raise Refused(f"{exc} ({source}); check the URL and that the database is up") from None
    sys.stdout.flush()
    return 0


def _summary(counts: dict[str, int]) -> str:
    return ", ".join(f"{n} {table}" for table, n in counts.items())
