"""``ctikit backup``, ``ctikit restore`` and ``ctikit keys ...``: operator commands on the
server's database (``--config FILE``'s ``[server].database`` or ``--database URL``).

Keys: ``rotate`` adds a signing key (running servers sign with it within seconds) and lets
the old one verify for ``token_ttl`` more, so nobody is logged out; ``retire KID`` refuses a
key's tokens at once (a leaked key); ``list`` shows them."""

from __future__ import annotations

import argparse
import asyncio
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import __version__
from .accounts_cli import Refused, _require_postgres_database, _require_sqlite_database
from .config import Config

if TYPE_CHECKING:
    from sqlalchemy.engine import URL


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
    keys = sub.add_parser("keys", help="rotate, retire or list the keys that sign logins")
    ksub = keys.add_subparsers(dest="action", required=True, metavar="ACTION")
    rotate = ksub.add_parser(
        "rotate",
        parents=[db],
        help="sign new logins with a new key; the old one verifies until its tokens expire",
    )
    rotate.add_argument(
        "--retire-after",
        type=float,
        metavar="SECONDS",
        help="how long the old key still verifies (default: the config's token_ttl)",
    )
    retire = ksub.add_parser(
        "retire", parents=[db], help="refuse the tokens of a key now (e.g. a leaked one)"
    )
    retire.add_argument("kid", help="the key's ID (ctikit keys list)")
    ksub.add_parser(
        "list", parents=[db], help="the keys, which one signs, until when each verifies"
    )


def run(args: argparse.Namespace, config: Config, source: str) -> int:
    """Run ``backup``, ``restore`` or ``keys`` on ``config``'s database. Raises
    :class:`Refused`."""
    from .storage.backup import BackupError, read_header
    from .storage.engine import normalize_url

    try:
        url = normalize_url(config.database)
    except ValueError as exc:
        raise Refused(f"{exc} ({source})", 2) from None
    if args.command == "keys":
        return _keys(args, url, source, config.token_ttl)
    path = Path(args.file)
    try:
        if args.command == "backup":
            if path.exists():
                raise Refused(f"{path} exists already; choose a new name or remove it", 2)
            _require_database(url, source)
        else:
            read_header(path)  # before the database is opened (or created)
        return asyncio.run(_act(args, url, path, source))
    except BackupError as exc:
        raise Refused(str(exc)) from None


async def _act(args: argparse.Namespace, url: URL, path: Path, source: str) -> int:
    from .storage import CallLogStore, StorageError
    from .storage.backup import restore_backup, write_backup

    try:
        async with await CallLogStore.open(url) as store:
            if args.command == "backup":
                counts = await write_backup(store, path, made_by=__version__)
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


def _require_database(url: URL, source: str) -> None:
    """Refuse a database that does not exist or has no ctikit tables, changing nothing."""
    from .storage.engine import sqlite_file_path

    sqlite = sqlite_file_path(url)
    if sqlite is not None:
        _require_sqlite_database(sqlite, source)
    else:
        asyncio.run(_require_postgres_database(url, source))


# ------------------------------------------------------------------------- keys


def _keys(args: argparse.Namespace, url: URL, source: str, token_ttl: float) -> int:
    retire_after = getattr(args, "retire_after", None)
    if retire_after is not None and not 0 <= retire_after <= 365 * 86400:
        raise Refused("--retire-after: expected seconds from 0 to 31536000", 2)
    _require_database(url, source)
    wait = token_ttl if retire_after is None else retire_after
    return asyncio.run(_keys_act(args, url, source, wait))


async def _keys_act(args: argparse.Namespace, url: URL, source: str, wait: float) -> int:
    from .server.signing import REFRESH_SECONDS
    from .storage import AccountStore, CallLogStore, StorageError
    from .storage.signing import signing_key

    try:
        async with await CallLogStore.open(url) as store:
            keys = AccountStore(store).signing_keys()
            now = store._now()
            current = signing_key(await keys.list())
            if args.action == "rotate":
                until = now + timedelta(seconds=wait)
                new = await keys.add(retire_others_at=until)
                pruned = await keys.prune(now)
                print(
                    f"key {new.id} signs new logins (running servers switch within "
                    f"{REFRESH_SECONDS:g} s)"
                    + (f"; key {current.id} verifies until {_when(until)}" if current else "")
                    + (f"; removed {pruned} retired keys" if pruned else "")
                )
            elif args.action == "retire":
                if current is not None and args.kid == current.id:
                    raise Refused(
                        f"key {args.kid} signs new logins: run `ctikit keys rotate` first, "
                        "then retire it"
                    )
                if not await keys.retire(args.kid, now):
                    raise Refused(f"no signing key {args.kid!r} (see `ctikit keys list`)")
                print(
                    f"key {args.kid} is retired: its tokens are refused (by running servers "
                    f"within {REFRESH_SECONDS:g} s)"
                )
            else:
                for key in await keys.list():
                    if key.retires_at is None:
                        state = "signs" if key == current else "verifies"
                    elif key.retires_at > now:
                        state = f"verifies until {_when(key.retires_at)}"
                    else:
                        state = "retired"
                    print(f"{key.id}\tcreated {_when(key.created_at)}\t{state}")
    except StorageError as exc:
        raise Refused(f"{exc} ({source}); check the URL and that the database is up") from None
    return 0


def _when(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
