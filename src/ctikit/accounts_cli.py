"""``ctikit user ...`` and ``ctikit token ...``: manage logins in the server's database.

The database is the one the server uses: ``--config FILE`` (its ``[server].database``) or
``--database URL``. Input is checked and the password read before the database is opened;
commands that read or change what is already there never create a database.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import os
import sqlite3
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from .core.access import SCOPES
from .core.errors import CtiRequestError
from .core.model import check_agent_id

if TYPE_CHECKING:
    from sqlalchemy.engine import URL

# Commands that may create the database (the first steps of a new installation).
CREATING = {("user", "add"), ("token", "create")}


class Refused(Exception):
    """A one-line refusal: ``message`` on stderr, exit ``status``."""

    def __init__(self, message: str, status: int = 1) -> None:
        super().__init__(message)
        self.status = status


def add_parsers(sub: argparse._SubParsersAction[Any]) -> None:
    db = argparse.ArgumentParser(add_help=False)
    db.add_argument(
        "--config", metavar="FILE", help="the server's config file: use its [server].database"
    )
    db.add_argument(
        "--database", metavar="URL", help="the database (default: the config's, or ./ctikit.db)"
    )
    user = sub.add_parser("user", help="add, list or remove agents and supervisors")
    usub = user.add_subparsers(dest="action", required=True, metavar="ACTION")
    add = usub.add_parser("add", parents=[db], help="add a user (asks for the password)")
    add.add_argument("username")
    add.add_argument("--role", choices=("agent", "supervisor"), default="agent")
    add.add_argument(
        "--agent", help="agent ID whose calls this user takes (agents: default the user name)"
    )
    add.add_argument("--team", help="team (supervisors read their team's agents)")
    add.add_argument(
        "--password-stdin",
        action="store_true",
        help="read the password from standard input instead of asking",
    )
    usub.add_parser("list", parents=[db], help="list users")
    rm = usub.add_parser("remove", parents=[db], help="remove a user (their sessions end at once)")
    rm.add_argument("username")
    for action, what in (
        ("disable", "disable a user: their sessions end at once and they cannot log in"),
        ("enable", "enable a disabled user again"),
    ):
        usub.add_parser(action, parents=[db], help=what).add_argument("username")
    role = usub.add_parser(
        "role", parents=[db], help="change a user's role (their sessions end at once)"
    )
    role.add_argument("username")
    role.add_argument("role", choices=("agent", "supervisor"))
    role.add_argument("--agent", help="agent ID whose calls this user takes (agents: the name)")
    role.add_argument("--team", help="team (supervisors read their team's agents)")
    passwd = usub.add_parser(
        "passwd", parents=[db], help="set a user's password (their sessions end at once)"
    )
    passwd.add_argument("username")
    passwd.add_argument("--password-stdin", action="store_true")
    hp = usub.add_parser(
        "hash-password", help="print an argon2 hash for a config file's [[users]] password_hash"
    )
    hp.add_argument("--password-stdin", action="store_true")

    token = sub.add_parser("token", help="service tokens for back-office callers (IVR, CRM)")
    tsub = token.add_subparsers(dest="action", required=True, metavar="ACTION")
    create = tsub.add_parser("create", parents=[db], help="create a token; it is printed once")
    create.add_argument("name")
    create.add_argument(
        "--scope", action="append", required=True, choices=sorted(SCOPES), help="repeatable"
    )
    tsub.add_parser("list", parents=[db], help="list tokens (never their secrets)")
    revoke = tsub.add_parser("revoke", parents=[db], help="revoke a token by ID")
    revoke.add_argument("token_id")


def _password(args: argparse.Namespace) -> str:
    if args.password_stdin:
        password = sys.stdin.readline().rstrip("\n")
    elif not sys.stdin.isatty():
        raise Refused("no terminal to ask for the password on: give it with --password-stdin", 2)
    else:
        try:
            password = getpass.getpass("Password: ")
            if getpass.getpass("Again: ") != password:
                raise Refused("the passwords differ", 2)
        except EOFError:
            password = ""
    if not password:
        raise Refused("the password is empty", 2)
    return password


def _hashed_password(args: argparse.Namespace, hash_password: Callable[[str], str]) -> str:
    try:
        return hash_password(_password(args))
    except ValueError as exc:  # too short
        raise Refused(str(exc), 2) from None


def _check_names(args: argparse.Namespace) -> None:
    def check(flag: str, value: str | None) -> None:
        try:
            if value is not None:
                check_agent_id(value)
        except CtiRequestError as exc:  # "agent ID must be ...": usernames follow it too
            raise Refused(f"{flag} {value!r}: {str(exc).replace('agent ID ', '')}", 2) from None

    if args.command == "user":
        check("username", getattr(args, "username", None))
        check("--agent", getattr(args, "agent", None))
        team = getattr(args, "team", None)
        if team is not None and not 1 <= len(team) <= 64:
            raise Refused(f"--team {team!r}: a team name has 1 to 64 characters", 2)
    elif args.action == "create" and not 1 <= len(args.name.strip()) <= 64:
        raise Refused(f"token name {args.name!r}: a name has 1 to 64 characters", 2)


def run(args: argparse.Namespace, database: str, source: str) -> int:
    """Run a ``user`` or ``token`` command on ``database`` (``source`` says where that URL
    came from, for errors). Raises :class:`Refused`."""
    from .server.auth import hash_password
    from .storage.engine import normalize_url, sqlite_file_path

    if args.command == "user" and args.action == "hash-password":
        print(_hashed_password(args, hash_password))
        return 0
    _check_names(args)
    try:
        url = normalize_url(database)
    except ValueError as exc:
        raise Refused(f"{exc} ({source})", 2) from None
    path = sqlite_file_path(url)
    creating = (args.command, args.action) in CREATING
    if path is not None and not creating:
        _require_sqlite_database(path, source)
    new_file = path if creating and path is not None and not os.path.exists(path) else None
    password_hash = None
    if args.command == "user" and args.action == "add":
        password_hash = _hashed_password(args, hash_password)
    return asyncio.run(_run(args, url, source, new_file, password_hash, hash_password))


async def _run(
    args: argparse.Namespace,
    url: URL,
    source: str,
    new_file: str | None,
    password_hash: str | None,
    hash_password: Callable[[str], str],
) -> int:
    from .storage import AccountStore, CallLogStore, StorageError

    if url.get_backend_name() != "sqlite" and (args.command, args.action) not in CREATING:
        await _require_postgres_database(url, source)
    try:
        async with await CallLogStore.open(url) as store:
            if new_file is not None:
                print(f"note: created the database {new_file} ({source})", file=sys.stderr)
            try:
                actor = f"cli:{getpass.getuser()}"  # the audit log's "who"
            except (OSError, KeyError):
                actor = "cli"
            return await _act(args, AccountStore(store, actor=actor), password_hash, hash_password)
    except StorageError as exc:
        raise Refused(f"{exc} ({source}); check the URL and that the database is up") from None
    except ValueError as exc:
        raise Refused(str(exc)) from None


_CREATE = "`ctikit user add` or `ctikit serve` creates one"


def _require_sqlite_database(path: str, source: str) -> None:
    """Refuse a missing file or one without ctikit's tables, without creating or changing
    anything (opening the store would create the file and the tables)."""
    if not os.path.isfile(path):
        raise Refused(f"no database file {path} ({source}); check the path ({_CREATE})")
    try:
        revision = _sqlite_revision(path)
    except sqlite3.Error as exc:
        raise Refused(f"cannot read the database file {path}: {exc} ({source})") from None
    if revision is None:
        raise Refused(f"{path} is not a ctikit database ({source}); check the path ({_CREATE})")


async def _require_postgres_database(url: URL, source: str) -> None:
    """Refuse an unreachable database or one without ctikit's tables, without changing it."""
    from .storage.engine import build_engine, describe_target
    from .storage.errors import describe_error
    from .storage.migrate import current_revision

    target = describe_target(url)
    engine = build_engine(url, pool_size=1, max_overflow=0)
    try:
        async with engine.connect() as conn:
            revision = await conn.run_sync(current_revision)
    except Exception as exc:  # the driver's own errors, or OSError: unreachable
        raise Refused(
            f"could not connect to {target}: {describe_error(exc)} ({source}); "
            "check the URL and that the database is up"
        ) from None
    finally:
        await engine.dispose()
    if revision is None:
        raise Refused(f"{target} has no ctikit tables ({source}); check the URL ({_CREATE})")


def _sqlite_revision(path: str) -> str | None:
    """The schema revision of a SQLite file, opened read-only; None if it has none."""
    conn = sqlite3.connect(Path(path).absolute().as_uri() + "?mode=ro", uri=True)
    try:
        try:
            row = conn.execute("SELECT version_num FROM alembic_version").fetchone()
        except sqlite3.OperationalError as exc:
            if "no such table" in str(exc):
                return None
            raise
        return None if row is None else str(row[0])
    finally:
        conn.close()


async def _act(
    args: argparse.Namespace,
    accounts: object,
    password_hash: str | None,
    hash_password: Callable[[str], str],
) -> int:
    from .storage import AccountStore

    assert isinstance(accounts, AccountStore)
    if args.command == "user":
        if args.action == "add":
            assert password_hash is not None
            agent = args.agent or (args.username if args.role == "agent" else None)
            user = await accounts.add_user(
                args.username,
                role=args.role,
                agent_id=agent,
                team=args.team,
                password_hash=password_hash,
            )
            print(
                f"added {user.role} {user.username}"
                + (f" (agent {user.agent_id})" if user.agent_id else "")
                + (f", team {user.team}" if user.team else "")
            )
        elif args.action == "list":
            for u in await accounts.list_users():
                print(
                    f"{u.username}\t{u.role}\tagent={u.agent_id or '-'}\tteam={u.team or '-'}"
                    + ("\tdisabled" if u.disabled else "")
                )
        elif args.action == "remove":
            if not await accounts.remove_user(args.username):
                raise Refused(f"no user {args.username!r}; `ctikit user list` shows them")
            print(f"removed {args.username}")
        elif args.action in ("disable", "enable"):
            if not await accounts.set_disabled(args.username, args.action == "disable"):
                print(f"error: no user {args.username!r}", file=sys.stderr)
                return 1
            print(f"{args.action}d {args.username}")
        elif args.action == "role":
            agent = args.agent or (args.username if args.role == "agent" else None)
            if not await accounts.set_role(
                args.username, args.role, agent_id=agent, team=args.team
            ):
                raise Refused(f"no user {args.username!r}; `ctikit user list` shows them")
            print(f"{args.username} is now {args.role}" + (f" (agent {agent})" if agent else ""))
        elif args.action == "passwd":
            if await accounts.get_user(args.username) is None:
                raise Refused(f"no user {args.username!r}; `ctikit user list` shows them")
            password_hash = _hashed_password(args, hash_password)
            if not await accounts.set_password(args.username, password_hash):
                raise Refused(f"no user {args.username!r}: removed meanwhile")
            print(f"password of {args.username} changed")
        return 0
    if args.action == "create":
        token, secret = await accounts.create_token(args.name, frozenset(args.scope))
        print(f"token {token.id} ({' '.join(sorted(token.scopes))}); shown once:")
        print(secret)
    elif args.action == "list":
        for t in await accounts.list_tokens():
            print(f"{t.id}\t{t.name}\t{' '.join(sorted(t.scopes))}\t{t.created_at:%Y-%m-%d}")
    elif args.action == "revoke":
        if not await accounts.revoke_token(args.token_id):
            raise Refused(f"no token {args.token_id!r}; `ctikit token list` shows them")
        print(f"revoked {args.token_id}")
    return 0
